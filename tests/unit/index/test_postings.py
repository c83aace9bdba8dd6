"""Postings (48-byte encoding) and posting logs checked against the merkle core's MemoryTree."""

from __future__ import annotations

import hashlib

import pytest

from accord.errors import MalformedError, StoreError
from accord.index import (
    POSTING_SIZE,
    MemoryPostingStore,
    Posting,
    parse_posting,
    posting_inclusion_proof,
    posting_range_proof,
    posting_root,
)
from accord.index.builder import BatchResult
from accord.index.postings import (
    STORED_LEVEL,
    bisect_log_ts,
    edge_append,
    edge_from_stored,
    edge_root,
)
from accord.merkle import EMPTY_ROOT, MemoryTree, compact_range, verify_inclusion, verify_range

EVH = hashlib.sha256(b"event").digest()
KEY = hashlib.sha256(b"key").digest()


def test_posting_bytes_layout() -> None:
    p = Posting(0x0102030405060708, 0x1112131415161718, EVH)
    data = p.to_bytes()
    assert len(data) == POSTING_SIZE
    assert data[:8] == bytes.fromhex("0102030405060708")
    assert data[8:16] == bytes.fromhex("1112131415161718")
    assert data[16:] == EVH
    assert Posting.from_bytes(data) == p
    assert p.format() == data.hex()
    assert parse_posting(p.format()) == p
    assert p.leaf_hash() == hashlib.sha256(b"\x00" + data).digest()


def test_posting_extremes_round_trip() -> None:
    for seq, ts in [(0, 0), (2**64 - 1, 2**64 - 1), (5, 1_710_000_000_123)]:
        p = Posting(seq, ts, EVH)
        assert parse_posting(p.format()) == p


GOOD = Posting(7, 1_710_000_000_000, EVH).format()

BAD_TEXT = [
    ("empty", ""),
    ("one digit short", GOOD[:-1]),
    ("one byte short", GOOD[:-2]),
    ("one byte long", GOOD + "00"),
    ("uppercase hex", GOOD.upper()),
    ("non-hex digit", "g" + GOOD[1:]),
    ("whitespace", " " + GOOD[1:]),
    ("sign", "+" + GOOD[1:]),
]


@pytest.mark.parametrize(("mutation", "text"), BAD_TEXT, ids=[m for m, _ in BAD_TEXT])
def test_parse_posting_refuses(mutation: str, text: str) -> None:
    with pytest.raises(MalformedError) as info:
        parse_posting(text)
    assert info.value.what == "posting"


BAD_VALUES = [
    ("negative seq", (-1, 0, EVH)),
    ("seq beyond u64", (2**64, 0, EVH)),
    ("log_ts beyond u64", (0, 2**64, EVH)),
    ("bool seq", (True, 0, EVH)),
    ("short hash", (0, 0, EVH[:31])),
    ("hash as str", (0, 0, EVH.hex())),
]


@pytest.mark.parametrize(("mutation", "args"), BAD_VALUES, ids=[m for m, _ in BAD_VALUES])
def test_posting_values_refused(mutation: str, args: tuple[object, object, object]) -> None:
    with pytest.raises(MalformedError):
        Posting(*args)  # type: ignore[arg-type]


def test_from_bytes_refuses_wrong_length() -> None:
    with pytest.raises(MalformedError):
        Posting.from_bytes(bytes(47))
    with pytest.raises(MalformedError):
        Posting.from_bytes(bytes(49))


