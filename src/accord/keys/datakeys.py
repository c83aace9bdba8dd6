"""Per-principal data keys: versions, rotation, crypto-shredding (DESIGN.md section 6).

A principal (a patient, a lot, a customer) is named here only by its pseudonymous key id
(bytes), never its clear identifier. Each principal has data keys numbered 1, 2, ...:
random 32 bytes, stored only wrapped with AES-256-GCM under the data-key KEK (HKDF of
the master key, see :meth:`accord.keys.vault.Vault.master_kek`), associated data
``principal || version (u32, big-endian)``. ``current`` makes version 1 on first use;
``rotate`` makes a new version for new records while old bodies keep theirs; ``shred``
deletes every version, so the principal's bodies can never be decrypted again, while the
log, its proofs and certificates (which hold only hashes) still verify. A principal
that is written about again after a shred gets a fresh version, higher than any shredded
one.

Storage is a narrow seam, :class:`DataKeyStorage`; :class:`MemoryDataKeyStorage` is
the in-memory implementation for tests, and the node provides the SQL one.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Final, Protocol

from accord.errors import ConflictError, NotFoundError, ShreddedError, UsageError
from accord.keys.bodies import MAX_KEY_VERSION, body_key_version, decrypt_body, encrypt_body
from accord.keys.shamir import RandBytes
from accord.keys.wrapping import KEY_SIZE, NONCE_SIZE, TAG_SIZE, unwrap, wrap

__all__ = [
    "DATA_KEYS_KEK_LABEL",
    "MAX_PRINCIPAL_SIZE",
    "WRAPPED_SIZE",
    "DataKey",
    "DataKeyStorage",
    "DataKeys",
    "MemoryDataKeyStorage",
    "check_principal",
    "rewrap_data_key",
]

#: The HKDF label of the KEK that wraps data keys (derived from the master key).
DATA_KEYS_KEK_LABEL: Final = "accord/keys/v1/datakeys"

MAX_PRINCIPAL_SIZE: Final = 64
#: Length of a wrapped data key: nonce || 32-byte key encrypted || tag.
WRAPPED_SIZE: Final = NONCE_SIZE + KEY_SIZE + TAG_SIZE
_RETRIES: Final = 8


def check_principal(principal: object) -> bytes:
    """A principal id: 1..64 bytes (UsageError otherwise)."""
    if not isinstance(principal, bytes) or not 1 <= len(principal) <= MAX_PRINCIPAL_SIZE:
        raise UsageError(f"a principal id must be 1..{MAX_PRINCIPAL_SIZE} bytes")
    return principal


def _aad(principal: bytes, version: int) -> bytes:
    return principal + version.to_bytes(4, "big")


def rewrap_data_key(
    old_kek: bytes, new_kek: bytes, principal: bytes, version: int, wrapped: bytes
) -> bytes:
    """A stored (wrapped) data key re-wrapped under another KEK (after a new master key);
    VerificationError if it does not open under ``old_kek``."""
    check_principal(principal)
    aad = _aad(principal, version)
    key = unwrap(old_kek, wrapped, aad, "wrapped data key")
    return wrap(new_kek, key, aad)


@dataclass(frozen=True, slots=True)
class DataKey:
    """One version of one principal's data key (the key itself is never in repr)."""

    principal: bytes
    version: int
    key: bytes = field(repr=False)

    def __post_init__(self) -> None:
        check_principal(self.principal)
        if (
            isinstance(self.version, bool)
            or not isinstance(self.version, int)
            or not 1 <= self.version <= MAX_KEY_VERSION
        ):
            raise UsageError("a data key version must be 1..2^32-1")
        if not isinstance(self.key, bytes) or len(self.key) != KEY_SIZE:
            raise UsageError(f"a data key must be {KEY_SIZE} bytes")


