"""Pure tile math of accord.log.tiles, checked against accord.merkle.MemoryTree."""

from __future__ import annotations

import random

import pytest

from accord.errors import StoreError, UsageError
from accord.log.tiles import (
    FULL_TILE_BYTES,
    ROW_BYTES,
    TILE_HEIGHT,
    TILE_WIDTH,
    RightEdge,
    Tile,
    locate,
    row_offset,
    tile_hashes,
    tiles_for,
)
from accord.merkle import EMPTY_ROOT, HASH_SIZE, MemoryTree, compact_range, leaf_hash

EMPTY_EDGE = RightEdge(0, (Tile.empty(0, 0),))


def _hashes(n: int, seed: int = 0) -> list[bytes]:
    rng = random.Random(seed)
    return [leaf_hash(rng.randbytes(8)) for _ in range(n)]


def _grow(sizes: list[int]) -> tuple[RightEdge, MemoryTree, dict[tuple[int, int], Tile]]:
    """Append batches of the given sizes; return the edge, a reference tree, and every
    tile as last written."""
    edge, mem, stored = EMPTY_EDGE, MemoryTree(), {}
    for i, n in enumerate(sizes):
        hashes = _hashes(n, seed=i)
        mem.extend(hashes)
        edge, written = edge.append(hashes)
        for tile in written:
            stored[tile.id] = tile
    return edge, mem, stored


def test_constants_the_log_inlines() -> None:
    # accord.log.log._read inlines these values.
    assert (TILE_HEIGHT, TILE_WIDTH, HASH_SIZE) == (8, 256, 32)
    assert tile_hashes(TILE_WIDTH) == 510
    assert FULL_TILE_BYTES == 16_320
    assert ROW_BYTES[256] == tuple(32 * (512 - (512 >> r)) for r in range(8))
    assert [row_offset(5, r) for r in range(4)] == [0, 5, 7, 8]


@pytest.mark.parametrize(
    ("node", "expected"),
    [
        ((0, 0), ((0, 0), 0, 0)),
        ((0, 255), ((0, 0), 0, 255)),
        ((0, 256), ((0, 1), 0, 0)),
        ((1, 127), ((0, 0), 1, 127)),
        ((1, 128), ((0, 1), 1, 0)),
        ((7, 1), ((0, 0), 7, 1)),
        ((7, 2), ((0, 1), 7, 0)),
        ((8, 0), ((1, 0), 0, 0)),  # the top of tile (0, 0) is the bottom of tile (1, 0)
        ((8, 300), ((1, 1), 0, 44)),
        ((16, 3), ((2, 0), 0, 3)),
        ((15, 5), ((1, 2), 7, 1)),
    ],
)
def test_locate(node: tuple[int, int], expected: tuple[tuple[int, int], int, int]) -> None:
    assert locate(*node) == expected


def test_locate_matches_tlog_tiles_bottom_rows() -> None:
    """Every node of a level 8L is at row 0 of tile (L, index // 256), position index % 256."""
    rng = random.Random(1)
    for _ in range(1000):
        level, index = 8 * rng.randrange(4), rng.randrange(1 << 30)
        assert locate(level, index) == ((level // 8, index // 256), 0, index % 256)


def test_tiles_for_is_distinct_in_first_use_order() -> None:
    assert tiles_for([(0, 300), (0, 0), (1, 150), (8, 0)]) == [(0, 1), (0, 0), (1, 0)]


@pytest.mark.parametrize(
    "sizes",
    [[1], [255], [256], [257], [1, 255, 1], [1000], [256] * 3, [3, 7, 300, 65536, 5], [70000]],
)
def test_every_stored_node_equals_memory_tree(sizes: list[int]) -> None:
    edge, mem, stored = _grow(sizes)
    assert edge.size == mem.size == sum(sizes)
    assert edge.root() == mem.root()
    for level in range(mem.size.bit_length()):
        for index in range(mem.size >> level):
            tile_id, row, pos = locate(level, index)
            node = stored[tile_id].node(row, pos)
            assert node is not None
            assert node == mem.read_nodes([(level, index)])[0]


def test_tiles_hold_exactly_the_complete_nodes() -> None:
    _, mem, stored = _grow([700])
    partial = stored[(0, 2)]
    assert partial.width == 700 - 512
    assert partial.node(0, 187) is not None
    assert partial.node(0, 188) is None
    assert partial.node(2, 46) is not None  # covers leaves 696..699 of a 700 tree
    assert partial.node(2, 47) is None
    assert partial.node(7, 0) is not None  # leaves 512..639: 128 of the 188 present
    assert partial.node(7, 1) is None  # would need 256
    assert stored[(0, 0)].full
    assert stored[(0, 0)].top() == mem.read_nodes([(8, 0)])[0]
    assert stored[(1, 0)].width == 2  # two level-8 nodes: (8, 0) and (8, 1)


def test_edge_shape_and_root_at_every_size_up_to_600() -> None:
    edge, mem = EMPTY_EDGE, MemoryTree()
    assert edge.root() == EMPTY_ROOT
    for i, h in enumerate(_hashes(600)):
        edge, _ = edge.append([h])
        mem.append(h)
        assert edge.root() == mem.root(), i
        ids = compact_range(0, edge.size)
        assert edge.read_nodes(ids) == mem.read_nodes(ids)


def test_edge_from_stored_tiles_narrows_wider_ones() -> None:
    edge_300, _, _ = _grow([300])
    _, _, stored = _grow([300, 500])  # same first 300 leaves, tiles grown further
    rebuilt = RightEdge.from_tiles(300, stored)
    assert rebuilt == edge_300
    with pytest.raises(StoreError):
        RightEdge.from_tiles(300, {})


def test_edge_append_is_pure() -> None:
    edge, _, _ = _grow([10])
    before = edge
    edge.append(_hashes(1000))
    assert edge == before
    assert edge.size == 10


@pytest.mark.parametrize(
    ("mutation", "make"),
    [
        ("width over 256", lambda: Tile(0, 0, 257, b"\x00" * 32 * tile_hashes(257))),
        ("negative index", lambda: Tile(0, -1, 0, b"")),
        ("bool level", lambda: Tile(True, 0, 0, b"")),
        ("data one hash short", lambda: Tile(0, 0, 2, b"\x00" * 32 * 2)),
        ("data not bytes", lambda: Tile(0, 0, 1, bytearray(32))),
        ("nodes overflow tile", lambda: Tile.empty(0, 0).extend(b"\x00" * 32 * 257)),
        ("ragged nodes", lambda: Tile.empty(0, 0).extend(b"\x00" * 33)),
        ("top of partial tile", lambda: Tile.empty(0, 0).top()),
        ("edge of wrong shape", lambda: RightEdge(256, (Tile.empty(0, 0),))),
        ("node not on the edge", lambda: EMPTY_EDGE.read_nodes([(0, 0)])),
    ],
)
def test_bad_tiles_are_usage_errors(mutation: str, make: object) -> None:
    with pytest.raises(UsageError):
        make()  # type: ignore[operator]


def test_corrupt_stored_tile_is_store_error() -> None:
    with pytest.raises(StoreError):
        Tile.load(0, 0, 3, b"\x00" * 32)
