"""MemoryWitnessStore: the reference semantics of the witness storage seams."""

from __future__ import annotations

import pytest

from accord.errors import MalformedError, NotFoundError, UsageError
from accord.witness import FORK, Evidence, MemoryWitnessStore, WitnessState
from tests.unit.witness.fixtures import ORIGIN, W1, FakeLog

LOG = FakeLog(13)


def _cas(store: MemoryWitnessStore, old: int | None, new: int) -> bool:
    note = LOG.cosigned(new, W1).format()
    return store.cas_state(ORIGIN, old, new, LOG.tree.root(new), note)


def test_compare_and_swap() -> None:
    store = MemoryWitnessStore()
    assert store.read_state(ORIGIN) is None
    assert not _cas(store, 0, 5)  # 0 is a stored size, not "nothing stored"
    assert _cas(store, None, 5)
    assert not _cas(store, None, 5)  # insert only when nothing is stored
    assert not _cas(store, 3, 8)
    assert _cas(store, 5, 8)
    assert _cas(store, 8, 8)
    state = store.read_state(ORIGIN)
    assert state == LOG.state(8, W1)
    assert store.latest_notes() == (LOG.cosigned(8, W1),)


def test_cas_checks_its_arguments() -> None:
    store = MemoryWitnessStore()
    with pytest.raises(UsageError):
        store.cas_state(ORIGIN, None, 5, LOG.tree.root(4), LOG.note(5).format())
    with pytest.raises(UsageError):
        store.cas_state("other", None, 5, LOG.tree.root(5), LOG.note(5).format())
    assert _cas(store, None, 8)
    with pytest.raises(UsageError):
        _cas(store, 8, 5)
    with pytest.raises(MalformedError):
        store.cas_state(ORIGIN, None, 5, LOG.tree.root(5), "not a note")


def test_conflict_halts_until_cleared() -> None:
    store = MemoryWitnessStore()
    assert _cas(store, None, 8)
    ev = Evidence(ORIGIN, FORK, LOG.note(8), FakeLog(8, branch="b").note(8), detected_at=1)
    store.on_conflict(ev)
    assert store.is_halted(ORIGIN)
    assert store.evidence() == store.evidence(ORIGIN) == (ev,)
    assert store.evidence("other") == ()
    assert store.clear(ORIGIN) == (ev,)
    assert not store.is_halted(ORIGIN)
    assert store.evidence() == ()
    assert store.read_state(ORIGIN) is not None
    with pytest.raises(NotFoundError):
        store.clear(ORIGIN)
    store.on_conflict(ev)
    store.clear(ORIGIN, reset_state=True)
    assert store.read_state(ORIGIN) is None
    with pytest.raises(UsageError):
        store.on_conflict("evidence")  # type: ignore[arg-type]


def test_witness_state_invariant() -> None:
    note = LOG.note(8)
    state = WitnessState.from_note(note.format())
    assert (state.size, state.root_hash, state.origin) == (8, LOG.tree.root(8), ORIGIN)
    with pytest.raises(MalformedError):
        WitnessState(5, LOG.tree.root(8), note)
    with pytest.raises(MalformedError):
        WitnessState(8, LOG.tree.root(5), note)
    with pytest.raises(MalformedError):
        WitnessState.from_note("hello\n\n— k QUFBQUFBQUFB\n")
    with pytest.raises(MalformedError):
        WitnessState(-1, LOG.tree.root(8), note)
