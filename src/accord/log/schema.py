"""The log's tables (component ``log`` of :func:`accord.store.migrate`) and its SQL.

- ``log_head``: one row (``id = 1``): the origin, the committed ``size`` and the
  root at that size. Moved only by compare-and-swap (``WHERE size = :old``).
- ``log_tiles``: hash tiles (:mod:`accord.log.tiles`) keyed by
  ``tile_key = tile_level * 2**40 + tile_index`` (one integer key, so SQLite
  keeps the row in its rowid b-tree and a lookup is one probe). Full tiles are
  written once; the right-edge partial tiles are rewritten as they grow.
- ``log_entries``: entry chunks (:mod:`accord.log.chunks`), never rewritten.
- ``log_checkpoints``: signed checkpoint notes by tree size.
"""

from __future__ import annotations

from typing import Final

from accord.store import Step

__all__ = [
    "COMPONENT",
    "INSERT_CHUNK",
    "MOVE_HEAD",
    "STEPS",
    "TILE_KEY_BITS",
    "UPSERT_TILE",
    "tile_key",
]

COMPONENT: Final = "log"

TILE_KEY_BITS: Final = 40

STEPS: Final = (
    Step(
        "0001-log-tables",
        (
            "CREATE TABLE log_head ("
            " id INTEGER PRIMARY KEY CHECK (id = 1),"
            " origin TEXT NOT NULL,"
            " size INTEGER NOT NULL CHECK (size >= 0),"
            " root BLOB NOT NULL)",
            "CREATE TABLE log_tiles ("
            " tile_key INTEGER PRIMARY KEY,"
            " width INTEGER NOT NULL CHECK (width BETWEEN 1 AND 256),"
            " hashes BLOB NOT NULL)",
            "CREATE TABLE log_entries ("
            " first_index INTEGER PRIMARY KEY,"
            " entry_count INTEGER NOT NULL CHECK (entry_count BETWEEN 1 AND 256),"
            " offsets BLOB NOT NULL,"
            " data BLOB NOT NULL)",
            "CREATE TABLE log_checkpoints (size INTEGER PRIMARY KEY, note TEXT NOT NULL)",
        ),
    ),
)

MOVE_HEAD: Final = "UPDATE log_head SET size = ?, root = ? WHERE id = 1 AND size = ?"

INSERT_CHUNK: Final = (
    "INSERT INTO log_entries (first_index, entry_count, offsets, data) VALUES (?, ?, ?, ?)"
)

#: A tile only ever grows: the guard keeps a stale writer from narrowing one.
UPSERT_TILE: Final = (
    "INSERT INTO log_tiles (tile_key, width, hashes) VALUES (?, ?, ?)"
    " ON CONFLICT (tile_key) DO UPDATE SET width = excluded.width, hashes = excluded.hashes"
    " WHERE log_tiles.width <= excluded.width"
)


def tile_key(level: int, index: int) -> int:
    """The ``log_tiles`` key of tile ``(level, index)``."""
    return (level << TILE_KEY_BITS) | index
