"""The value rules every statement and header field follows, and their size limits.

docs/formats.md sections 1-3: org ids ``[a-z0-9][a-z0-9-]{0,62}``, source names
``[a-z0-9][a-z0-9._-]{0,62}``, times as integer milliseconds in ``[0, 2**53)``,
hashes as 64 lowercase hex digits. Each ``check_*`` function returns the value
(converted where the type changes, e.g. hex to bytes) or raises
``MalformedError(what, "<path>: <problem>")`` naming the field, so a user can
act on the message. They are plain code on purpose: they run for every
statement the node receives.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any, Final, NoReturn

from accord.errors import MalformedError

__all__ = [
    "MAX_BODY_BYTES",
    "MAX_ID_CHARS",
    "MAX_INPUT_BYTES",
    "MAX_NAME_CHARS",
    "MAX_PURPOSES",
    "MAX_RECORD_REFS",
    "MAX_STATEMENT_BYTES",
    "MAX_TEXT_CHARS",
    "MAX_TS",
    "ORG_RE",
    "SOURCE_RE",
    "check_bool",
    "check_code",
    "check_hash_hex",
    "check_id",
    "check_int",
    "check_list",
    "check_name",
    "check_object",
    "check_org",
    "check_source_name",
    "check_text",
    "check_ts",
    "fail",
]

#: Largest record body: the canonical signed statement (formats.md section 1).
MAX_BODY_BYTES: Final = 64 * 1024
#: Canonical ``{"sig":"<88 base64 chars>","statement":...}`` adds exactly 112 bytes,
#: so a statement of at most this size always gives a body within MAX_BODY_BYTES.
MAX_STATEMENT_BYTES: Final = MAX_BODY_BYTES - 112
#: Largest JSON text accepted before parsing (it may be pretty-printed).
MAX_INPUT_BYTES: Final = 4 * MAX_BODY_BYTES
#: Ids: statement id, patient, person, role, org references, transfer id.
MAX_ID_CHARS: Final = 128
#: Display names (accessor.name).
MAX_NAME_CHARS: Final = 256
#: Free text (disclosure description).
MAX_TEXT_CHARS: Final = 1024
#: Record references in one disclosure.
MAX_RECORD_REFS: Final = 256
#: Purposes in one consent.
MAX_PURPOSES: Final = 64
#: Times are integers in [0, MAX_TS): exactly representable in JSON (RFC 8785).
MAX_TS: Final = 2**53

ORG_RE: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SOURCE_RE: Final = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
# No control characters (C0, DEL, C1) and no lone surrogates (not UTF-8).
_CHARS_RE: Final = re.compile(r"[^\x00-\x1f\x7f-\x9f\ud800-\udfff]*")
_TEXT_RE: Final = re.compile(r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]*")
_HEX64_RE: Final = re.compile(r"[0-9a-f]{64}")


def fail(path: str, problem: str, what: str = "statement") -> NoReturn:
    """Raise the uniform error of format ``what`` for field ``path``."""
    raise MalformedError(what, f"{path}: {problem}", field=path)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def check_object(
    value: Any,
    path: str,
    required: Collection[str],
    optional: Collection[str] = (),
    what: str = "statement",
) -> dict[str, Any]:
    """A JSON object with every ``required`` key and no key outside required | optional."""
    if type(value) is not dict:
        fail(path, f"must be an object, got {_kind(value)}", what)
    for key in required:
        if key not in value:
            fail(f"{path}.{key}" if path else key, "is required", what)
    if len(value) > len(required):
        for key in value:
            if key not in required and key not in optional:
                fail(f"{path}.{key}" if path else str(key), "unknown field", what)
    return value


def check_list(
    value: Any, path: str, min_items: int, max_items: int, what: str = "statement"
) -> list[Any]:
    if type(value) is not list:
        fail(path, f"must be an array, got {_kind(value)}", what)
    if not min_items <= len(value) <= max_items:
        fail(path, f"must have {min_items}..{max_items} items, got {len(value)}", what)
    return value


def _check_chars(value: Any, path: str, limit: int, what: str) -> str:
    if type(value) is not str:
        fail(path, f"must be a string, got {_kind(value)}", what)
    if not 1 <= len(value) <= limit:
        fail(path, f"must be 1..{limit} characters, got {len(value)}", what)
    if _CHARS_RE.fullmatch(value) is None:
        fail(path, "must not contain control characters", what)
    return value


def check_id(value: Any, path: str, what: str = "statement") -> str:
    """1..MAX_ID_CHARS characters, none of them a control character."""
    return _check_chars(value, path, MAX_ID_CHARS, what)


def check_name(value: Any, path: str, what: str = "statement") -> str:
    """A display name: 1..MAX_NAME_CHARS characters, no control characters."""
    return _check_chars(value, path, MAX_NAME_CHARS, what)


def check_text(value: Any, path: str, what: str = "statement") -> str:
    """Free text: 1..MAX_TEXT_CHARS characters; tab, CR and LF allowed, other controls not."""
    if type(value) is not str:
        fail(path, f"must be a string, got {_kind(value)}", what)
    if not 1 <= len(value) <= MAX_TEXT_CHARS:
        fail(path, f"must be 1..{MAX_TEXT_CHARS} characters, got {len(value)}", what)
    if _TEXT_RE.fullmatch(value) is None:
        fail(path, "must not contain control characters other than tab and newline", what)
    return value


def check_org(value: Any, path: str, what: str = "statement") -> str:
    """An Accord org id: ``[a-z0-9][a-z0-9-]{0,62}`` (formats.md section 1)."""
    if type(value) is not str or ORG_RE.fullmatch(value) is None:
        fail(path, f"must be an org id matching [a-z0-9][a-z0-9-]{{0,62}}, got {value!r:.80}", what)
    return value


def check_source_name(value: Any, path: str, what: str = "statement") -> str:
    """A source name: ``[a-z0-9][a-z0-9._-]{0,62}`` (formats.md section 1)."""
    if type(value) is not str or SOURCE_RE.fullmatch(value) is None:
        fail(
            path,
            f"must be a source name matching [a-z0-9][a-z0-9._-]{{0,62}}, got {value!r:.80}",
            what,
        )
    return value


def check_int(value: Any, path: str, low: int, high: int, what: str = "statement") -> int:
    """An integer (not a boolean) in ``[low, high)``."""
    if type(value) is not int:
        fail(path, f"must be an integer, got {_kind(value)}", what)
    if not low <= value < high:
        fail(path, f"must be in [{low}, {high}), got {value}", what)
    return value


def check_ts(value: Any, path: str, what: str = "statement") -> int:
    """A time in milliseconds since the Unix epoch: an integer in ``[0, 2**53)``."""
    if type(value) is not int or not 0 <= value < MAX_TS:
        if type(value) is not int:
            fail(path, f"must be an integer number of milliseconds, got {_kind(value)}", what)
        fail(path, f"must be in [0, 2**53) milliseconds, got {value}", what)
    return value


def check_hash_hex(value: Any, path: str, what: str = "statement") -> bytes:
    """A SHA-256 hash written as 64 lowercase hex digits; returns the 32 bytes."""
    if type(value) is not str or _HEX64_RE.fullmatch(value) is None:
        fail(path, f"must be 64 lowercase hex digits, got {value!r:.80}", what)
    return bytes.fromhex(value)


def check_code(value: Any, path: str, allowed: Collection[str], what: str = "statement") -> str:
    """One of the ``allowed`` codes."""
    if type(value) is not str or value not in allowed:
        fail(path, f"must be one of {', '.join(sorted(allowed))}; got {value!r:.80}", what)
    return value


def check_bool(value: Any, path: str, what: str = "statement") -> bool:
    if type(value) is not bool:
        fail(path, f"must be true or false, got {_kind(value)}", what)
    return value
