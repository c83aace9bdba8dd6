"""Witnessing between real nodes over real HTTP (docs/witness.md): every node cosigns the others'
checkpoints and serves its own with k cosignatures; forks and split views are caught."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from accord.client.checkpoints import fetch_checkpoint, verify_checkpoint
from accord.encoding import b64encode
from accord.errors import QuorumNotMetError, VerificationError
from accord.node.witness_gossip import GOSSIP_PATH, log_consistency_proof
from accord.node.witness_push import CheckpointPusher
from accord.note import Note, Signer, Verifier, parse_signature_lines, verify_cosignature
from accord.quorum import new_nonce, sign_request
from accord.witness import (
    CONTENT_TYPE_COSIGNATURE,
    CONTENT_TYPE_SIZE,
    FORK,
    GOSSIP_FORK,
    INCONSISTENT,
    MAX_REQUEST_SIZE,
    AddCheckpointRequest,
    Evidence,
    GossipMessage,
    parse_evidence_list,
    verify_evidence,
)
from tests.conftest import drop_schema, postgres_url
from tests.integration.nodes import Consortium3, RunningNode, running_consortium
from tests.integration.witness_helpers import (
    Branch,
    add_checkpoint,
    consortium_of,
    cosigned_by,
    log_verifier,
    submit,
    wait_for,
)
from tests.integration.witness_vectors import VECTORS, vector_witness

FAST = {
    "checkpoint_interval_ms": 50,
    "witness_retry_ms": 50,
    "witness_retry_max_ms": 200,
    "witness_index_check": False,  # the forged branches below have no Accord leaves
}


def _served(rn: RunningNode, k: int | None = None, *, latest: bool = False) -> int | None:
    """The size of the checkpoint ``rn`` serves if it verifies with k cosignatures, else None."""
    try:
        return fetch_checkpoint(rn.url, consortium_of(rn), k=k, latest=latest).checkpoint.size
    except QuorumNotMetError:
        return None


def _settled(c: Consortium3, rn: RunningNode) -> int:
    """Wait until every other member cosigned ``rn``'s latest checkpoint; return its size."""
    size = rn.node.log.size
    wait_for(lambda: rn.node.log.latest_checkpoint() is not None, "a checkpoint")
    for other in c.nodes.values():
        if other is not rn:
            wait_for(lambda o=other: cosigned_by(rn, o, size), f"{other.node.org} to cosign")
    return size


