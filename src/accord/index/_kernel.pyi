"""Type stub of the native kernel (``_kernel.c``); loaded through :mod:`accord.index.native`."""

from array import array
from collections.abc import Callable

from accord.index.builder import IndexEntry, KeyRow, NodeRow, PostingRow

def append_postings(
    groups: dict[bytes, list[IndexEntry]],
    heads: dict[bytes, bytes],
    undo: dict[bytes, bytes | None] | None,
    posting_rows: list[PostingRow],
    node_rows: list[NodeRow],
    key_rows: list[KeyRow],
    items: list[tuple[bytes, bytes]],
    stored_level: int,
    mapval_prefix: bytes,
    /,
) -> None: ...
def update(
    pairs: list[tuple[bytes, bytes]],
    keys: dict[bytes, int],
    leaves: dict[int, bytes],
    dense: bytearray,
    nodes: dict[int, bytes],
    depth: int,
    nundo: dict[int, bytes | None] | None,
    lundo: dict[int, bytes | None] | None,
    positions: array[int],
    log: bytearray | None,
    insert: Callable[[bytes], None],
    /,
) -> tuple[list[bytes], dict[int, bytes | None] | None] | None: ...
