"""Reading and writing the keystore file and share files on a real filesystem."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from accord.errors import MalformedError, NotFoundError, StoreError, UsageError
from accord.keys.files import (
    KEYSTORE_FILE,
    read_keystore,
    read_share_file,
    share_file_name,
    write_keystore,
    write_share_files,
)
from accord.keys.keystore import create_keystore, put_secret, recover_master, unseal

SECRETS = {"log_key": os.urandom(32), "token_key": os.urandom(32)}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_keystore_and_shares_round_trip_through_files(tmp_path: Path) -> None:
    keystore, shares = create_keystore(SECRETS, name="cornell", threshold=2, shares=3)
    node = tmp_path / "node"
    node.mkdir()
    write_keystore(node / KEYSTORE_FILE, keystore)
    paths = write_share_files(tmp_path / "custodians", shares)

    assert mode(node / KEYSTORE_FILE) == 0o600
    assert mode(tmp_path / "custodians") == 0o700
    assert [mode(p) for p in paths] == [0o600] * 3
    assert [p.name for p in paths] == [share_file_name(s) for s in shares]
    assert paths[0].name == f"{keystore.keyset.hex()[:8]}-share-1-of-3.json"
    assert sorted(os.listdir(node)) == [KEYSTORE_FILE]  # no temporary file left behind

    loaded = read_keystore(node / KEYSTORE_FILE)
    assert loaded == keystore
    assert unseal(loaded, [read_share_file(paths[2]), read_share_file(paths[0])]) == SECRETS


def test_write_keystore_replaces_atomically(tmp_path: Path) -> None:
    keystore, shares = create_keystore(SECRETS, name="cornell", threshold=2, shares=2)
    path = tmp_path / KEYSTORE_FILE
    write_keystore(path, keystore)
    master = recover_master(keystore, shares)
    updated = put_secret(keystore, master, "witness_key", b"w" * 32)
    write_keystore(str(path), updated)
    assert read_keystore(str(path)) == updated
    assert os.listdir(tmp_path) == [KEYSTORE_FILE]


def test_share_files_are_never_overwritten(tmp_path: Path) -> None:
    _, shares = create_keystore({}, name="cornell", threshold=2, shares=2)
    write_share_files(tmp_path, shares)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(UsageError, match="already exists"):
        write_share_files(tmp_path, shares)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_a_second_split_writes_beside_the_first(tmp_path: Path) -> None:
    _, first = create_keystore({}, name="cornell", threshold=2, shares=2)
    _, second = create_keystore({}, name="cornell", threshold=2, shares=2)
    write_share_files(tmp_path, first)
    write_share_files(tmp_path, second)
    assert len(os.listdir(tmp_path)) == 4


def test_missing_files_are_not_found(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError):
        read_keystore(tmp_path / KEYSTORE_FILE)
    with pytest.raises(NotFoundError):
        read_share_file(tmp_path / "share.json")
    keystore, _ = create_keystore({}, name="n", threshold=2, shares=2)
    with pytest.raises(NotFoundError):
        write_keystore(tmp_path / "absent" / KEYSTORE_FILE, keystore)


def test_damaged_files_are_malformed(tmp_path: Path) -> None:
    keystore, shares = create_keystore({}, name="n", threshold=2, shares=2)
    (tmp_path / "k.json").write_bytes(b"\xff\xfe" + keystore.format().encode())
    with pytest.raises(MalformedError) as info:
        read_keystore(tmp_path / "k.json")
    assert info.value.what == "keystore"
    (tmp_path / "s.json").write_text(shares[0].format()[:-2] + "\n")
    with pytest.raises(MalformedError) as info:
        read_share_file(tmp_path / "s.json")
    assert info.value.what == "share file"


def test_other_os_errors_are_store_errors(tmp_path: Path) -> None:
    with pytest.raises(StoreError):
        read_keystore(tmp_path)  # a directory, not a file
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _, shares = create_keystore({}, name="n", threshold=2, shares=2)
    with pytest.raises(StoreError):
        write_share_files(blocker / "sub", shares)
