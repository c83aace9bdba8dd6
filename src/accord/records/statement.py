"""Statements and signed statements (docs/formats.md section 1).

A statement is what a source asserts; a signed statement adds the source's
Ed25519 signature over ``"accord/statement/v1\\n" || canonical(statement)``. The
record **body** is ``canonical(signed statement)`` and the **record hash** is
``SHA-256(body)``.

The node's hot path is ``SignedStatement.parse(data)`` -> ``.verify(key)`` ->
``accord.records.header.build_header(...)``. Canonical bytes are computed once,
when the :class:`Statement` is built; the signature input and the body are made
from them without canonicalising again (in canonical JSON, ``"sig"`` sorts before
``"statement"`` and base64 needs no escaping, so the body is a concatenation).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.encoding import b64decode, canonical, parse_json
from accord.errors import BadSignatureError, MalformedError, TooLargeError
from accord.records.codes import PRINCIPAL_KINDS
from accord.records.schemas import Fields, Principal, validate_fields
from accord.records.values import (
    MAX_INPUT_BYTES,
    MAX_STATEMENT_BYTES,
    check_code,
    check_id,
    check_list,
    check_object,
    check_org,
    check_source_name,
    check_ts,
    fail,
)

__all__ = [
    "SIGNATURE_SIZE",
    "STATEMENT_DOMAIN",
    "STATEMENT_VERSION",
    "SignedStatement",
    "Statement",
    "decode_json",
    "sign_statement",
]

STATEMENT_DOMAIN: Final = "accord/statement/v1\n"
STATEMENT_VERSION: Final = 1
SIGNATURE_SIZE: Final = 64

_DOMAIN: Final = STATEMENT_DOMAIN.encode("ascii")
_KEYS: Final = ("v", "schema", "id", "org", "source", "event_ts", "principals", "fields")
_MAX_PRINCIPALS: Final = 16  # every schema takes one; the schema says so precisely


def decode_json(data: bytes | str, what: str) -> Any:
    """Strict JSON (UTF-8, no duplicate keys, no NaN) of at most MAX_INPUT_BYTES.

    Raises TooLargeError or MalformedError(``what``) and nothing else.
    """
    if len(data) > MAX_INPUT_BYTES:
        raise TooLargeError(what, f"{len(data)} bytes is over the limit of {MAX_INPUT_BYTES}")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
        return parse_json(text, what)
    except UnicodeDecodeError:
        raise MalformedError(what, "not UTF-8") from None
    except MalformedError:
        raise
    except ValueError as exc:  # e.g. an integer literal over Python's digit limit
        raise MalformedError(what, str(exc)) from None


def _canonical_statement(value: dict[str, Any], typed: Fields) -> bytes:
    """RFC 8785 bytes of a statement whose fields ``validate_fields`` accepted.

    Validation has checked every value outside a ``fhir`` resource: strings
    without surrogates or control characters, integers in [0, 2**53), booleans,
    objects with ASCII keys. For such values sorted, compact ``json.dumps`` *is*
    RFC 8785 (the same escapes; code point order is UTF-16 order for ASCII
    keys) and several times faster than the generic encoder. A ``fhir``
    resource takes the same path when :func:`_plain` says it may, else the
    generic one. Property tests hold the two paths equal.
    """
    fhir = getattr(typed, "fhir", None)
    try:
        if fhir is None or _plain(fhir.resource):
            return _dumps(value).encode("utf-8")
        return canonical(value)
    except MalformedError as exc:
        raise MalformedError("statement", exc.message) from None
    except RecursionError:
        raise MalformedError("statement", "nested too deeply") from None


_dumps: Final = json.JSONEncoder(
    ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")
).encode
_SURROGATE: Final = re.compile("[\ud800-\udfff]")
_INT_LIMIT: Final = 2**53


def _plain(value: Any) -> bool:
    """True if ``json.dumps`` writes ``value`` exactly as RFC 8785 does.

    That holds for null, booleans, integers of magnitude below 2**53, strings
    without lone surrogates, arrays, and objects whose keys are ASCII strings
    (so code point order is UTF-16 order). Floats and anything else: False.
    """
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str:
            if not v.isascii() and _SURROGATE.search(v) is not None:
                return False
        elif t is dict:
            for k in v:
                if type(k) is not str or not k.isascii():
                    return False
            stack.extend(v.values())
        elif t is list:
            stack.extend(v)
        elif t is int:
            if not -_INT_LIMIT < v < _INT_LIMIT:
                return False
        elif t is not bool and v is not None:
            return False
    return True


@dataclass(frozen=True, slots=True, eq=False)
class Statement:
    """A statement (formats.md section 1), validated completely on construction.

    ``fields`` is kept as given (a read-only top-level view; treat nested values
    as read-only too): ``canonical_bytes``, computed here once, is what is signed
    and hashed. ``typed`` is the schema's typed view of the fields. Two
    statements are equal when their canonical bytes are.
    """

    schema: str
    id: str
    org: str
    source: str
    event_ts: int
    principals: tuple[Principal, ...]
    fields: Mapping[str, Any]
    typed: Fields = field(init=False, repr=False)
    canonical_bytes: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if type(self.schema) is not str:
            fail("schema", "must be a string")
        check_id(self.id, "id")
        check_org(self.org, "org")
        check_source_name(self.source, "source")
        check_ts(self.event_ts, "event_ts")
        principals = self.principals
        if type(principals) is not tuple or not all(type(p) is Principal for p in principals):
            fail("principals", "must be a tuple of Principal")
        if not isinstance(self.fields, Mapping):
            fail("fields", "must be an object")
        fields = dict(self.fields)
        typed = validate_fields(self.schema, fields, principals, self.org)
        canon = _canonical_statement(self._json(fields), typed)
        if len(canon) > MAX_STATEMENT_BYTES:
            raise TooLargeError(
                "statement",
                f"canonical statement is {len(canon)} bytes, over the limit of "
                f"{MAX_STATEMENT_BYTES} (record bodies are at most 64 KiB)",
            )
        object.__setattr__(self, "fields", MappingProxyType(fields))
        object.__setattr__(self, "typed", typed)
        object.__setattr__(self, "canonical_bytes", canon)

    def _json(self, fields: dict[str, Any]) -> dict[str, Any]:
        return {
            "v": STATEMENT_VERSION,
            "schema": self.schema,
            "id": self.id,
            "org": self.org,
            "source": self.source,
            "event_ts": self.event_ts,
            "principals": [p.to_json() for p in self.principals],
            "fields": fields,
        }

    @property
    def key_id(self) -> str:
        """The signing source's key id, ``<org>/<source>``."""
        return f"{self.org}/{self.source}"

    def to_json(self) -> dict[str, Any]:
        """A fresh JSON value (``fields`` copied one level deep)."""
        return self._json(dict(self.fields))

    def format(self) -> str:
        """Canonical JSON text: ``Statement.parse(s.format()) == s``."""
        return self.canonical_bytes.decode("utf-8")

    @classmethod
    def from_json(cls, value: Any) -> Statement:
        """Build from a parsed JSON value; MalformedError("statement", ...) if invalid."""
        check_object(value, "", _KEYS)
        v = value["v"]
        if type(v) is not int or v != STATEMENT_VERSION:
            fail("v", f"must be {STATEMENT_VERSION} (the only statement version), got {v!r:.20}")
        principals = []
        items = check_list(value["principals"], "principals", 0, _MAX_PRINCIPALS)
        for i, p in enumerate(items):
            path = f"principals[{i}]"
            check_object(p, path, ("kind", "id"))
            principals.append(
                Principal(
                    check_code(p["kind"], f"{path}.kind", PRINCIPAL_KINDS),
                    check_id(p["id"], f"{path}.id"),
                )
            )
        if type(value["fields"]) is not dict:
            fail("fields", "must be an object")
        return cls(
            schema=value["schema"],
            id=value["id"],
            org=value["org"],
            source=value["source"],
            event_ts=value["event_ts"],
            principals=tuple(principals),
            fields=value["fields"],
        )

    @classmethod
    def parse(cls, data: bytes | str) -> Statement:
        """Parse JSON text (any spacing and key order) into a checked statement."""
        return cls.from_json(decode_json(data, "statement"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Statement):
            return NotImplemented
        return self.canonical_bytes == other.canonical_bytes

    def __hash__(self) -> int:
        return hash(self.canonical_bytes)


@dataclass(frozen=True, slots=True, eq=False)
class SignedStatement:
    """``{"statement": ..., "sig": "<base64 Ed25519>"}`` (formats.md section 1).

    ``body`` is the canonical signed statement (the record body) and
    ``record_hash`` its SHA-256, the record's identity everywhere. Construction
    does not check the signature: call :meth:`verify` with the source's key.
    """

    statement: Statement
    sig: bytes
    body: bytes = field(init=False, repr=False)
    record_hash: bytes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if type(self.statement) is not Statement:
            fail("statement", "must be a Statement")
        if type(self.sig) is not bytes or len(self.sig) != SIGNATURE_SIZE:
            fail("sig", f"must be a {SIGNATURE_SIZE}-byte Ed25519 signature")
        body = b"".join(
            (
                b'{"sig":"',
                base64.b64encode(self.sig),
                b'","statement":',
                self.statement.canonical_bytes,
                b"}",
            )
        )
        object.__setattr__(self, "body", body)
        object.__setattr__(self, "record_hash", hashlib.sha256(body).digest())

    @property
    def record_hash_hex(self) -> str:
        return self.record_hash.hex()

    def verify(self, public_key: Ed25519PublicKey) -> None:
        """Raise BadSignatureError unless ``sig`` is ``public_key``'s signature of the statement."""
        try:
            public_key.verify(self.sig, _DOMAIN + self.statement.canonical_bytes)
        except InvalidSignature:
            raise BadSignatureError(
                f"statement {self.statement.id!r} does not verify with the key of "
                f"{self.statement.key_id}",
                key_id=self.statement.key_id,
            ) from None

    def to_json(self) -> dict[str, Any]:
        return {"statement": self.statement.to_json(), "sig": base64.b64encode(self.sig).decode()}

    def format(self) -> str:
        """The body as text: ``SignedStatement.parse(s.format()) == s``."""
        return self.body.decode("utf-8")

    @classmethod
    def from_json(cls, value: Any) -> SignedStatement:
        check_object(value, "", ("statement", "sig"))
        sig = value["sig"]
        raw = None
        if type(sig) is str:
            try:
                raw = b64decode(sig, "statement")
            except MalformedError:
                raw = None
        if raw is None or len(raw) != SIGNATURE_SIZE:
            fail("sig", "must be a 64-byte Ed25519 signature in padded standard base64")
        return cls(Statement.from_json(value["statement"]), raw)

    @classmethod
    def parse(cls, data: bytes | str) -> SignedStatement:
        """Parse a submitted signed statement (any spacing; the body is re-canonicalised)."""
        return cls.from_json(decode_json(data, "statement"))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SignedStatement):
            return NotImplemented
        return self.body == other.body

    def __hash__(self) -> int:
        return hash(self.body)


def sign_statement(statement: Statement, private_key: Ed25519PrivateKey) -> SignedStatement:
    """Sign ``statement`` with the source's Ed25519 key (deterministic, RFC 8032)."""
    return SignedStatement(statement, private_key.sign(_DOMAIN + statement.canonical_bytes))
