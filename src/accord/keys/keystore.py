"""The sealed keystore: a node's secrets, wrapped by a master key that is split k-of-N.

The keystore file (canonical JSON, RFC 8785, and one newline) holds no secret in the
clear (DESIGN.md section 6)::

    {"check":"<b64>","k":2,"keyset":"<32 hex>","n":3,"name":"cornell",
     "secrets":{"log_key":"<b64>", ...},"shares":["<64 hex>", ...],
     "type":"accord.keystore","v":1}

- ``keyset``, ``k``, ``n``, ``shares``: the current split of the master key; ``shares[x-1]``
  is SHA-256(keyset || x || share x), so each share is recognised on its own.
- ``check``: AES-256-GCM of the empty string under HKDF(master, "accord/keys/v1/keystore-
  check") with associated data ``"accord/keystore/v1/check\\n" || canonical({"name",
  "keyset", "k", "n", "shares"})``: it proves a combined master key right, and the header
  unaltered, before anything else is opened.
- ``secrets``: each value is AES-256-GCM under HKDF(master, "accord/keys/v1/keystore-
  secrets") with the secret's name (UTF-8) as associated data: nonce || ciphertext || tag.

Everything here is pure; reading and writing files is in :mod:`accord.keys.files`.
"""

from __future__ import annotations

import re
import secrets as _secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Final

from accord.encoding import b64decode, b64encode, canonical, parse_json
from accord.errors import MalformedError, TooLargeError, UsageError, VerificationError
from accord.keys.shamir import MAX_SHARES, RandBytes, split
from accord.keys.shares import (
    KEYSET_SIZE,
    MASTER_KEY_SIZE,
    ShareFile,
    Split,
    check_name,
    combine_shares,
    parse_keyset,
)
from accord.keys.wrapping import NONCE_SIZE, TAG_SIZE, derive_kek, unwrap, wrap

__all__ = [
    "MAX_SECRET_SIZE",
    "SECRET_NAMES",
    "Keystore",
    "check_master",
    "create_keystore",
    "open_secret",
    "open_secrets",
    "put_secret",
    "recover_master",
    "rekey",
    "remove_secret",
    "resplit",
    "unseal",
]

#: The secrets a node keeps (others are allowed if they match the name pattern).
SECRET_NAMES: Final = ("log_key", "witness_key", "index_key", "pseudonym_key", "token_key")
MAX_SECRET_SIZE: Final = 4096
_WHAT: Final = "keystore"
_TYPE: Final = "accord.keystore"
_NAME_RE: Final = re.compile(r"[a-z][a-z0-9_]{0,62}")
_MAX_TEXT: Final = 1 << 20
_FIELDS: Final = frozenset({"v", "type", "name", "keyset", "k", "n", "shares", "check", "secrets"})
_CHECK_LABEL: Final = "accord/keys/v1/keystore-check"
_SECRETS_LABEL: Final = "accord/keys/v1/keystore-secrets"


def _check_secret_name(name: object) -> str:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise MalformedError(_WHAT, "secret names must match [a-z][a-z0-9_]{0,62}")
    return name


def _usage_secret_name(name: object) -> str:
    """As :func:`_check_secret_name`, for names a caller passes (UsageError)."""
    try:
        return _check_secret_name(name)
    except MalformedError:
        raise UsageError(f"secret names must match [a-z][a-z0-9_]{{0,62}}, not {name!r}") from None


def _check_aad(name: str, split_: Split) -> bytes:
    """The check value's associated data: the keystore's whole header, so that after
    combining, any change to the name, keyset, k, n or a share digest is detected."""
    header = {
        "name": name,
        "keyset": split_.keyset.hex(),
        "k": split_.threshold,
        "n": split_.total,
        "shares": [d.hex() for d in split_.digests],
    }
    return b"accord/keystore/v1/check\n" + canonical(header)


