"""Property: hash tiles grown by any sequence of batches agree with the RFC 9162 tree."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.log.tiles import RightEdge, Tile, locate
from accord.merkle import MemoryTree, compact_range, inclusion_plan


def _leaf(i: int) -> bytes:
    return hashlib.sha256(b"\x00%d" % i).digest()


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=700), min_size=1, max_size=8), st.data())
def test_tiles_match_memory_tree(sizes: list[int], data: st.DataObject) -> None:
    edge = RightEdge(0, (Tile.empty(0, 0),))
    mem = MemoryTree()
    stored: dict[tuple[int, int], Tile] = {}
    for n in sizes:
        hashes = [_leaf(mem.size + i) for i in range(n)]
        mem.extend(hashes)
        edge, written = edge.append(hashes)
        for tile in written:
            stored[tile.id] = tile
        assert edge.root() == mem.root()
        # The edge rebuilt from the stored tiles is the same edge.
        assert RightEdge.from_tiles(edge.size, stored) == edge

    def read(ids: list[tuple[int, int]]) -> list[bytes]:
        out = []
        for level, index in ids:
            tile_id, row, pos = locate(level, index)
            node = stored[tile_id].node(row, pos)
            assert node is not None
            out.append(node)
        return out

    size = data.draw(st.integers(min_value=1, max_value=mem.size))
    index = data.draw(st.integers(min_value=0, max_value=size - 1))
    assert inclusion_plan(index, size).run(read) == mem.inclusion_proof(index, size)
    ids = compact_range(0, size)
    assert read(ids) == mem.read_nodes(ids)
