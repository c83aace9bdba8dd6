"""Per-key query proofs: windows, pages, whole logs, absent keys; differential and adversarial."""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence
from dataclasses import replace

import pytest

from accord.errors import (
    BadProofError,
    MalformedError,
    RootMismatchError,
    UsageError,
    VerificationError,
)
from accord.index import (
    EMPTY_NODE,
    IndexEntry,
    IndexState,
    KeyProof,
    MapLeaf,
    MapProof,
    MapValue,
    MemoryPostingStore,
    Page,
    Posting,
    Query,
    Window,
    parse_key_proof,
    prove_key,
    verify_key_proof,
)
from accord.index.postings import PostingReaders
from tests.unit.index.logs import T0 as T
from tests.unit.index.logs import key_id, random_log

K = key_id("patient")
OTHER = key_id("other")
ABSENT = key_id("absent")
#: log_ts of K's postings: runs of equal times, a gap, the log's start and end.
K_TIMES = [10, 20, 20, 20, 30, 40, 40, 50]


def _fixture() -> tuple[IndexState, MemoryPostingStore, list[Posting]]:
    """A log where K has postings at K_TIMES, interleaved with OTHER and keyless entries."""
    entries = []
    seq = 0
    for ts in K_TIMES:
        for keys in [(OTHER,), tuple(sorted((K, OTHER))), ()]:
            evh = hashlib.sha256(b"e%d" % seq).digest()
            entries.append(IndexEntry(seq, ts, evh, keys))
            seq += 1
    state, store = IndexState(), MemoryPostingStore()
    for a in range(0, len(entries), 7):
        store.apply(state.apply_batch(entries[a : a + 7]))
    postings = [Posting(e.seq, e.log_ts, e.leaf_hash) for e in entries if K in e.key_ids]
    return state, store, postings


STATE, STORE, K_POSTINGS = _fixture()
ROOT = STATE.root


def _prove(key: bytes, query: Query, store: MemoryPostingStore = STORE) -> KeyProof:
    return prove_key(STATE.view(), key, query, store.readers())


WINDOWS = [
    # (name, window, expected matching indices, expected proof start, expected proof length)
    ("hits nothing between postings", (21, 29), [], 3, 2),
    ("before the log", (0, 5), [], 0, 1),
    ("after the log", (60, 70), [], 7, 1),
    ("everything", (0, 100), list(range(8)), 0, 8),
    ("exactly the log's span", (10, 50), list(range(8)), 0, 8),
    ("one posting", (30, 30), [4], 3, 3),
    ("log start", (10, 10), [0], 0, 2),
    ("log end", (50, 50), [7], 6, 2),
    ("equal log_ts run", (20, 20), [1, 2, 3], 0, 5),
    ("run to a gap", (20, 35), [1, 2, 3, 4], 0, 6),
    ("ends inside a run", (35, 40), [5, 6], 4, 4),
    ("empty in the middle", (41, 49), [], 6, 2),
]


@pytest.mark.parametrize(
    ("name", "window", "matches", "start", "length"), WINDOWS, ids=[w[0] for w in WINDOWS]
)
def test_windows(
    name: str, window: tuple[int, int], matches: list[int], start: int, length: int
) -> None:
    query = Window(*window)
    proof = _prove(K, query)
    assert (proof.start, len(proof.postings)) == (start, length)
    assert len(proof.postings) <= len(matches) + 2
    answer = verify_key_proof(ROOT, K, query, proof)
    assert list(answer.postings) == [K_POSTINGS[i] for i in matches]
    if matches:
        assert answer.start == matches[0]
    assert answer.value is not None
    assert answer.value.size == len(K_TIMES)
    assert parse_key_proof(proof.format()) == proof
    if (start, length) == (0, len(K_TIMES)):
        assert proof.range_proof == ()


PAGES = [
    ((0, 3), [0, 1, 2]),
    ((3, 8), [3, 4, 5, 6, 7]),
    ((6, 100), [6, 7]),
    ((8, 9), []),
    ((2, 2), []),
]


@pytest.mark.parametrize(("page", "matches"), PAGES, ids=[str(p) for p, _ in PAGES])
def test_pages(page: tuple[int, int], matches: list[int]) -> None:
    query = Page(*page)
    proof = _prove(K, query)
    answer = verify_key_proof(ROOT, K, query, proof)
    assert list(answer.postings) == [K_POSTINGS[i] for i in matches]
    assert answer.start == page[0]


