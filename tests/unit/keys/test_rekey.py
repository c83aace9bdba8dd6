"""A new master key: keystore secrets and data keys re-wrapped; the old key opens nothing."""

from __future__ import annotations

import hashlib
import secrets

import pytest

from accord.errors import UsageError, VerificationError
from accord.keys import DataKeys, MemoryDataKeyStorage, create_keystore, open_secrets
from accord.keys.datakeys import DATA_KEYS_KEK_LABEL, rewrap_data_key
from accord.keys.keystore import recover_master, rekey
from accord.keys.wrapping import derive_kek

SECRETS = {"log_key": b"l" * 32, "pseudonym_key": b"p" * 32}


def test_rekey_keeps_the_secrets_under_a_new_master_key() -> None:
    keystore, shares = create_keystore(SECRETS, name="cornell", threshold=2, shares=3)
    master = recover_master(keystore, shares[:2])
    updated, files, new_master = rekey(keystore, master, threshold=3, shares=5)
    assert new_master != master
    assert (updated.split.threshold, updated.split.total, len(files)) == (3, 5, 5)
    assert updated.keyset != keystore.keyset
    assert updated.name == keystore.name
    assert recover_master(updated, files[1:4]) == new_master
    assert open_secrets(updated, new_master) == SECRETS
    with pytest.raises(VerificationError):
        open_secrets(updated, master)
    with pytest.raises(VerificationError):
        rekey(keystore, new_master, threshold=2, shares=3)  # the wrong master key
    with pytest.raises(UsageError):
        rekey(keystore, master, threshold=4, shares=3)


def test_rewrapped_data_keys_open_under_the_new_kek_only() -> None:
    old_kek = derive_kek(secrets.token_bytes(32), DATA_KEYS_KEK_LABEL)
    new_kek = derive_kek(secrets.token_bytes(32), DATA_KEYS_KEK_LABEL)
    storage = MemoryDataKeyStorage()
    keys = DataKeys(storage, lambda: old_kek)
    principal = b"alice"
    body = b"{}"
    record = hashlib.sha256(body).digest()
    blob = keys.encrypt(principal, record, body)
    moved = MemoryDataKeyStorage()
    for version in range(1, storage.latest(principal) + 1):
        wrapped = storage.get(principal, version)
        assert wrapped is not None
        rewrapped = rewrap_data_key(old_kek, new_kek, principal, version, wrapped)
        assert moved.put(principal, version, rewrapped)
    assert DataKeys(moved, lambda: new_kek).decrypt(principal, record, blob) == body
    with pytest.raises(VerificationError):
        DataKeys(moved, lambda: old_kek).decrypt(principal, record, blob)
    first = storage.get(principal, 1)
    assert first is not None
    with pytest.raises(VerificationError):  # bound to its principal and version
        rewrap_data_key(old_kek, new_kek, b"bob", 1, first)
