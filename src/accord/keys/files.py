"""Thin file I/O for the keystore file and share files (the shell around keys' pure core).

A node directory holds ``keystore.json`` (mode 0600, replaced atomically). Share files go
to a separate directory, one per custodian, never overwritten. OS errors leave as
accord errors: a missing file is NotFoundError, an existing share file UsageError, any
other failure StoreError.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Final

from accord.errors import MalformedError, NotFoundError, StoreError, UsageError
from accord.keys.keystore import Keystore
from accord.keys.shares import ShareFile

__all__ = [
    "KEYSTORE_FILE",
    "read_keystore",
    "read_share_file",
    "share_file_name",
    "write_keystore",
    "write_share_files",
]

#: The keystore's file name inside a node directory.
KEYSTORE_FILE: Final = "keystore.json"


@contextlib.contextmanager
def _os_errors(what: str, path: Path) -> Iterator[None]:
    try:
        yield
    except FileNotFoundError:
        raise NotFoundError(f"{what} {path} does not exist", path=str(path)) from None
    except FileExistsError:
        raise UsageError(f"{what} {path} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise StoreError(f"cannot access {what} {path}: {exc.strerror}", path=str(path)) from None


def _read_text(path: Path, what: str) -> str:
    with _os_errors(what, path):
        data = path.read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedError(what, "not UTF-8 text") from None


def _write_new(path: Path, text: str) -> None:
    """Create ``path`` (mode 0600), refusing to replace an existing file; fsync it."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, text.encode("utf-8"))
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def read_keystore(path: Path | str) -> Keystore:
    """Read and strictly parse a keystore file (MalformedError("keystore") if altered)."""
    path = Path(path)
    return Keystore.parse(_read_text(path, "keystore"))


def write_keystore(path: Path | str, keystore: Keystore) -> None:
    """Write the keystore atomically: a new 0600 file beside it, fsync, rename over."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    with _os_errors("keystore", path):
        try:
            _write_new(tmp, keystore.format())
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        _fsync_dir(path.parent)


def share_file_name(share: ShareFile) -> str:
    """``<first 8 hex of keyset>-share-<x>-of-<n>.json``: unique per split and share."""
    return f"{share.keyset.hex()[:8]}-share-{share.x}-of-{share.total}.json"


def write_share_files(directory: Path | str, shares: Sequence[ShareFile]) -> list[Path]:
    """Write one 0600 file per share into ``directory`` (made 0700 if absent).

    Refuses (UsageError) to overwrite any existing file; returns the paths in x order.
    """
    directory = Path(directory)
    with _os_errors("share directory", directory):
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    paths = []
    for share in shares:
        path = directory / share_file_name(share)
        with _os_errors("share file", path):
            _write_new(path, share.format())
        paths.append(path)
    with _os_errors("share directory", directory):
        _fsync_dir(directory)
    return paths


def read_share_file(path: Path | str) -> ShareFile:
    """Read and strictly parse one share file (MalformedError("share file") if damaged)."""
    path = Path(path)
    return ShareFile.parse(_read_text(path, "share file"))