def test_pages_tile_the_log() -> None:
    seen: list[Posting] = []
    for a in range(0, 8, 3):
        seen += verify_key_proof(ROOT, K, Page(a, a + 3), _prove(K, Page(a, a + 3))).postings
    assert seen == K_POSTINGS


def test_whole_log() -> None:
    proof = _prove(K, None)
    assert proof.range_proof == ()
    assert list(verify_key_proof(ROOT, K, None, proof).postings) == K_POSTINGS


@pytest.mark.parametrize("query", [None, Window(0, 100), Page(0, 5)], ids=["all", "window", "page"])
def test_absent_key(query: Query) -> None:
    proof = _prove(ABSENT, query)
    assert proof.map_proof.leaf is None or proof.map_proof.leaf.key_id != ABSENT
    assert (proof.start, proof.postings, proof.range_proof) == (0, (), ())
    answer = verify_key_proof(ROOT, ABSENT, query, proof)
    assert (answer.value, answer.start, answer.postings) == (None, 0, ())


def test_query_values_are_checked() -> None:
    with pytest.raises(UsageError):
        Window(5, 4)
    with pytest.raises(UsageError):
        Page(3, 2)
    with pytest.raises(UsageError):
        Window(-1, 4)
    with pytest.raises(UsageError):
        prove_key(STATE.view(), K, (1, 2), STORE.readers())  # type: ignore[arg-type]


def test_locator_fallback_gives_the_same_proof() -> None:
    bare = PostingReaders(STORE.read_postings, STORE.read_nodes)
    for _, window, *_ in WINDOWS:
        q = Window(*window)
        assert prove_key(STATE.view(), K, q, bare) == _prove(K, q)


@pytest.mark.parametrize("seed", range(4))
def test_differential_against_brute_force(seed: int) -> None:
    log = random_log(300, seed=seed, pool=9, commit_every=11)
    state, store = IndexState(), MemoryPostingStore()
    for a in range(0, len(log), 37):
        store.apply(state.apply_batch(log[a : a + 37]))
    rnd = random.Random(seed)
    lo_ts, hi_ts = log[0].log_ts, log[-1].log_ts
    for name in [f"k{i}" for i in range(9)] + ["nobody"]:
        key = key_id(name)
        pl = [Posting(e.seq, e.log_ts, e.leaf_hash) for e in log if key in e.key_ids]
        for _ in range(12):
            t1 = rnd.randint(lo_ts - 10, hi_ts + 10)
            t2 = rnd.randint(t1, hi_ts + 20)
            proof = prove_key(state.view(), key, Window(t1, t2), store.readers())
            got = verify_key_proof(state.root, key, Window(t1, t2), proof)
            assert list(got.postings) == [p for p in pl if t1 <= p.log_ts <= t2]
            assert len(proof.postings) <= len(got.postings) + 2
            a = rnd.randint(0, len(pl) + 2)
            page = Page(a, a + rnd.randint(0, 6))
            got = verify_key_proof(
                state.root, key, page, prove_key(state.view(), key, page, store.readers())
            )
            assert list(got.postings) == pl[page.start : page.end]


def test_proofs_at_a_past_commit_survive_later_batches() -> None:
    log = random_log(200, seed=5, pool=6)
    state, store = IndexState(history=4), MemoryPostingStore()
    store.apply(state.apply_batch(log[:100]))
    old_root = state.root
    store.apply(state.apply_batch(log[100:150]))
    store.apply(state.apply_batch(log[150:]))
    key = key_id("k0")
    old = [Posting(e.seq, e.log_ts, e.leaf_hash) for e in log[:100] if key in e.key_ids]
    window = Window(log[10].log_ts, log[80].log_ts)
    proof = prove_key(state.view(100), key, window, store.readers())
    got = verify_key_proof(old_root, key, window, proof)
    assert list(got.postings) == [p for p in old if window.start <= p.log_ts <= window.end]
    with pytest.raises(VerificationError):
        verify_key_proof(state.root, key, window, proof)


# -- adversarial: every mutation is refused --------------------------------------------

W = Window(30, 40)  # matches K_POSTINGS[4..6]; boundaries [3] and [7]
GOOD = _prove(K, W)
OTHER_PROOF = _prove(OTHER, None)
ABSENT_PROOF = _prove(ABSENT, None)
Mutation = Callable[[KeyProof], tuple[Query, KeyProof]]


def _postings(proof: KeyProof, postings: list[Posting], shift: int = 0) -> KeyProof:
    return replace(proof, postings=tuple(postings), start=proof.start + shift)


def _move(p: Posting, log_ts: int) -> Posting:
    return Posting(p.seq, log_ts, p.event_hash)


