"""An in-memory witness store: the reference semantics of the storage seams.

:class:`MemoryWitnessStore` implements ``read_state``, ``cas_state``,
``on_conflict`` and ``is_halted`` exactly as :mod:`accord.witness.state`
describes them, under one lock. It serves tests, tools and a node without a
database; the SQL store must behave the same (``cas_state`` is
``UPDATE ... WHERE size = :old``, or an INSERT when ``old_size`` is None).
"""

from __future__ import annotations

import threading
from typing import Any

from accord.errors import NotFoundError, UsageError
from accord.note import Note
from accord.witness.evidence import Evidence
from accord.witness.state import WitnessState

__all__ = ["MemoryWitnessStore"]


class MemoryWitnessStore:
    """Witness state per origin, evidence, and the halted origins, in memory (thread-safe)."""

    __slots__ = ("_cleared", "_evidence", "_halted", "_lock", "_states")

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: dict[str, WitnessState] = {}
        self._evidence: list[Evidence] = []
        self._cleared: list[Evidence] = []
        self._halted: set[str] = set()

    # -- the seams ---------------------------------------------------------------

    def read_state(self, origin: str) -> WitnessState | None:
        with self._lock:
            return self._states.get(origin)

    def cas_state(
        self, origin: str, old_size: int | None, new_size: int, new_root: bytes, note: str
    ) -> bool:
        """Store ``note`` as the state of ``origin`` if the stored size is still ``old_size``.

        ``old_size`` None: only if nothing is stored yet. UsageError if the note
        is not the checkpoint (origin, new_size, new_root) or the size would shrink.
        """
        state = WitnessState.from_note(note)
        if (state.origin, state.size, state.root_hash) != (origin, new_size, new_root):
            raise UsageError("cas_state: the note is not the checkpoint being stored")
        if old_size is not None and new_size < old_size:
            raise UsageError("cas_state: a witness's size never shrinks")
        with self._lock:
            current = self._states.get(origin)
            if (None if current is None else current.size) != old_size:
                return False
            self._states[origin] = state
            return True

    def on_conflict(self, evidence: Evidence) -> None:
        """Keep ``evidence`` and halt its origin."""
        if not isinstance(evidence, Evidence):
            raise UsageError("on_conflict takes an Evidence")
        with self._lock:
            self._evidence.append(evidence)
            self._halted.add(evidence.origin)

    def is_halted(self, origin: str) -> bool:
        with self._lock:
            return origin in self._halted

    def seams(self) -> dict[str, Any]:
        """The four callables, as keyword arguments for ``process_add_checkpoint``."""
        return {
            "read_state": self.read_state,
            "cas_state": self.cas_state,
            "on_conflict": self.on_conflict,
            "is_halted": self.is_halted,
        }

    # -- operators and gossip ------------------------------------------------------

    def evidence(self, origin: str | None = None) -> tuple[Evidence, ...]:
        """The uncleared evidence, oldest first (all origins, or one)."""
        with self._lock:
            return tuple(e for e in self._evidence if origin is None or e.origin == origin)

    def clear(self, origin: str, *, reset_state: bool = False) -> tuple[Evidence, ...]:
        """An operator's decision: resume witnessing ``origin``; return the evidence archived.

        ``reset_state`` also forgets the stored checkpoint, so the next
        checkpoint is accepted on first use (``old 0``), e.g. after the
        consortium agreed which history is the log's. NotFoundError if the
        origin is not halted.
        """
        with self._lock:
            if origin not in self._halted:
                raise NotFoundError(f"no evidence is held for {origin!r}")
            cleared = tuple(e for e in self._evidence if e.origin == origin)
            self._evidence = [e for e in self._evidence if e.origin != origin]
            self._cleared.extend(cleared)
            self._halted.discard(origin)
            if reset_state:
                self._states.pop(origin, None)
            return cleared

    def latest_notes(self) -> tuple[Note, ...]:
        """The latest cosigned note of every origin, sorted by origin (what it gossips)."""
        with self._lock:
            return tuple(self._states[o].note for o in sorted(self._states))

    def set_state(self, state: WitnessState) -> None:
        """Install a state directly (tests, imports): no checks beyond the value's own."""
        if not isinstance(state, WitnessState):
            raise UsageError("set_state takes a WitnessState")
        with self._lock:
            self._states[state.origin] = state