def _leaves(n: int) -> list[bytes]:
    return [
        Posting(i * 3, 1000 + i // 2, hashlib.sha256(b"%d" % i).digest()).to_bytes()
        for i in range(n)
    ]


def test_edge_append_matches_memory_tree_at_every_size() -> None:
    tree = MemoryTree()
    edge: list[bytes] = []
    nodes: list[tuple[int, int, bytes]] = []
    size = 0
    assert edge_root(edge) == EMPTY_ROOT
    for data in _leaves(70):
        h = hashlib.sha256(b"\x00" + data).digest()
        tree.append(h)
        size = edge_append(size, edge, h, nodes)
        assert edge_root(edge) == tree.root()
        assert edge == tree.read_nodes(compact_range(0, size))
    # Every perfect node above level 0 is emitted exactly once, at its address.
    assert len(nodes) == len({(lv, i) for lv, i, _ in nodes})
    assert all(tree.read_nodes([(lv, i)])[0] == h for lv, i, h in nodes)
    assert len(nodes) == 70 - bin(70).count("1")


def test_edge_from_stored_nodes_and_tail_at_every_size() -> None:
    """The edge rebuilt from the stored nodes (level >= STORED_LEVEL) and the last ``size % 16``
    postings equals the edge kept while appending, at every size up to 300."""
    edge: list[bytes] = []
    nodes: list[tuple[int, int, bytes]] = []
    leaves = _leaves(300)
    size = 0
    for data in leaves:
        size = edge_append(size, edge, hashlib.sha256(b"\x00" + data).digest(), nodes)
        stored = {(lv, i): h for lv, i, h in nodes if lv >= STORED_LEVEL}
        stored[(0, 0)] = bytes(32)  # lower levels are ignored
        tail = leaves[size - size % 16 : size]
        assert edge_from_stored(size, stored, tail) == edge
    assert edge_from_stored(0, {}, []) == []


def test_edge_from_stored_refuses_what_storage_lacks() -> None:
    edge: list[bytes] = []
    nodes: list[tuple[int, int, bytes]] = []
    leaves = _leaves(50)
    for i, data in enumerate(leaves):
        edge_append(i, edge, hashlib.sha256(b"\x00" + data).digest(), nodes)
    stored = {(lv, i): h for lv, i, h in nodes if lv >= STORED_LEVEL}
    assert len(edge_from_stored(50, stored, leaves[48:])) == 3  # 32 + 16 + 2
    with pytest.raises(StoreError, match="not stored"):
        edge_from_stored(50, {k: v for k, v in stored.items() if k != (4, 2)}, leaves[48:])
    with pytest.raises(StoreError, match="last 2 postings"):
        edge_from_stored(50, stored, leaves[47:])
    with pytest.raises(StoreError, match="48 bytes"):
        edge_from_stored(50, stored, [leaves[48], leaves[49][:40]])


def _store_with(n: int) -> MemoryPostingStore:
    """A store holding one key's posting log of n postings (rows built by edge_append)."""
    store = MemoryPostingStore()
    edge: list[bytes] = []
    nodes: list[tuple[int, int, bytes]] = []
    postings = []
    size = 0
    for data in _leaves(n):
        p = Posting.from_bytes(data)
        postings.append((KEY, size, p.seq, p.log_ts, p.event_hash))
        size = edge_append(size, edge, p.leaf_hash(), nodes)
    rows = tuple((KEY, lv, i, h) for lv, i, h in nodes if lv >= STORED_LEVEL)
    store.apply(BatchResult(n, 0, bytes(32), tuple(postings), rows, ()))
    return store


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 16, 17, 31, 40, 70])
def test_proofs_from_storage_match_memory_tree(n: int) -> None:
    """Stored nodes (level >= STORED_LEVEL) and recomputed low nodes give the RFC proofs."""
    store = _store_with(n)
    tree = MemoryTree(hashlib.sha256(b"\x00" + d).digest() for d in _leaves(n))
    rp, rn = store.read_postings, store.read_nodes
    sizes = range(1, n + 1) if n <= 17 else sorted({1, 15, 16, 17, 31, 32, 33, n - 1, n} - {0})
    for size in sizes:
        if size > n:
            continue
        root = posting_root(KEY, size, rp, rn)
        assert root == tree.root(size)
        for index in range(size):
            proof = posting_inclusion_proof(KEY, index, size, rp, rn)
            assert proof == tree.inclusion_proof(index, size)
            verify_inclusion(index, size, tree.leaf_hashes()[index], proof, root)
        for start in range(size + 1):
            for end in range(start, size + 1, 1 if size <= 33 else 3):
                proof = posting_range_proof(KEY, start, end, size, rp, rn)
                assert proof == tree.range_proof(start, end, size)
                verify_range(start, end, size, tree.leaf_hashes(start, end), proof, root)


def test_only_high_nodes_are_stored() -> None:
    store = _store_with(70)
    assert store.read_nodes(KEY, [(4, 0), (4, 3), (5, 1), (6, 0)])
    for low in [(0, 0), (1, 0), (3, 7)]:
        with pytest.raises(StoreError):
            store.read_nodes(KEY, [low])
    with pytest.raises(StoreError):
        store.read_nodes(KEY, [(4, 4)])  # not complete at size 70


def test_locate_and_bisect_agree() -> None:
    store = _store_with(21)  # log_ts 1000, 1000, 1001, 1001, ... (runs of two)
    for size in (1, 2, 9, 21):
        for ts in range(998, 1013):
            expect = next(
                (i for i in range(size) if 1000 + i // 2 >= ts),
                size,
            )
            assert store.locate(KEY, size, ts) == expect
            assert bisect_log_ts(KEY, size, ts, store.read_postings) == expect


def test_store_refuses_rows_that_do_not_extend_a_log() -> None:
    store = _store_with(20)
    p = Posting.from_bytes(_leaves(1)[0])
    h = bytes(32)
    for bad in [
        BatchResult(21, 0, h, ((KEY, 22, p.seq, p.log_ts, p.event_hash),), (), ()),
        BatchResult(21, 0, h, ((KEY, 19, p.seq, p.log_ts, p.event_hash),), (), ()),
        BatchResult(21, 0, h, (), ((KEY, 4, 0, h),), ()),  # already stored
        BatchResult(21, 0, h, (), ((KEY, 4, 2, h),), ()),  # skips index 1
        BatchResult(21, 0, h, (), ((KEY, 3, 2, h),), ()),  # below STORED_LEVEL
        BatchResult(19, 0, h, (), (), ()),  # behind the store
    ]:
        with pytest.raises(StoreError):
            store.apply(bad)
    assert store.log_size(KEY) == 20
    assert store.size == 20
    with pytest.raises(StoreError):
        store.read_nodes(KEY, [(9, 0)])
