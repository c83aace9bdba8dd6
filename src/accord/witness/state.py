"""A witness's state per log, and the narrow storage seams the witness core uses.

For each origin it witnesses, a witness keeps only the latest checkpoint it
cosigned (tlog-witness "Introduction"): its size, its root and the signed note
itself, the log's signature and this witness's cosignature included. The note
is kept because it is half of any evidence of equivocation
(:mod:`accord.witness.evidence`) and what the witness gossips
(:mod:`accord.witness.gossip`).

Storage reaches the core through these callables (STYLE.md "narrow callables"):

``read_state(origin) -> WitnessState | None``
    The stored state, or None if this witness never cosigned that origin.
``cas_state(origin, old_size, new_size, new_root, note) -> bool``
    Compare-and-swap, atomic and durable before it returns True:
    ``old_size`` None means "no state yet" (INSERT, refused if a row exists);
    an integer means ``UPDATE ... WHERE origin = ? AND size = old_size``.
    ``note`` is the signed note text to store (with this witness's
    cosignature). False when the state moved (zero rows changed).
``on_conflict(evidence) -> None``
    Persist the evidence and halt the origin, atomically, before returning:
    afterwards ``is_halted(origin)`` is True until an operator clears it.
``is_halted(origin) -> bool``
    True while uncleared evidence is held for ``origin``.
``consistency_proof(origin, size1, size2) -> Sequence[bytes] | None``
    (gossip) Ask the log for a consistency proof. None when the log answered
    that it cannot give one; raise an AccordError (e.g. NetworkError) when the
    log could not be asked, so that nothing is concluded.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeAlias

from accord.encoding import HASH_SIZE
from accord.errors import AccordError, MalformedError
from accord.note import MAX_TREE_SIZE, Checkpoint, Note
from accord.witness.evidence import Evidence

__all__ = [
    "CasState",
    "IsHalted",
    "OnConflict",
    "ProofSource",
    "ReadState",
    "WitnessState",
]

_WHAT = "witness state"


@dataclass(frozen=True, slots=True)
class WitnessState:
    """The latest checkpoint a witness cosigned for one origin: size, root and signed note.

    Invariant: ``note`` is a signed checkpoint note whose size and root are
    ``size`` and ``root_hash`` (MalformedError("witness state") otherwise).
    """

    size: int
    root_hash: bytes
    note: Note

    def __post_init__(self) -> None:
        if type(self.size) is not int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedError(_WHAT, "size must be an integer in [0, 2**63 - 1]")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise MalformedError(_WHAT, f"root hash must be {HASH_SIZE} bytes")
        if not isinstance(self.note, Note):
            raise MalformedError(_WHAT, "note must be an accord.note.Note")
        cp = self.checkpoint
        if (cp.size, cp.root_hash) != (self.size, self.root_hash):
            raise MalformedError(_WHAT, "the note's checkpoint does not match size and root")

    @property
    def checkpoint(self) -> Checkpoint:
        """The checkpoint in the stored note."""
        try:
            return Checkpoint.parse(self.note.text)
        except MalformedError as exc:
            raise MalformedError(_WHAT, f"the note is not a checkpoint: {exc.message}") from None

    @property
    def origin(self) -> str:
        return self.checkpoint.origin

    @classmethod
    def from_note(cls, note: Note | str) -> WitnessState:
        """The state holding ``note`` (a signed checkpoint note or its text).

        MalformedError("witness state") if it is not one. Signatures are not
        checked: storage hands back what the witness verified and stored.
        """
        if isinstance(note, str):
            try:
                note = Note.parse(note)
            except AccordError as exc:
                raise MalformedError(_WHAT, f"stored note: {exc.message}") from None
        if not isinstance(note, Note):
            raise MalformedError(_WHAT, "expected a note")
        try:
            cp = Checkpoint.parse(note.text)
        except MalformedError as exc:
            raise MalformedError(_WHAT, f"the note is not a checkpoint: {exc.message}") from None
        return cls(cp.size, cp.root_hash, note)


ReadState: TypeAlias = Callable[[str], WitnessState | None]
CasState: TypeAlias = Callable[[str, int | None, int, bytes, str], bool]
OnConflict: TypeAlias = Callable[[Evidence], None]
IsHalted: TypeAlias = Callable[[str], bool]
ProofSource: TypeAlias = Callable[[str, int, int], Sequence[bytes] | None]
