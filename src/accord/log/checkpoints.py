"""Checkpoint bodies (C2SP tlog-checkpoint v1.0.0, shared/reference/tlog.md section 5.2).

The log builds the checkpoint *text* ``<origin>\\n<size>\\n<base64 root>\\n``; a
caller's signer turns it into a signed note (C2SP signed-note: the text, an
empty line, signature lines). Signing lives in ``accord.note``; the log only
checks that what it stores is a note over its own text.
"""

from __future__ import annotations

import base64

from accord.errors import UsageError
from accord.merkle import HASH_SIZE

__all__ = ["check_note", "check_origin", "checkpoint_text"]


def check_origin(origin: object) -> str:
    """``origin`` if it can head a checkpoint: a non-empty line of UTF-8 text.

    tlog-checkpoint recommends no spaces and no ``+``, but allows them; control
    characters (a newline above all) are refused since the origin is one line.
    """
    if not isinstance(origin, str) or not origin:
        raise UsageError("a log origin must be a non-empty string")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in origin):
        raise UsageError("a log origin must not contain control characters")
    try:
        origin.encode("utf-8")
    except UnicodeEncodeError:
        raise UsageError("a log origin must be valid UTF-8 text") from None
    return origin


def checkpoint_text(origin: str, size: int, root: bytes) -> str:
    """The checkpoint body for ``(origin, size, root)``, ending in a newline."""
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise UsageError("checkpoint size must be a non-negative integer")
    if not isinstance(root, bytes) or len(root) != HASH_SIZE:
        raise UsageError("checkpoint root must be a 32-byte hash")
    return f"{check_origin(origin)}\n{size}\n{base64.b64encode(root).decode('ascii')}\n"


def check_note(text: str, note: object) -> str:
    """``note`` if it is a signed note over ``text``: the text, an empty line, and at
    least one non-empty signature line, each ending in a newline (C2SP signed-note)."""
    if not isinstance(note, str) or not note.startswith(text + "\n"):
        raise UsageError("the signer did not return a signed note over the checkpoint text")
    signatures = note[len(text) + 1 :]
    if not signatures.endswith("\n") or any(not line for line in signatures[:-1].split("\n")):
        raise UsageError("the signed note has no well-formed signature lines")
    return note