def _leaf_value(proof: KeyProof, value: MapValue) -> KeyProof:
    leaf = proof.map_proof.leaf
    assert leaf is not None
    return replace(proof, map_proof=MapProof(proof.map_proof.siblings, MapLeaf(leaf.key_id, value)))


def _other_value() -> MapValue:
    leaf = OTHER_PROOF.map_proof.leaf
    assert leaf is not None
    assert leaf.value is not None
    return leaf.value


P = list(GOOD.postings)  # [3] 20, [4] 30, [5] 40, [6] 40, [7] 50
MUTATIONS: list[tuple[str, Mutation, type[VerificationError]]] = [
    ("drop a result", lambda p: (W, _postings(p, P[:2] + P[3:])), BadProofError),
    ("drop the left boundary", lambda p: (W, _postings(p, P[1:], 1)), BadProofError),
    ("drop the left boundary, keep start", lambda p: (W, _postings(p, P[1:])), BadProofError),
    ("drop the right boundary", lambda p: (W, _postings(p, P[:-1])), BadProofError),
    ("drop both boundaries", lambda p: (W, _postings(p, P[1:-1], 1)), BadProofError),
    ("drop every posting", lambda p: (W, _postings(p, [])), BadProofError),
    (
        "extra boundary on the left",
        lambda p: (W, _postings(p, [K_POSTINGS[2], *P], -1)),
        BadProofError,
    ),
    ("reorder two results", lambda p: (W, _postings(p, [P[0], P[2], P[1], *P[3:]])), BadProofError),
    ("duplicate a result", lambda p: (W, _postings(p, [*P[:2], P[1], *P[2:]])), BadProofError),
    (
        "move a result out of the window",
        lambda p: (W, _postings(p, [P[0], _move(P[1], 45), *P[2:]])),
        BadProofError,
    ),
    (
        "move a boundary into the window",
        lambda p: (W, _postings(p, [_move(P[0], 30), *P[1:]])),
        BadProofError,
    ),
    ("widen the window over a boundary", lambda p: (Window(20, 40), p), BadProofError),
    ("narrow the window off a result", lambda p: (Window(30, 39), p), BadProofError),
    ("shift the window to the right", lambda p: (Window(40, 55), p), BadProofError),
    ("start off by one", lambda p: (W, replace(p, start=p.start + 1)), BadProofError),
    (
        "start before the log",
        lambda p: (W, replace(p, start=max(0, p.start - 3))),
        RootMismatchError,
    ),
    (
        "extra range hash",
        lambda p: (W, replace(p, range_proof=(*p.range_proof, EMPTY_NODE))),
        BadProofError,
    ),
    (
        "missing range hash",
        lambda p: (W, replace(p, range_proof=p.range_proof[:-1])),
        BadProofError,
    ),
    ("other key's posting root", lambda p: (W, _leaf_value(p, _other_value())), RootMismatchError),
    (
        "smaller posting size",
        lambda p: (W, _leaf_value(p, MapValue(7, _other_value().posting_root))),
        RootMismatchError,
    ),
    (
        "other key's map proof",
        lambda p: (W, replace(p, map_proof=OTHER_PROOF.map_proof)),
        BadProofError,
    ),
    (
        "fake non-membership: empty slot",
        lambda p: (W, KeyProof(MapProof(p.map_proof.siblings, None), 0, (), ())),
        RootMismatchError,
    ),
    ("fake non-membership: absent key's proof", lambda p: (W, ABSENT_PROOF), VerificationError),
    ("whole-log query on a window proof", lambda p: (None, p), BadProofError),
    ("page query on a window proof", lambda p: (Page(2, 7), p), BadProofError),
    (
        "alter a result's log_ts inside the window",
        lambda p: (W, _postings(p, [P[0], _move(P[1], 35), *P[2:]])),
        RootMismatchError,
    ),
]


@pytest.mark.parametrize(("name", "mutate", "error"), MUTATIONS, ids=[m[0] for m in MUTATIONS])
def test_mutation_is_refused(name: str, mutate: Mutation, error: type[VerificationError]) -> None:
    assert verify_key_proof(ROOT, K, W, GOOD).postings == tuple(P[1:4])
    query, bad = mutate(GOOD)
    with pytest.raises(error):
        verify_key_proof(ROOT, K, query, bad)


