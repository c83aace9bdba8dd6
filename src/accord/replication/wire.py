"""The bodies of the node-to-node replication requests (docs/replication.md).

Every request is a signed node request (formats.md section 7):

- ``POST /v1/replicate`` ``{"records": [<signed statement>, ...]}`` (1 to
  :data:`MAX_RECORDS`) answers :class:`ReplicateAnswer`: ``{"receipts": <signed
  batch> | null, "refused": [{"index", "record", "error"}, ...]}``: one receipt
  batch (formats.md section 6, compact form) covering every record it holds, and
  one entry per record it refused (``record`` is null when the statement did not
  even parse).
- ``POST /v1/replicate/final`` ``{"certificates": [<certificate>, ...]}``
  answers :class:`FinalAnswer`: ``{"stored": n, "refused": [...]}``.
- ``POST /v1/replicate/hello`` (empty body): "I am up"; answers ``{"org": ...}``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from accord.encoding import canonical, hex32
from accord.errors import AccordError, MalformedError, TooLargeError
from accord.quorum import SignedBatch

__all__ = [
    "FINAL_PATH",
    "HELLO_PATH",
    "MAX_RECORDS",
    "REPLICATE_PATH",
    "FinalAnswer",
    "Refused",
    "ReplicateAnswer",
    "certificates_body",
    "items_of",
    "records_body",
]

REPLICATE_PATH: Final = "/v1/replicate"
FINAL_PATH: Final = "/v1/replicate/final"
HELLO_PATH: Final = "/v1/replicate/hello"
#: The most records (or certificates) one request may carry.
MAX_RECORDS: Final = 10_000
_WHAT: Final = "replication answer"


def records_body(bodies: Sequence[bytes]) -> bytes:
    """``{"records": [...]}`` from record bodies (canonical signed statements)."""
    return b'{"records":[' + b",".join(bodies) + b"]}"


def certificates_body(texts: Sequence[str]) -> bytes:
    """``{"certificates": [...]}`` from canonical certificate texts."""
    return b'{"certificates":[' + ",".join(texts).encode("utf-8") + b"]}"


def items_of(value: Any, key: str) -> list[Any]:
    """The list under ``key`` of a request body ``{key: [...]}`` (1..MAX_RECORDS items)."""
    if not isinstance(value, dict) or set(value) != {key}:
        raise MalformedError("replication request", f'the body must be {{"{key}": [...]}}')
    items = value[key]
    if not isinstance(items, list) or not items:
        raise MalformedError("replication request", f"{key} must be a non-empty list")
    if len(items) > MAX_RECORDS:
        raise TooLargeError("replication request", f"more than {MAX_RECORDS} {key}")
    return items


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise MalformedError(_WHAT, message)


def _object(obj: object, keys: set[str], name: str) -> dict[str, Any]:
    if not isinstance(obj, dict) or set(obj) != keys:
        raise MalformedError(_WHAT, f"{name}: expected an object with the keys {sorted(keys)}")
    return obj


@dataclass(frozen=True, slots=True)
class Refused:
    """One refused item: its position in the request, its record hash if known, the error."""

    index: int
    record: bytes | None
    code: str
    message: str

    @classmethod
    def of(cls, index: int, record: bytes | None, error: AccordError) -> Refused:
        return cls(index, record, error.code, error.message)

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "record": self.record.hex() if self.record is not None else None,
            "error": {"code": self.code, "message": self.message},
        }

    @classmethod
    def from_json(cls, obj: object) -> Refused:
        obj = _object(obj, {"index", "record", "error"}, "refusal")
        err = obj["error"]
        _need(
            isinstance(err, dict)
            and set(err) == {"code", "message"}
            and all(isinstance(v, str) for v in err.values()),
            "bad refusal error",
        )
        _need(type(obj["index"]) is int and obj["index"] >= 0, "bad refusal index")
        record = obj["record"]
        _need(record is None or isinstance(record, str), "bad refusal record")
        return cls(
            obj["index"],
            None if record is None else hex32(record, _WHAT),
            err["code"],
            err["message"],
        )


@dataclass(frozen=True, slots=True)
class ReplicateAnswer:
    """A member's answer to ``POST /v1/replicate``."""

    receipts: SignedBatch | None
    refused: tuple[Refused, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "receipts": self.receipts.to_json() if self.receipts is not None else None,
            "refused": [r.to_json() for r in self.refused],
        }

    def format(self) -> bytes:
        return canonical(self.to_json())

    @classmethod
    def from_json(cls, obj: object) -> ReplicateAnswer:
        """Strict; MalformedError("replication answer", ...) for anything else."""
        obj = _object(obj, {"receipts", "refused"}, "answer")
        refused = obj["refused"]
        _need(isinstance(refused, list) and len(refused) <= MAX_RECORDS, "bad refused list")
        receipts = obj["receipts"]
        try:
            batch = None if receipts is None else SignedBatch.from_json(receipts)
        except MalformedError as exc:
            raise MalformedError(_WHAT, exc.message) from None
        return cls(batch, tuple(Refused.from_json(r) for r in refused))


@dataclass(frozen=True, slots=True)
class FinalAnswer:
    """A holder's answer to ``POST /v1/replicate/final``."""

    stored: int
    refused: tuple[Refused, ...]

    def to_json(self) -> dict[str, Any]:
        return {"stored": self.stored, "refused": [r.to_json() for r in self.refused]}

    @classmethod
    def from_json(cls, obj: object) -> FinalAnswer:
        obj = _object(obj, {"stored", "refused"}, "answer")
        _need(type(obj["stored"]) is int and obj["stored"] >= 0, "bad stored count")
        refused = obj["refused"]
        _need(isinstance(refused, list) and len(refused) <= MAX_RECORDS, "bad refused list")
        return cls(obj["stored"], tuple(Refused.from_json(r) for r in refused))
