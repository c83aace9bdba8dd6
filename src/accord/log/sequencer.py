"""The sequencer: the one writer of a log, with group commit.

Requests from many threads are queued; a single writer thread takes everything
queued (up to ``max_batch`` items), asks the planner to turn it into one batch
of leaves plus the rows to write beside them, and appends it in one
transaction. While a transaction is in flight new requests queue up, so under
load each commit carries many requests (group commit) and at rest a request is
committed at once. Nothing is acknowledged before its transaction commits.

The planner is the node's business (headers, index, projection); the sequencer
only orders, batches, commits and reports.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from accord.errors import AccordError, StoreError, UsageError
from accord.log.log import Log
from accord.store.database import Tx

__all__ = ["BatchPlan", "Planner", "Sequencer", "SequencerStats"]

_log = logging.getLogger("accord.sequencer")


class BatchPlan(Protocol):
    """What the planner makes of one group of requests."""

    @property
    def leaves(self) -> Sequence[bytes]:
        """The leaves to append, in order (may be empty: nothing new, e.g. all duplicates)."""

    def write(self, tx: Tx, first: int) -> None:
        """Write the planner's own rows in the append's transaction."""

    def committed(self, first: int) -> list[Any]:
        """Called after the commit; returns one result per submitted item, in order."""

    def aborted(self) -> None:
        """Called when the append failed: undo any in-memory staging."""


#: Builds the plan for the items of one group, in submission order.
Planner = Callable[[list[Any]], BatchPlan]


@dataclass
class _Request:
    items: list[Any]
    future: Future[list[Any]]
    enqueued: float = field(default_factory=time.perf_counter)


@dataclass
class SequencerStats:
    batches: int = 0
    items: int = 0
    leaves: int = 0
    last_batch_seconds: float = 0.0


class Sequencer:
    """Single writer for ``log``; ``submit`` is thread-safe and returns a future."""

    def __init__(
        self,
        log: Log,
        planner: Planner,
        *,
        max_batch: int = 10_000,
        on_commit: Callable[[int, int, float], None] | None = None,
    ) -> None:
        self._log = log
        self._planner = planner
        self._max_batch = max_batch
        self._on_commit = on_commit
        self._queue: queue.SimpleQueue[_Request | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self.stats = SequencerStats()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="accord-sequencer", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish what is queued, then stop the writer."""
        if self._thread is None:
            return
        self._stopping.set()
        self._queue.put(None)
        self._thread.join(timeout)
        self._thread = None

    def submit(self, items: list[Any]) -> Future[list[Any]]:
        """Queue ``items`` (one request); the future gives one result per item."""
        future: Future[list[Any]] = Future()
        if self._stopping.is_set() or self._thread is None:
            future.set_exception(StoreError("the sequencer is not running"))
            return future
        if not items:
            future.set_exception(UsageError("nothing to append"))
            return future
        self._queue.put(_Request(items, future))
        return future

    # -- the writer thread -------------------------------------------------------------

    def _take_group(self, first: _Request) -> tuple[list[_Request], bool]:
        group = [first]
        count = len(first.items)
        stop = False
        while count < self._max_batch:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                stop = True
                break
            group.append(nxt)
            count += len(nxt.items)
        return group, stop

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group, stop = self._take_group(first)
            self._commit_group(group)
            if stop:
                return

    def _commit_group(self, group: list[_Request]) -> None:
        started = time.perf_counter()
        items = [item for req in group for item in req.items]
        plan: BatchPlan | None = None
        try:
            plan = self._planner(items)
            first = self._log.size
            if plan.leaves:
                first = self._log.append_batch(list(plan.leaves), also=plan.write)
            results = plan.committed(first)
        except AccordError as exc:
            if plan is not None:
                plan.aborted()
            for req in group:
                req.future.set_exception(exc)
            return
        except Exception as exc:  # a bug: never leave callers waiting
            _log.exception("sequencer batch failed")
            if plan is not None:
                plan.aborted()
            for req in group:
                req.future.set_exception(StoreError(f"internal error while appending: {exc}"))
            return
        elapsed = time.perf_counter() - started
        self.stats.batches += 1
        self.stats.items += len(items)
        self.stats.leaves += len(plan.leaves)
        self.stats.last_batch_seconds = elapsed
        if self._on_commit is not None:
            self._on_commit(len(items), len(plan.leaves), elapsed)
        at = 0
        for req in group:
            req.future.set_result(results[at : at + len(req.items)])
            at += len(req.items)
