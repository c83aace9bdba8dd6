"""The witness storage seams: MemoryWitnessStore is the reference semantics, and the node's
SqlWitnessStore (SQLite and PostgreSQL) must behave the same (fixture ``new_store``)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from accord.errors import MalformedError, NotFoundError, StoreError, UsageError
from accord.node.witness_store import GroupCommit, SqlWitnessStore
from accord.note import Checkpoint, sign_note
from accord.witness import FORK, Evidence, WitnessState
from tests.unit.witness.fixtures import LOG_KEY, ORIGIN, W1, W2, FakeLog

LOG = FakeLog(13)
OTHER = "example.com/hospital-b/audit-log"


def _cas(store: Any, old: int | None, new: int) -> bool:
    note = LOG.cosigned(new, W1).format()
    return bool(store.cas_state(ORIGIN, old, new, LOG.tree.root(new), note))


def test_compare_and_swap(new_store: Callable[[], Any]) -> None:
    store = new_store()
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


def test_a_refused_swap_changes_nothing(new_store: Callable[[], Any]) -> None:
    store = new_store()
    assert _cas(store, None, 5)
    note = LOG.cosigned(8, W2).format()
    assert not store.cas_state(ORIGIN, 3, 8, LOG.tree.root(8), note)
    assert store.read_state(ORIGIN) == LOG.state(5, W1)


def test_cas_checks_its_arguments(new_store: Callable[[], Any]) -> None:
    store = new_store()
    with pytest.raises(UsageError):
        store.cas_state(ORIGIN, None, 5, LOG.tree.root(4), LOG.note(5).format())
    with pytest.raises(UsageError):
        store.cas_state("other", None, 5, LOG.tree.root(5), LOG.note(5).format())
    assert _cas(store, None, 8)
    with pytest.raises(UsageError):
        _cas(store, 8, 5)
    with pytest.raises(MalformedError):
        store.cas_state(ORIGIN, None, 5, LOG.tree.root(5), "not a note")
    assert store.read_state(ORIGIN) == LOG.state(8, W1)


def test_concurrent_swaps_have_one_winner(new_store: Callable[[], Any]) -> None:
    """Eight threads race from the same old size: exactly one swap succeeds."""
    store = new_store()
    assert _cas(store, None, 5)
    barrier = threading.Barrier(8)
    wins: list[bool] = []

    def race(size: int) -> None:
        barrier.wait()
        wins.append(_cas(store, 5, size))

    threads = [threading.Thread(target=race, args=(6 + i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]
    state = store.read_state(ORIGIN)
    assert state is not None
    assert state == LOG.state(state.size, W1)
    assert 6 <= state.size <= 13


def test_states_are_per_origin(new_store: Callable[[], Any]) -> None:
    store = new_store()
    other = FakeLog(9)
    cp = Checkpoint(OTHER, 9, other.tree.root(9))
    note = sign_note(cp.format(), LOG_KEY).with_signatures(W1.cosign(cp, 5)).format()
    assert store.cas_state(OTHER, None, 9, cp.root_hash, note)
    assert _cas(store, None, 5)
    origins = [WitnessState.from_note(n).origin for n in store.latest_notes()]
    assert origins == sorted([ORIGIN, OTHER])
    assert store.read_state(OTHER).size == 9
    assert store.read_state(ORIGIN).size == 5


def test_conflict_halts_until_cleared(new_store: Callable[[], Any]) -> None:
    store = new_store()
    assert _cas(store, None, 8)
    ev = Evidence(ORIGIN, FORK, LOG.note(8), FakeLog(8, branch="b").note(8), detected_at=1)
    store.on_conflict(ev)
    assert store.is_halted(ORIGIN)
    assert not store.is_halted(OTHER)
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
        store.on_conflict("evidence")


def test_evidence_is_kept_in_order(new_store: Callable[[], Any]) -> None:
    store = new_store()
    evs = [
        Evidence(ORIGIN, FORK, LOG.note(8), FakeLog(8, branch=f"b{i}").note(8), detected_at=i)
        for i in range(3)
    ]
    for ev in evs:
        store.on_conflict(ev)
    assert store.evidence() == tuple(evs)
    assert store.is_halted(ORIGIN)
    assert store.clear(ORIGIN) == tuple(evs)


def test_set_state_replaces(new_store: Callable[[], Any]) -> None:
    store = new_store()
    store.set_state(LOG.state(8, W1))
    store.set_state(LOG.state(5, W2))  # no checks: an import or a test fixture
    assert store.read_state(ORIGIN) == LOG.state(5, W2)
    with pytest.raises(UsageError):
        store.set_state("state")


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


# -- the SQL store only -------------------------------------------------------------------


def test_cleared_evidence_is_archived_not_deleted(
    new_sql_store: Callable[[], SqlWitnessStore],
) -> None:
    store = new_sql_store()
    ev = Evidence(ORIGIN, FORK, LOG.note(8), FakeLog(8, branch="b").note(8), detected_at=1)
    store.on_conflict(ev)
    assert store.halted() == (ORIGIN,)
    assert store.cleared() == ()
    store.clear(ORIGIN)
    assert store.halted() == ()
    assert store.cleared() == store.cleared(ORIGIN) == (ev,)
    assert store.cleared(OTHER) == ()


def test_the_state_survives_reopening(new_sql_store: Callable[[], SqlWitnessStore]) -> None:
    store = new_sql_store()
    assert _cas(store, None, 8)
    reopened = SqlWitnessStore(store.db, lambda: 1)  # migrations are idempotent
    assert reopened.read_state(ORIGIN) == LOG.state(8, W1)
    assert reopened.states() == (LOG.state(8, W1),)


def test_a_damaged_row_is_a_store_error(new_sql_store: Callable[[], SqlWitnessStore]) -> None:
    store = new_sql_store()
    with store.db.transaction() as tx:
        tx.execute(
            "INSERT INTO witness_state (origin, size, root, note, updated_ms)"
            " VALUES (?, 1, ?, 'garbage', 0)",
            (ORIGIN, b"\x00" * 32),
        )
        tx.execute(
            "INSERT INTO witness_evidence (origin, kind, evidence, recorded_ms)"
            " VALUES (?, 'fork', '{}', 0)",
            (ORIGIN,),
        )
    with pytest.raises(StoreError):
        store.read_state(ORIGIN)
    with pytest.raises(StoreError):
        store.latest_notes()
    with pytest.raises(StoreError):
        store.evidence()


# -- group commit -----------------------------------------------------------------------------


class _Counting:
    """The store's database, counting the transactions the group commit opens."""

    def __init__(self, db: Any) -> None:
        self.db = db
        self.transactions = 0

    def transaction(self) -> Any:
        self.transactions += 1
        return self.db.transaction()


