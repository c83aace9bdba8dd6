"""The builder: replay determinism, agreement with a from-scratch reference, rows, restore."""

from __future__ import annotations

import hashlib
import itertools
import random

import pytest

from accord.errors import MalformedError, NotFoundError, StoreError, UsageError, VerificationError
from accord.index import (
    EMPTY_NODE,
    IndexEntry,
    IndexState,
    MemoryPostingStore,
    verify_map_proof,
)
from accord.merkle import leaf_hash, root_hash
from tests.unit.index.logs import as_tuples, key_id, random_log, random_partition
from tests.unit.index.reference import ref_index

LOG = random_log(240, seed=3, commit_every=17)


def _build(entries: list[IndexEntry], cuts: list[int], history: int = 4) -> dict[int, bytes]:
    """Roots by commit size for one partition of the log into batches."""
    state = IndexState(history=history)
    roots = {0: state.root}
    for a, b in itertools.pairwise(cuts):
        result = state.apply_batch(entries[a:b])
        assert result.size == b == state.size
        assert result.root == state.root
        roots[b] = result.root
    return roots


def test_empty_index_root_is_the_empty_subtree() -> None:
    state = IndexState()
    assert state.root == EMPTY_NODE
    assert state.size == 0
    assert len(state) == 0


def test_roots_equal_the_reference_at_every_size() -> None:
    one_by_one = _build(LOG, list(range(len(LOG) + 1)))
    for size, root in one_by_one.items():
        assert root == ref_index(as_tuples(LOG[:size]))[0], f"size {size}"


@pytest.mark.parametrize("seed", range(6))
def test_replay_in_random_partitions_gives_identical_roots(seed: int) -> None:
    reference = _build(LOG, list(range(len(LOG) + 1)), history=0)
    cuts = random_partition(len(LOG), random.Random(seed))
    roots = _build(LOG, cuts, history=seed % 3)
    assert set(roots) == set(cuts)
    for size, root in roots.items():
        assert root == reference[size], f"commit at size {size}"


def test_one_batch_equals_many() -> None:
    whole = _build(LOG, [0, len(LOG)])
    assert whole[len(LOG)] == ref_index(as_tuples(LOG))[0]


def test_rows_rebuild_the_posting_logs() -> None:
    state, store = IndexState(), MemoryPostingStore()
    for a, b in zip(
        *(lambda c: (c, c[1:]))(random_partition(len(LOG), random.Random(9))), strict=False
    ):
        store.apply(state.apply_batch(LOG[a:b]))
    _, lists = ref_index(as_tuples(LOG))
    assert len(store) == len(lists) == len(state)
    for key, pl in lists.items():
        assert store.read_postings(key, 0, len(pl) + 5) == pl
        value = state.view().value(key)
        assert value is not None
        assert value.size == len(pl)
        assert value.posting_root == root_hash(leaf_hash(p) for p in pl)
    assert sorted(store.key_rows()) == sorted(state.key_rows())
    assert dict(state.key_sizes()) == {key: len(pl) for key, pl in lists.items()}


def test_restore_continues_with_identical_roots() -> None:
    cut = 131
    original = IndexState()
    store = MemoryPostingStore()
    store.apply(original.apply_batch(LOG[:cut]))
    restored = IndexState.restore(store.size, store.log_ts, store.key_rows())
    assert restored.root == original.root
    assert restored.size == cut
    assert restored.log_ts == LOG[cut - 1].log_ts
    assert restored.sizes() == [cut]
    for a, b in [(cut, 170), (170, 171), (171, len(LOG))]:
        assert restored.apply_batch(LOG[a:b]).root == original.apply_batch(LOG[a:b]).root
    snapshot = IndexState.restore(original.size, original.log_ts, original.key_rows())
    assert snapshot.root == original.root


def test_restore_refuses_inconsistent_rows() -> None:
    state = IndexState()
    state.apply_batch(LOG[:60])
    rows = list(state.key_rows())
    key, size, root, edge = rows[0]
    cases = [
        ("edge does not fold to root", (key, size, hashlib.sha256(b"x").digest(), edge)),
        ("edge too short", (key, size, root, edge[:-32])),
        ("size zero", (key, 0, root, b"")),
        ("short key", (key[:31], size, root, edge)),
    ]
    for _name, bad in cases:
        with pytest.raises(StoreError):
            IndexState.restore(60, 0, [bad, *rows[1:]])
    with pytest.raises(StoreError):
        IndexState.restore(60, 0, [rows[0], rows[0]])
    with pytest.raises(StoreError):
        IndexState.restore(0, 0, rows)


def test_keyless_entries_add_nothing() -> None:
    state = IndexState()
    state.apply_batch(LOG[:10])
    root = state.root
    h = hashlib.sha256(b"commit").digest()
    result = state.apply_batch([IndexEntry(10, LOG[9].log_ts, h), IndexEntry(11, LOG[9].log_ts, h)])
    assert result.root == root
    assert result.size == 12
    assert (result.postings, result.nodes, result.keys) == ((), (), ())
    assert state.apply_batch([]).size == 12


