"""Reading tiles and entry chunks from storage, with a bounded cache of full tiles.

Full tiles never change, so they may be cached; partial tiles are always read
from the database (or from the writer's in-memory right edge). The cache holds
at most ``capacity`` full tiles of 16,320 bytes each (1,024 tiles by default:
under 17 MB whatever the size of the log, so memory stays flat as it grows).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Final

from accord.errors import StoreError, UsageError
from accord.log import chunks
from accord.log.schema import TILE_KEY_BITS, tile_key
from accord.log.tiles import Tile, TileID
from accord.store import Database

__all__ = ["DEFAULT_CACHE_TILES", "TileCache", "read_entries", "read_tiles"]

DEFAULT_CACHE_TILES: Final = 1024

_KEY_MASK: Final = (1 << TILE_KEY_BITS) - 1


class TileCache:
    """A thread-safe LRU of full tiles, bounded by ``capacity`` tiles (0 disables it)."""

    __slots__ = ("_lock", "_tiles", "capacity", "hits", "misses")

    def __init__(self, capacity: int = DEFAULT_CACHE_TILES) -> None:
        if not isinstance(capacity, int) or not 0 <= capacity <= 1 << 20:
            raise UsageError("tile cache capacity must be an integer in [0, 2**20]")
        self.capacity = capacity
        self._tiles: OrderedDict[TileID, Tile] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, tile_id: TileID) -> Tile | None:
        with self._lock:
            tile = self._tiles.get(tile_id)
            if tile is None:
                self.misses += 1
                return None
            self._tiles.move_to_end(tile_id)
            self.hits += 1
            return tile

    def put(self, tiles: Iterable[Tile]) -> None:
        if not self.capacity:
            return
        with self._lock:
            for tile in tiles:
                if not tile.full:
                    continue
                self._tiles[tile.id] = tile
                self._tiles.move_to_end(tile.id)
            while len(self._tiles) > self.capacity:
                self._tiles.popitem(last=False)

    def __len__(self) -> int:
        return len(self._tiles)


def read_tiles(db: Database, ids: Iterable[TileID]) -> dict[TileID, Tile]:
    """The stored tiles among ``ids`` (absent ones are simply not in the result)."""
    keys = [tile_key(level, index) for level, index in ids]
    if not keys:
        return {}
    marks = ", ".join("?" * len(keys))
    rows = db.fetchall(
        f"SELECT tile_key, width, hashes FROM log_tiles WHERE tile_key IN ({marks})",  # noqa: S608
        keys,
    )
    out = {}
    for key, width, data in rows:
        tile = Tile.load(key >> TILE_KEY_BITS, key & _KEY_MASK, width, data)
        out[tile.id] = tile
    return out


def read_entries(db: Database, start: int, end: int) -> list[bytes]:
    """Entries ``[start, end)``; StoreError if storage lacks any of them."""
    if start >= end:
        return []
    rows = db.fetchall(
        "SELECT first_index, entry_count, offsets, data FROM log_entries"
        " WHERE first_index > ? AND first_index < ? ORDER BY first_index",
        (start - chunks.CHUNK_SIZE, end),
    )
    out: list[bytes] = []
    at = start
    for first, count, offsets, data in rows:
        if first + count <= at:
            continue
        if first > at:
            break
        items = chunks.unpack(count, bytes(offsets), bytes(data))
        take = items[at - first : end - first]
        out.extend(take)
        at += len(take)
    if at != end:
        raise StoreError(f"log entry {at} is missing from storage")
    return out


def widths_needed(needs: Mapping[TileID, int], have: Mapping[TileID, Tile]) -> list[TileID]:
    """The tiles of ``needs`` (id -> least width) that ``have`` lacks or holds too narrow."""
    return [tid for tid, width in needs.items() if (t := have.get(tid)) is None or t.width < width]
