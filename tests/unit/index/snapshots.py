"""Whole-state snapshots of an IndexState or SparseMap, for comparing the native kernel's
states with the pure-Python code's (tests only).

A snapshot holds every container the two implementations write, including the undo
records, in a form where equal means "behaves the same": dicts compare regardless of
insertion order and the dense undo log as a mapping from position to old slot (its order
follows set iteration in the Python code, so it may differ; nothing reads the order).
"""

from __future__ import annotations

import os
from typing import Any

import pytest

from accord.index import IndexState, SparseMap
from accord.index.smt import NATIVE

__all__ = ["index_snapshot", "map_snapshot", "require_native"]


def require_native() -> None:
    """Skip a test that compares against the kernel when it is not loaded; under CI fail
    instead (unless ACCORD_PURE_PYTHON asks for the Python code), so that a broken build
    cannot turn the comparisons into pure-Python-against-itself."""
    if NATIVE:
        return
    reason = "the native index kernel is not loaded (not built, or ACCORD_PURE_PYTHON is set)"
    if os.environ.get("CI") and not os.environ.get("ACCORD_PURE_PYTHON"):
        pytest.fail(f"{reason}; CI is set, so it must be")
    pytest.skip(reason)


def _undo(u: Any) -> tuple[Any, ...]:
    positions = list(u.dense_positions)
    assert len(u.dense_old) == 32 * len(positions)
    dense = {p: bytes(u.dense_old[32 * i : 32 * i + 32]) for i, p in enumerate(positions)}
    assert len(dense) == len(positions), "a position logged twice in one update"
    return (u.version, u.previous, dict(u.nodes), dict(u.leaves), dense, list(u.new_keys))


def map_snapshot(tree: SparseMap) -> tuple[Any, ...]:
    """Every field of the map, undo records included."""
    for name, value in [("nodes", tree._nodes), ("leaves", tree._leaves)]:
        assert all(type(p) is int for p in value), f"{name} keyed by a non-int"
    assert all(type(h) is bytes and len(h) == 32 for h in tree._nodes.values())
    assert all(type(p) is int for p in tree._keys.values())
    return (
        bytes(tree._dense),
        tree._depth,
        tree._limit,
        dict(tree._nodes),
        dict(tree._leaves),
        dict(tree._keys),
        tree._version,
        tree._history,
        [_undo(u) for u in tree._undo],
    )


def index_snapshot(state: IndexState) -> tuple[Any, ...]:
    """Every field of the index state, its map's included."""
    assert all(type(b) is bytes for b in state._heads.values())
    heads_undo = [(u.version, u.previous, u.previous_log_ts, dict(u.heads)) for u in state._undo]
    return (
        dict(state._heads),
        state._size,
        state._log_ts,
        state._history,
        heads_undo,
        map_snapshot(state._map),
    )