def _evidence(rn: RunningNode) -> list[Evidence]:
    response = httpx.get(f"{rn.url}/v1/witness/evidence", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    return list(parse_evidence_list(response.content))


# -- honest operation -----------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def three(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Consortium3]:
    orgs = ("cornell", "nyu", "mskcc")
    urls = {org: postgres_url() for org in orgs} if request.param == "postgres" else None
    try:
        with running_consortium(tmp_path, orgs, databases=urls, witness_k=2, **FAST) as c:
            yield c
    finally:
        for url in (urls or {}).values():
            drop_schema(url)


def test_every_checkpoint_is_served_with_k_cosignatures(three: Consortium3) -> None:
    c = three
    for rn in c.nodes.values():
        submit(rn, 3)
    c.settle()  # each org's records also reach the other members' logs
    sizes = {org: rn.node.log.size for org, rn in c.nodes.items()}
    for org, rn in c.nodes.items():
        size = sizes[org]
        wait_for(lambda rn=rn, size=size: _served(rn) == size, f"{org}'s checkpoint")
        verified = fetch_checkpoint(rn.url, consortium_of(rn))
        assert verified.org == org
        assert verified.checkpoint.size == size
        assert verified.checkpoint.root_hash == rn.node.log.root_hash(size)
        others = {f"{o.node.origin}/witness" for o in c.nodes.values() if o is not rn}
        assert set(verified.witnesses) == others
        assert verified.refused == ()
        # The served note is the one stored with the log's checkpoint at that size.
        assert rn.node.log.checkpoint(size) == verified.note.format()
    for rn in c.nodes.values():
        heads = httpx.get(f"{rn.url}/v1/witness/heads", timeout=10).json()
        assert heads["v"] == 1
        me = Verifier.parse(heads["witness"])
        assert me == Verifier.parse(consortium_of(rn).member(rn.node.org).witness_key)
        by_origin = {h["origin"]: h for h in heads["heads"]}
        assert set(by_origin) == {o.node.origin for o in c.nodes.values() if o is not rn}
        for other in c.nodes.values():
            if other is rn:
                continue
            head = by_origin[other.node.origin]
            assert head["halted"] is False
            note = Note.parse(head["note"])
            cp = verify_checkpoint(note, consortium_of(rn), k=1).checkpoint
            (mine,) = [s for s in note.signatures if s.name == me.name]
            assert verify_cosignature(cp, mine, me) > 0
            assert (head["size"], head["root"]) == (cp.size, cp.root_hash.hex())
        assert _evidence(rn) == []
    # Gossip between honest witnesses finds nothing wrong.
    rounds = c["nyu"].node.witnessing.gossip_round()
    assert set(rounds) == {"cornell", "mskcc"}
    statuses = {o["status"] for answers in rounds.values() for o in answers}
    assert statuses == {"consistent"}


def test_latest_and_served_checkpoints_and_retries(tmp_path: Path) -> None:
    with running_consortium(tmp_path, witness_k=2, **FAST) as c:
        cornell, nyu, mskcc = c["cornell"], c["nyu"], c["mskcc"]
        first = _settled(c, cornell)
        assert wait_for(lambda: _served(cornell) == first, "k cosignatures")
        # A sealed witness cannot cosign: 503, and the log keeps retrying it.
        mskcc.node.seal()
        sealed = add_checkpoint(mskcc, Branch(cornell, first, 0, "x").request(first))
        assert sealed.status_code == 503
        assert sealed.json()["error"]["code"] == "sealed"
        second = submit(cornell)
        wait_for(lambda: cosigned_by(cornell, nyu, second), "nyu to cosign")
        pusher = cornell.node.witnessing.pusher
        assert pusher is not None
        wait_for(
            lambda: any(t["org"] == "mskcc" and t["failures"] > 0 for t in pusher.status()),
            "a failed push to the sealed witness",
        )
        # Served: the last checkpoint with k = 2; latest: the newer one, one cosignature.
        assert _served(cornell) == first
        assert _served(cornell, latest=True) is None
        assert _served(cornell, 1, latest=True) == second
        # A restarted node finds the last checkpoint with k cosignatures in its log.
        assert cornell.node.peers is not None
        restarted = CheckpointPusher(
            log=cornell.node.log,
            consortium=consortium_of(cornell),
            org="cornell",
            peers=cornell.node.peers,
        )
        assert restarted.served_note() == cornell.node.log.checkpoint(second)  # not started
        restarted.start()
        try:
            assert restarted.served_note() == cornell.node.log.checkpoint(first)
        finally:
            restarted.stop()
        # Unsealed, the witness is retried and cosigns; the served checkpoint moves on.
        mskcc.node.unseal_with([p.read_text() for p in mskcc.shares[:2]])
        wait_for(lambda: _served(cornell) == second, "the retried push")
        assert _served(cornell, latest=True) == second


# -- the shared vectors over HTTP -------------------------------------------------------------


def test_add_checkpoint_vectors_over_http(tmp_path: Path, db_url: str) -> None:
    """Every case of the shared vectors against a real node's witness endpoint (both backends):
    statuses, 409 bodies and content types exactly; 200 bodies verify with the node's key."""
    with vector_witness(tmp_path, db_url) as (rn, reset):
        witness = Verifier.parse(consortium_of(rn).member(rn.node.org).witness_key)
        for case in VECTORS["cases"]:
            name = case["id"]
            reset(case["witness_state_before"])
            response = add_checkpoint(rn, case["request_body"].encode("utf-8"))
            assert response.status_code == case["expect_status_head"], name
            if "expect_body" in case:
                assert response.text == case["expect_body"], name
            if "expect_content_type" in case:
                assert response.headers["content-type"] == case["expect_content_type"], name
            if response.status_code == 409:
                assert response.headers["content-type"] == CONTENT_TYPE_SIZE, name
            elif response.status_code == 200:
                assert response.headers["content-type"] == CONTENT_TYPE_COSIGNATURE, name
                cp = AddCheckpointRequest.parse(case["request_body"]).checkpoint
                (line,) = parse_signature_lines(response.content)
                assert verify_cosignature(cp, line, witness) > 0, name
            else:
                assert response.json()["error"]["message"], name
            state = rn.node.witnessing.store.read_state(VECTORS["trusted_log"]["origin"])
            after = case.get("state_after")
            if after is not None:
                assert state is not None, name
                assert (state.size, b64encode(state.root_hash)) == (
                    after["size"],
                    after["root_b64"],
                ), name
        too_large = add_checkpoint(rn, b"old 0\n\n" + b"x" * MAX_REQUEST_SIZE)
        assert too_large.status_code == 413
        assert too_large.json()["error"]["code"] == "too_large"


# -- a forked log -----------------------------------------------------------------------------


def test_a_forked_log_is_caught_and_no_longer_cosigned(tmp_path: Path) -> None:
    with running_consortium(tmp_path, witness_k=2, gossip_interval_ms=0, **FAST) as c:
        cornell, nyu, mskcc = c["cornell"], c["nyu"], c["mskcc"]
        size = submit(cornell, 1)
        if size & (size - 1) == 0:  # a proof from a power of two cannot reveal the prefix
            size = submit(cornell, 1)
        assert _settled(c, cornell) == size
        log = log_verifier(cornell)

        # nyu is shown a checkpoint of the same size with another root: a fork.
        fork = Branch(cornell, size - 1, 1, "fork")
        refused = add_checkpoint(nyu, fork.request(size))
        assert refused.status_code == 422
        (ev,) = _evidence(nyu)
        assert ev.kind == FORK
        assert ev.origin == cornell.node.origin
        assert ev.shown == fork.note()
        verify_evidence(ev, log)  # trusting only the log key from the consortium file

        # mskcc is shown a larger tree whose own proof reveals another history at `size`.
        other = Branch(cornell, size - 1, 3, "inconsistent")
        refused = add_checkpoint(mskcc, other.request(size))
        assert refused.status_code == 422
        (ev2,) = _evidence(mskcc)
        assert ev2.kind == INCONSISTENT
        verify_evidence(ev2, log)

        # Both witnesses now refuse the log, even its honest checkpoints.
        for witness in (nyu, mskcc):
            honest = add_checkpoint(witness, Branch(cornell, size, 0, "h").request(size))
            assert honest.status_code == 422
            assert honest.json()["error"]["details"]["halted"] is True
            discovery = add_checkpoint(witness, Branch(cornell, size, 0, "h").request(0))
            assert (discovery.status_code, discovery.text) == (409, f"{size}\n")
            heads = httpx.get(f"{witness.url}/v1/witness/heads", timeout=10).json()["heads"]
            (head,) = [h for h in heads if h["origin"] == cornell.node.origin]
            assert head["halted"] is True
        assert len(_evidence(nyu)) == len(_evidence(mskcc)) == 1

        # The log's next checkpoint gets no cosignature: clients keep the last good one.
        later = submit(cornell)
        pusher = cornell.node.witnessing.pusher
        assert pusher is not None
        wait_for(lambda: all(t["failures"] > 0 for t in pusher.status()), "refused pushes")
        assert cornell.node.log.latest_checkpoint()[0] == later  # type: ignore[index]
        assert _served(cornell) == size
        assert _served(cornell, 1, latest=True) is None
        # The halt is the witnesses' own decision about cornell: other logs are unaffected.
        after = submit(nyu)
        wait_for(lambda: _served(nyu) == after, "nyu's log to be cosigned")

        # nyu's operator decides (docs/witness.md section 5): evidence archived, state reset.
        clear = f"{nyu.url}/v1/witness/clear"
        request = {"origin": cornell.node.origin, "reset_state": True}
        assert httpx.post(clear, json=request, timeout=10).status_code == 401
        auditor = {"Authorization": f"Bearer {nyu.tokens['auditor']}"}
        assert httpx.post(clear, json=request, headers=auditor, timeout=10).status_code == 403
        admin = {"Authorization": f"Bearer {nyu.tokens['admin']}"}
        cleared = httpx.post(clear, json=request, headers=admin, timeout=10)
        assert cleared.json() == {**request, "archived": 1}
        assert _evidence(nyu) == []
        assert nyu.node.witnessing.store.cleared() == (ev,)
        assert httpx.post(clear, json=request, headers=admin, timeout=10).status_code == 404
        # The log's retried push is taken on first use; mskcc still refuses it.
        # (>=: nyu's own record was replicated into cornell's log meanwhile.)
        wait_for(lambda: (_served(cornell, 1, latest=True) or 0) >= later, "nyu to cosign again")
        assert _served(cornell) == size


# -- split views and gossip -----------------------------------------------------------------


def _split(c: Consortium3, *, gossiping: bool = False) -> tuple[int, Branch, Branch]:
    """Show nyu one branch of cornell's log and mskcc another, both extending what they hold.

    Each branch alone is consistent with what its witness held: both are cosigned, and
    no evidence exists yet (unless background gossip already ran: ``gossiping``).
    """
    cornell, nyu, mskcc = c["cornell"], c["nyu"], c["mskcc"]
    size = _settled(c, cornell)
    one, two = Branch(cornell, size, 3, "one"), Branch(cornell, size, 4, "two")
    assert add_checkpoint(nyu, one.request(size)).status_code == 200
    second = add_checkpoint(mskcc, two.request(size)).status_code
    if gossiping:
        # Background gossip may already have shown mskcc branch one (then it refuses two).
        assert second in (200, 422)
    else:
        assert second == 200
        assert _evidence(nyu) == _evidence(mskcc) == []
    return size, one, two


def test_a_split_view_is_caught_by_a_gossip_round(tmp_path: Path) -> None:
    with running_consortium(tmp_path, gossip_interval_ms=0, **FAST) as c:
        cornell, nyu, mskcc = c["cornell"], c["nyu"], c["mskcc"]
        size, one, two = _split(c)
        to_mskcc = nyu.node.witnessing.gossip_round()["mskcc"]
        to_nyu = mskcc.node.witnessing.gossip_round()["nyu"]
        (caught,) = [o for o in to_mskcc if o["origin"] == cornell.node.origin]
        assert caught["status"] == "evidence"
        (caught,) = [o for o in to_nyu if o["origin"] == cornell.node.origin]
        assert caught["status"] in ("evidence", "halted")
        log = log_verifier(cornell)

        def ask_cornell(origin: str, size1: int, size2: int) -> list[bytes] | None:
            assert nyu.node.peers is not None
            return log_consistency_proof(nyu.node.peers, consortium_of(nyu), origin, size1, size2)

        for witness, held, shown in ((nyu, one, two), (mskcc, two, one)):
            (ev,) = _evidence(witness)
            assert ev.kind == GOSSIP_FORK
            assert ev.origin == cornell.node.origin
            assert ev.held is not None
            assert ev.held.text == held.note().text
            assert ev.shown.text == shown.note().text
            # Offline it is a challenge; the real log cannot prove the two consistent.
            with pytest.raises(VerificationError):
                verify_evidence(ev, log)
            verify_evidence(ev, log, consistency_proof=ask_cornell)
            assert witness.node.witnessing.store.is_halted(cornell.node.origin)
        assert size < one.size < two.size


def test_background_gossip_catches_a_split_view(tmp_path: Path) -> None:
    with running_consortium(tmp_path, gossip_interval_ms=100, **FAST) as c:
        _split(c, gossiping=True)
        for witness in (c["nyu"], c["mskcc"]):
            wait_for(lambda w=witness: _evidence(w), f"{witness.node.org}'s evidence")
            (ev,) = _evidence(witness)
            assert ev.kind == GOSSIP_FORK


def test_gossip_only_from_members(tmp_path: Path) -> None:
    with running_consortium(tmp_path, gossip_interval_ms=0, **FAST) as c:
        cornell, nyu = c["cornell"], c["nyu"]
        _settled(c, cornell)
        notes = nyu.node.witnessing.store.latest_notes()
        message = GossipMessage(notes).format().encode("utf-8")
        url = f"{c['mskcc'].url}{GOSSIP_PATH}"

        def signed(key: object, org: str = "nyu", payload: bytes = message) -> dict[str, str]:
            return sign_request(
                key,  # type: ignore[arg-type]
                org=org,
                ts=nyu.node.clock_ms(),
                nonce=new_nonce(),
                method="POST",
                path=GOSSIP_PATH,
                body=payload,
            )

        assert nyu.node.keys is not None
        good = signed(nyu.node.keys.log.ed25519())
        assert httpx.post(url, content=message, headers=good).status_code == 200
        refusals = {
            "unsigned": ({}, message, 401),
            "replayed": (good, message, 401),
            "a stranger's key": (
                signed(Signer.generate("stranger").ed25519()),
                message,
                401,
            ),
            "not a member": (signed(nyu.node.keys.log.ed25519(), "acme"), message, 401),
            "body changed after signing": (
                signed(nyu.node.keys.log.ed25519()),
                message + b" ",
                401,
            ),
            "not a gossip message": (
                signed(nyu.node.keys.log.ed25519(), payload=b'{"v":2}'),
                b'{"v":2}',
                400,
            ),
        }
        for name, (headers, payload, status) in refusals.items():
            response = httpx.post(url, content=payload, headers=headers)
            assert response.status_code == status, name
        assert _evidence(c["mskcc"]) == []