def _queued_behind_a_writer(store: SqlWitnessStore, ops: list[tuple[str, tuple[Any, ...]]]) -> Any:
    """Run ``ops`` from one thread each while the first commit is held up by another
    transaction (on SQLite, the write lock; on PostgreSQL, the row lock); return the
    counting database, each op's result or error, in order."""
    counting = _Counting(store.db)
    commit = GroupCommit(counting)  # type: ignore[arg-type]
    results: list[Any] = [None] * len(ops)

    def run(i: int) -> None:
        try:
            results[i] = commit.execute(*ops[i])
        except Exception as exc:
            results[i] = exc

    with store.db.transaction() as tx:
        tx.execute("UPDATE witness_state SET updated_ms = 1 WHERE origin = ?", (ORIGIN,))
        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(ops))]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 5
        while counting.transactions < 1 and time.monotonic() < deadline:
            time.sleep(0.01)  # until the leader is blocked on this transaction
        time.sleep(0.2)  # the others queue behind it
    for t in threads:
        t.join()
    return counting, results


_MOVE = "UPDATE witness_state SET size = ? WHERE origin = ? AND size = ?"


def test_group_commit_batches_and_keeps_order(new_sql_store: Callable[[], SqlWitnessStore]) -> None:
    store = new_sql_store()
    assert _cas(store, None, 5)
    ops = [(_MOVE, (5 + i + 1, ORIGIN, 5 + i)) for i in range(8)]
    counting, results = _queued_behind_a_writer(store, ops)
    assert counting.transactions < len(ops)  # shared commits
    # Arrival order is not thread order, but statements run in arrival order and each
    # swap succeeds only from the size the previous one left: the winners form a chain.
    assert all(r in (0, 1) for r in results)
    assert sum(results) >= 1
    row = store.db.fetchone("SELECT size FROM witness_state")
    assert row is not None
    assert row[0] == 5 + sum(results)


def test_group_commit_isolates_a_failing_statement(
    new_sql_store: Callable[[], SqlWitnessStore],
) -> None:
    store = new_sql_store()
    assert _cas(store, None, 5)
    bad = ("UPDATE witness_state SET size = -1 WHERE origin = ?", (ORIGIN,))  # CHECK fails
    ops = [bad] + [
        ("UPDATE witness_state SET updated_ms = ? WHERE origin = ?", (i, ORIGIN)) for i in range(5)
    ]
    _, results = _queued_behind_a_writer(store, ops)
    assert isinstance(results[0], StoreError)
    assert results[1:] == [1] * 5
    assert store.read_state(ORIGIN) == LOG.state(5, W1)


def test_group_commit_never_leaves_a_caller_waiting() -> None:
    """A failure that is not a database error (a bug) still answers every caller."""

    class Broken:
        def transaction(self) -> Any:
            raise RuntimeError("bug")

    commit = GroupCommit(Broken())  # type: ignore[arg-type]
    with pytest.raises(StoreError, match="RuntimeError"):
        commit.execute("UPDATE t SET x = 1", ())
    with pytest.raises(StoreError):  # the lead was handed back: the next caller leads
        commit.execute("UPDATE t SET x = 1", ())
