"""Hash tiles: how the log stores its perfect-subtree hashes (pure).

Addressing follows C2SP tlog-tiles (shared/reference/tlog.md section 5.4): tiles
have height 8, and tile ``(L, N)`` has as bottom row the level-``8L`` nodes
``[256N, 256N + 256)``. Unlike tlog-tiles, which serves only the bottom row, a
stored tile holds *every* row it spans: row ``r`` (0..7) holds the level
``8L + r`` nodes ``[256N >> r, (256N + 256) >> r)``, so no proof ever rehashes
inside a tile. A tile whose bottom row has ``w`` nodes (its *width*, 1..256) holds
the ``w >> r`` complete nodes of each row ``r``: 510 hashes (16,320 bytes) when
full. ``data`` is the rows concatenated, row 0 first.

A node of level ``8L + 8`` is never stored in a level-``L`` tile: it is the
bottom of tile level ``L + 1``. Full tiles never change; the partial tile at the
right edge of each tile level grows as the log does (:class:`RightEdge`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from accord.errors import StoreError, UsageError
from accord.merkle import EMPTY_ROOT, HASH_SIZE, NodeID, compact_range, fold_right

__all__ = [
    "FULL_TILE_BYTES",
    "ROW_BYTES",
    "TILE_HEIGHT",
    "TILE_WIDTH",
    "RightEdge",
    "Tile",
    "TileID",
    "locate",
    "row_offset",
    "tile_hashes",
    "tiles_for",
]

TILE_HEIGHT: Final = 8
TILE_WIDTH: Final = 1 << TILE_HEIGHT

#: (tile level L, tile index N)
TileID = tuple[int, int]

_sha256 = hashlib.sha256


def row_offset(width: int, row: int) -> int:
    """Index of the first hash of ``row`` in the data of a tile of ``width``."""
    return sum(width >> j for j in range(row))


def tile_hashes(width: int) -> int:
    """Number of hashes a tile of ``width`` holds (510 when full)."""
    return row_offset(width, TILE_HEIGHT)


FULL_TILE_BYTES: Final = tile_hashes(TILE_WIDTH) * HASH_SIZE

_TILE_BYTES: Final = tuple(tile_hashes(w) * HASH_SIZE for w in range(TILE_WIDTH + 1))

#: ``ROW_BYTES[width][row]``: byte offset of ``row`` in the data of a tile of ``width``.
ROW_BYTES: Final = tuple(
    tuple(row_offset(w, r) * HASH_SIZE for r in range(TILE_HEIGHT)) for w in range(TILE_WIDTH + 1)
)


def locate(level: int, index: int) -> tuple[TileID, int, int]:
    """``(tile id, row, position)`` of the perfect node ``(level, index)``."""
    tile_level, row = divmod(level, TILE_HEIGHT)
    shift = TILE_HEIGHT - row
    tile_index = index >> shift
    return (tile_level, tile_index), row, index - (tile_index << shift)


def tiles_for(ids: Iterable[NodeID]) -> list[TileID]:
    """The distinct tiles holding the nodes ``ids``, in first-use order."""
    seen: dict[TileID, None] = {}
    for level, index in ids:
        seen.setdefault(locate(level, index)[0], None)
    return list(seen)


@dataclass(frozen=True, slots=True)
class Tile:
    """One stored tile: ``width`` bottom nodes and every complete node above them."""

    level: int
    index: int
    width: int
    data: bytes

    def __post_init__(self) -> None:
        if (
            type(self.level) is not int
            or type(self.index) is not int
            or type(self.width) is not int
        ):
            raise UsageError("tile level, index and width must be integers")
        if self.level < 0 or self.index < 0 or not 0 <= self.width <= TILE_WIDTH:
            raise UsageError(
                f"tile ({self.level}, {self.index}) of width {self.width} is out of range"
            )
        if type(self.data) is not bytes or len(self.data) != _TILE_BYTES[self.width]:
            raise UsageError(f"tile data does not hold the hashes of width {self.width}")

    @classmethod
    def empty(cls, level: int, index: int) -> Tile:
        return cls(level, index, 0, b"")

    @classmethod
    def load(cls, level: int, index: int, width: int, data: bytes) -> Tile:
        """A tile read from storage; StoreError if the row is not a well-formed tile."""
        try:
            return cls(level, index, width, bytes(data))
        except (UsageError, TypeError):
            raise StoreError(f"stored tile ({level}, {index}) is corrupt") from None

    @property
    def id(self) -> TileID:
        return (self.level, self.index)

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    def node(self, row: int, position: int) -> bytes | None:
        """The node at ``row``/``position`` if this tile holds it complete, else None."""
        if not 0 <= row < TILE_HEIGHT or not 0 <= position < (self.width >> row):
            return None
        start = ROW_BYTES[self.width][row] + position * HASH_SIZE
        return self.data[start : start + HASH_SIZE]

    def rows(self) -> list[bytes]:
        """Row ``r`` as the concatenation of its ``width >> r`` hashes, for r in 0..7."""
        out, start = [], 0
        for r in range(TILE_HEIGHT):
            end = start + (self.width >> r) * HASH_SIZE
            out.append(self.data[start:end])
            start = end
        return out

    def top(self) -> bytes:
        """The level ``8L + 8`` node this full tile roots (the bottom of the tile above)."""
        if not self.full:
            raise UsageError("only a full tile has a top node")
        last = self.data[-2 * HASH_SIZE :]
        return _sha256(b"\x01" + last).digest()

    def extend(self, nodes: bytes) -> Tile:
        """This tile with more bottom nodes (``nodes``: concatenated hashes that fit)."""
        count, rem = divmod(len(nodes), HASH_SIZE)
        if rem or self.width + count > TILE_WIDTH:
            raise UsageError("nodes do not fit in this tile")
        old = self.rows()
        below = old[0] + nodes
        rows = [below]
        for r in range(1, TILE_HEIGHT):
            row = old[r]
            have, need = len(row) // HASH_SIZE, len(below) // (2 * HASH_SIZE)
            if need > have:
                pair = 2 * HASH_SIZE
                row += b"".join(
                    [
                        _sha256(b"\x01" + below[j : j + pair]).digest()
                        for j in range(have * pair, need * pair, pair)
                    ]
                )
            rows.append(row)
            below = row
        return Tile(self.level, self.index, self.width + count, b"".join(rows))


def _edge_shape(size: int) -> list[tuple[int, int]]:
    """``(index, width)`` of the right-edge tile at each tile level of a tree of ``size``."""
    shape = [(size >> TILE_HEIGHT, size % TILE_WIDTH)]
    level = 1
    while size >> (TILE_HEIGHT * level):
        count = size >> (TILE_HEIGHT * level)
        shape.append((count >> TILE_HEIGHT, count % TILE_WIDTH))
        level += 1
    return shape


@dataclass(frozen=True, slots=True)
class RightEdge:
    """The partial tiles on the right edge of a tree of ``size``, one per tile level.

    ``tiles[L]`` is tile ``(L, (size >> 8L) >> 8)`` of width ``(size >> 8L) % 256``
    (empty when 0); the levels go up to the first whose edge index is 0. Every
    node of the compact range ``[0, size)`` lies in these tiles, so the root and
    the next append need nothing else.
    """

    size: int
    tiles: tuple[Tile, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.size, int) or isinstance(self.size, bool) or self.size < 0:
            raise UsageError("size must be a non-negative integer")
        shape = _edge_shape(self.size)
        if len(self.tiles) != len(shape) or any(
            not isinstance(t, Tile) or (t.level, t.index, t.width) != (level, index, width)
            for level, (t, (index, width)) in enumerate(zip(self.tiles, shape, strict=False))
        ):
            raise UsageError(f"edge tiles do not match a tree of size {self.size}")

    @staticmethod
    def shape(size: int) -> list[tuple[TileID, int]]:
        """``(tile id, width)`` of each edge tile of a tree of ``size``, level 0 first."""
        return [((level, index), width) for level, (index, width) in enumerate(_edge_shape(size))]

    @classmethod
    def from_tiles(cls, size: int, tiles: Mapping[TileID, Tile]) -> RightEdge:
        """The edge of ``size`` from stored tiles (which may be wider: they are cut down)."""
        edge = []
        for tile_id, width in cls.shape(size):
            if width == 0:
                edge.append(Tile.empty(*tile_id))
                continue
            stored = tiles.get(tile_id)
            if stored is None or stored.width < width:
                raise StoreError(f"tile {tile_id} of width {width} is missing from storage")
            edge.append(_narrow(stored, width))
        return cls(size, tuple(edge))

    def append(self, leaf_hashes: Sequence[bytes]) -> tuple[RightEdge, list[Tile]]:
        """The edge after appending ``leaf_hashes``, and every tile that changed
        (completed tiles and the new partial ones, lowest level first)."""
        written: list[Tile] = []
        edge: list[Tile] = []
        nodes = b"".join(leaf_hashes)
        level = 0
        while nodes or level < len(self.tiles):
            tile = self.tiles[level] if level < len(self.tiles) else Tile.empty(level, 0)
            tops = []
            while nodes:
                room = (TILE_WIDTH - tile.width) * HASH_SIZE
                tile = tile.extend(nodes[:room])
                nodes = nodes[room:]
                written.append(tile)
                if tile.full:
                    tops.append(tile.top())
                    tile = Tile.empty(level, tile.index + 1)
            edge.append(tile)
            nodes = b"".join(tops)
            level += 1
        return RightEdge(self.size + len(leaf_hashes), tuple(edge)), written

    def read_nodes(self, ids: Sequence[NodeID]) -> list[bytes]:
        """A NodeReader over the edge tiles (UsageError for a node they do not hold)."""
        out = []
        for level, index in ids:
            (tile_level, tile_index), row, pos = locate(level, index)
            tile = self.tiles[tile_level] if tile_level < len(self.tiles) else None
            node = tile.node(row, pos) if tile and tile.index == tile_index else None
            if node is None:
                raise UsageError(f"node ({level}, {index}) is not on the right edge")
            out.append(node)
        return out

    def root(self) -> bytes:
        """MTH of the tree of ``size`` (RFC 9162 section 2.1.1)."""
        if self.size == 0:
            return EMPTY_ROOT
        return fold_right(self.read_nodes(compact_range(0, self.size)))


def _narrow(tile: Tile, width: int) -> Tile:
    """The same tile cut down to ``width`` bottom nodes."""
    if width == tile.width:
        return tile
    rows = tile.rows()
    return Tile(
        tile.level,
        tile.index,
        width,
        b"".join(rows[r][: (width >> r) * HASH_SIZE] for r in range(TILE_HEIGHT)),
    )
