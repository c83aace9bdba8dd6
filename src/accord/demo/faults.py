"""Faults an insider could cause, for the fault tests and the demo's skeptic step.

Imperative, and deliberately behind the node's back (docs/audit.md section 5):

- :func:`tamper_database` changes one byte of one stored log entry, or of one stored
  (encrypted) record body, directly in a node's database, as someone with database
  access would. The node may be running: it reads entries and bodies from the database.
- :func:`fork_log` makes a stopped node present a forked log: it rewrites one entry below
  the latest checkpoint, rebuilds the node's hash tiles over the rewritten history (so
  the node serves entries and proofs of the fork, consistently), drops the checkpoints
  of the old history after that entry and signs, with the node's own log key (unsealed
  from its key shares), a checkpoint of the forked tree **at the size its witnesses
  already cosigned**. Restarted, the node pushes that checkpoint; the witnesses refuse
  it and keep the two signed checkpoints as evidence.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from accord.errors import NotFoundError, UsageError
from accord.keys.files import KEYSTORE_FILE, read_keystore
from accord.keys.vault import Vault
from accord.log import Log
from accord.log.checkpoints import checkpoint_text
from accord.node.config import load_config
from accord.note import Signer, sign_note
from accord.records import Header, parse_leaf
from accord.store import Database

__all__ = ["Forked", "Tampered", "fork_log", "restore", "tamper_database"]

_EVENT_TS = re.compile(rb'"event_ts":(\d+)')
_INDEX_ROOT = re.compile(rb'"index_root":"([0-9a-f]{64})"')


@dataclass(frozen=True, slots=True)
class Tampered:
    """What :func:`tamper_database` changed: an ``entry`` (its ``index``) or a ``body``
    (its ``record`` hash), the bytes before and after."""

    what: str
    index: int | None
    record: str | None
    before: bytes
    after: bytes


@dataclass(frozen=True, slots=True)
class Forked:
    """What :func:`fork_log` did: the entry it rewrote, the size of the forked checkpoint,
    the old and new roots at that size and the new signed note."""

    index: int
    size: int
    old_root: bytes
    new_root: bytes
    note: str


def _open(node_dir: Path) -> tuple[Database, str]:
    config = load_config(node_dir)
    return Database.open(config.database_url(node_dir)), config.node.origin


def _flip_event_ts(entry: bytes) -> bytes:
    """The same header with the last digit of its ``event_ts`` changed, or the same
    index-commit leaf with the last hex digit of its ``index_root`` changed (still a valid,
    canonical leaf of the same length)."""
    commit = _INDEX_ROOT.search(entry)
    if commit is not None:
        end = commit.end(1) - 1
        digit = b"0123456789abcdef".index(entry[end])
        return (
            entry[:end]
            + b"0123456789abcdef"[(digit + 1) % 16 : (digit + 1) % 16 + 1]
            + entry[end + 1 :]
        )
    match = _EVENT_TS.search(entry)
    if match is None:
        raise UsageError("the entry has no event_ts to change")
    end = match.end(1) - 1
    digit = entry[end] - ord("0")
    return entry[:end] + bytes([ord("0") + (digit + 1) % 10]) + entry[end + 1 :]


def _last_header(log: Log, below: int) -> int:
    for index in range(below - 1, -1, -1):
        if isinstance(parse_leaf(log.entry(index)), Header):
            return index
    raise NotFoundError("the log holds no record header to change")


def tamper_database(
    node_dir: Path | str,
    *,
    what: str = "entry",
    index: int | None = None,
    record: str | None = None,
) -> Tampered:
    """Change one byte of a stored entry (``what="entry"``: the entry at ``index``, by
    default the last record header) or of a stored encrypted body (``what="body"``: of
    ``record``, by default the last record whose body is stored), in the database itself.
    """
    db, origin = _open(Path(node_dir))
    try:
        log = Log.attach(db, origin=origin)
        if what == "entry":
            index = _last_header(log, log.size) if index is None else index
            row = db.fetchone(
                "SELECT first_index, entry_count, offsets, data FROM log_entries"
                " WHERE first_index <= ? ORDER BY first_index DESC LIMIT 1",
                (index,),
            )
            if row is None:
                raise NotFoundError(f"no stored entry {index}")
            first, data = int(row[0]), bytes(row[3])
            ends = [
                int.from_bytes(bytes(row[2])[i : i + 4], "big") for i in range(0, len(row[2]), 4)
            ]
            at = index - first
            start = 0 if at == 0 else ends[at - 1]
            before = data[start : ends[at]]
            after = _flip_event_ts(before)
            data = data[:start] + after + data[ends[at] :]
            with db.transaction() as tx:
                tx.execute("UPDATE log_entries SET data = ? WHERE first_index = ?", (data, first))
            return Tampered("entry", index, None, before, after)
        if what == "body":
            if record is None:
                rows = db.fetchall(
                    "SELECT r.hash FROM records r JOIN record_bodies b ON b.hash = r.hash"
                    " ORDER BY r.log_index DESC LIMIT 1"
                )
                if not rows:
                    raise NotFoundError("no stored record body to change")
                key = bytes(rows[0][0])
            else:
                key = bytes.fromhex(record)
            body = db.fetchone("SELECT blob FROM record_bodies WHERE hash = ?", (key,))
            if body is None:
                raise NotFoundError(f"no stored body of record {key.hex()}")
            before = bytes(body[0])
            middle = len(before) // 2
            after = before[:middle] + bytes([before[middle] ^ 0x01]) + before[middle + 1 :]
            with db.transaction() as tx:
                tx.execute("UPDATE record_bodies SET blob = ? WHERE hash = ?", (after, key))
            return Tampered("body", None, key.hex(), before, after)
        raise UsageError("what must be 'entry' or 'body'")
    finally:
        db.close()


def _log_signer(node_dir: Path, origin: str, shares: Sequence[str]) -> Signer:
    vault = Vault(read_keystore(node_dir / KEYSTORE_FILE))
    vault.unseal_with(list(shares))
    return Signer.from_private_bytes(origin, vault.secret("log_key"))


def fork_log(node_dir: Path | str, shares: Sequence[str], *, index: int | None = None) -> Forked:
    """Make the (stopped) node at ``node_dir`` present a forked log: rewrite entry ``index``
    (by default the last record header below its latest checkpoint), rebuild its tree,
    and sign a checkpoint of the forked tree at its latest checkpoint's size with its log
    key (unsealed with ``shares``, the share files' text). Restart the node afterwards.
    """
    node_dir = Path(node_dir)
    signer: Signer | None = None
    db, origin = _open(node_dir)
    try:
        signer = _log_signer(node_dir, origin, shares)
        log = Log.attach(db, origin=origin)
        latest = log.latest_checkpoint()
        if latest is None:
            raise NotFoundError("the node has signed no checkpoint yet: nothing to fork")
        size = latest[0]
        index = _last_header(log, size) if index is None else index
        if not 0 <= index < size:
            raise UsageError(f"entry {index} is not below the checkpoint size {size}")
        entries = log.entries(0, log.size)
        old_root = log.root_hash(size)
        entries[index] = _flip_event_ts(entries[index])
        with tempfile.TemporaryDirectory(prefix="accord-fork-") as tmp:
            forked = Log.open(str(Path(tmp) / "fork.db"), origin=origin, synchronous="NORMAL")
            try:
                for start in range(0, len(entries), 256):
                    forked.append_batch(entries[start : start + 256])
                tiles = forked.db.fetchall("SELECT tile_key, width, hashes FROM log_tiles")
                chunks = forked.db.fetchall(
                    "SELECT first_index, entry_count, offsets, data FROM log_entries"
                )
                new_root = forked.root_hash(size)
                head_root = forked.root_hash()
            finally:
                forked.close()
        with db.transaction() as tx:
            tx.execute("DELETE FROM log_tiles")
            tx.execute("DELETE FROM log_entries")
            for row in tiles:
                tx.execute(
                    "INSERT INTO log_tiles (tile_key, width, hashes) VALUES (?, ?, ?)",
                    (int(row[0]), int(row[1]), bytes(row[2])),
                )
            for row in chunks:
                tx.execute(
                    "INSERT INTO log_entries (first_index, entry_count, offsets, data)"
                    " VALUES (?, ?, ?, ?)",
                    (int(row[0]), int(row[1]), bytes(row[2]), bytes(row[3])),
                )
            tx.execute("UPDATE log_head SET root = ? WHERE id = 1", (head_root,))
            tx.execute("DELETE FROM log_checkpoints WHERE size > ?", (index,))
            note = sign_note(checkpoint_text(origin, size, new_root), signer).format()
            tx.execute("INSERT INTO log_checkpoints (size, note) VALUES (?, ?)", (size, note))
        return Forked(index, size, old_root, new_root, note)
    finally:
        db.close()


def restore(node_dir: Path | str, tampered: Tampered) -> None:
    """Put back what :func:`tamper_database` changed (as restoring from a backup would)."""
    if tampered.what == "entry" and tampered.index is not None:
        db, _ = _open(Path(node_dir))
        try:
            row = db.fetchone(
                "SELECT first_index, offsets, data FROM log_entries"
                " WHERE first_index <= ? ORDER BY first_index DESC LIMIT 1",
                (tampered.index,),
            )
            if row is None:
                raise NotFoundError(f"no stored entry {tampered.index}")
            first, offsets, data = int(row[0]), bytes(row[1]), bytes(row[2])
            ends = [int.from_bytes(offsets[i : i + 4], "big") for i in range(0, len(offsets), 4)]
            at = tampered.index - first
            start = 0 if at == 0 else ends[at - 1]
            if data[start : ends[at]] != tampered.after:
                raise UsageError(f"entry {tampered.index} is not as it was left")
            data = data[:start] + tampered.before + data[ends[at] :]
            with db.transaction() as tx:
                tx.execute("UPDATE log_entries SET data = ? WHERE first_index = ?", (data, first))
        finally:
            db.close()
        return
    if tampered.what == "body" and tampered.record is not None:
        db, _ = _open(Path(node_dir))
        try:
            with db.transaction() as tx:
                tx.execute(
                    "UPDATE record_bodies SET blob = ? WHERE hash = ? AND blob = ?",
                    (tampered.before, bytes.fromhex(tampered.record), tampered.after),
                )
        finally:
            db.close()
        return
    raise UsageError("nothing to restore")
