"""The outbox over a real SQLite database: order, refusals held back, finals gated."""

from __future__ import annotations

from pathlib import Path

from accord.replication import FINAL, RECORD, REPLICATION_STEPS, Backoff, Outbox
from accord.store.database import Database


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000

    def __call__(self) -> int:
        return self.now


def _outbox(tmp_path: Path) -> tuple[Database, Outbox, Clock]:
    db = Database.open(str(tmp_path / "outbox.db"))
    db.migrate("replication", REPLICATION_STEPS)
    clock = Clock()
    return db, Outbox(db, clock, Backoff(base_ms=1000, cap_ms=4000)), clock


def _r(n: int) -> bytes:
    return bytes([n]) * 32


def test_records_go_in_log_order_and_once(tmp_path: Path) -> None:
    db, outbox, _ = _outbox(tmp_path)
    with db.transaction() as tx:
        Outbox.enqueue(tx, RECORD, [("nyu", _r(3), 30), ("nyu", _r(1), 10), ("mskcc", _r(1), 10)])
        Outbox.enqueue(tx, RECORD, [("nyu", _r(1), 10)])  # queued twice: one row
    assert outbox.due("nyu", RECORD, 10) == [_r(1), _r(3)]
    assert outbox.due("nyu", RECORD, 1) == [_r(1)]
    assert outbox.waiting() == {"nyu": {"record": 2}, "mskcc": {"record": 1}}
    with db.transaction() as tx:
        Outbox.done(tx, "nyu", RECORD, [_r(1)])
    assert outbox.due("nyu", RECORD, 10) == [_r(3)]
    assert outbox.due("mskcc", RECORD, 10) == [_r(1)]


def test_refused_rows_wait_with_growing_backoff(tmp_path: Path) -> None:
    db, outbox, clock = _outbox(tmp_path)
    with db.transaction() as tx:
        Outbox.enqueue(tx, RECORD, [("nyu", _r(1), 1), ("nyu", _r(2), 2)])
    outbox.retry_later("nyu", RECORD, {_r(1): "unknown_key: source cornell/lab"})
    assert outbox.due("nyu", RECORD, 10) == [_r(2)]  # the rest go on
    row = db.fetchone("SELECT attempts, next_ms, error FROM repl_outbox WHERE record = ?", (_r(1),))
    assert row is not None
    assert row[0] == 1
    assert 500 <= row[1] - clock.now <= 1000
    assert row[2] == "unknown_key: source cornell/lab"
    clock.now += 1000
    assert outbox.due("nyu", RECORD, 10) == [_r(1), _r(2)]
    for _ in range(5):
        outbox.retry_later("nyu", RECORD, {_r(1): "again"})
    row = db.fetchone("SELECT attempts, next_ms FROM repl_outbox WHERE record = ?", (_r(1),))
    assert row is not None
    assert row[0] == 6
    assert 2000 <= row[1] - clock.now <= 4000  # capped


def test_a_certificate_waits_until_the_member_answered_the_record(tmp_path: Path) -> None:
    db, outbox, _ = _outbox(tmp_path)
    with db.transaction() as tx:
        Outbox.enqueue(tx, RECORD, [("nyu", _r(1), 1)])
        Outbox.enqueue(tx, FINAL, [("nyu", _r(1), 1), ("nyu", _r(2), 2)])
    assert outbox.due("nyu", FINAL, 10) == [_r(2)]
    with db.transaction() as tx:
        Outbox.done(tx, "nyu", RECORD, [_r(1)])
    assert outbox.due("nyu", FINAL, 10) == [_r(1), _r(2)]
