"""``accord keys init``: a new k-of-N split of a stopped node's master key, or a new one.

The node directory's keystore is opened with k of its current shares, the same master
key is split again under a new keyset id (:func:`accord.keys.resplit`), the new share
files are written (one per custodian) and then the keystore, with the new header, is
replaced atomically. From then on the node refuses every share of the old split as
foreign. The wrapped secrets and the data keys in the database are unchanged (their
key-encryption keys derive from the master key, which is the same).

With ``--new-master-key`` (:func:`rekey_node`) the master key itself is replaced: every
keystore secret and every data key is re-wrapped under the new one, so that old shares and
old copies of the keystore open nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from accord.errors import NotFoundError, UsageError
from accord.keys import read_keystore, read_share_file, recover_master, resplit
from accord.keys.datakeys import DATA_KEYS_KEK_LABEL, rewrap_data_key
from accord.keys.files import KEYSTORE_FILE, write_keystore, write_share_files
from accord.keys.keystore import rekey
from accord.keys.wrapping import derive_kek
from accord.node.config import CONFIG_FILE, load_config
from accord.node.keyactions import KEY_ACTION_STEPS
from accord.node.schema import NODE_STEPS
from accord.store.database import Database

__all__ = [
    "NEXT_KEYSTORE_FILE",
    "Resplit",
    "finish_rekey",
    "node_running",
    "rekey_node",
    "resplit_node",
]


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


def _check_request(
    directory: Path, share_files: Sequence[Path], threshold: int, shares: int, out: Path
) -> None:
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
    _check_request(directory, share_files, threshold, shares, out)
    db = _open_db(directory)
    try:
        finish_rekey(directory, db)  # an interrupted master-key change first
    finally:
        db.close()
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


#: A new keystore written before the data keys are re-wrapped, renamed over keystore.json
#: once they are (see :func:`finish_rekey`).
NEXT_KEYSTORE_FILE: Final = "keystore.next.json"


def _open_db(directory: Path) -> Database:
    config = load_config(directory)
    db = Database.open(config.database_url(directory))
    db.migrate("node", NODE_STEPS)
    db.migrate("key_actions", KEY_ACTION_STEPS)
    return db


def finish_rekey(directory: Path, db: Database) -> str | None:
    """Complete or undo an interrupted master-key change; what was done, if anything.

    If ``keystore.next.json`` exists: when the database says the data keys are wrapped
    under its keyset, it replaces ``keystore.json`` ("completed"); otherwise the re-wrap
    never committed and it is removed ("undone"). Run before the keystore is read.
    """
    pending = Path(directory) / NEXT_KEYSTORE_FILE
    if not pending.exists():
        return None
    new = read_keystore(pending)
    row = db.fetchone("SELECT keyset FROM master_key WHERE id = 1")
    if row is not None and str(row[0]) == new.keyset.hex():
        os.replace(pending, Path(directory) / KEYSTORE_FILE)
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return "completed"
    pending.unlink()
    return "undone"


def rekey_node(
    directory: Path,
    share_files: Sequence[Path],
    *,
    threshold: int,
    shares: int,
    out: Path,
    finish: bool = True,
) -> Resplit:
    """A new master key for the stopped node in ``directory``: every keystore secret and
    every data key in the database re-wrapped under it, ``shares`` new share files
    (``threshold`` needed) written to ``out``. Old shares, and copies of the old keystore,
    then open nothing. Refusals as :func:`resplit_node`; nothing changes when refused.

    Crash-safe: the new keystore is written beside the old one (``keystore.next.json``),
    the data keys are re-wrapped in one transaction that also records the new keyset, then
    the new keystore is renamed over the old. A node opening the directory finishes or undoes
    an interrupted change (:func:`finish_rekey`). ``finish=False`` stops before the rename,
    as a crash there would (for tests).
    """
    directory = Path(directory)
    _check_request(directory, share_files, threshold, shares, out)
    db = _open_db(directory)
    try:
        finish_rekey(directory, db)
        keystore = read_keystore(directory / KEYSTORE_FILE)
        parsed = [read_share_file(p) for p in share_files]
        master = bytearray(recover_master(keystore, parsed))
        new_master = bytearray()
        try:
            updated, files, made = rekey(keystore, master, threshold=threshold, shares=shares)
            new_master = bytearray(made)
            old_kek = derive_kek(master, DATA_KEYS_KEK_LABEL)
            new_kek = derive_kek(new_master, DATA_KEYS_KEK_LABEL)
        finally:
            master[:] = bytes(len(master))
            new_master[:] = bytes(len(new_master))
        written = write_share_files(out, files)
        pending = directory / NEXT_KEYSTORE_FILE
        try:
            write_keystore(pending, updated)
            with db.transaction() as tx:
                rows = tx.fetchall("SELECT principal, version, wrapped FROM data_keys")
                for principal, version, wrapped in rows:
                    rewrapped = rewrap_data_key(
                        old_kek, new_kek, bytes(principal), int(version), bytes(wrapped)
                    )
                    tx.execute(
                        "UPDATE data_keys SET wrapped = ? WHERE principal = ? AND version = ?",
                        (rewrapped, bytes(principal), int(version)),
                    )
                tx.execute("DELETE FROM master_key")
                tx.execute(
                    "INSERT INTO master_key (id, keyset) VALUES (1, ?)", (updated.keyset.hex(),)
                )
        except BaseException:
            pending.unlink(missing_ok=True)
            for path in written:
                path.unlink(missing_ok=True)
            raise
        if finish:
            finish_rekey(directory, db)
    finally:
        db.close()
    return Resplit(updated.keyset.hex(), keystore.keyset.hex(), threshold, shares, written)
