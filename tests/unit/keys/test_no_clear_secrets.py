"""The keystore file and the share files never hold a secret or the master key in clear.

Each secret and the master key is searched for, in the bytes of every file written, as
raw bytes, as hex (either case) and as base64 at all three alignments.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path

from accord.keys.datakeys import DataKeys, MemoryDataKeyStorage
from accord.keys.files import KEYSTORE_FILE, write_keystore, write_share_files
from accord.keys.keystore import create_keystore, put_secret, recover_master, resplit
from accord.keys.vault import Vault


def encodings(secret: bytes) -> list[bytes]:
    """Recognisable forms of ``secret`` (and of its 16-byte halves) inside a text file."""
    forms = []
    for part in (secret, secret[:16], secret[16:]):
        forms += [part, part.hex().encode(), part.hex().upper().encode()]
        for shift in range(3):
            # the base64 of the part when it starts at byte offset `shift` of a 3-byte group
            encoded = base64.b64encode(bytes(shift) + part)
            skip = 4 * ((shift + 2) // 3)
            forms.append(encoded[skip : skip + 16])
    return [f for f in forms if len(f) >= 12]


def assert_absent(blobs: dict[str, bytes], secrets: dict[str, bytes]) -> None:
    for label, secret in secrets.items():
        for form in encodings(secret):
            for where, blob in blobs.items():
                assert form not in blob, f"{label} found in {where}"


def test_encodings_would_find_a_secret() -> None:
    # the scan itself works: a file holding a secret in any of these forms is caught
    secret = os.urandom(32)
    candidates = [secret, secret.hex().encode(), secret.hex().upper().encode()]
    candidates += [base64.b64encode(prefix + secret) for prefix in (b"", b"x", b"xy", b"xyz")]
    for text in candidates:
        assert any(form in text for form in encodings(secret))


def test_files_hold_no_secret_and_no_master(tmp_path: Path) -> None:
    secrets = {
        "log_key": os.urandom(32),
        "witness_key": os.urandom(32),
        "index_key": os.urandom(32),
        "pseudonym_key": os.urandom(32),
        "token_key": os.urandom(32),
    }
    keystore, shares = create_keystore(secrets, name="cornell", threshold=3, shares=5)
    master = recover_master(keystore, shares[:3])
    keystore = put_secret(keystore, master, "extra_key", os.urandom(32))
    again, new_shares = resplit(keystore, master, threshold=2, shares=4)

    write_keystore(tmp_path / KEYSTORE_FILE, again)
    write_share_files(tmp_path / "old", shares)
    write_share_files(tmp_path / "new", new_shares)
    blobs = {str(p): p.read_bytes() for p in tmp_path.rglob("*") if p.is_file()}
    assert len(blobs) == 1 + 5 + 4

    vault = Vault(again)
    vault.unseal_with(new_shares[:2])
    opened = {name: vault.secret(name) for name in again.names}
    assert opened.keys() >= secrets.keys()
    everything = {**opened, "master": master, "data-key KEK": vault.master_kek()}
    assert_absent(blobs, everything)


def test_data_key_storage_holds_no_clear_data_key() -> None:
    storage = MemoryDataKeyStorage()
    kek = os.urandom(32)
    keys = DataKeys(storage, lambda: kek)
    made = [keys.current(bytes([i])) for i in range(1, 6)]
    made += [keys.rotate(bytes([1]))]
    blobs = {f"wrapped {i}": w for i, w in enumerate(storage.wrapped_values())}
    assert len(blobs) == 6
    assert_absent(blobs, {f"data key {k.version} of {k.principal.hex()}": k.key for k in made})
