"""Per-principal data keys: versions, rotation, shredding, sealing, storage seam, cache."""

from __future__ import annotations

import hashlib
import os

import pytest

from accord.errors import (
    AccordError,
    ConflictError,
    MalformedError,
    NotFoundError,
    SealedError,
    ShreddedError,
    UsageError,
    VerificationError,
)
from accord.keys.bodies import body_key_version
from accord.keys.datakeys import DataKey, DataKeys, MemoryDataKeyStorage
from accord.keys.keystore import create_keystore
from accord.keys.vault import Vault

ALICE = hashlib.sha256(b"patient alice").digest()  # a pseudonymous key id, not a name
BOB = hashlib.sha256(b"patient bob").digest()[:16]


def record(text: str) -> tuple[bytes, bytes]:
    body = text.encode() * 20
    return body, hashlib.sha256(body).digest()


class CountingStorage(MemoryDataKeyStorage):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def get(self, principal: bytes, version: int) -> bytes | None:
        self.calls += 1
        return super().get(principal, version)

    def latest(self, principal: bytes) -> int:
        self.calls += 1
        return super().latest(principal)


def make(cache_size: int = 0) -> tuple[DataKeys, CountingStorage]:
    storage = CountingStorage()
    kek = os.urandom(32)
    return DataKeys(storage, lambda: kek, cache_size=cache_size), storage


def test_current_makes_version_1_on_first_use_and_keeps_it() -> None:
    keys, storage = make()
    first = keys.current(ALICE)
    assert (first.principal, first.version) == (ALICE, 1)
    assert keys.current(ALICE) == first
    assert storage.latest(ALICE) == 1
    assert keys.get(ALICE, 1) == first
    other = keys.current(BOB)
    assert other.version == 1
    assert other.key != first.key


def test_rotation_keeps_old_bodies_readable() -> None:
    keys, _ = make()
    old_body, old_hash = record("before rotation")
    old_blob = keys.encrypt(ALICE, old_hash, old_body)
    assert body_key_version(old_blob) == 1

    rotated = keys.rotate(ALICE)
    assert rotated.version == 2
    assert keys.current(ALICE) == rotated
    new_body, new_hash = record("after rotation")
    new_blob = keys.encrypt(ALICE, new_hash, new_body)
    assert body_key_version(new_blob) == 2

    assert keys.decrypt(ALICE, old_hash, old_blob) == old_body
    assert keys.decrypt(ALICE, new_hash, new_blob) == new_body
    assert keys.get(ALICE, 1).key != keys.get(ALICE, 2).key


def test_rotate_all_rotates_every_live_principal() -> None:
    keys, _ = make()
    for principal in (ALICE, BOB, b"carol"):
        keys.current(principal)
    keys.shred(b"carol")
    assert keys.rotate_all() == 2
    assert keys.current(ALICE).version == 2
    assert keys.current(BOB).version == 2
    assert keys.current(b"carol").version == 2  # made anew after the shred, not rotated


def test_shred_makes_bodies_unreadable_and_leaves_others_alone() -> None:
    keys, _ = make()
    bodies = []
    for i, principal in enumerate((ALICE, BOB, ALICE)):
        if i == 2:
            keys.rotate(ALICE)
        body, digest = record(f"body {i}")
        bodies.append((principal, digest, keys.encrypt(principal, digest, body), body))

    assert keys.shred(ALICE) == 2
    for principal, digest, blob, body in bodies:
        if principal == ALICE:
            with pytest.raises(ShreddedError) as info:
                keys.decrypt(principal, digest, blob)
            assert (info.value.status, info.value.code) == (410, "shredded")
            assert isinstance(info.value, NotFoundError)
        else:
            assert keys.decrypt(principal, digest, blob) == body
    with pytest.raises(ShreddedError):
        keys.get(ALICE, 1)
    assert keys.shred(ALICE) == 0  # nothing left to destroy


def test_writing_about_a_shredded_principal_uses_a_fresh_version() -> None:
    keys, _ = make()
    body, digest = record("old")
    old_blob = keys.encrypt(ALICE, digest, body)
    keys.shred(ALICE)
    new_body, new_digest = record("new")
    new_blob = keys.encrypt(ALICE, new_digest, new_body)
    assert body_key_version(new_blob) == 2
    assert keys.decrypt(ALICE, new_digest, new_blob) == new_body
    with pytest.raises(ShreddedError):
        keys.decrypt(ALICE, digest, old_blob)


def test_unknown_versions_are_not_found() -> None:
    keys, _ = make()
    keys.current(ALICE)
    for version in (0, 2, 2**32):
        with pytest.raises(NotFoundError) as info:
            keys.get(ALICE, version)
        assert not isinstance(info.value, ShreddedError)
    with pytest.raises(NotFoundError):
        keys.get(BOB, 1)


