"""Is a receipt's record really in the member's log? (formats.md sections 3 and 6)

A receipt says "record H is at index i of my log, with log_ts t". Given the leaf
bytes at i, an inclusion proof, and a checkpoint of that log the caller has
already verified (signature and cosignatures: accord.note), this module checks
that the leaf is a record header whose ``body_hash`` is H and whose ``log_ts``
is t, and that the leaf is in the checkpoint's tree.

The header is parsed here minimally and strictly (a local stand-in while
``accord.records.header`` is written): canonical JSON, exactly the keys of
formats.md section 3, ``v`` 1, a record ``type`` (not ``index-commit``), an
integer ``log_ts`` and a hex ``body_hash``. The other fields are the records
package's to check.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from accord.encoding import HASH_SIZE, canonical, hex32, parse_json
from accord.errors import BadProofError, MalformedError, VerificationError
from accord.merkle import leaf_hash, verify_inclusion
from accord.quorum.names import is_json_int
from accord.quorum.receipts import Receipt

__all__ = ["HEADER_KEYS", "MAX_LEAF_SIZE", "record_of_leaf", "verify_receipt_in_log"]

#: The keys of a record header (formats.md section 3), exactly.
HEADER_KEYS: Final = frozenset(
    {"v", "type", "org", "src", "log_ts", "event_ts", "keys", "body_hash"}
)
MAX_LEAF_SIZE: Final = 1 << 20
_WHAT: Final = "log leaf"


def record_of_leaf(leaf: bytes) -> tuple[bytes, int]:
    """(record hash, log_ts) of a record header leaf; MalformedError("log leaf", ...) otherwise.

    Refuses non-canonical JSON, other keys, ``v`` other than 1, the index-commit
    leaf (it has no record), a non-integer ``log_ts`` and a bad ``body_hash``.
    """
    if not isinstance(leaf, bytes):
        raise MalformedError(_WHAT, "expected bytes")
    if len(leaf) > MAX_LEAF_SIZE:
        raise MalformedError(_WHAT, f"larger than {MAX_LEAF_SIZE} bytes")
    header = parse_json(leaf, _WHAT)
    if not isinstance(header, dict):
        raise MalformedError(_WHAT, "expected a JSON object")
    if header.get("type") == "index-commit":
        raise MalformedError(_WHAT, "an index-commit leaf holds no record")
    if set(header) != HEADER_KEYS:
        raise MalformedError(_WHAT, f"a record header has exactly the keys {sorted(HEADER_KEYS)}")
    try:
        canonical_form = canonical(header)
    except MalformedError:
        canonical_form = b""
    if canonical_form != leaf:
        raise MalformedError(_WHAT, "not canonical JSON (RFC 8785)")
    if type(header["v"]) is not int or header["v"] != 1:
        raise MalformedError(_WHAT, "v must be 1")
    if not isinstance(header["type"], str) or not header["type"]:
        raise MalformedError(_WHAT, "type must be a non-empty string")
    if not is_json_int(header["log_ts"]):
        raise MalformedError(_WHAT, "log_ts must be a non-negative integer")
    if not isinstance(header["body_hash"], str):
        raise MalformedError(_WHAT, "body_hash must be a hex string")
    return hex32(header["body_hash"], _WHAT), header["log_ts"]


def verify_receipt_in_log(
    receipt: Receipt,
    leaf_bytes: bytes,
    inclusion_proof: Sequence[bytes],
    checkpoint_size: int,
    checkpoint_root: bytes,
    *,
    origin: str | None = None,
) -> None:
    """Raise unless ``leaf_bytes`` is ``receipt``'s record at ``receipt.index`` of the log.

    Precondition: (``origin``, ``checkpoint_size``, ``checkpoint_root``) is a
    checkpoint of the receipt's member log that the caller has verified. When
    ``origin`` is given it must equal ``receipt.origin`` (VerificationError).
    Raises MalformedError for a leaf that is not a record header,
    VerificationError when its ``body_hash`` or ``log_ts`` differ from the
    receipt's, BadProofError when the checkpoint does not cover the index, and
    BadProofError/RootMismatchError when the inclusion proof fails.
    """
    if origin is not None and origin != receipt.origin:
        raise VerificationError(
            f"the checkpoint is of log {origin!r}, the receipt of {receipt.origin!r}",
            org=receipt.org,
        )
    record, log_ts = record_of_leaf(leaf_bytes)
    where = f"leaf {receipt.index} of {receipt.origin}"
    if record != receipt.record:
        raise VerificationError(
            f"{where} is record {record.hex()}, but {receipt.org}'s receipt says "
            f"{receipt.record.hex()}",
            org=receipt.org,
            index=receipt.index,
        )
    if log_ts != receipt.log_ts:
        raise VerificationError(
            f"{where} has log_ts {log_ts}, but {receipt.org}'s receipt says {receipt.log_ts}",
            org=receipt.org,
            index=receipt.index,
        )
    if not isinstance(checkpoint_root, bytes) or len(checkpoint_root) != HASH_SIZE:
        raise BadProofError("the checkpoint root is not a 32-byte hash")
    if type(checkpoint_size) is not int or receipt.index >= checkpoint_size:
        raise BadProofError(
            f"a checkpoint of size {checkpoint_size} does not cover index {receipt.index}",
            org=receipt.org,
            index=receipt.index,
        )
    verify_inclusion(
        receipt.index, checkpoint_size, leaf_hash(leaf_bytes), inclusion_proof, checkpoint_root
    )
