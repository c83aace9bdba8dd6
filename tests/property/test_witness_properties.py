"""Witness properties: hostile bytes raise only AccordError; honest logs never look forked;
forks are always caught.

- Random bytes and mutations of valid inputs go to the add-checkpoint request,
  evidence and gossip parsers: only AccordError escapes, and what a parser
  accepts formats back to exactly its input.
- Random bytes to process_add_checkpoint: always an answer with a protocol
  status, and the stored state never moves without a 200.
- A witness fed checkpoints of an honest, growing log, in any order of arrival
  and with any old size, never records evidence; its stored size never
  decreases and is always the honest root; two honest witnesses gossiping
  never flag each other.
- A log that shows two branches to two witnesses is always caught: neither
  witness ever cosigns the other branch, and after one round of gossip both
  hold evidence that verify_evidence accepts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accord.errors import AccordError, ConflictError, VerificationError
from accord.witness import (
    AddCheckpointRequest,
    Evidence,
    GossipMessage,
    MemoryWitnessStore,
    Pusher,
    format_evidence_list,
    parse_evidence_list,
    process_gossip,
    verify_evidence,
)
from tests.unit.witness.fixtures import (
    LOG_KEY,
    NOW,
    ORIGIN,
    W1,
    W2,
    FakeLog,
    body,
    run_witness,
)

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HISTORIES = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

LOG = LOG_KEY.verifier()
HONEST = FakeLog(32)
FORKED = FakeLog(32, branch="b", prefix=3)
REQUEST = body(5, HONEST.proof(5, 13), HONEST.note(13)).decode()
EVIDENCE = Evidence(
    ORIGIN,
    "inconsistent",
    HONEST.cosigned(6, W1),
    FORKED.note(13),
    tuple(FORKED.proof(6, 13)),
    details={"reason": "x"},
    detected_at=NOW * 1000,
).format()
EVIDENCE_LIST = format_evidence_list([Evidence.parse(EVIDENCE)])
GOSSIP = GossipMessage((HONEST.cosigned(8, W1), FORKED.cosigned(9, W2))).format()
STATUSES = {200, 400, 403, 404, 409, 413, 422}


def _mutations(valid: str) -> st.SearchStrategy[bytes]:
    raw = valid.encode()

    @st.composite
    def mutate(draw: st.DrawFn) -> bytes:
        data = bytearray(raw)
        for _ in range(draw(st.integers(1, 4))):
            kind = draw(st.sampled_from(["flip", "delete", "insert", "truncate"]))
            i = draw(st.integers(0, max(len(data) - 1, 0)))
            if kind == "flip" and data:
                data[i] ^= 1 << draw(st.integers(0, 7))
            elif kind == "delete" and data:
                del data[i]
            elif kind == "insert":
                data.insert(i, draw(st.sampled_from(b"\n =+/0a\xe2\x80\x94\x00")))
            else:
                del data[i:]
        return bytes(data)

    return mutate()


def _parses_or_refuses(parse: Any, data: bytes, fmt: Any) -> None:
    try:
        value = parse(data)
    except AccordError:
        return
    assert fmt(value) == data.decode("utf-8")


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutations(REQUEST)))
def test_request_parser_hostile_input(data: bytes) -> None:
    _parses_or_refuses(AddCheckpointRequest.parse, data, AddCheckpointRequest.format)


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutations(EVIDENCE)))
def test_evidence_parser_hostile_input(data: bytes) -> None:
    _parses_or_refuses(Evidence.parse, data, Evidence.format)


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutations(EVIDENCE_LIST)))
def test_evidence_list_parser_hostile_input(data: bytes) -> None:
    _parses_or_refuses(parse_evidence_list, data, format_evidence_list)


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutations(GOSSIP)))
def test_gossip_parser_hostile_input(data: bytes) -> None:
    _parses_or_refuses(GossipMessage.parse, data, GossipMessage.format)


@FUZZ
@given(st.one_of(st.binary(max_size=300), _mutations(REQUEST)))
def test_witness_answers_any_body(data: bytes) -> None:
    store = MemoryWitnessStore()
    store.set_state(HONEST.state(5, W1))
    result = run_witness(store, data)
    assert result.status in STATUSES
    state = store.read_state(ORIGIN)
    assert state is not None
    if result.status != 200:
        assert state == HONEST.state(5, W1)
    else:  # only a valid log-signed checkpoint consistent with size 5 is cosigned
        assert state.root_hash == HONEST.tree.root(state.size)
    assert store.evidence() == ()


# -- honest histories --------------------------------------------------------------------


@HISTORIES
@given(
    st.lists(st.integers(0, 32), min_size=1, max_size=8),
    st.randoms(use_true_random=False),
)
def test_honest_log_in_any_order_never_looks_forked(sizes: list[int], rnd: Any) -> None:
    store = MemoryWitnessStore()
    seen: list[int] = []
    for size in sizes:
        # The client guesses an old size: right, stale, or from the future.
        old = rnd.choice([0, size, *(s for s in seen if s <= size), rnd.randint(0, size)])
        result = run_witness(store, HONEST.request(old, size))
        assert result.status in {200, 409, 422, 400}, result.error
        assert result.evidence is None
        state = store.read_state(ORIGIN)
        if state is not None:
            assert state.root_hash == HONEST.tree.root(state.size)
            assert not seen or state.size >= max(seen)
            seen.append(state.size)
    assert store.evidence() == ()
    assert not store.is_halted(ORIGIN)


@HISTORIES
@given(
    st.lists(st.integers(1, 32), min_size=1, max_size=8), st.lists(st.integers(1, 32), max_size=8)
)
def test_honest_witnesses_pushed_in_any_order_agree(first: list[int], second: list[int]) -> None:
    stores = (MemoryWitnessStore(), MemoryWitnessStore())
    pushers = [
        Pusher(w.verifier(), _transport(s, w), HONEST.proof)
        for s, w in zip(stores, (W1, W2), strict=True)
    ]
    for pusher, sizes in zip(pushers, (first, second), strict=True):
        for size in sizes:
            try:
                pusher.push(HONEST.note(size))
            except ConflictError:
                assert pusher.size > size  # an older checkpoint after a newer one
    for store in stores:
        assert store.evidence() == ()
    a, b = stores
    for mine, theirs, other in ((a, b, W2), (b, a, W1)):
        outcomes = _gossip(mine, theirs.latest_notes(), other, HONEST.proof)
        assert all(o.status in {"consistent", "no-state"} for o in outcomes), outcomes
        assert mine.evidence() == ()


# -- forks -------------------------------------------------------------------------------


@st.composite
def _fork(draw: st.DrawFn) -> tuple[int, int, int]:
    """(shared prefix p, size a of branch A, size b of branch B) with min(a, b) > p."""
    p = draw(st.integers(0, 20))
    a = draw(st.integers(p + 1, 32))
    b = draw(st.integers(p + 1, 32))
    return p, a, b


@HISTORIES
@given(_fork(), st.sampled_from(["none", "a", "b"]), st.randoms(use_true_random=False))
def test_any_fork_is_caught(fork: tuple[int, int, int], answer: str, rnd: Any) -> None:
    p, a, b = fork
    branch_a, branch_b = FakeLog(32, branch="a", prefix=p), FakeLog(32, branch="b", prefix=p)
    assume(branch_a.tree.root(a) != branch_b.tree.root(b))
    w1, w2 = MemoryWitnessStore(), MemoryWitnessStore()
    # Each witness is led along its own branch, through an intermediate size.
    for store, log, size, w in ((w1, branch_a, a, W1), (w2, branch_b, b, W2)):
        pusher = Pusher(w.verifier(), _transport(store, w), log.proof)
        pusher.push(log.note(rnd.randint(1, size)))
        pusher.push(log.note(size))
    assert w1.evidence() == w2.evidence() == ()

    # The log tries to get W1 to cosign branch B as well: it never succeeds.
    pusher = Pusher(W1.verifier(), _transport(w1, W1), branch_b.proof, size=a)
    with pytest.raises((VerificationError, ConflictError)):
        pusher.push(branch_b.note(b))
    for old in {0, p, a, b}:  # any old size, with branch B's own proof where one exists
        proof = branch_b.proof(old, b) if 0 < old <= b else []
        assert run_witness(w1, body(old, proof, branch_b.note(b))).status != 200
    state = w1.read_state(ORIGIN)
    assert state is not None
    assert (state.size, state.root_hash) == (a, branch_a.tree.root(a))

    # One round of gossip: both witnesses hold evidence that verifies.
    proofs = {"none": lambda s1, s2: None, "a": branch_a.proof, "b": branch_b.proof}[answer]
    _gossip(w1, w2.latest_notes(), W2, proofs)
    _gossip(w2, w1.latest_notes(), W1, proofs)
    for store in (w1, w2):
        assert store.is_halted(ORIGIN)
        for ev in store.evidence():
            verify_evidence(ev, LOG, consistency_proof=lambda o, s1, s2: None)


def _transport(store: MemoryWitnessStore, witness: Any) -> Any:
    def post(data: bytes) -> tuple[int, str, bytes]:
        result = run_witness(store, data, cosigner=witness)
        return result.status, result.content_type, result.body

    return post


def _gossip(store: MemoryWitnessStore, notes: Sequence[Any], sender: Any, proofs: Any) -> Any:
    return process_gossip(
        notes,
        logs={ORIGIN: LOG},
        witnesses=[sender.verifier()],
        read_state=store.read_state,
        consistency_proof=lambda origin, s1, s2: proofs(s1, s2),
        on_conflict=store.on_conflict,
        is_halted=store.is_halted,
        now_seconds=NOW,
    )
