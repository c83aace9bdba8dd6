"""SparseMap at a size where the dense levels grow during the history window."""

from __future__ import annotations

import hashlib
import random

import pytest

from accord.errors import NotFoundError, UsageError
from accord.index import EMPTY_NODE, SparseMap, smt
from tests.unit.index.reference import ref_path, ref_root
from tests.unit.index.snapshots import map_snapshot


def _k(i: int) -> bytes:
    return hashlib.sha256(b"k%d" % i).digest()


def _v(i: int, version: int) -> bytes:
    return hashlib.sha256(b"v%d/%d" % (i, version)).digest()


def test_history_across_growth_matches_reference() -> None:
    rnd = random.Random(4)
    tree = SparseMap(history=5)
    plain: dict[bytes, bytes] = {}
    snapshots: dict[int, dict[bytes, bytes]] = {0: {}}
    limits = set()
    total = 0
    for version in range(1, 10):
        new = [_k(i) for i in range(total, total + 60 * version)]
        total += len(new)
        old = rnd.sample(sorted(plain), k=min(len(plain), 40))
        batch = {k: _v(version, j) for j, k in enumerate(new + old)}
        plain.update(batch)
        assert tree.update(batch.items(), version) == ref_root(plain)
        snapshots[version] = dict(plain)
        limits.add(tree._limit)
    assert len(limits) > 3  # the dense levels grew inside the history window
    assert tree.versions() == [4, 5, 6, 7, 8, 9]
    probes = rnd.sample(sorted(plain), k=25) + [_k(10**6 + i) for i in range(10)]
    for version in tree.versions():
        snap = snapshots[version]
        assert tree.root_at(version) == ref_root(snap)
        for key in probes:
            assert tree.path(key, version) == ref_path(snap, key)
    with pytest.raises(NotFoundError):
        tree.root_at(3)


def test_update_checks_its_input() -> None:
    tree = SparseMap()
    good = (_k(1), _v(1, 1))
    for bad in [
        [(_k(1)[:31], _v(1, 1))],
        [(_k(1), _v(1, 1)[:31])],
        [(_k(1).hex(), _v(1, 1))],
        [good, good],
    ]:
        with pytest.raises(UsageError):
            tree.update(bad, 1)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        tree.update([good], 0)
    assert tree.root == EMPTY_NODE
    assert tree.update([good], 1) == ref_root(dict([good]))
    with pytest.raises(UsageError):
        tree.update([], 1)
    with pytest.raises(UsageError):
        tree.path(b"short")
    with pytest.raises(UsageError):
        SparseMap(history=-1)


def test_build_equals_incremental() -> None:
    items = [(_k(i), _v(i, 0)) for i in range(500)]
    built = SparseMap.build(items, 7, history=2)
    assert built.root == ref_root(dict(items))
    assert built.versions() == [7]
    assert len(built) == 500
    assert _k(3) in built
    assert built.position(_k(3)) is not None
    assert built.position(_k(10**6)) is None


@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 7, 8, 100, 1_000, 5_000])
def test_build_reserves_the_dense_levels_of_the_grown_map(n: int, native: bool) -> None:
    """A bulk build sizes the dense levels up front (restart's memory at 10M records); the
    map is the one a single update into an empty map grows into, field by field, and
    later updates and rollbacks give the same results."""
    items = [(_k(i), _v(i, 0)) for i in range(n)]
    grown = SparseMap(history=0, version=6, native=native)
    if items:
        grown.update(items, 7)
    else:
        grown._version = 7
    grown._history = 3
    built = SparseMap.build(items, 7, history=3, native=native)
    assert map_snapshot(built) == map_snapshot(grown)
    more = [(_k(i), _v(i, 1)) for i in range(n // 2, n + 300)]
    assert built.update(more, 8) == grown.update(more, 8) == ref_root(dict(items + more))
    assert map_snapshot(built) == map_snapshot(grown)
    built.rollback(7)
    assert built.root == ref_root(dict(items))


@pytest.mark.parametrize("native", [True, False], ids=["native", "python"])
@pytest.mark.parametrize("n", [0, 6, 7, 8, 50, 701])
def test_a_streamed_build_is_the_same_map(
    n: int, native: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An iterator is built a chunk at a time (restart's bounded memory): the root, every
    key's path and later updates are those of the one-update build; a key repeated in a
    later chunk is refused."""
    monkeypatch.setattr(smt, "BUILD_CHUNK", 7)
    items = [(_k(i), _v(i, 0)) for i in range(n)]
    streamed = SparseMap.build(iter(items), 9, history=2, native=native)
    built = SparseMap.build(items, 9, history=2, native=native)
    assert streamed.root == built.root == ref_root(dict(items))
    assert streamed.versions() == [9]
    assert len(streamed) == n
    for key, _ in items[:40]:
        assert streamed.path(key) == built.path(key)
    more = [(_k(i), _v(i, 1)) for i in range(n // 2, n + 20)]
    assert streamed.update(more, 10) == built.update(more, 10)
    streamed.rollback(9)
    assert streamed.root == ref_root(dict(items))
    if n > 7:
        with pytest.raises(UsageError, match="twice"):
            SparseMap.build(iter([*items, items[0]]), 9, native=native)


def test_only_an_empty_map_is_reserved() -> None:
    tree = SparseMap()
    tree.update([(_k(1), _v(1, 0))], 1)
    with pytest.raises(UsageError, match="empty"):
        tree._reserve(10)


def test_rollback_restores_every_held_version() -> None:
    rnd = random.Random(8)
    for target_back in range(1, 5):
        tree = SparseMap(history=4)
        plain: dict[bytes, bytes] = {}
        snapshots = {0: {}}
        total = 0
        for version in range(1, 7):
            new = [_k(i) for i in range(total, total + 40 * version)]
            total += len(new)
            batch = {
                k: _v(version, j)
                for j, k in enumerate(new + rnd.sample(sorted(plain), k=min(len(plain), 30)))
            }
            plain.update(batch)
            tree.update(batch.items(), version)
            snapshots[version] = dict(plain)
        target = 6 - target_back
        tree.rollback(target)
        snap = snapshots[target]
        assert tree.version == target
        assert tree.versions() == list(range(2, target + 1))
        assert len(tree) == len(snap)
        assert tree.root == ref_root(snap)
        for key in rnd.sample(sorted(snapshots[6]), k=20):
            assert tree.path(key) == ref_path(snap, key)
            assert (key in tree) == (key in snap)
        # The map goes on from there exactly as if the undone updates never happened.
        extra = {_k(10**5 + i): _v(99, i) for i in range(50)}
        extra[next(iter(snap))] = _v(98, 0)
        snap = {**snap, **extra}
        assert tree.update(extra.items(), 7) == ref_root(snap)
    with pytest.raises(NotFoundError):
        tree.rollback(1)
