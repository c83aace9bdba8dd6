"""Reading tiles and entry chunks from storage, with a bounded cache of full tiles.

The nodes a stored tile holds never change (a partial tile only gains nodes), so
tiles may be cached. The cache holds at most ``capacity`` tiles of at most
16,320 bytes each (1,024 tiles by default: under 17 MB whatever the size of
the log, so memory stays flat as it grows).
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
    """A thread-safe LRU of tiles, bounded by ``capacity`` tiles (0 disables it).

    Full tiles never change. A partial tile is cached too: the nodes it holds
    never change either, and a reader that needs a wider one reads it again
    (``get_many`` only returns tiles at least as wide as asked).
    """

    __slots__ = ("_lock", "_tiles", "capacity", "hits", "misses")

    def __init__(self, capacity: int = DEFAULT_CACHE_TILES) -> None:
        if type(capacity) is not int or not 0 <= capacity <= 1 << 20:
            raise UsageError("tile cache capacity must be an integer in [0, 2**20]")
        self.capacity = capacity
        self._tiles: OrderedDict[TileID, Tile] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get_many(self, needs: Mapping[TileID, int]) -> dict[TileID, Tile]:
        """The cached tiles among ``needs`` (tile id -> least width) that are wide enough."""
        out = {}
        tiles = self._tiles
        with self._lock:
            for tid, width in needs.items():
                tile = tiles.get(tid)
                if tile is not None and tile.width >= width:
                    tiles.move_to_end(tid)
                    out[tid] = tile
            self.hits += len(out)
            self.misses += len(needs) - len(out)
        return out

    def put(self, tiles: Iterable[Tile]) -> None:
        """Remember ``tiles`` (a narrower copy never replaces a wider one)."""
        if not self.capacity:
            return
        with self._lock:
            cached = self._tiles
            for tile in tiles:
                old = cached.get(tile.id)
                if old is None or old.width < tile.width:
                    cached[tile.id] = tile
                cached.move_to_end(tile.id)
            while len(cached) > self.capacity:
                cached.popitem(last=False)

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
        take = chunks.unpack(count, bytes(offsets), bytes(data), at - first, end - first)
        out.extend(take)
        at += len(take)
    if at != end:
        raise StoreError(f"log entry {at} is missing from storage")
    return out
