"""process_add_checkpoint beyond the shared vectors: evidence, halting, races, the extra check.

Every test runs on each store (fixture ``new_store``): memory, SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from accord.errors import NetworkError, StoreError, UsageError
from accord.merkle import EMPTY_ROOT
from accord.note import (
    Checkpoint,
    parse_signature_lines,
    sign_note,
    verify_cosignature,
)
from accord.witness import (
    CONTENT_TYPE_COSIGNATURE,
    CONTENT_TYPE_ERROR,
    CONTENT_TYPE_SIZE,
    FORK,
    INCONSISTENT,
    INDEX_MISMATCH,
    MAX_REQUEST_SIZE,
    Advance,
    Evidence,
    WitnessState,
    verify_evidence,
)
from tests.unit.witness.fixtures import (
    LOG_KEY,
    NOW,
    ORIGIN,
    OTHER_KEY,
    W1,
    W2,
    FakeLog,
    body,
    run_witness,
)

LOG = LOG_KEY.verifier()
HONEST = FakeLog(40)
FORKED = FakeLog(40, branch="b", prefix=3)


def _at(make: Callable[[], Any], size: int, log: FakeLog = HONEST) -> Any:
    """A fresh store of the test's kind holding ``log``'s checkpoint at ``size``."""
    store = make()
    store.set_state(log.state(size, W1))
    return store


def _size(store: Any) -> int | None:
    state = store.read_state(ORIGIN)
    return None if state is None else state.size


def _cosignature(body: bytes, size: int, log: FakeLog = HONEST) -> int:
    (line,) = parse_signature_lines(body)
    return verify_cosignature(log.checkpoint(size), line, W1.verifier())


# -- honest operation -------------------------------------------------------------------


def test_first_contact_then_growth(new_store: Callable[[], Any]) -> None:
    store = new_store()
    for old, new in [(0, 3), (3, 5), (5, 8), (8, 8), (8, 13), (13, 40)]:
        result = run_witness(store, HONEST.request(old, new), now=NOW + new)
        assert result.status == 200, (old, new, result.error)
        assert result.content_type == CONTENT_TYPE_COSIGNATURE
        assert _cosignature(result.body, new) == NOW + new
        assert _size(store) == new
    assert store.evidence() == ()


def test_empty_log_then_growth(new_store: Callable[[], Any]) -> None:
    store = new_store()
    empty = sign_note(Checkpoint(ORIGIN, 0, EMPTY_ROOT).format(), LOG_KEY)
    assert run_witness(store, body(0, [], empty)).status == 200
    assert _size(store) == 0
    # From a stored size 0, growth needs no proof (the empty tree is a prefix of all).
    assert run_witness(store, HONEST.request(0, 5)).status == 200
    assert _size(store) == 5


def test_resubmission_is_recosigned_with_a_fresh_timestamp(new_store: Callable[[], Any]) -> None:
    store = _at(new_store, 8)
    first = run_witness(store, HONEST.request(8, 8), now=NOW + 1)
    second = run_witness(store, HONEST.request(8, 8), now=NOW + 2)
    assert _cosignature(first.body, 8) == NOW + 1
    assert _cosignature(second.body, 8) == NOW + 2
    state = store.read_state(ORIGIN)
    assert state is not None
    # The stored note keeps one line by this witness: the latest.
    mine = [s for s in state.note.signatures if s.name == W1.name]
    assert len(mine) == 1
    assert verify_cosignature(HONEST.checkpoint(8), mine[0], W1.verifier()) == NOW + 2


def test_extension_lines_are_cosigned(new_store: Callable[[], Any]) -> None:
    cp = Checkpoint(ORIGIN, 5, HONEST.tree.root(5), ("x-audit-epoch 42",))
    note = sign_note(cp.format(), LOG_KEY)
    result = run_witness(new_store(), body(0, [], note))
    assert result.status == 200
    (line,) = parse_signature_lines(result.body)
    assert verify_cosignature(cp, line, W1.verifier()) == NOW


def test_other_signatures_on_the_note_are_kept_and_ignored(new_store: Callable[[], Any]) -> None:
    note = HONEST.cosigned(5, W2).with_signatures(sign_note("x\n", OTHER_KEY).signatures[0])
    store = new_store()
    assert run_witness(store, body(0, [], note)).status == 200
    state = store.read_state(ORIGIN)
    assert state is not None
    assert {s.name for s in state.note.signatures} == {ORIGIN, W1.name, W2.name}


# -- forks and inconsistent advances -----------------------------------------------------------


def test_fork_is_evidence_and_halts_the_origin(new_store: Callable[[], Any]) -> None:
    store = _at(new_store, 8)
    result = run_witness(store, FORKED.request(8, 8))
    assert result.status == 422
    assert result.evidence is not None
    ev = result.evidence
    assert (ev.kind, ev.origin, ev.detected_at) == (FORK, ORIGIN, NOW * 1000)
    assert ev.held == HONEST.cosigned(8, W1)
    assert ev.shown == FORKED.note(8)
    verify_evidence(ev, LOG)
    assert store.evidence() == (ev,)
    assert store.is_halted(ORIGIN)
    assert _size(store) == 8
    # The honest log is refused too, until an operator clears the evidence.
    halted = run_witness(store, HONEST.request(8, 13))
    assert halted.status == 422
    assert halted.error is not None
    assert halted.error.details["halted"] is True
    assert halted.evidence is None
    assert len(store.evidence()) == 1  # no new evidence while halted
    assert run_witness(store, FORKED.request(8, 8)).status == 422
    assert len(store.evidence()) == 1
    # Size discovery still answers.
    stale = run_witness(store, HONEST.request(0, 13))
    assert (stale.status, stale.body) == (409, b"8\n")
    store.clear(ORIGIN)
    assert run_witness(store, HONEST.request(8, 13)).status == 200


def test_fork_with_a_stale_old_size_is_still_kept(new_store: Callable[[], Any]) -> None:
    store = _at(new_store, 8)
    # old 0 (size discovery) carrying a signed checkpoint of the stored size, other root.
    result = run_witness(store, FORKED.request(0, 8))
    assert (result.status, result.body, result.content_type) == (409, b"8\n", CONTENT_TYPE_SIZE)
    assert result.evidence is not None
    assert result.evidence.kind == FORK
    verify_evidence(result.evidence, LOG)
    assert store.is_halted(ORIGIN)


def test_revealing_proof_is_inconsistent_evidence(new_store: Callable[[], Any]) -> None:
    store = _at(new_store, 6)
    result = run_witness(store, FORKED.request(6, 13))
    assert result.status == 422
    ev = result.evidence
    assert ev is not None
    assert ev.kind == INCONSISTENT
    assert ev.proof == tuple(FORKED.proof(6, 13))
    assert ev.detail("prefix_root") == FORKED.tree.root(6).hex()
    verify_evidence(ev, LOG)  # offline, trusting only the log key
    assert store.is_halted(ORIGIN)
    assert _size(store) == 6


def test_a_bad_proof_is_refused_but_is_not_evidence(new_store: Callable[[], Any]) -> None:
    # Checkpoints are public: anyone can replay one with a garbage proof.
    store = _at(new_store, 6)
    garbage = HONEST.request(6, 13, proof=[b"\x00" * 32] * len(HONEST.proof(6, 13)))
    result = run_witness(store, garbage)
    assert result.status == 422
    assert result.evidence is None
    assert not store.is_halted(ORIGIN)
    # A fork at a power-of-two size cannot be revealed by the proof: 422 only.
    store = _at(new_store, 8)
    result = run_witness(store, FORKED.request(8, 13))
    assert (result.status, result.evidence) == (422, None)
    assert run_witness(store, HONEST.request(8, 13)).status == 200


@pytest.mark.parametrize(
    ("name", "old", "new", "proof"),
    [
        ("proof between equal sizes", 8, 8, [b"\x00" * 32]),
        ("missing proof", 8, 13, []),
        ("proof for other sizes", 8, 13, HONEST.proof(7, 13)),
        ("proof one hash short", 5, 13, HONEST.proof(5, 13)[:-1]),
        ("old 0 with a proof", 0, 13, HONEST.proof(8, 13)),
    ],
)
def test_proof_refusals(
    name: str, old: int, new: int, proof: list[bytes], new_store: Callable[[], Any]
) -> None:
    store = _at(new_store, old) if old else new_store()
    result = run_witness(store, HONEST.request(old, new, proof=proof))
    assert result.status == 422, name
    assert result.content_type == CONTENT_TYPE_ERROR
    assert json.loads(result.body)["error"]["message"]
    assert _size(store) == (old or None)


def test_size_zero_with_a_non_empty_root_is_refused(new_store: Callable[[], Any]) -> None:
    note = sign_note(Checkpoint(ORIGIN, 0, HONEST.tree.root(1)).format(), LOG_KEY)
    store = new_store()
    assert run_witness(store, body(0, [], note)).status == 422
    assert _size(store) is None


# -- races ----------------------------------------------------------------------------------------


class RacingStore:
    """A store where another request wins the race: the state moves just before our CAS."""

    def __init__(self, inner: Any, winner: WitnessState) -> None:
        self.inner = inner
        self.winner = winner

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def seams(self) -> dict[str, Any]:
        return {**self.inner.seams(), "cas_state": self.cas_state}

    def cas_state(
        self, origin: str, old_size: int | None, new_size: int, new_root: bytes, note: str
    ) -> bool:
        self.inner.set_state(self.winner)
        return bool(self.inner.cas_state(origin, old_size, new_size, new_root, note))


def test_lost_compare_and_swap_is_409_with_the_new_size(new_store: Callable[[], Any]) -> None:
    store = RacingStore(new_store(), HONEST.state(13, W1))
    store.set_state(HONEST.state(8, W1))
    result = run_witness(store, HONEST.request(8, 10))
    assert (result.status, result.body, result.content_type) == (409, b"13\n", CONTENT_TYPE_SIZE)
    assert result.evidence is None
    assert _size(store) == 13


def test_lost_race_to_a_fork_is_evidence(new_store: Callable[[], Any]) -> None:
    store = RacingStore(new_store(), FORKED.state(13, W2))
    store.set_state(HONEST.state(8, W1))
    result = run_witness(store, HONEST.request(8, 13))
    assert (result.status, result.body) == (409, b"13\n")
    assert result.evidence is not None
    assert result.evidence.kind == FORK
    verify_evidence(result.evidence, LOG)
    assert store.is_halted(ORIGIN)


def test_first_contact_race(new_store: Callable[[], Any]) -> None:
    store = RacingStore(new_store(), HONEST.state(5, W2))
    result = run_witness(store, HONEST.request(0, 5))
    assert (result.status, result.body) == (409, b"5\n")


# -- the extra check hook ----------------------------------------------------------------


def test_extra_check_sees_the_advance_and_may_accept(new_store: Callable[[], Any]) -> None:
    seen: list[Advance] = []

    def check(advance: Advance) -> Evidence | None:
        seen.append(advance)
        return None

    store = _at(new_store, 8)
    assert run_witness(store, HONEST.request(8, 13), extra_check=check).status == 200
    (advance,) = seen
    assert advance.origin == ORIGIN
    assert advance.previous == HONEST.state(8, W1)
    assert advance.checkpoint == HONEST.checkpoint(13)
    assert advance.note == HONEST.note(13)
    assert advance.proof == tuple(HONEST.proof(8, 13))
    assert advance.now_seconds == NOW


def test_extra_check_refuses_with_evidence_before_storing(new_store: Callable[[], Any]) -> None:
    def check(advance: Advance) -> Evidence | None:
        return advance.refuse({"reason": "index root differs"})

    store = _at(new_store, 8)
    result = run_witness(store, HONEST.request(8, 13), extra_check=check)
    assert result.status == 422
    ev = result.evidence
    assert ev is not None
    assert (ev.kind, ev.held, ev.shown) == (
        INDEX_MISMATCH,
        HONEST.state(8, W1).note,
        HONEST.note(13),
    )
    assert ev.detail("reason") == "index root differs"
    assert _size(store) == 8
    assert store.is_halted(ORIGIN)
    # At first contact there is no held note.
    fresh = new_store()
    result = run_witness(fresh, HONEST.request(0, 13), extra_check=check)
    assert result.evidence is not None
    assert result.evidence.held is None
    assert _size(fresh) is None


def test_extra_check_errors_become_the_answer(new_store: Callable[[], Any]) -> None:
    def check(advance: Advance) -> Evidence | None:
        raise NetworkError("could not fetch the leaves")

    store = _at(new_store, 8)
    result = run_witness(store, HONEST.request(8, 13), extra_check=check)
    assert result.status == 502
    assert _size(store) == 8
    assert not store.is_halted(ORIGIN)


def test_extra_check_must_return_evidence_for_the_origin(new_store: Callable[[], Any]) -> None:
    def check(advance: Advance) -> Evidence | None:
        return "no"  # type: ignore[return-value]

    store = _at(new_store, 8)
    result = run_witness(store, HONEST.request(8, 13), extra_check=check)
    assert result.status == 500  # the witness's fault, not the client's
    assert _size(store) == 8

    def other_origin(advance: Advance) -> Evidence | None:
        note = sign_note(Checkpoint("x.example/log", 1, HONEST.tree.root(1)).format(), LOG_KEY)
        return Evidence("x.example/log", FORK, note, note)

    assert run_witness(store, HONEST.request(8, 13), extra_check=other_origin).status == 500


# -- shell concerns ------------------------------------------------------------------------------


def test_store_failures_are_503(new_store: Callable[[], Any]) -> None:
    def broken(origin: str) -> WitnessState | None:
        raise StoreError("database is locked")

    result = run_witness(new_store(), HONEST.request(0, 5), read_state=broken)
    assert result.status == 503
    assert json.loads(result.body)["error"]["code"] == "store"


def test_body_over_the_limit_is_413(new_store: Callable[[], Any]) -> None:
    result = run_witness(new_store(), b"old 0\n\n" + b"x" * MAX_REQUEST_SIZE)
    assert result.status == 413


def test_unknown_origin_and_untrusted_key(new_store: Callable[[], Any]) -> None:
    store = new_store()
    assert run_witness(store, HONEST.request(0, 5), logs={}).status == 404
    other = body(0, [], HONEST.note(5, signer=OTHER_KEY))
    assert run_witness(store, other).status == 403
    assert _size(store) is None


@pytest.mark.parametrize("now", [0, -1, 2**63, 1.5])
def test_now_must_be_a_real_time(now: Any, new_store: Callable[[], Any]) -> None:
    with pytest.raises(UsageError):
        run_witness(new_store(), HONEST.request(0, 5), now=now)


def test_preconditions(new_store: Callable[[], Any]) -> None:
    with pytest.raises(UsageError):
        run_witness(new_store(), HONEST.request(0, 5), cosigner=LOG_KEY)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        run_witness(new_store(), HONEST.request(0, 5), logs={ORIGIN: W1.verifier()})
