"""The outbox: what this node still has to send to each member, persisted (schema.py).

Rows are written by the planner's batch writer in the append's transaction and
removed in the transaction that stores the member's answer, so nothing is sent
before it is durable here and nothing answered is sent again after a restart.
Records go to each target in log order (``seq``); a row the member refused waits
with its own backoff (``next_ms``) while the rest go on.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Final

from accord.replication.backoff import Backoff
from accord.store.database import Database, Tx

__all__ = ["FINAL", "RECORD", "Outbox"]

#: Row kinds: a record to replicate, or a certificate to hand to another holder.
RECORD: Final = "record"
FINAL: Final = "final"
_IN_CHUNK: Final = 500
_MAX_ERROR: Final = 500


def _chunks(items: Sequence[bytes]) -> Iterable[Sequence[bytes]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i : i + _IN_CHUNK]


class Outbox:
    """SQL over ``repl_outbox`` (thread-safe: each call is its own transaction or uses ``tx``)."""

    def __init__(
        self, db: Database, clock_ms: Callable[[], int], backoff: Backoff | None = None
    ) -> None:
        self._db = db
        self._clock_ms = clock_ms
        self._backoff = backoff or Backoff()

    @staticmethod
    def enqueue(tx: Tx, kind: str, rows: Sequence[tuple[str, bytes, int]]) -> None:
        """Queue (target, record, seq) rows of ``kind`` in the caller's transaction."""
        if rows:
            tx.executemany(
                "INSERT INTO repl_outbox (target, kind, record, seq, attempts, next_ms, error)"
                " VALUES (?, ?, ?, ?, 0, 0, NULL) ON CONFLICT (target, kind, record) DO NOTHING",
                [(target, kind, record, seq) for target, record, seq in rows],
            )

    @staticmethod
    def done(tx: Tx, target: str, kind: str, records: Sequence[bytes]) -> None:
        """Remove answered rows in the caller's transaction."""
        if records:
            tx.executemany(
                "DELETE FROM repl_outbox WHERE target = ? AND kind = ? AND record = ?",
                [(target, kind, r) for r in records],
            )

    def due(self, target: str, kind: str, limit: int) -> list[bytes]:
        """Up to ``limit`` records of ``kind`` ready to send to ``target``, in log order.

        A ``final`` row is ready only once ``target`` answered the record itself.
        """
        now = self._clock_ms()
        if kind == RECORD:
            sql = (
                "SELECT record FROM repl_outbox WHERE target = ? AND kind = 'record'"
                " AND next_ms <= ? ORDER BY seq LIMIT ?"
            )
        else:
            sql = (
                "SELECT f.record FROM repl_outbox f WHERE f.target = ? AND f.kind = 'final'"
                " AND f.next_ms <= ? AND NOT EXISTS (SELECT 1 FROM repl_outbox r"
                " WHERE r.target = f.target AND r.kind = 'record' AND r.record = f.record)"
                " ORDER BY f.seq LIMIT ?"
            )
        return [bytes(row[0]) for row in self._db.fetchall(sql, (target, now, limit))]

    def retry_later(self, target: str, kind: str, errors: Mapping[bytes, str]) -> None:
        """Count one more failure for each row and hold it back by its backoff."""
        if not errors:
            return
        now = self._clock_ms()
        keys = list(errors)
        with self._db.transaction() as tx:
            attempts: dict[bytes, int] = {}
            for chunk in _chunks(keys):
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT record, attempts FROM repl_outbox WHERE target = ? AND kind = ? AND record IN ({marks})"  # noqa: E501, S608 (placeholders only)
                for record, n in tx.fetchall(sql, (target, kind, *chunk)):
                    attempts[bytes(record)] = int(n) + 1
            tx.executemany(
                "UPDATE repl_outbox SET attempts = ?, next_ms = ?, error = ?"
                " WHERE target = ? AND kind = ? AND record = ?",
                [
                    (
                        n,
                        now + self._backoff.delay_ms(n, random.random()),  # noqa: S311
                        errors[r][:_MAX_ERROR],
                        target,
                        kind,
                        r,
                    )
                    for r, n in attempts.items()
                ],
            )

    def waiting(self) -> dict[str, dict[str, int]]:
        """Rows still queued, by target and kind (for health and metrics)."""
        out: dict[str, dict[str, int]] = {}
        for target, kind, n in self._db.fetchall(
            "SELECT target, kind, COUNT(*) FROM repl_outbox GROUP BY target, kind"
        ):
            out.setdefault(str(target), {})[str(kind)] = int(n)
        return out
