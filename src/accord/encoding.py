"""Canonical bytes, strict decoders, and domain-separated hashing and signing.

Anything Accord hashes or signs is RFC 8785 canonical JSON (the ``rfc8785``
package). Every signature and every typed hash covers a distinct ASCII
domain-separation prefix ending in ``\\n`` (DESIGN.md section 4), never bare
JSON, so a signature made for one purpose can never be replayed as another.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import json
from typing import Any, Final

import rfc8785
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.errors import BadSignatureError, MalformedError

__all__ = [
    "DOMAINS",
    "HASH_SIZE",
    "b64decode",
    "b64encode",
    "canonical",
    "domain_hash",
    "hex32",
    "hmac_sha256",
    "parse_json",
    "sha256",
    "sign",
    "verify_signature",
]

HASH_SIZE: Final = 32

#: Every domain-separation prefix in use. A new signed or hashed structure adds
#: its own entry here; reusing a prefix for a second purpose is a bug.
DOMAINS: Final = frozenset(
    {
        "accord/statement/v1\n",
        "accord/receipt/v1\n",
        "accord/certificate/v1\n",
        "accord/node-request/v1\n",
        "accord/index-cosignature/v1\n",
        "accord/gossip/v1\n",
        "accord/principal/v1\n",
        "accord/decision/v1\n",
        "accord/body/v1\n",
        "accord/token/v1\n",
        "accord/consortium/v1\n",
        "accord/alert/v1\n",
    }
)


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


@functools.lru_cache(maxsize=16)
def _keyed_sha256(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)


def hmac_sha256(key: bytes, msg: bytes) -> bytes:
    """HMAC-SHA256 of ``msg`` under ``key`` (RFC 2104; the same bytes as
    ``hmac.digest(key, msg, "sha256")``), from a keyed state made once per key and
    copied per message. ``hmac.digest`` looks the algorithm up in OpenSSL at every call,
    which beside the node's signature-checking threads cost 5 us or more a call (the
    copy: about 1 us); a node computes several per record (pseudonyms, index key ids)."""
    h = _keyed_sha256(key).copy()
    h.update(msg)
    return h.digest()


_MAX_SAFE_INT: Final = 2**53 - 1
_json_dumps = json.JSONEncoder(
    ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
).encode


def _plain(value: Any) -> bool:
    """True if ``value`` holds only the JSON shapes where ``json.dumps`` equals RFC 8785.

    That is: dicts with ASCII string keys (so code-point order is UTF-16 order),
    lists, strings, booleans, None and integers within the exact range of a double.
    Floats take the slow path because their shortest forms differ.
    """
    stack = [value]
    while stack:
        v = stack.pop()
        t = type(v)
        if t is str or t is bool or v is None:
            continue
        if t is int:
            if -_MAX_SAFE_INT <= v <= _MAX_SAFE_INT:
                continue
            return False
        if t is dict:
            for k in v:
                if type(k) is not str or not k.isascii():
                    return False
            stack.extend(v.values())
        elif t is list or t is tuple:
            stack.extend(v)
        else:
            return False
    return True


def canonical(value: Any) -> bytes:
    """RFC 8785 canonical JSON bytes of ``value``.

    Plain values (no floats, ASCII keys) are encoded with the standard library,
    which produces the same bytes about five times faster; a property test holds
    the two paths equal. Raises MalformedError for values JSON cannot carry
    exactly (NaN, integers beyond 2**53, non-string keys, bytes, lone surrogates).
    """
    try:
        if _plain(value):
            try:
                return _json_dumps(value).encode("utf-8")
            except UnicodeEncodeError:
                pass  # a lone surrogate: let rfc8785 give the diagnosis
        return rfc8785.dumps(value)
    except RecursionError:
        raise MalformedError("canonical JSON", "nested too deeply") from None
    except (rfc8785.CanonicalizationError, TypeError, ValueError) as exc:
        raise MalformedError("canonical JSON", str(exc)) from None


def parse_json(data: bytes | str, what: str = "JSON") -> Any:
    """Parse JSON strictly: no NaN/Infinity, no duplicate keys."""

    def no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, val in pairs:
            if key in out:
                raise MalformedError(what, f"duplicate key {key!r}")
            out[key] = val
        return out

    def no_constant(name: str) -> Any:
        raise MalformedError(what, f"{name} is not allowed")

    try:
        return json.loads(data, object_pairs_hook=no_duplicates, parse_constant=no_constant)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, UnicodeDecodeError, huge ints
        raise MalformedError(what, str(exc) or type(exc).__name__) from None


def _check_domain(domain: str) -> bytes:
    if domain not in DOMAINS:
        raise ValueError(f"unregistered domain-separation prefix {domain!r}")
    return domain.encode("ascii")


def domain_hash(domain: str, value: Any) -> bytes:
    """SHA-256(domain || canonical(value))."""
    return sha256(_check_domain(domain) + canonical(value))


def sign(key: Ed25519PrivateKey, domain: str, value: Any) -> bytes:
    """Ed25519 signature over ``domain || canonical(value)``."""
    return key.sign(_check_domain(domain) + canonical(value))


def verify_signature(
    key: Ed25519PublicKey, domain: str, value: Any, signature: bytes, what: str = "signature"
) -> None:
    """Raise BadSignatureError unless it is a signature by ``key`` over domain and value."""
    try:
        key.verify(signature, _check_domain(domain) + canonical(value))
    except InvalidSignature:
        raise BadSignatureError(f"{what} does not verify") from None


def b64encode(data: bytes) -> str:
    """Standard padded base64 (RFC 4648 section 4)."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str, what: str = "base64") -> bytes:
    """Strict standard base64: padded, canonical, no whitespace; MalformedError otherwise."""
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedError(what, "not valid padded base64") from None
    if base64.b64encode(raw).decode("ascii") != text:
        raise MalformedError(what, "not canonical base64")
    return raw


def hex32(text: str, what: str = "hash") -> bytes:
    """Decode a lowercase hex SHA-256 hash; MalformedError unless exactly 64 hex digits."""
    if len(text) != 2 * HASH_SIZE or text != text.lower():
        raise MalformedError(what, "expected 64 lowercase hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise MalformedError(what, "expected 64 lowercase hex digits") from None
