"""Taking turns at SQLite's one write lock, inside one process.

SQLite lets one connection write at a time. A second ``BEGIN IMMEDIATE`` waits
in SQLite's busy handler, which polls by sleeping (1, 2, 5, 10 ... up to 100 ms
between tries): a writer that finds the lock taken for 2 ms often sleeps 10 or
25. In a node, the sequencer's appends, the index materializer, the compliance
evaluator and the checkpointer all write the same file, so those sleeps add up
to a large part of the sequencer's time under load.

The gate puts the threads of one process in line before they ask SQLite: a
waiter is woken the moment the writer before it is done, and an *urgent* writer
(the sequencer, whose commits callers wait for, and the checkpointer) goes before
the others that are waiting. Other processes writing the same file (a CLI command, say) still meet
SQLite's busy handler, as before.

A writer that waits longer than the timeout gets the same retryable error as a
busy SQLite database, so a thread that would wait on itself fails instead of
hanging.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from accord.errors import StoreError

__all__ = ["WriterGate"]


class WriterGate:
    """One writer at a time; urgent writers first; waiters woken at once."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._cond = threading.Condition(threading.Lock())
        self._busy = False
        self._urgent_waiting = 0

    @contextmanager
    def turn(self, *, urgent: bool = False) -> Iterator[None]:
        """Hold the write turn for the block."""
        deadline = time.monotonic() + self._timeout_s
        with self._cond:
            if urgent:
                self._urgent_waiting += 1
            try:
                while self._busy or (not urgent and self._urgent_waiting):
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise StoreError(
                            "sqlite: the database is locked (another writer of this process "
                            f"held it for over {self._timeout_s:.0f} s)"
                        )
                    self._cond.wait(left)
            finally:
                if urgent:
                    self._urgent_waiting -= 1
                    self._cond.notify_all()  # the others may go if no urgent writer is left
            self._busy = True
        try:
            yield
        finally:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
