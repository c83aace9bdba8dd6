"""MapFn v1: the index keys of a statement (docs/formats.md section 4; verifiable-index.md 4, 7).

Pure and versioned; the node, witnesses, auditors and the verifier all run it
and must agree bit for bit. ``index_pairs`` gives the plain ``(family, value)``
pairs; ``mapfn`` gives the sorted, unique key ids that go into the leaf header:

    key_id = HMAC-SHA256(index_key, b"idx/v1" || family || 0x00 || canonical(value))

Lateness (verifiable-index.md section 7): when ``event_ts < log_ts - lateness_ms``
every pair ``(family, value)`` is also emitted as ``("late", [family, value])``.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Final

from accord.encoding import canonical, hmac_sha256
from accord.errors import UsageError
from accord.records.schemas import Access, Disclosure
from accord.records.statement import Statement

__all__ = [
    "FAMILIES",
    "INDEX_KEY_SIZE",
    "KEY_PREFIX",
    "MAPFN_ID",
    "MAPFN_TABLE",
    "MAPFN_VERSION",
    "index_pairs",
    "is_late",
    "key_id",
    "key_ids",
    "mapfn",
]

MAPFN_VERSION: Final = 1
INDEX_KEY_SIZE: Final = 32
KEY_PREFIX: Final = b"idx/v1"

#: The table of docs/formats.md section 4, verbatim: its lines joined by "\n", with a
#: final "\n". MAPFN_ID hashes exactly this text; a test checks it against the doc.
MAPFN_TABLE: Final = (
    "| family | value | emitted for |\n"
    "|---|---|---|\n"
    "| `patient` | patient id | every statement with a patient principal |\n"
    "| `record` | record_ref hex | access (its `record_ref`), disclosure (each of `record_refs`) |\n"  # noqa: E501
    "| `accessor` | `[accessor_org, accessor.id]` | access |\n"
    "| `accessor_org` | accessor_org | access |\n"
    "| `discloser` | discloser_org | disclosure |\n"
    "| `recipient` | recipient_org | disclosure |\n"
    "| `disclosure` | `[discloser_org, recipient_org]` | disclosure |\n"
    "| `late` | `[family, value]` | for each key above, when `event_ts < log_ts - lateness_ms` |\n"
)

#: SHA-256("accord-mapfn/v1\n" || MAPFN_TABLE): goes into every index-commit leaf.
MAPFN_ID: Final = hashlib.sha256(b"accord-mapfn/v1\n" + MAPFN_TABLE.encode("utf-8")).digest()

FAMILIES: Final = (
    "patient",
    "record",
    "accessor",
    "accessor_org",
    "discloser",
    "recipient",
    "disclosure",
    "late",
)
_FAMILY_PREFIX: Final = {f: KEY_PREFIX + f.encode("ascii") + b"\x00" for f in FAMILIES}


def _check_index_key(index_key: bytes) -> None:
    if type(index_key) is not bytes or len(index_key) != INDEX_KEY_SIZE:
        raise UsageError(f"the consortium index key must be {INDEX_KEY_SIZE} bytes")


def key_id(index_key: bytes, family: str, value: Any) -> bytes:
    """HMAC-SHA256(index_key, "idx/v1" || family || 0x00 || canonical(value)): 32 bytes.

    Also what a query computes to look a key up (e.g. ``("patient", "MPI-0001")``).
    """
    _check_index_key(index_key)
    prefix = _FAMILY_PREFIX.get(family)
    if prefix is None:
        raise UsageError(f"unknown index key family {family!r}; known: {', '.join(FAMILIES)}")
    return hmac_sha256(index_key, prefix + canonical(value))


def is_late(event_ts: int, log_ts: int, lateness_ms: int) -> bool:
    """The lateness rule: ``event_ts < log_ts - lateness_ms``."""
    return event_ts < log_ts - lateness_ms


def index_pairs(statement: Statement, log_ts: int, lateness_ms: int) -> list[tuple[str, Any]]:
    """The ``(family, value)`` pairs of ``statement`` (values are JSON values).

    In table order, without duplicates; then the ``late`` pairs if the
    statement is late at ``log_ts``. Precondition: ``lateness_ms >= 0``.
    """
    if type(lateness_ms) is not int or lateness_ms < 0:
        raise UsageError("lateness_ms must be a non-negative integer")
    pairs: list[tuple[str, Any]] = []
    for p in statement.principals:
        if p.kind == "patient":
            pairs.append(("patient", p.id))
    typed = statement.typed
    if type(typed) is Access:
        pairs.append(("record", typed.record_ref.hex()))
        pairs.append(("accessor", [typed.accessor_org, typed.accessor.id]))
        pairs.append(("accessor_org", typed.accessor_org))
    elif type(typed) is Disclosure:
        pairs.extend(("record", r.hex()) for r in typed.record_refs)
        pairs.append(("discloser", typed.discloser_org))
        pairs.append(("recipient", typed.recipient_org))
        pairs.append(("disclosure", [typed.discloser_org, typed.recipient_org]))
    if statement.event_ts < log_ts - lateness_ms:
        pairs.extend([("late", [family, value]) for family, value in pairs])
    return pairs


def key_ids(index_key: bytes, pairs: list[tuple[str, Any]]) -> tuple[bytes, ...]:
    """The sorted, unique key ids of ``pairs``."""
    _check_index_key(index_key)
    digest = hmac_sha256
    return tuple(
        sorted(
            {
                digest(index_key, _FAMILY_PREFIX[family] + canonical(value))
                for family, value in pairs
            }
        )
    )


def mapfn(
    statement: Statement, log_ts: int, lateness_ms: int, index_key: bytes
) -> tuple[bytes, ...]:
    """MapFn v1: the sorted, unique key ids of ``statement`` sequenced at ``log_ts``.

    The values come from a validated statement: strings without control
    characters or surrogates (or lists of them), whose RFC 8785 form is what
    compact ``json.dumps`` writes; a property test holds this equal to
    :func:`key_ids`, which canonicalises generically.
    """
    _check_index_key(index_key)
    digest = hmac_sha256
    dumps = _dumps
    return tuple(
        sorted(
            {
                digest(index_key, _FAMILY_PREFIX[family] + dumps(value).encode("utf-8"))
                for family, value in index_pairs(statement, log_ts, lateness_ms)
            }
        )
    )


_dumps: Final = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
