"""The native kernel (accord.index.native): loaded under CI, forced off by the environment,
equal to the pure-Python code on long logs and at its depth limit, strict about inputs."""

from __future__ import annotations

import hashlib
import itertools
import os
import random
import subprocess
import sys
from array import array
from collections.abc import Callable

import pytest

from accord.index import IndexState, SparseMap, native
from accord.index.postings import STORED_LEVEL
from accord.index.smt import MAPVAL_PREFIX, NATIVE
from tests.unit.index.logs import random_log, random_partition
from tests.unit.index.snapshots import index_snapshot, map_snapshot, require_native


def test_native_kernel_is_loaded_under_ci() -> None:
    """A build that fails to compile the kernel must not pass CI on the Python code."""
    if os.environ.get("ACCORD_PURE_PYTHON"):
        pytest.skip("ACCORD_PURE_PYTHON is set")
    if not os.environ.get("CI"):
        if not NATIVE:
            pytest.skip("the native index kernel is not built here")
        return
    assert NATIVE, "CI is set but accord.index._kernel did not load (see hatch_build.py)"
    assert native.update is not None


def test_accord_pure_python_forces_the_python_code() -> None:
    code = "from accord.index import smt; print(smt.NATIVE)"
    env = {**os.environ, "ACCORD_PURE_PYTHON": "1"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split()[0] == "False"


def test_native_false_keeps_an_instance_on_python() -> None:
    require_native()
    assert IndexState()._native
    assert IndexState()._map._native
    pure = IndexState(native=False)
    assert not pure._native
    assert not pure._map._native
    assert not SparseMap(native=False)._native


@pytest.mark.parametrize("seed", range(3))
def test_long_logs_and_restore_equal_the_python_code(seed: int) -> None:
    """Skewed keys give posting logs of hundreds of postings (NodeRows at every level)."""
    require_native()
    log = random_log(700, seed=seed, pool=6, commit_every=23, max_keys=4)
    native_state, pure = IndexState(history=3), IndexState(history=3, native=False)
    levels = set()
    cuts = random_partition(len(log), random.Random(seed), max_batch=90)
    for a, b in itertools.pairwise(cuts):
        got = native_state.apply_batch(log[a:b])
        assert got == pure.apply_batch(log[a:b])
        levels.update(level for _, level, _, _ in got.nodes)
        assert index_snapshot(native_state) == index_snapshot(pure)
    assert {STORED_LEVEL, STORED_LEVEL + 2} <= levels
    rows = sorted(pure.key_rows())
    restored = IndexState.restore(pure.size, pure.log_ts, rows, history=2)
    restored_pure = IndexState.restore(pure.size, pure.log_ts, rows, history=2, native=False)
    assert index_snapshot(restored) == index_snapshot(restored_pure)
    assert restored.root == pure.root


# -- the depth limit: placement and hashing below depth 61 go to the Python code --------


def _pairs(bits: int, n: int) -> list[bytes]:
    """``n`` pairs of keys, the two of a pair sharing exactly their first ``bits`` bits:
    their leaves go to depth ``bits + 1``."""
    out = []
    for i in range(n):
        key = int.from_bytes(hashlib.sha256(b"pair/%d" % i).digest(), "big")
        out += [key.to_bytes(32, "big"), (key ^ (1 << (255 - bits))).to_bytes(32, "big")]
    return out


@pytest.fixture
def python_calls(monkeypatch: pytest.MonkeyPatch) -> dict[str, int]:
    """Counts the calls of the map's Python placement and hashing methods."""
    calls = {"_insert": 0, "_hash_leaves": 0, "_rehash": 0}
    for name in calls:
        original = getattr(SparseMap, name)

        def counted(
            self: SparseMap, *args: object, _name: str = name, _f: Callable[..., object] = original
        ) -> object:
            calls[_name] += 1
            return _f(self, *args)

        monkeypatch.setattr(SparseMap, name, counted)
    return calls


def _run_both(keys: list[bytes], history: int = 2) -> None:
    native_map, pure = SparseMap(history), SparseMap(history, native=False)
    rnd = random.Random(len(keys))
    for version in range(1, 6):
        batch = rnd.sample(keys, k=rnd.randint(1, len(keys)))
        pairs = [(k, hashlib.sha256(k + bytes([version])).digest()) for k in batch]
        assert native_map.update(pairs, version) == pure.update(pairs, version)
        assert map_snapshot(native_map) == map_snapshot(pure)
        for held in native_map.versions():
            for key in keys:
                assert native_map.path(key, held) == pure.path(key, held)


def _build(keys: list[bytes], native_: bool) -> SparseMap:
    tree = SparseMap(2, native=native_)
    for version, start in enumerate(range(0, len(keys), 7), start=1):
        tree.update([(k, k) for k in keys[start : start + 7]], version)
    return tree


NO_CALLS = {"_insert": 0, "_hash_leaves": 0, "_rehash": 0}


def test_ordinary_keys_never_leave_the_kernel(python_calls: dict[str, int]) -> None:
    require_native()
    keys = [hashlib.sha256(b"ordinary/%d" % i).digest() for i in range(300)]
    _build(keys, native_=True)
    assert python_calls == NO_CALLS
    _build(keys, native_=False)
    assert python_calls["_insert"] == len(keys)  # the counting sees the Python code
    _run_both(keys)


@pytest.mark.parametrize(
    ("bits", "falls_back"),
    [(59, False), (60, False), (61, True), (62, True), (90, True)],
)
def test_keys_sharing_long_prefixes(
    bits: int, falls_back: bool, python_calls: dict[str, int]
) -> None:
    """Keys sharing ``bits`` bits have leaves at depth ``bits + 1``: the kernel takes them
    up to depth 61 and hands deeper ones to SparseMap._insert and the Python hashing."""
    require_native()
    keys = _pairs(bits, 3) + [hashlib.sha256(b"other/%d" % i).digest() for i in range(20)]
    tree = _build(keys, native_=True)
    assert max(p.bit_length() - 1 for p in tree._keys.values()) == bits + 1
    if falls_back:
        assert python_calls["_insert"] > 0
        assert python_calls["_rehash"] > 0
    else:
        assert python_calls == NO_CALLS
    _run_both(keys)


# -- inputs the kernel refuses ----------------------------------------------------------


def test_update_refuses_malformed_pairs_and_changes_nothing() -> None:
    require_native()
    tree = SparseMap(2)
    tree.update([(hashlib.sha256(b"%d" % i).digest(), bytes(32)) for i in range(50)], 1)
    before = map_snapshot(tree)
    key = hashlib.sha256(b"new").digest()
    for pairs in ([(key, b"short")], [(key[:31], bytes(32))], [[key, bytes(32)]]):
        with pytest.raises(TypeError):
            native.update(
                pairs, tree._keys, tree._leaves, tree._dense, tree._nodes, tree._depth,
                {}, {}, array("Q"), bytearray(), tree._insert,
            )  # fmt: skip
        assert map_snapshot(tree) == before
    with pytest.raises(TypeError, match="array"):
        native.update(
            [], tree._keys, tree._leaves, tree._dense, tree._nodes, tree._depth,
            None, None, array("L"), None, tree._insert,
        )  # fmt: skip
    with pytest.raises(ValueError, match="dense"):
        native.update(
            [], tree._keys, tree._leaves, bytearray(64), tree._nodes, tree._depth + 1,
            None, None, array("Q"), None, tree._insert,
        )  # fmt: skip
    assert map_snapshot(tree) == before


def test_update_leaves_a_huge_map_to_python() -> None:
    """A dense depth of 57 or more (2**56 keys) is beyond the kernel: it does nothing."""
    require_native()
    got = native.update([], {}, {}, bytearray(64), {}, 57, None, None, array("Q"), None, print)
    assert got is None


def test_append_postings_refuses_a_malformed_head() -> None:
    require_native()
    state = IndexState()
    entry = random_log(1, seed=1, pool=1, max_keys=1)[0]
    key = hashlib.sha256(b"key").digest()
    heads = {key: (3).to_bytes(8, "big") + bytes(32)}  # size 3 needs 2 edge hashes
    with pytest.raises(ValueError, match="edge"):
        native.append_postings(
            {key: [entry]}, heads, None, [], [], [], [], STORED_LEVEL, MAPVAL_PREFIX
        )
    assert heads == {key: (3).to_bytes(8, "big") + bytes(32)}
    for group, error in (([object()], AttributeError), ((entry,), TypeError)):
        with pytest.raises(error):
            native.append_postings(
                {key: group}, {}, None, [], [], [], [], STORED_LEVEL, MAPVAL_PREFIX
            )
    assert state.size == 0
