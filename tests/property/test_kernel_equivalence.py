"""The native kernel against the pure-Python code, side by side (accord.index.native).

Two instances, one with ``native=False``, get the same random batches; after every step
their results, their whole states (undo records included) and their proofs at every held
version must be equal. Keys mix a small repeated pool, fresh keys and families sharing
long prefixes, some deeper than the kernel handles (61 bits), so the Python fallbacks
run inside the native instance too. Skipped where the kernel is not built (failed under
CI: tests/unit/index/snapshots.py).
"""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from accord.index import BatchResult, IndexEntry, IndexState, SparseMap
from tests.unit.index.logs import T0, key_id
from tests.unit.index.snapshots import index_snapshot, map_snapshot, require_native

SETTINGS = settings(max_examples=80, deadline=None)

POOL = [key_id(f"k{i}") for i in range(5)]
#: Shared-prefix lengths of the key families: placed by the kernel up to 60 bits (leaves
#: at depth 61), by SparseMap._insert and hashed in Python from 61 bits on.
FAMILIES = (8, 30, 59, 60, 61, 62, 70)
_BASE = int.from_bytes(hashlib.sha256(b"kernel/base").digest(), "big")


def family_key(bits: int, i: int) -> bytes:
    """Key ``i`` of the family whose keys share their first ``bits`` bits."""
    noise = int.from_bytes(hashlib.sha256(b"kernel/%d/%d" % (bits, i)).digest(), "big")
    mask = (1 << (256 - bits)) - 1
    return ((_BASE & ~mask) | (noise & mask)).to_bytes(32, "big")


keys_st = st.one_of(
    st.sampled_from(POOL),
    st.builds(family_key, st.sampled_from(FAMILIES), st.integers(0, 12)),
    st.binary(min_size=32, max_size=32),
)
entries_st = st.lists(
    st.tuples(st.sampled_from((0, 0, 1, 1000)), st.lists(keys_st, max_size=4)), max_size=12
)
#: A run of entries all carrying the first pool key: long posting logs, whose perfect
#: nodes from level 4 (16 postings) up are NodeRows.
hot_st = st.builds(lambda n: [(1, [POOL[0]])] * n, st.integers(1, 40))
ops_st = st.lists(
    st.one_of(
        st.tuples(st.just("batch"), entries_st),
        st.tuples(st.just("batch"), hot_st),
        st.tuples(st.just("rollback"), st.integers(0, 8)),
    ),
    min_size=1,
    max_size=8,
)


def _entries(state: IndexState, spec: list[tuple[int, list[bytes]]]) -> list[IndexEntry]:
    out, ts = [], max(state.log_ts, T0)
    for i, (step, keys) in enumerate(spec):
        ts += step
        seq = state.size + i
        leaf = hashlib.sha256(b"leaf/%d" % seq).digest()
        out.append(IndexEntry(seq, ts, leaf, tuple(sorted(set(keys)))))
    return out


def _types(result: BatchResult) -> None:
    assert type(result.root) is bytes
    for row in result.postings:
        assert [type(x) for x in row] == [bytes, int, int, int, bytes]
    for node in result.nodes:
        assert [type(x) for x in node] == [bytes, int, int, bytes]
    for key_row in result.keys:
        assert [type(x) for x in key_row] == [bytes, int, bytes, bytes]


def _same_views(native: IndexState, pure: IndexState, keys: set[bytes]) -> None:
    assert native.sizes() == pure.sizes()
    probes = [*sorted(keys)[:12], family_key(70, 99), bytes(32)]
    for size in native.sizes():
        a, b = native.view(size), pure.view(size)
        assert a.root == b.root
        for key in probes:
            assert a.value(key) == b.value(key)
            assert a.map_proof(key) == b.map_proof(key)


@SETTINGS
@given(st.integers(0, 3), ops_st)
def test_index_state_native_equals_pure(history: int, ops: list[tuple[str, Any]]) -> None:
    require_native()
    native, pure = IndexState(history), IndexState(history, native=False)
    assert native._native
    assert native._map._native
    assert not pure._native
    assert not pure._map._native
    seen: set[bytes] = set()
    for kind, arg in ops:
        if kind == "batch":
            entries = _entries(native, arg)
            seen.update(k for e in entries for k in e.key_ids)
            got = native.apply_batch(entries)
            assert got == pure.apply_batch(entries)
            _types(got)
        else:
            held = native.sizes()
            size = held[arg % len(held)]
            native.rollback(size)
            pure.rollback(size)
        assert index_snapshot(native) == index_snapshot(pure)
        _same_views(native, pure, seen)


def _value(key: bytes, round_: int) -> bytes:
    return hashlib.sha256(key + bytes([round_])).digest()


@SETTINGS
@given(
    st.integers(0, 3),
    st.lists(st.lists(keys_st, max_size=10), min_size=1, max_size=6),
    st.integers(0, 8),
)
def test_sparse_map_native_equals_pure(history: int, batches: list[list[bytes]], back: int) -> None:
    require_native()
    native, pure = SparseMap(history), SparseMap(history, native=False)
    seen: set[bytes] = set()
    for version, batch in enumerate(batches, start=1):
        pairs = [(key, _value(key, version)) for key in dict.fromkeys(batch)]
        seen.update(batch)
        assert native.update(pairs, version) == pure.update(pairs, version)
        assert map_snapshot(native) == map_snapshot(pure)
        for held in native.versions():
            assert native.root_at(held) == pure.root_at(held)
            for key in [*sorted(seen)[:12], family_key(70, 99)]:
                assert native.path(key, held) == pure.path(key, held)
    held_versions = native.versions()
    target = held_versions[back % len(held_versions)]
    native.rollback(target)
    pure.rollback(target)
    assert map_snapshot(native) == map_snapshot(pure)
    again = [(key, _value(key, 200)) for key in sorted(seen)[:5]]
    assert native.update(again, 100) == pure.update(again, 100)
    assert map_snapshot(native) == map_snapshot(pure)
