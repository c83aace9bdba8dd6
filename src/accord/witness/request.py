"""The body of a C2SP tlog-witness ``add-checkpoint`` request (strict parse and format).

::

    old <N>\\n                  decimal, no sign, no leading zeros ("0" if none)
    <base64 hash>\\n            consistency-proof lines, 0..63, each one 32-byte hash
    \\n                         an empty line
    <signed checkpoint note>   C2SP signed-note over a C2SP tlog-checkpoint text

(shared/reference/tlog.md section 6.1; C2SP tlog-witness "add-checkpoint").
Every line ends in LF. The header ends at the first empty line: the old-size
line and the proof lines are never empty, so the first ``\\n\\n`` is the
separator; everything after it is the note, parsed with
:meth:`accord.note.Note.parse` and its text with
:meth:`accord.note.Checkpoint.parse`. Any defect is one
``MalformedError("add-checkpoint request", ...)`` (a witness answers 400); a
body over :data:`MAX_REQUEST_SIZE` bytes is ``TooLargeError`` (413).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from accord.encoding import HASH_SIZE, b64decode, b64encode
from accord.errors import AccordError, MalformedError, TooLargeError
from accord.note import MAX_TREE_SIZE, Checkpoint, Note

__all__ = ["MAX_PROOF_LINES", "MAX_REQUEST_SIZE", "AddCheckpointRequest"]

#: At most this many consistency-proof lines (tlog-witness: "MUST NOT send more than 63").
MAX_PROOF_LINES: Final = 63

#: Largest request body accepted, in bytes (a note with 100 signatures is ~15 KiB).
MAX_REQUEST_SIZE: Final = 64 * 1024

_WHAT: Final = "add-checkpoint request"
_OLD = re.compile(r"old (0|[1-9][0-9]{0,18})", re.ASCII)


def _bad(message: str) -> MalformedError:
    return MalformedError(_WHAT, message)


@dataclass(frozen=True, slots=True)
class AddCheckpointRequest:
    """An add-checkpoint request: old size, consistency proof, signed checkpoint note.

    ``checkpoint`` is derived from ``note.text``. Holding a request says
    nothing about its signatures or its proof: the witness checks both.
    """

    old_size: int
    proof: tuple[bytes, ...]
    note: Note
    checkpoint: Checkpoint = field(init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if type(self.old_size) is not int or not 0 <= self.old_size <= MAX_TREE_SIZE:
            raise _bad("old size must be an integer in [0, 2**63 - 1]")
        if isinstance(self.proof, list):
            object.__setattr__(self, "proof", tuple(self.proof))
        if not isinstance(self.proof, tuple):
            raise _bad("proof must be a tuple of hashes")
        if len(self.proof) > MAX_PROOF_LINES:
            raise _bad(f"more than {MAX_PROOF_LINES} consistency proof lines")
        for h in self.proof:
            if not isinstance(h, bytes) or len(h) != HASH_SIZE:
                raise _bad(f"each proof line must be a {HASH_SIZE}-byte hash")
        if not isinstance(self.note, Note):
            raise _bad("note must be an accord.note.Note")
        try:
            checkpoint = Checkpoint.parse(self.note.text)
        except MalformedError as exc:
            raise _bad(f"the note is not a checkpoint: {exc.message}") from None
        object.__setattr__(self, "checkpoint", checkpoint)

    @classmethod
    def parse(cls, body: bytes | str) -> AddCheckpointRequest:
        """Parse a request body strictly (tlog-witness "add-checkpoint").

        Raises MalformedError("add-checkpoint request") for any defect, and
        TooLargeError above :data:`MAX_REQUEST_SIZE` bytes.
        """
        if isinstance(body, str):
            try:
                body = body.encode("utf-8")
            except UnicodeEncodeError:
                raise _bad("not valid Unicode text") from None
        if not isinstance(body, bytes):
            raise _bad("expected bytes")
        if len(body) > MAX_REQUEST_SIZE:
            raise TooLargeError(_WHAT, f"larger than {MAX_REQUEST_SIZE} bytes")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise _bad("not valid UTF-8") from None
        split = text.find("\n\n")
        if split < 0:
            raise _bad("no empty line between the header and the checkpoint")
        header, note_text = text[:split].split("\n"), text[split + 2 :]
        old = _OLD.fullmatch(header[0])
        if old is None:
            raise _bad("the first line must be 'old <size>' in decimal without leading zeros")
        old_size = int(old.group(1))
        if old_size > MAX_TREE_SIZE:
            raise _bad("old size exceeds 2**63 - 1")
        lines = header[1:]
        if len(lines) > MAX_PROOF_LINES:
            raise _bad(f"more than {MAX_PROOF_LINES} consistency proof lines")
        proof = []
        for i, line in enumerate(lines):
            try:
                h = b64decode(line, _WHAT)
            except MalformedError:
                raise _bad(f"proof line {i + 1} is not padded base64") from None
            if len(h) != HASH_SIZE:
                raise _bad(f"proof line {i + 1} is not a {HASH_SIZE}-byte hash")
            proof.append(h)
        try:
            note = Note.parse(note_text)
        except AccordError as exc:  # MalformedError or TooLargeError from the note parser
            raise _bad(f"signed note: {exc.message}") from None
        return cls(old_size, tuple(proof), note)

    def format(self) -> str:
        """The request body as text; the exact inverse of :meth:`parse`."""
        lines = [f"old {self.old_size}", *(b64encode(h) for h in self.proof)]
        return "".join(line + "\n" for line in lines) + "\n" + self.note.format()

    def to_bytes(self) -> bytes:
        """The request body as UTF-8 bytes, ready to POST."""
        return self.format().encode("utf-8")

    @classmethod
    def make(cls, old_size: int, proof: Sequence[bytes], note: Note | str) -> AddCheckpointRequest:
        """A request from a proof sequence and a note or note text (MalformedError otherwise)."""
        if isinstance(note, str):
            try:
                note = Note.parse(note)
            except AccordError as exc:
                raise _bad(f"signed note: {exc.message}") from None
        return cls(old_size, tuple(proof), note)