class DataKeyStorage(Protocol):
    """Where wrapped data keys live. Versions of a principal are 1..latest, contiguous.

    - ``get(principal, version)``: the wrapped key, or None if it was never made or
      was shredded.
    - ``latest(principal)``: the highest version ever made, 0 if none; a shred keeps it
      (so versions are never reused and a shredded version is told from an unknown one).
    - ``put(principal, version, wrapped)``: store iff ``version == latest + 1`` (compare
      and swap); False if another writer got there first.
    - ``delete(principal)``: drop every wrapped key of the principal, keep ``latest``;
      the number of keys dropped.
    - ``principals()``: the principals that have a live (unshredded) key.
    """

    def get(self, principal: bytes, version: int) -> bytes | None: ...
    def latest(self, principal: bytes) -> int: ...
    def put(self, principal: bytes, version: int, wrapped: bytes) -> bool: ...
    def delete(self, principal: bytes) -> int: ...
    def principals(self) -> Iterable[bytes]: ...


class MemoryDataKeyStorage:
    """:class:`DataKeyStorage` in a dict (tests, tools). Thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._keys: dict[bytes, dict[int, bytes]] = {}
        self._latest: dict[bytes, int] = {}

    def get(self, principal: bytes, version: int) -> bytes | None:
        with self._lock:
            return self._keys.get(principal, {}).get(version)

    def latest(self, principal: bytes) -> int:
        with self._lock:
            return self._latest.get(principal, 0)

    def put(self, principal: bytes, version: int, wrapped: bytes) -> bool:
        with self._lock:
            if version != self._latest.get(principal, 0) + 1:
                return False
            self._keys.setdefault(principal, {})[version] = wrapped
            self._latest[principal] = version
            return True

    def delete(self, principal: bytes) -> int:
        with self._lock:
            return len(self._keys.pop(principal, {}))

    def principals(self) -> list[bytes]:
        with self._lock:
            return [p for p, keys in self._keys.items() if keys]

    def wrapped_values(self) -> list[bytes]:
        """Every wrapped key held (for tests that scan storage for clear keys)."""
        with self._lock:
            return [w for keys in self._keys.values() for w in keys.values()]


class DataKeys:
    """Per-principal data keys over a storage seam and a KEK source.

    ``kek()`` returns the data-key KEK and raises SealedError while the node is sealed
    (pass ``vault.master_kek``); it is called on every operation, so nothing works
    sealed. ``cache_size`` > 0 keeps that many unwrapped keys in memory (only safe when
    this object is the only writer of the storage: a shred made elsewhere is not seen);
    :meth:`forget` drops them (register it with ``vault.on_seal``).
    """

    def __init__(
        self,
        storage: DataKeyStorage,
        kek: Callable[[], bytes],
        *,
        randbytes: RandBytes = secrets.token_bytes,
        cache_size: int = 0,
    ) -> None:
        if isinstance(cache_size, bool) or not isinstance(cache_size, int) or cache_size < 0:
            raise UsageError("cache_size must be a non-negative integer")
        self._storage = storage
        self._kek = kek
        self._randbytes = randbytes
        self._cache_size = cache_size
        self._lock = threading.Lock()
        self._keys: OrderedDict[tuple[bytes, int], DataKey] = OrderedDict()
        self._current: OrderedDict[bytes, DataKey] = OrderedDict()

    # -- cache -----------------------------------------------------------------

    def forget(self) -> None:
        """Drop every cached key."""
        with self._lock:
            self._keys.clear()
            self._current.clear()

    def _remember(self, key: DataKey, current: bool) -> DataKey:
        if self._cache_size:
            with self._lock:
                self._keys[(key.principal, key.version)] = key
                self._keys.move_to_end((key.principal, key.version))
                if current:
                    self._current[key.principal] = key
                    self._current.move_to_end(key.principal)
                for cache in (self._keys, self._current):
                    while len(cache) > self._cache_size:
                        cache.popitem(last=False)
        return key

    def _evict(self, principal: bytes) -> None:
        with self._lock:
            self._current.pop(principal, None)
            for k in [k for k in self._keys if k[0] == principal]:
                del self._keys[k]

    # -- keys --------------------------------------------------------------------

    def _unwrap(self, kek: bytes, principal: bytes, version: int, wrapped: bytes) -> DataKey:
        key = unwrap(kek, wrapped, _aad(principal, version), "wrapped data key")
        return DataKey(principal, version, key)

    def _create(self, kek: bytes, principal: bytes) -> DataKey:
        """Store a new version latest + 1 (retrying if another writer races us)."""
        for _ in range(_RETRIES):
            version = self._storage.latest(principal) + 1
            if version > MAX_KEY_VERSION:
                raise UsageError("this principal has used every data key version")
            key = self._randbytes(KEY_SIZE)
            if len(key) != KEY_SIZE:
                raise UsageError("randbytes returned the wrong number of bytes")
            wrapped = wrap(kek, key, _aad(principal, version), randbytes=self._randbytes)
            if self._storage.put(principal, version, wrapped):
                return DataKey(principal, version, bytes(key))
        raise ConflictError("could not store a new data key: too many concurrent writers")

    def current(self, principal: bytes) -> DataKey:
        """The key new records of ``principal`` use: its latest live version, made
        (version 1, or latest + 1 after a shred) if there is none."""
        check_principal(principal)
        kek = self._kek()
        if self._cache_size:
            with self._lock:
                cached = self._current.get(principal)
            if cached is not None:
                return cached
        version = self._storage.latest(principal)
        if version:
            wrapped = self._storage.get(principal, version)
            if wrapped is not None:
                return self._remember(self._unwrap(kek, principal, version, wrapped), True)
        return self._remember(self._create(kek, principal), True)

    def get(self, principal: bytes, version: int) -> DataKey:
        """Version ``version`` of the principal's key, to decrypt an old body.

        ShreddedError if it was shredded; NotFoundError if it never existed;
        VerificationError if the stored wrapped key does not open.
        """
        check_principal(principal)
        if isinstance(version, bool) or not isinstance(version, int):
            raise UsageError("a data key version must be an integer")
        kek = self._kek()
        if self._cache_size:
            with self._lock:
                cached = self._keys.get((principal, version))
            if cached is not None:
                return cached
        in_range = 1 <= version <= MAX_KEY_VERSION
        wrapped = self._storage.get(principal, version) if in_range else None
        if wrapped is None:
            if 1 <= version <= self._storage.latest(principal):
                raise ShreddedError(
                    "this principal's data key was shredded: the body is gone for good",
                    version=version,
                )
            raise NotFoundError("no such data key version for this principal", version=version)
        return self._remember(self._unwrap(kek, principal, version, wrapped), False)

    def rotate(self, principal: bytes) -> DataKey:
        """Make a new version for the principal's new records (old ones keep theirs)."""
        check_principal(principal)
        kek = self._kek()
        return self._remember(self._create(kek, principal), True)

    def rotate_all(self) -> int:
        """Rotate every principal that has a live key; the number rotated."""
        self._kek()
        principals = list(self._storage.principals())
        for principal in principals:
            self.rotate(principal)
        return len(principals)

    def shred(self, principal: bytes) -> int:
        """Destroy every version of the principal's data key; the number destroyed.

        Irreversible. Needs the node unsealed, like every other operation here.
        """
        check_principal(principal)
        self._kek()
        self._evict(principal)
        count = self._storage.delete(principal)
        self._evict(principal)
        return count

    # -- bodies --------------------------------------------------------------------

    def encrypt(self, principal: bytes, record_hash: bytes, body: bytes) -> bytes:
        """Encrypt a record body under the principal's current data key."""
        key = self.current(principal)
        return encrypt_body(key.key, key.version, record_hash, body, randbytes=self._randbytes)

    def decrypt(self, principal: bytes, record_hash: bytes, blob: bytes) -> bytes:
        """Decrypt a body with the key version it names. ShreddedError once shredded;
        VerificationError if the blob or record hash was altered."""
        key = self.get(principal, body_key_version(blob))
        return decrypt_body(key.key, key.version, record_hash, blob)
