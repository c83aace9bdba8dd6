"""C2SP tlog-checkpoint v1.0.0: the note text a log signs over its size and root.

::

    <origin>                 non-empty
    <size>                   ASCII decimal, no sign, no leading zeros ("0" if empty)
    <base64 root hash>       padded standard base64 of the 32-byte RFC 9162 root
    [<extension line>...]    optional, each non-empty (NOT RECOMMENDED by the spec)

Every line ends in LF (shared/reference/tlog.md section 5.2). The text must
also be valid signed-note text: no control characters. Sizes above 2**63 - 1
are refused (as golang.org/x/mod and SQL integers do).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from accord.encoding import HASH_SIZE, b64decode, b64encode
from accord.errors import MalformedError
from accord.note.signed_note import decode_note_text

__all__ = ["MAX_TREE_SIZE", "Checkpoint"]

#: Largest tree size a checkpoint may carry (int64, as golang.org/x/mod sumdb/tlog).
MAX_TREE_SIZE: Final = (1 << 63) - 1

_WHAT: Final = "checkpoint"
_SIZE = re.compile(r"0|[1-9][0-9]{0,18}", re.ASCII)


def _check_line(line: object, label: str) -> str:
    if not isinstance(line, str) or not line:
        raise MalformedError(_WHAT, f"{label} must be a non-empty string")
    if "\n" in line:
        raise MalformedError(_WHAT, f"{label} must be a single line")
    decode_note_text(line, _WHAT)
    return line


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A log's claim: the tree named ``origin`` has ``size`` leaves and root ``root_hash``."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_line(self.origin, "origin")
        if type(self.size) is not int or not 0 <= self.size <= MAX_TREE_SIZE:
            raise MalformedError(_WHAT, "size must be an integer in [0, 2**63 - 1]")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise MalformedError(_WHAT, f"root hash must be {HASH_SIZE} bytes")
        if isinstance(self.extensions, list):
            object.__setattr__(self, "extensions", tuple(self.extensions))
        if not isinstance(self.extensions, tuple):
            raise MalformedError(_WHAT, "extensions must be a tuple of lines")
        for line in self.extensions:
            _check_line(line, "extension line")

    @classmethod
    def parse(cls, text: str | bytes) -> Checkpoint:
        """Parse a checkpoint note text strictly (tlog-checkpoint v1.0.0 "Note text").

        Raises MalformedError("checkpoint").
        """
        body = decode_note_text(text, _WHAT)
        if not body.endswith("\n"):
            raise MalformedError(_WHAT, "the last line must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) < 3:
            raise MalformedError(_WHAT, "expected origin, size and root hash lines")
        origin, size, root, *extensions = lines
        if not _SIZE.fullmatch(size):
            raise MalformedError(_WHAT, "size must be decimal digits without leading zeros")
        root_hash = b64decode(root, _WHAT)
        return cls(origin, int(size), root_hash, tuple(extensions))

    def format(self) -> str:
        """The checkpoint note text; the exact inverse of :meth:`parse`."""
        lines = [self.origin, str(self.size), b64encode(self.root_hash), *self.extensions]
        return "".join(line + "\n" for line in lines)