def test_batch_must_continue_the_log() -> None:
    state = IndexState()
    state.apply_batch(LOG[:5])
    root = state.root
    with pytest.raises(UsageError):
        state.apply_batch(LOG[6:9])  # gap
    with pytest.raises(UsageError):
        state.apply_batch(LOG[4:9])  # overlap
    with pytest.raises(UsageError):
        state.apply_batch([LOG[5], LOG[7]])  # gap inside the batch
    late = IndexEntry(5, LOG[4].log_ts - 1, LOG[5].leaf_hash, LOG[5].key_ids)
    with pytest.raises(VerificationError):
        state.apply_batch([late])
    later = IndexEntry(6, LOG[5].log_ts - 1, LOG[6].leaf_hash, LOG[6].key_ids)
    with pytest.raises(VerificationError):
        state.apply_batch([LOG[5], later])
    with pytest.raises(UsageError):
        state.apply_batch([(5, 0, bytes(32), ())])  # type: ignore[list-item]
    assert (state.root, state.size, state.sizes()) == (root, 5, [0, 5])
    state.apply_batch(LOG[5:9])
    assert state.root == ref_index(as_tuples(LOG[:9]))[0]


K1, K2 = key_id("a"), key_id("b")
LEAF = hashlib.sha256(b"l").digest()
BAD_ENTRIES = [
    ("keys unsorted", (0, 0, LEAF, (max(K1, K2), min(K1, K2)))),
    ("key repeated", (0, 0, LEAF, (K1, K1))),
    ("short key", (0, 0, LEAF, (K1[:31],))),
    ("key as hex", (0, 0, LEAF, (K1.hex(),))),
    ("keys as set", (0, 0, LEAF, {K1})),
    ("short leaf hash", (0, 0, LEAF[:31], ())),
    ("negative seq", (-1, 0, LEAF, ())),
    ("bool seq", (False, 0, LEAF, ())),
    ("log_ts beyond u64", (0, 2**64, LEAF, ())),
]


@pytest.mark.parametrize(("mutation", "args"), BAD_ENTRIES, ids=[m for m, _ in BAD_ENTRIES])
def test_malformed_entries_are_refused(mutation: str, args: tuple[object, ...]) -> None:
    with pytest.raises(MalformedError) as info:
        IndexEntry(*args)  # type: ignore[arg-type]
    assert info.value.what == "index entry"


def test_key_list_is_accepted_as_tuple() -> None:
    entry = IndexEntry(0, 0, LEAF, [min(K1, K2), max(K1, K2)])  # type: ignore[arg-type]
    assert entry.key_ids == (min(K1, K2), max(K1, K2))


def test_views_prove_against_past_commits() -> None:
    state = IndexState(history=3)
    cuts = [0, 40, 80, 120, 160, 200, 240]
    views = {}
    for a, b in itertools.pairwise(cuts):
        state.apply_batch(LOG[a:b])
        views[b] = state.view()
    assert state.sizes() == [120, 160, 200, 240]
    keys = {k for e in LOG for k in e.key_ids} | {key_id("absent")}
    for size in (120, 160, 200, 240):
        view = state.view(size)
        root, lists = ref_index(as_tuples(LOG[:size]))
        assert view.root == root
        assert views[size].root == root
        for key in keys:
            got = verify_map_proof(root, key, view.map_proof(key))
            value = view.value(key)
            if key in lists:
                assert value is not None
                assert got == (value.size, value.posting_root)
                assert value.size == len(lists[key])
            else:
                assert got is None
                assert value is None
    for gone in (0, 40, 80, 100):
        with pytest.raises(NotFoundError):
            state.view(gone)
    with pytest.raises(NotFoundError):
        views[80].map_proof(K1)


def test_history_zero_holds_only_the_current_commit() -> None:
    state = IndexState(history=0)
    state.apply_batch(LOG[:50])
    state.apply_batch(LOG[50:90])
    assert state.sizes() == [90]
    with pytest.raises(NotFoundError):
        state.view(50)
    with pytest.raises(UsageError):
        IndexState(history=-1)


def test_rollback_then_continue() -> None:
    straight = _build(LOG, [0, 60, 120, 180, 240])
    state, store = IndexState(history=3), MemoryPostingStore()
    for a, b in [(0, 60), (60, 120)]:
        store.apply(state.apply_batch(LOG[a:b]))
    before = {k: state.view().value(k) for k in {k for e in LOG for k in e.key_ids}}
    state.apply_batch(LOG[120:180])  # its storage transaction "fails"
    state.apply_batch(LOG[180:200])
    state.rollback(120)
    assert (state.size, state.root, state.log_ts) == (120, straight[120], LOG[119].log_ts)
    assert state.sizes() == [60, 120]
    assert {k: state.view().value(k) for k in before} == before
    assert sorted(state.key_rows()) == sorted(store.key_rows())
    for a, b in [(120, 180), (180, 240)]:
        store.apply(state.apply_batch(LOG[a:b]))
        assert state.root == straight[b]
    assert state.sizes() == [60, 120, 180, 240]
    with pytest.raises(NotFoundError):
        state.rollback(0)
    state.rollback(state.size)  # a no-op
    assert state.root == straight[240]
