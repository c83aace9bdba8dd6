"""What a member refuses, over real HTTP: forged, replayed and foreign requests (401), and
records it must not store (refused entries beside the receipts of the good ones)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client.sourcekey import generate_source_key
from accord.encoding import parse_json
from accord.errors import NotFoundError
from accord.quorum import Consortium, new_nonce, public_key, sign_request
from accord.records import sign_statement
from accord.replication import REPLICATE_PATH, ReplicateAnswer
from tests.integration.nodes import Consortium3, access_statement, running_consortium
from tests.integration.replication_helpers import (
    post_signed,
    replicate_body,
    wait_for,
    wait_status,
)


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium3]:
    with running_consortium(tmp_path_factory.mktemp("refusals")) as c:
        yield c


def _key(c: Consortium3, org: str) -> Ed25519PrivateKey:
    keys = c[org].node.keys
    assert keys is not None
    return keys.log.ed25519()


def _good(c: Consortium3, patient: str = "MPI-ref") -> Any:
    return c["cornell"].sign(access_statement("cornell", patient=patient))


# -- the request itself: 401 with the reason -------------------------------------------------


def _request_cases(c: Consortium3, body: bytes) -> list[tuple[str, dict[str, Any], str]]:
    now = int(time.time() * 1000)
    outsider = Ed25519PrivateKey.generate()
    return [
        ("wrong key", {"org": "cornell", "key": _key(c, "nyu")}, "bad_signature"),
        ("non-member", {"org": "stanford", "key": outsider}, "unknown_org"),
        ("stale", {"org": "cornell", "key": _key(c, "cornell"), "ts": now - 600_000}, "stale"),
        (
            "signed over another body",
            {
                "org": "cornell",
                "key": _key(c, "cornell"),
                "headers": sign_request(
                    _key(c, "cornell"),
                    org="cornell",
                    ts=now,
                    nonce=new_nonce(),
                    method="POST",
                    path=REPLICATE_PATH,
                    body=body + b" ",
                ),
            },
            "bad_signature",
        ),
        (
            "signed for another path",
            {
                "org": "cornell",
                "key": _key(c, "cornell"),
                "headers": sign_request(
                    _key(c, "cornell"),
                    org="cornell",
                    ts=now,
                    nonce=new_nonce(),
                    method="POST",
                    path="/v1/replicate/final",
                    body=body,
                ),
            },
            "bad_signature",
        ),
    ]


@pytest.mark.parametrize(
    "case",
    ["wrong key", "non-member", "stale", "signed over another body", "signed for another path"],
)
def test_bad_requests_are_refused(three: Consortium3, case: str) -> None:
    good = _good(three)
    body = replicate_body([good])
    cases = {name: (kw, reason) for name, kw, reason in _request_cases(three, body)}
    kwargs, reason = cases[case]
    response = post_signed(three["mskcc"].url, REPLICATE_PATH, body, **kwargs)
    assert response.status_code == 401
    assert response.json()["error"]["details"]["reason"] == reason
    with pytest.raises(NotFoundError):
        three["mskcc"].node.record_row(good.record_hash)


def test_unsigned_request_is_refused(three: Consortium3) -> None:
    import httpx

    response = httpx.post(three["nyu"].url + REPLICATE_PATH, content=replicate_body([]))
    assert response.status_code == 401
    assert response.json()["error"]["details"]["reason"] == "missing"


def test_replayed_request_is_refused(three: Consortium3) -> None:
    body = replicate_body([_good(three, "MPI-replay")])
    headers = sign_request(
        _key(three, "cornell"),
        org="cornell",
        ts=int(time.time() * 1000),
        nonce=new_nonce(),
        method="POST",
        path=REPLICATE_PATH,
        body=body,
    )
    url = three["nyu"].url
    first = post_signed(url, REPLICATE_PATH, body, org="cornell", key=None, headers=headers)  # type: ignore[arg-type]
    assert first.status_code == 200
    again = post_signed(url, REPLICATE_PATH, body, org="cornell", key=None, headers=headers)  # type: ignore[arg-type]
    assert again.status_code == 401
    assert again.json()["error"]["details"]["reason"] == "replay"


# -- records the member must not store: refused entries ---------------------------------------


def _answer(c: Consortium3, to: str, records: list[Any]) -> ReplicateAnswer:
    response = post_signed(
        c[to].url, REPLICATE_PATH, replicate_body(records), org="cornell", key=_key(c, "cornell")
    )
    assert response.status_code == 200, response.text
    return ReplicateAnswer.from_json(parse_json(response.content))


def test_each_record_is_checked_on_its_own(three: Consortium3) -> None:
    good = _good(three, "MPI-mixed")
    ghost = generate_source_key("cornell", "ghost")  # never registered
    impostor = Ed25519PrivateKey.generate()  # not cornell/ehr's key
    outsider_org = access_statement("stanford", patient="MPI-mixed")
    records = [
        ghost.sign(access_statement("cornell", source="ghost", patient="MPI-mixed")),
        good,
        sign_statement(access_statement("cornell", patient="MPI-mixed"), impostor),
        {"statement": {"v": 1}, "sig": "AAAA"},
        sign_statement(outsider_org, impostor),
        good,  # a repeat in the same request: one record, one receipt
    ]
    mskcc = three["mskcc"]
    answer = _answer(three, "mskcc", records)
    codes = {r.index: r.code for r in answer.refused}
    assert codes == {0: "unknown_key", 2: "bad_signature", 3: "malformed", 4: "forbidden"}
    assert answer.refused[2].record is None  # index 3: did not parse
    assert answer.receipts is not None
    signed = answer.receipts.verify(
        public_key(Consortium.parse(three.consortium_file.read_text()).member("mskcc").log_key)
    )
    assert [s.receipt.record for s in signed] == [good.record_hash]
    index, status, _ = mskcc.node.record_row(good.record_hash)
    assert signed[0].receipt.index == index
    assert status == "pending"  # until cornell's certificate arrives (never, for this one)
    for bad in (records[0], records[2], records[4]):
        with pytest.raises(NotFoundError):
            mskcc.node.record_row(bad.record_hash)
    # Sent again: the same index, nothing appended.
    again = _answer(three, "mskcc", [good])
    assert again.receipts is not None
    assert again.receipts.receipts[0].index == index


def test_a_statement_of_a_source_learned_in_the_same_request(three: Consortium3) -> None:
    """A registration and the source's first statements may travel together."""
    c = three
    lab = generate_source_key("nyu", "lab2")
    nyu = c["nyu"]
    added = nyu.client("admin").add_source("lab2", lab.public_raw)
    record = nyu.client("source").submit(
        [lab.sign(access_statement("nyu", source="lab2", patient="MPI-lab2"))]
    )["results"][0]["record"]
    wait_status(nyu.client("auditor"), [added["record"], record])
    for org in ("cornell", "mskcc"):
        wait_for(lambda org=org: c[org].node.registry.get("nyu", "lab2") is not None)