def _flip(data: bytes, bit: int) -> bytes:
    out = bytearray(data)
    out[bit // 8] ^= 1 << (bit % 8)
    return bytes(out)


def test_every_single_bit_flip_is_refused() -> None:
    proof = GOOD
    variants: list[KeyProof] = []
    for i, p in enumerate(proof.postings):
        raw = p.to_bytes()
        for bit in range(8 * len(raw)):
            postings = list(proof.postings)
            postings[i] = Posting.from_bytes(_flip(raw, bit))
            variants.append(replace(proof, postings=tuple(postings)))
    for i, h in enumerate(proof.range_proof):
        for bit in range(256):
            rp = list(proof.range_proof)
            rp[i] = _flip(h, bit)
            variants.append(replace(proof, range_proof=tuple(rp)))
    mp = proof.map_proof
    for i, h in enumerate(mp.siblings):
        for bit in range(256):
            sibs = list(mp.siblings)
            sibs[i] = _flip(h, bit)
            variants.append(replace(proof, map_proof=MapProof(tuple(sibs), mp.leaf)))
    assert mp.leaf is not None
    assert mp.leaf.value is not None
    value = mp.leaf.value
    for bit in range(256):
        variants.append(_leaf_value(proof, MapValue(value.size, _flip(value.posting_root, bit))))
        key = _flip(mp.leaf.key_id, bit)
        variants.append(replace(proof, map_proof=MapProof(mp.siblings, MapLeaf(key, value))))
    for bit in range(8):
        if value.size ^ (1 << bit):
            variants.append(
                _leaf_value(proof, MapValue(value.size ^ (1 << bit), value.posting_root))
            )
        variants.append(replace(proof, start=proof.start ^ (1 << bit)))
    assert len(variants) > 5 * 384
    for bad in variants:
        with pytest.raises(VerificationError):
            verify_key_proof(ROOT, K, W, bad)


BAD_JSON = [
    ("not an object", "[]"),
    ("missing map", '{"start":0,"postings":[],"range_proof":[]}'),
    ("extra field", None),
    ("start negative", None),
    ("start as string", None),
    ("posting too short", None),
    ("range hash uppercase", None),
    ("zero sibling spelled out", None),
    ("duplicate key", '{"start":0,"start":0}'),
]


def _bad_json(name: str, text: str | None) -> str:
    if text is not None:
        return text
    good = GOOD.format()
    obj = GOOD.to_json()
    if name == "extra field":
        obj["extra"] = 1
    elif name == "start negative":
        obj["start"] = -1
    elif name == "start as string":
        obj["start"] = "3"
    elif name == "posting too short":
        obj["postings"][0] = obj["postings"][0][:-2]
    elif name == "range hash uppercase":
        obj["range_proof"][0] = obj["range_proof"][0].upper()
    elif name == "zero sibling spelled out":
        obj["map"]["siblings"][0] = "00" * 32
    import json

    text = json.dumps(obj)
    assert text != good
    return text


@pytest.mark.parametrize(("name", "text"), BAD_JSON, ids=[b[0] for b in BAD_JSON])
def test_parse_key_proof_refuses(name: str, text: str | None) -> None:
    with pytest.raises(MalformedError):
        parse_key_proof(_bad_json(name, text))


def test_a_query_costs_few_reads() -> None:
    """Two locates, at most two postings reads (the run with 15 beside it, the log's tail)
    and one nodes read, however long the posting log."""
    log = [IndexEntry(i, T + i // 3, hashlib.sha256(b"%d" % i).digest(), (K,)) for i in range(300)]
    state, store = IndexState(), MemoryPostingStore()
    store.apply(state.apply_batch(log))
    calls: dict[str, list[tuple[int, int]]] = {"postings": [], "nodes": [], "locate": []}

    def postings(key: bytes, a: int, b: int) -> list[bytes]:
        calls["postings"].append((a, b))
        return store.read_postings(key, a, b)

    def nodes(key: bytes, ids: Sequence[tuple[int, int]]) -> list[bytes]:
        calls["nodes"].append((len(ids), 0))
        return store.read_nodes(key, ids)

    def locate(key: bytes, size: int, ts: int) -> int:
        calls["locate"].append((size, ts))
        return store.locate(key, size, ts)

    readers = PostingReaders(postings, nodes, locate)
    window = Window(T + 40, T + 45)
    proof = prove_key(state.view(), K, window, readers)
    got = verify_key_proof(state.root, K, window, proof)
    assert [p.seq for p in got.postings] == list(range(120, 138))
    assert len(calls["locate"]) == 2
    assert len(calls["postings"]) == 2
    assert calls["postings"][0] == (119 - 15, 139 + 15)
    assert len(calls["nodes"]) == 1
