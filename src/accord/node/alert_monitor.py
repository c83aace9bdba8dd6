"""Alerts as records arrive: a background evaluator, the periodic sweep, and re-runs.

docs/compliance.md sections 2 and 7. The planner's listener wakes the monitor
after each committed batch; its thread evaluates every record after the
persisted cursor (``compliance_state.evaluated``), in log order, each **as of
its own log index** (SqlFacts ``asof``), with the org's rule configuration, and
stores the alerts and the new cursor in one transaction (the cursor moves by
compare-and-swap, so two evaluators never both claim a batch). Nothing is lost
across a crash: a restarted node resumes from the cursor.

The sweep (unmatched disclosure halves) runs every ``sweep_interval_ms`` with
``now`` = the node's clock minus ``sweep_lag_ms``, and never beyond a batch the
sequencer is still writing (a record appended later must not get a ``log_ts``
below ``now``: docs/compliance.md section 2). Its ``since`` is the previous
sweep's ``now``, persisted with its alerts.

:meth:`AlertMonitor.rerun` replays the whole history through a fresh
MemoryFacts (:func:`accord.compliance.rerun`) up to the last sweep's ``now`` and
reports how its alerts differ from the stored ones; with ``apply`` it stores
the new ones (stored alerts are never deleted: decisions may name them).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from accord.compliance.alerts import Alert
from accord.compliance.memory_facts import MemoryFacts
from accord.compliance.rules import evaluate, rerun, sweep
from accord.compliance.rules_config import RuleConfig
from accord.errors import AccordError, ConflictError, SealedError
from accord.node.alert_store import insert_alerts, read_alerts, seal_alerts, store_alert_rows
from accord.node.compliance_tables import EVALUATED, SWEPT, read_state, write_state

if TYPE_CHECKING:
    from accord.node.compliance import Compliance

__all__ = ["AlertMonitor", "RerunResult"]

_log = logging.getLogger("accord.compliance")
_BATCH: Final = 2_000
_IN_FLIGHT_S: Final = 60.0


@dataclass(frozen=True, slots=True)
class RerunResult:
    """What a re-run found: its alerts, those not stored (new), stored ones it did not raise."""

    alerts: tuple[Alert, ...]
    new: tuple[Alert, ...]
    missing: tuple[Alert, ...]
    records: int
    now: int | None
    applied: int

    def to_json(self) -> dict[str, Any]:
        return {
            "records": self.records,
            "now": self.now,
            "alerts": len(self.alerts),
            "new": [a.to_json() for a in self.new],
            "missing": [a.to_json() for a in self.missing],
            "applied": self.applied,
        }


class AlertMonitor:
    """The evaluator thread of one node's compliance component."""

    def __init__(
        self,
        compliance: Compliance,
        *,
        sweep_interval_ms: int = 60_000,
        sweep_lag_ms: int = 5_000,
        batch: int = _BATCH,
    ) -> None:
        self._c = compliance
        self.sweep_interval_ms = sweep_interval_ms
        self.sweep_lag_ms = sweep_lag_ms
        self._batch = batch
        self._lock = threading.RLock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_sweep_wall: int | None = None
        #: (log_ts, monotonic seconds) of the batch the sequencer is writing: set by the
        #: writer, cleared after the commit; a failed batch's mark expires by itself.
        self.in_flight: tuple[int, float] | None = None

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="accord-alerts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def wake(self) -> None:
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(min(self.sweep_interval_ms, 5_000) / 1000)
            self._wake.clear()
            if self._stop.is_set() or self._c.node.sealed:
                continue
            try:
                self.catch_up()
                wall = self._c.node.clock_ms()
                last = self._last_sweep_wall
                if last is None or wall - last >= self.sweep_interval_ms:
                    self._last_sweep_wall = wall
                    self.sweep()
            except SealedError:
                continue
            except AccordError:
                _log.exception("compliance evaluation failed; retrying")
                self._stop.wait(1)
            except Exception:
                _log.exception("compliance evaluation failed (a bug); retrying")
                self._stop.wait(5)

    # -- evaluation as records arrive ----------------------------------------------------

    def evaluated(self) -> int:
        """The log index of the last record evaluated (-1: none yet)."""
        with self._c.node.db.transaction(readonly=True) as tx:
            value = read_state(tx, EVALUATED)
        return -1 if value is None else value

    def catch_up(self) -> int:
        """Evaluate every record after the cursor; the number evaluated."""
        total = 0
        with self._lock:
            while True:
                done = self._evaluate_batch()
                total += done
                if done < self._batch or (self._thread is not None and self._stop.is_set()):
                    break
        return total

    def _evaluate_batch(self) -> int:
        c = self._c
        db = c.node.db
        config = c.rules
        with db.transaction(readonly=True) as tx:
            cursor = read_state(tx, EVALUATED)
            start = -1 if cursor is None else cursor
            rows = tx.fetchall(
                "SELECT log_index FROM compliance_records WHERE log_index > ?"
                " ORDER BY log_index LIMIT ?",
                (start, self._batch),
            )
            if not rows:
                return 0
            indexes = [int(r[0]) for r in rows]
            by_index = c.entries.get_many(indexes)
            facts = c.facts(tx.fetchall)
            raised: list[tuple[Alert, int | None]] = []
            for i in indexes:
                entry = by_index.get(i)
                if entry is None:
                    continue  # its body was shredded: nothing left to judge
                facts.asof = i
                raised.extend((a, i) for a in evaluate(entry, facts, config))
        rows = seal_alerts(raised, c.crypto, c.node.clock_ms())
        with db.transaction() as tx:
            if not write_state(tx, EVALUATED, cursor, indexes[-1]):
                raise ConflictError("another evaluator moved the compliance cursor")
            store_alert_rows(tx, rows)
        c.metrics_evaluated(len(indexes), len(raised))
        return len(indexes)

    # -- the sweep -----------------------------------------------------------------------

    def sweep_now(self) -> int:
        """The ``now`` a sweep may use at this moment (see the module doc)."""
        now = self._c.node.clock_ms() - self.sweep_lag_ms
        flying = self.in_flight
        if flying is not None and time.monotonic() - flying[1] < _IN_FLIGHT_S:
            now = min(now, flying[0] - 1)
        return now

    def sweep(self, now: int | None = None) -> list[Alert]:
        """Judge the halves logged since the last sweep; the new alerts (stored)."""
        c = self._c
        with self._lock:
            now = self.sweep_now() if now is None else now
            db = c.node.db
            with db.transaction(readonly=True) as tx:
                since = read_state(tx, SWEPT)
                if since is not None and now <= since:
                    return []
                facts = c.facts(tx.fetchall)
                found = sweep(facts, c.rules, now, since)
                triggers = self._indexes(tx.fetchall, [a.trigger for a in found])
            rows = seal_alerts([(a, triggers.get(a.trigger)) for a in found], c.crypto, now)
            with db.transaction() as tx:
                if not write_state(tx, SWEPT, since, now):
                    raise ConflictError("another sweep moved the sweep time")
                store_alert_rows(tx, rows)
        return found

    @staticmethod
    def _indexes(
        query: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]], hashes: list[bytes]
    ) -> dict[bytes, int]:
        out = {}
        for h in hashes:
            rows = query("SELECT log_index FROM compliance_records WHERE hash = ?", (h,))
            if rows:
                out[h] = int(rows[0][0])
        return out

    def last_sweep(self) -> int | None:
        with self._c.node.db.transaction(readonly=True) as tx:
            return read_state(tx, SWEPT)

    # -- re-running history --------------------------------------------------------------

    def rerun(self, config: RuleConfig | None = None, *, apply: bool = False) -> RerunResult:
        """Re-judge every record held with ``config`` (default: the node's); compare."""
        c = self._c
        config = config or c.rules
        with self._lock:
            self.catch_up()
            now = self.last_sweep()
            indexes = [
                int(r[0])
                for r in c.node.db.fetchall(
                    "SELECT log_index FROM compliance_records ORDER BY log_index"
                )
            ]
            entries = []
            for i in range(0, len(indexes), 5_000):
                entries.extend(c.entries.load(indexes[i : i + 5_000]))
            memory = MemoryFacts(c.directory, pseudonym_key=c.pseudonym_key(), parties=c.parties)
            if now is None:  # never swept: judge the records without a sweep
                found = [a for e in entries if memory.add(e) for a in evaluate(e, memory, config)]
            else:
                found = rerun(entries, config, now, memory)
            stored = {a.id: a for a in read_alerts(c.node.db.fetchall, c.crypto)}
            ids = {a.id for a in found}
            new = tuple(a for a in found if a.id not in stored)
            missing = tuple(a for a in stored.values() if a.id not in ids)
            applied = 0
            if apply and new:
                where = self._indexes(c.node.db.fetchall, [a.trigger for a in new])
                with c.node.db.transaction() as tx:
                    applied = insert_alerts(
                        tx, [(a, where.get(a.trigger)) for a in new], c.crypto, c.node.clock_ms()
                    )
        return RerunResult(tuple(found), new, missing, len(entries), now, applied)