@dataclass(frozen=True, slots=True)
class Keystore:
    """A sealed keystore. ``secrets`` is (name, wrapped value) pairs sorted by name."""

    name: str
    split: Split
    check: bytes = field(repr=False)
    secrets: tuple[tuple[str, bytes], ...] = field(repr=False)

    def __post_init__(self) -> None:
        check_name(self.name, _WHAT)
        if not isinstance(self.split, Split):
            raise MalformedError(_WHAT, "split must be a Split")
        if not isinstance(self.check, bytes) or len(self.check) != NONCE_SIZE + TAG_SIZE:
            raise MalformedError(_WHAT, "check must be an AES-GCM tag of the empty string")
        if not isinstance(self.secrets, tuple) or not all(
            isinstance(pair, tuple) and len(pair) == 2 for pair in self.secrets
        ):
            raise MalformedError(_WHAT, "secrets must be a tuple of (name, wrapped) pairs")
        names = [n for n, _ in self.secrets]
        if names != sorted(set(names)):
            raise MalformedError(_WHAT, "secrets must be unique and sorted by name")
        for name, wrapped in self.secrets:
            _check_secret_name(name)
            if not isinstance(wrapped, bytes) or not (
                NONCE_SIZE + TAG_SIZE < len(wrapped) <= NONCE_SIZE + TAG_SIZE + MAX_SECRET_SIZE
            ):
                raise MalformedError(_WHAT, f"secret {name!r} has the wrong length")

    @property
    def keyset(self) -> bytes:
        return self.split.keyset

    @property
    def names(self) -> tuple[str, ...]:
        """The names of the secrets held (never their values)."""
        return tuple(n for n, _ in self.secrets)

    def wrapped(self, name: str) -> bytes:
        for n, w in self.secrets:
            if n == name:
                return w
        raise UsageError(f"the keystore holds no secret named {name!r}", name=name)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "type": _TYPE,
            "name": self.name,
            "keyset": self.split.keyset.hex(),
            "k": self.split.threshold,
            "n": self.split.total,
            "shares": [d.hex() for d in self.split.digests],
            "check": b64encode(self.check),
            "secrets": {n: b64encode(w) for n, w in self.secrets},
        }

    def format(self) -> str:
        """Canonical JSON and one newline; ``Keystore.parse(k.format()) == k``."""
        return canonical(self.to_json()).decode("utf-8") + "\n"

    @classmethod
    def parse(cls, text: str) -> Keystore:
        """Strictly parse a keystore file (exactly what :meth:`format` writes).

        Any deviation raises MalformedError("keystore", ...).
        """
        if not isinstance(text, str):
            raise MalformedError(_WHAT, "expected text")
        if len(text) > _MAX_TEXT:
            raise TooLargeError(_WHAT, f"longer than {_MAX_TEXT} characters")
        obj = parse_json(text, _WHAT)
        if not isinstance(obj, dict) or set(obj) != _FIELDS:
            raise MalformedError(_WHAT, f"expected exactly the keys {sorted(_FIELDS)}")
        if type(obj["v"]) is not int or obj["v"] != 1:
            raise MalformedError(_WHAT, "unsupported version (expected v=1)")
        if obj["type"] != _TYPE:
            raise MalformedError(_WHAT, f"type must be {_TYPE!r}")
        digests = obj["shares"]
        if not isinstance(digests, list) or not all(isinstance(d, str) for d in digests):
            raise MalformedError(_WHAT, "shares must be a list of hex digests")
        wrapped = obj["secrets"]
        if not isinstance(wrapped, dict) or not all(isinstance(w, str) for w in wrapped.values()):
            raise MalformedError(_WHAT, "secrets must map names to base64 text")
        if not isinstance(obj["check"], str):
            raise MalformedError(_WHAT, "check must be base64 text")
        for key in ("k", "n"):
            if type(obj[key]) is not int:
                raise MalformedError(_WHAT, f"{key} must be an integer")
        keystore = cls(
            name=check_name(obj["name"], _WHAT),
            split=Split(
                keyset=parse_keyset(obj["keyset"], _WHAT),
                threshold=obj["k"],
                total=obj["n"],
                digests=tuple(_hex_digest(d) for d in digests),
            ),
            check=b64decode(obj["check"], _WHAT),
            secrets=tuple(
                (_check_secret_name(n), b64decode(w, _WHAT)) for n, w in sorted(wrapped.items())
            ),
        )
        if keystore.format() != text:
            raise MalformedError(_WHAT, "not in canonical form (canonical JSON and one newline)")
        return keystore