def test_sealed_vault_refuses_every_operation() -> None:
    keystore, shares = create_keystore({}, name="cornell", threshold=2, shares=2)
    vault = Vault(keystore)
    keys = DataKeys(MemoryDataKeyStorage(), vault.master_kek, cache_size=16)
    vault.on_seal(keys.forget)
    body, digest = record("x")
    with pytest.raises(SealedError):
        keys.current(ALICE)
    vault.unseal_with(shares)
    blob = keys.encrypt(ALICE, digest, body)
    assert keys.decrypt(ALICE, digest, blob) == body
    vault.seal()
    for operation in (
        lambda: keys.current(ALICE),
        lambda: keys.get(ALICE, 1),
        lambda: keys.rotate(ALICE),
        lambda: keys.rotate_all(),
        lambda: keys.shred(ALICE),
        lambda: keys.encrypt(ALICE, digest, body),
        lambda: keys.decrypt(ALICE, digest, blob),
    ):
        with pytest.raises(SealedError):
            operation()
    vault.unseal_with(shares)
    assert keys.decrypt(ALICE, digest, blob) == body  # the same master: same keys


def test_another_master_cannot_open_the_data_keys() -> None:
    storage = MemoryDataKeyStorage()
    kek = os.urandom(32)
    DataKeys(storage, lambda: kek).current(ALICE)
    other = os.urandom(32)
    with pytest.raises(VerificationError):
        DataKeys(storage, lambda: other).current(ALICE)


def test_wrapped_keys_are_bound_to_principal_and_version() -> None:
    storage = MemoryDataKeyStorage()
    kek = os.urandom(32)
    keys = DataKeys(storage, lambda: kek)
    keys.current(ALICE)
    keys.rotate(ALICE)
    wrapped_v1 = storage.get(ALICE, 1)
    assert wrapped_v1 is not None
    # plant Alice's wrapped key under Bob, and under Alice's version 2
    assert storage.put(BOB, 1, wrapped_v1)
    with pytest.raises(VerificationError):
        keys.get(BOB, 1)
    storage._keys[ALICE][2] = wrapped_v1
    with pytest.raises(VerificationError):
        keys.get(ALICE, 2)


def test_tampering_any_byte_of_a_stored_body_is_refused() -> None:
    keys, _ = make()
    for _ in range(3):
        keys.rotate(ALICE)  # versions 1..3 exist: 3 ^ 1 and 3 ^ 2 name real, other keys
    body, digest = record("tamper me")
    blob = keys.encrypt(ALICE, digest, body)
    assert body_key_version(blob) == 3
    assert len({keys.get(ALICE, v).key for v in (1, 2, 3)}) == 3
    flipped_to_real_key = 0
    refused: set[type[AccordError]] = set()
    for position in range(len(blob)):
        for flip in (0x01, 0x02, 0x80):
            damaged = bytearray(blob)
            damaged[position] ^= flip
            with pytest.raises((MalformedError, NotFoundError, VerificationError)) as info:
                keys.decrypt(ALICE, digest, bytes(damaged))
            refused.add(type(info.value))
            flipped_to_real_key += position == 4 and flip in (0x01, 0x02)
    assert refused == {MalformedError, NotFoundError, VerificationError}
    assert flipped_to_real_key == 2


def test_cas_race_is_retried_then_a_conflict() -> None:
    class Racing(MemoryDataKeyStorage):
        def __init__(self, losses: int) -> None:
            super().__init__()
            self.losses = losses

        def put(self, principal: bytes, version: int, wrapped: bytes) -> bool:
            if self.losses:
                self.losses -= 1
                # another writer stores this version first
                super().put(principal, version, os.urandom(60))
                return False
            return super().put(principal, version, wrapped)

    kek = os.urandom(32)
    storage = Racing(losses=2)
    made = DataKeys(storage, lambda: kek).rotate(ALICE)
    assert made.version == 3
    with pytest.raises(ConflictError):
        DataKeys(Racing(losses=100), lambda: kek).rotate(ALICE)


def test_cache_saves_storage_calls_and_shred_evicts() -> None:
    keys, storage = make(cache_size=4)
    body, digest = record("cached")
    blob = keys.encrypt(ALICE, digest, body)
    before = storage.calls
    for _ in range(10):
        keys.encrypt(ALICE, digest, body)
        keys.decrypt(ALICE, digest, blob)
    assert storage.calls - before <= 1
    keys.shred(ALICE)
    with pytest.raises(ShreddedError):
        keys.decrypt(ALICE, digest, blob)
    keys.forget()
    uncached, ustorage = make()
    uncached.encrypt(ALICE, digest, body)
    before = ustorage.calls
    for _ in range(10):
        uncached.encrypt(ALICE, digest, body)
    assert ustorage.calls - before == 20


def test_cache_is_bounded() -> None:
    keys, _ = make(cache_size=2)
    for i in range(10):
        keys.current(bytes([i + 1]))
    assert len(keys._keys) == 2
    assert len(keys._current) == 2


@pytest.mark.parametrize("principal", [b"", bytes(65), "alice", None])
def test_principal_ids_are_1_to_64_bytes(principal: object) -> None:
    keys, _ = make()
    with pytest.raises(UsageError):
        keys.current(principal)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        keys.shred(principal)  # type: ignore[arg-type]


def test_data_key_repr_hides_the_key() -> None:
    key = DataKey(ALICE, 1, b"k" * 32)
    assert "kkkk" not in repr(key)
    with pytest.raises(UsageError):
        DataKey(ALICE, 0, b"k" * 32)
    with pytest.raises(UsageError):
        DataKeys(MemoryDataKeyStorage(), lambda: b"", cache_size=-1)
