"""Storage that misbehaves behind the seam: every failure is a StoreError, never a crash."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from accord.errors import StoreError
from accord.index import (
    IndexState,
    MemoryPostingStore,
    PostingReaders,
    Window,
    prove_key,
    verify_key_proof,
)
from accord.index.postings import posting_root
from tests.unit.index.logs import T0, key_id, random_log

LOG = random_log(400, seed=11, pool=4, max_keys=2)
STATE, STORE = IndexState(), MemoryPostingStore()
STORE.apply(STATE.apply_batch(LOG))
KEY = key_id("k0")
SIZE = STORE.log_size(KEY)
WINDOW = Window(LOG[150].log_ts, LOG[160].log_ts)


def _readers(**overrides: object) -> PostingReaders:
    parts: dict[str, object] = {
        "postings": STORE.read_postings,
        "nodes": STORE.read_nodes,
        "locate": STORE.locate,
    }
    parts.update(overrides)
    return PostingReaders(**parts)  # type: ignore[arg-type]


def _short_postings(key: bytes, a: int, b: int) -> list[bytes]:
    return STORE.read_postings(key, a, b)[:-1]


def _few_nodes(key: bytes, ids: Sequence[tuple[int, int]]) -> list[bytes]:
    return STORE.read_nodes(key, ids)[:-1]


CASES = [
    ("postings read comes back short", {"postings": _short_postings}),
    ("nodes read comes back short", {"nodes": _few_nodes}),
    ("locator beyond the log", {"locate": lambda k, s, t: s + 1}),
    ("locator negative", {"locate": lambda k, s, t: -1}),
    ("locator not an int", {"locate": lambda k, s, t: "3"}),
    ("log_ts decreasing in storage", {"locate": lambda k, s, t: s - 1 if t <= WINDOW.start else 0}),
]


@pytest.mark.parametrize(("name", "overrides"), CASES, ids=[c[0] for c in CASES])
def test_bad_storage_is_a_store_error(name: str, overrides: dict[str, object]) -> None:
    assert SIZE > 40
    with pytest.raises(StoreError):
        prove_key(STATE.view(), KEY, WINDOW, _readers(**overrides))


def test_missing_nodes_are_a_store_error() -> None:
    empty = MemoryPostingStore()
    with pytest.raises(StoreError):
        posting_root(KEY, SIZE, STORE.read_postings, empty.read_nodes)
    with pytest.raises(StoreError):
        posting_root(KEY, SIZE, empty.read_postings, STORE.read_nodes)


def test_good_readers_prove() -> None:
    proof = prove_key(STATE.view(), KEY, WINDOW, _readers())
    answer = verify_key_proof(STATE.root, KEY, WINDOW, proof)
    expect = [e.seq for e in LOG if KEY in e.key_ids and WINDOW.start <= e.log_ts <= WINDOW.end]
    assert [p.seq for p in answer.postings] == expect
    assert expect
    assert LOG[0].log_ts >= T0