def _hex_digest(text: str) -> bytes:
    if len(text) != 64 or text != text.lower():
        raise MalformedError(_WHAT, "share digests must be 64 lowercase hex digits")
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise MalformedError(_WHAT, "share digests must be 64 lowercase hex digits") from None


def _check_value(value: object, name: str) -> bytes:
    if not isinstance(value, bytes | bytearray) or not 1 <= len(value) <= MAX_SECRET_SIZE:
        raise UsageError(f"secret {name!r} must be 1..{MAX_SECRET_SIZE} bytes")
    return bytes(value)


def _new_split(
    master: bytes | bytearray, name: str, threshold: int, shares: int, randbytes: RandBytes
) -> tuple[Split, bytes, tuple[ShareFile, ...]]:
    """A fresh keyset id, the shares of ``master``, their Split record and check value."""
    if isinstance(threshold, bool) or isinstance(shares, bool):
        raise UsageError("threshold and shares must be integers")
    if not (isinstance(threshold, int) and isinstance(shares, int)) or not (
        2 <= threshold <= shares <= MAX_SHARES
    ):
        raise UsageError(f"need 2 <= threshold <= shares <= {MAX_SHARES}")
    try:
        check_name(name, _WHAT)
    except MalformedError:
        raise UsageError("the name must be 1..128 printable characters") from None
    keyset = randbytes(KEYSET_SIZE)
    if len(keyset) != KEYSET_SIZE:
        raise UsageError("randbytes returned the wrong number of bytes")
    keyset = bytes(keyset)
    points = split(bytes(master), shares, threshold, randbytes=randbytes)
    files = tuple(
        ShareFile(keyset=keyset, x=p.x, threshold=threshold, total=shares, share=p.y, name=name)
        for p in points
    )
    split_ = Split.of(keyset, threshold, points)
    check = wrap(
        derive_kek(master, _CHECK_LABEL), b"", _check_aad(name, split_), randbytes=randbytes
    )
    return split_, check, files


def create_keystore(
    secrets: Mapping[str, bytes | bytearray],
    *,
    name: str,
    threshold: int,
    shares: int,
    randbytes: RandBytes = _secrets.token_bytes,
) -> tuple[Keystore, tuple[ShareFile, ...]]:
    """A new random master key, its k-of-N share files, and a keystore of ``secrets``.

    Preconditions (UsageError otherwise): 2 <= threshold <= shares <= 255; secret names
    match ``[a-z][a-z0-9_]{0,62}``; values are 1..4096 bytes. The master key is not
    returned: the shares are the only way back to it.
    """
    master = bytearray(randbytes(MASTER_KEY_SIZE))
    if len(master) != MASTER_KEY_SIZE:
        raise UsageError("randbytes returned the wrong number of bytes")
    try:
        split_, check, files = _new_split(master, name, threshold, shares, randbytes)
        kek = derive_kek(master, _SECRETS_LABEL)
        wrapped = []
        for secret_name in sorted(secrets):
            _usage_secret_name(secret_name)
            value = _check_value(secrets[secret_name], secret_name)
            aad = secret_name.encode()
            wrapped.append((secret_name, wrap(kek, value, aad, randbytes=randbytes)))
        return Keystore(name=name, split=split_, check=check, secrets=tuple(wrapped)), files
    finally:
        master[:] = bytes(len(master))


def check_master(keystore: Keystore, master: bytes | bytearray) -> None:
    """Raise VerificationError unless ``master`` is the key this keystore was made with."""
    if len(master) != MASTER_KEY_SIZE:
        raise VerificationError("the master key has the wrong length")
    try:
        unwrap(
            derive_kek(master, _CHECK_LABEL),
            keystore.check,
            _check_aad(keystore.name, keystore.split),
            "keystore check",
        )
    except VerificationError:
        raise VerificationError(
            "the combined key does not open this keystore (is the keystore file altered?)"
        ) from None


def recover_master(keystore: Keystore, shares: Sequence[ShareFile]) -> bytes:
    """Check each share, combine them, and check the result against the keystore.

    Raises BadShareError (foreign or wrong share), UsageError (duplicate share, need k
    shares), or VerificationError (the shares combine to a key the keystore refuses).
    """
    master = combine_shares(keystore.split, shares)
    check_master(keystore, master)
    return master


