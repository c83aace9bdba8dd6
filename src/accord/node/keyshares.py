"""``accord keys init``: a new k-of-N split of a stopped node's master key.

The node directory's keystore is opened with k of its current shares, the same master
key is split again under a new keyset id (:func:`accord.keys.resplit`), the new share
files are written (one per custodian) and then the keystore, with the new header, is
replaced atomically. From then on the node refuses every share of the old split as
foreign. The wrapped secrets and the data keys in the database are unchanged (their
key-encryption keys derive from the master key, which is the same).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from accord.errors import NotFoundError, UsageError
from accord.keys import read_keystore, read_share_file, recover_master, resplit
from accord.keys.files import KEYSTORE_FILE, write_keystore, write_share_files
from accord.node.config import CONFIG_FILE

__all__ = ["Resplit", "node_running", "resplit_node"]


@dataclass(frozen=True, slots=True)
class Resplit:
    keyset: str
    old_keyset: str
    threshold: int
    shares: int
    files: list[Path]


def node_running(directory: Path) -> int | None:
    """The pid of an ``accord serve`` running on ``directory`` (from serve.json), if alive."""
    serve = directory / "serve.json"
    try:
        pid = int(json.loads(serve.read_text())["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        return pid
    return pid


def resplit_node(
    directory: Path,
    share_files: Sequence[Path],
    *,
    threshold: int,
    shares: int,
    out: Path,
) -> Resplit:
    """Re-split the master key of the node in ``directory`` into ``shares`` new share
    files (``threshold`` needed), written to ``out``; old shares stop working.

    Refuses (UsageError) a running node, a directory without a keystore, k or N out of
    range (2 <= k <= N <= 255) and an ``out`` that is the directory itself; refuses
    (BadShareError / UsageError) foreign, wrong or duplicate shares or fewer than k.
    Nothing is changed when anything is refused.
    """
    directory = Path(directory)
    if not (directory / CONFIG_FILE).exists() or not (directory / KEYSTORE_FILE).exists():
        raise NotFoundError(
            f"{directory} is not a node directory (no {CONFIG_FILE} or {KEYSTORE_FILE}); "
            "create a node with `accord init DIR --shares N --threshold K`"
        )
    for name, value in (("threshold", threshold), ("shares", shares)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise UsageError(f"{name} must be an integer")
    if threshold < 2:
        raise UsageError(f"the threshold must be at least 2 (got {threshold})")
    if threshold > shares:
        raise UsageError(f"the threshold k={threshold} is more than the shares N={shares}")
    if shares > 255:
        raise UsageError(f"at most 255 shares (got {shares})")
    if Path(out).resolve() == directory.resolve():
        raise UsageError("write the new shares to their own directory, not the node directory")
    pid = node_running(directory)
    if pid is not None:
        raise UsageError(f"the node is running (pid {pid}); stop it before re-splitting its key")
    if not share_files:
        raise UsageError("give k current share files with --share FILE (repeated)")
    keystore = read_keystore(directory / KEYSTORE_FILE)
    parsed = [read_share_file(p) for p in share_files]
    master = bytearray(recover_master(keystore, parsed))
    try:
        updated, files = resplit(keystore, master, threshold=threshold, shares=shares)
    finally:
        master[:] = bytes(len(master))
    written = write_share_files(out, files)
    try:
        write_keystore(directory / KEYSTORE_FILE, updated)
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return Resplit(updated.keyset.hex(), keystore.keyset.hex(), threshold, shares, written)