def test_unknown_source_until_registered(three: Consortium3) -> None:
    """A member that does not know a source yet refuses its statements; they are sent
    again later (backoff) and stored once the registration arrives."""
    cornell = three["cornell"]
    late = generate_source_key("cornell", "late")
    statement = late.sign(access_statement("cornell", source="late", patient="MPI-late"))
    answer = _answer(three, "nyu", [statement])
    assert [r.code for r in answer.refused] == ["unknown_key"]
    cornell.client("admin").add_source("late", late.public_raw)
    result = cornell.client("source").submit([statement])
    wait_status(cornell.client("auditor"), [result["results"][0]["record"]])


def test_a_member_outside_the_trust_set_refuses(tmp_path: Path) -> None:
    """Default trust set: cornell and nyu. mskcc stores no patient record (refused if sent),
    yet learns every org's sources (an org's trust set is the whole consortium)."""
    with running_consortium(tmp_path, trust=("cornell", "nyu")) as c:
        records = [c["cornell"].sign(access_statement("cornell", patient="MPI-ts"))]
        answer = _answer(c, "mskcc", records)
        assert [r.code for r in answer.refused] == ["forbidden"]
        assert "none of the trust sets" in answer.refused[0].message
        assert answer.receipts is None
        result = c["cornell"].client("source").submit(records)
        record = result["results"][0]["record"]
        wait_status(c["cornell"].client("auditor"), [record])
        cert = c["cornell"].client("auditor").certificate(record)
        assert {r["receipt"]["org"] for r in cert["receipts"]} == {"cornell", "nyu"}
        replication = c["cornell"].node.replication
        assert replication is not None
        wait_for(
            lambda: not replication.status()["lanes"]["mskcc"]["queued"].get("record"),
            what="cornell to have nothing left for mskcc (it never queued the record for it)",
        )
        with pytest.raises(NotFoundError, match="no record"):
            c["mskcc"].node.record_row(bytes.fromhex(record))
        wait_for(lambda: c["mskcc"].node.registry.get("cornell", "ehr") is not None)