def open_secret(keystore: Keystore, master: bytes | bytearray, name: str) -> bytes:
    """Unwrap one secret. UsageError if absent; VerificationError if it does not open."""
    wrapped = keystore.wrapped(name)
    return unwrap(
        derive_kek(master, _SECRETS_LABEL), wrapped, name.encode(), f"keystore secret {name!r}"
    )


def open_secrets(keystore: Keystore, master: bytes | bytearray) -> dict[str, bytes]:
    """Unwrap every secret (after checking the master key)."""
    check_master(keystore, master)
    kek = derive_kek(master, _SECRETS_LABEL)
    return {
        name: unwrap(kek, wrapped, name.encode(), f"keystore secret {name!r}")
        for name, wrapped in keystore.secrets
    }


def unseal(keystore: Keystore, shares: Sequence[ShareFile]) -> dict[str, bytes]:
    """Shares -> every secret of the keystore (see :func:`recover_master` for errors)."""
    return open_secrets(keystore, recover_master(keystore, shares))


def put_secret(
    keystore: Keystore,
    master: bytes | bytearray,
    name: str,
    value: bytes | bytearray,
    *,
    randbytes: RandBytes = _secrets.token_bytes,
) -> Keystore:
    """A keystore with secret ``name`` added or replaced. Needs the (checked) master key."""
    check_master(keystore, master)
    _usage_secret_name(name)
    wrapped = wrap(
        derive_kek(master, _SECRETS_LABEL),
        _check_value(value, name),
        name.encode(),
        randbytes=randbytes,
    )
    others = [(n, w) for n, w in keystore.secrets if n != name]
    return replace(keystore, secrets=tuple(sorted([*others, (name, wrapped)])))


def remove_secret(keystore: Keystore, master: bytes | bytearray, name: str) -> Keystore:
    """A keystore without secret ``name`` (UsageError if absent). Needs the master key."""
    check_master(keystore, master)
    keystore.wrapped(name)
    return replace(keystore, secrets=tuple((n, w) for n, w in keystore.secrets if n != name))


def resplit(
    keystore: Keystore,
    master: bytes | bytearray,
    *,
    threshold: int,
    shares: int,
    name: str | None = None,
    randbytes: RandBytes = _secrets.token_bytes,
) -> tuple[Keystore, tuple[ShareFile, ...]]:
    """New shares of the same master key under a new keyset id (old shares become foreign).

    The wrapped secrets are kept as they are (their KEK depends on the master key only),
    and so are data keys wrapped elsewhere.
    """
    check_master(keystore, master)
    label = keystore.name if name is None else name
    split_, check, files = _new_split(master, label, threshold, shares, randbytes)
    return replace(keystore, name=label, split=split_, check=check), files


def rekey(
    keystore: Keystore,
    master: bytes | bytearray,
    *,
    threshold: int,
    shares: int,
    randbytes: RandBytes = _secrets.token_bytes,
) -> tuple[Keystore, tuple[ShareFile, ...], bytes]:
    """A new random master key: the keystore's secrets re-wrapped under it, its k-of-N
    shares under a new keyset id, and the new master key (for the caller to re-wrap what
    else the old one wrapped, e.g. data keys, then forget). Old shares and any copy of the
    old keystore no longer open anything wrapped under the new key.

    Raises VerificationError if ``master`` does not open ``keystore``; UsageError as
    :func:`create_keystore` for k and N.
    """
    opened = open_secrets(keystore, master)
    new_master = bytearray(randbytes(MASTER_KEY_SIZE))
    if len(new_master) != MASTER_KEY_SIZE:
        raise UsageError("randbytes returned the wrong number of bytes")
    try:
        split_, check, files = _new_split(new_master, keystore.name, threshold, shares, randbytes)
        kek = derive_kek(new_master, _SECRETS_LABEL)
        wrapped = tuple(
            (name, wrap(kek, value, name.encode(), randbytes=randbytes))
            for name, value in sorted(opened.items())
        )
        updated = Keystore(name=keystore.name, split=split_, check=check, secrets=wrapped)
        return updated, files, bytes(new_master)
    finally:
        new_master[:] = bytes(len(new_master))
