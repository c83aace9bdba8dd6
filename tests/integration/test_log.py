"""accord.log.Log on both backends (the same tests run on SQLite and PostgreSQL)."""

from __future__ import annotations

import base64
import random
import threading
from collections.abc import Iterator

import pytest

from accord.errors import ConflictError, NotFoundError, StoreError, UsageError
from accord.log import Log
from accord.merkle import (
    EMPTY_ROOT,
    MemoryTree,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
    verify_range,
)
from accord.store import Database, Step, Tx

ORIGIN = "accord.example/test/org-a"
BATCH_SIZES = [1, 255, 256, 257, 1000, 1, 2, 511, 3000, 7]


def _entries(rng: random.Random, n: int) -> list[bytes]:
    return [rng.randbytes(rng.randrange(0, 64)) for _ in range(n)]


@pytest.fixture
def log(db_url: str) -> Iterator[Log]:
    with Log.open(db_url, origin=ORIGIN) as opened:
        yield opened


@pytest.fixture
def filled(log: Log) -> tuple[Log, MemoryTree, list[bytes]]:
    rng = random.Random(42)
    mem, everything = MemoryTree(), []
    for n in BATCH_SIZES:
        batch = _entries(rng, n)
        assert log.append_batch(batch) == mem.size
        everything.extend(batch)
        mem.extend(leaf_hash(e) for e in batch)
    return log, mem, everything


def test_new_log_is_empty(log: Log) -> None:
    assert log.origin == ORIGIN
    assert log.size == 0
    assert log.root_hash() == EMPTY_ROOT
    assert log.entries(0, 0) == []
    assert log.latest_checkpoint() is None
    assert log.db.dialect in ("sqlite", "postgresql")


def test_roots_at_every_past_size(filled: tuple[Log, MemoryTree, list[bytes]]) -> None:
    log, mem, _ = filled
    assert log.size == mem.size == sum(BATCH_SIZES)
    for size in range(mem.size + 1):
        assert log.root_hash(size) == mem.root(size), size


def test_entries_and_leaf_hashes(filled: tuple[Log, MemoryTree, list[bytes]]) -> None:
    log, mem, everything = filled
    assert log.entries(0, len(everything)) == everything
    rng = random.Random(1)
    for _ in range(50):
        start = rng.randrange(len(everything))
        end = rng.randrange(start, len(everything) + 1)
        assert log.entries(start, end) == everything[start:end]
        assert log.leaf_hashes(start, end) == mem.leaf_hashes(start, end)
    for index in (0, 255, 256, 1768, len(everything) - 1):
        assert log.entry(index) == everything[index]


def test_proofs_at_random_past_sizes(filled: tuple[Log, MemoryTree, list[bytes]]) -> None:
    log, mem, _ = filled
    rng = random.Random(7)
    for _ in range(300):
        size = rng.randint(1, mem.size)
        root = log.root_hash(size)
        index = rng.randrange(size)
        proof = log.inclusion_proof(index, size)
        assert proof == mem.inclusion_proof(index, size)
        verify_inclusion(index, size, mem.leaf_hashes(index, index + 1)[0], proof, root)

        size1 = rng.randint(1, size)
        cproof = log.consistency_proof(size1, size)
        assert cproof == mem.consistency_proof(size1, size)
        verify_consistency(size1, size, cproof, log.root_hash(size1), root)

        start = rng.randrange(size)
        end = rng.randint(start, min(size, start + 600))
        rproof = log.range_proof(start, end, size)
        assert rproof == mem.range_proof(start, end, size)
        verify_range(start, end, size, log.leaf_hashes(start, end), rproof, root)


def test_read_nodes_is_a_node_reader(filled: tuple[Log, MemoryTree, list[bytes]]) -> None:
    log, mem, _ = filled
    ids = [(0, 0), (8, 0), (8, 19), (3, 100), (12, 0), (5, 0)]
    assert log.read_nodes(ids) == mem.read_nodes(ids)
    with pytest.raises(UsageError):
        log.read_nodes([(0, mem.size)])
    with pytest.raises(UsageError):
        log.read_nodes([(13, 0)])  # 8192 leaves > size 5290


def test_reopen_and_continue(db_url: str) -> None:
    rng = random.Random(3)
    mem = MemoryTree()
    for round_ in range(3):
        with Log.open(db_url, origin=ORIGIN if round_ == 0 else None) as log:
            assert log.size == mem.size
            assert log.root_hash() == mem.root()
            for n in (300, 1, 256):
                batch = _entries(rng, n)
                log.append_batch(batch)
                mem.extend(leaf_hash(e) for e in batch)
            assert log.root_hash() == mem.root()
    with Log.open(db_url, origin=ORIGIN) as log:
        for size in range(1, mem.size + 1, 37):
            assert log.root_hash(size) == mem.root(size)


def test_origin_rules(db_url: str) -> None:
    with pytest.raises(UsageError):
        Log.open(db_url)  # no log yet, no origin to create one
    with pytest.raises(UsageError):
        Log.open(db_url, origin="bad\norigin")
    with Log.open(db_url, origin=ORIGIN):
        pass
    with pytest.raises(UsageError):
        Log.open(db_url, origin="accord.example/test/other")
    with Log.open(db_url) as log:
        assert log.origin == ORIGIN


def test_two_writers_one_wins(db_url: str) -> None:
    with Log.open(db_url, origin=ORIGIN) as a, Log.open(db_url) as b:
        a.append_batch([b"a0", b"a1"])
        assert b.append_batch([b"b0"]) == 2  # b loads the head when it first appends
        with pytest.raises(ConflictError) as info:
            a.append_batch([b"a2", b"a3"])  # a's head (2) is stale: b moved it to 3
        assert info.value.size == 3
        assert a.size == b.size == 3
        assert a.entries(0, 3) == [b"a0", b"a1", b"b0"]
        # After the conflict, a reloads and appends after b's entry; now b is stale.
        assert a.append_batch([b"a2", b"a3"]) == 3
        with pytest.raises(ConflictError) as info:
            b.append_batch([b"b1"])
        assert info.value.size == 5
        assert b.append_batch([b"b1"]) == 5
        data = [b"a0", b"a1", b"b0", b"a2", b"a3", b"b1"]
        assert a.entries(0, 6) == b.entries(0, 6) == data
        assert a.root_hash() == b.root_hash() == MemoryTree.from_data(data).root()


def test_racing_writers_never_share_an_index(db_url: str) -> None:
    """Writers in threads race for the head: every batch lands whole, exactly once."""
    with Log.open(db_url, origin=ORIGIN):
        pass
    logs = [Log.open(db_url) for _ in range(3)]
    won: list[tuple[int, list[bytes]]] = []
    lock = threading.Lock()

    def write(k: int, log: Log) -> None:
        for i in range(15):
            batch = [f"w{k}-{i}-{j}".encode() for j in range(1 + (i * 37 + k) % 300)]
            while True:
                try:
                    first = log.append_batch(batch)
                except ConflictError:
                    continue
                with lock:
                    won.append((first, batch))
                break

    threads = [threading.Thread(target=write, args=(k, lg)) for k, lg in enumerate(logs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log = logs[0]
    expected: list[bytes] = []
    for first, batch in sorted(won):
        assert first == len(expected)
        expected.extend(batch)
    assert len(won) == 45
    assert log.size == len(expected)
    assert log.entries(0, len(expected)) == expected
    assert log.root_hash() == MemoryTree.from_data(expected).root()
    for lg in logs:
        lg.close()


HOOK_STEPS = (Step("0001-hook", ("CREATE TABLE hook_rows (first_index INTEGER PRIMARY KEY)",)),)


def test_also_hook_commits_and_rolls_back_with_the_batch(log: Log) -> None:
    log.db.migrate("hooktest", HOOK_STEPS)

    def record(tx: Tx, first: int) -> None:
        tx.execute("INSERT INTO hook_rows (first_index) VALUES (?)", (first,))

    def record_then_fail(tx: Tx, first: int) -> None:
        record(tx, first)
        raise RuntimeError("caller failed")

    assert log.append_batch([b"x"] * 10, also=record) == 0
    with pytest.raises(RuntimeError):
        log.append_batch([b"y"] * 300, also=record_then_fail)
    assert log.size == 10
    assert log.db.fetchall("SELECT first_index FROM hook_rows") == [(0,)]
    # Nothing of the failed batch is left: the next batch takes its place.
    assert log.append_batch([b"z"] * 3, also=record) == 10
    assert log.entries(0, 13) == [b"x"] * 10 + [b"z"] * 3
    assert log.root_hash() == MemoryTree.from_data([b"x"] * 10 + [b"z"] * 3).root()
    assert log.db.fetchall("SELECT first_index FROM hook_rows ORDER BY first_index") == [
        (0,),
        (10,),
    ]


def test_hook_store_error_rolls_back(log: Log) -> None:
    def bad_sql(tx: Tx, first: int) -> None:
        tx.execute("INSERT INTO no_such_table VALUES (?)", (first,))

    log.append_batch([b"a"])
    with pytest.raises(StoreError):
        log.append_batch([b"b", b"c"], also=bad_sql)
    assert log.size == 1
    assert log.append_batch([b"d"]) == 1
    assert log.entries(0, 2) == [b"a", b"d"]


def _sign(text: str) -> str:
    return text + "\n— test " + base64.b64encode(text.encode()[:8]).decode() + "\n"


def test_checkpoints(log: Log) -> None:
    log.append_batch([b"e%d" % i for i in range(300)])
    text = log.checkpoint_text()
    root = base64.b64encode(MemoryTree.from_data([b"e%d" % i for i in range(300)]).root())
    assert text == f"{ORIGIN}\n300\n{root.decode()}\n"
    note = log.sign_checkpoint(_sign)
    assert note.startswith(text + "\n")
    assert log.checkpoint(300) == note
    assert log.checkpoint(299) is None
    older = log.sign_checkpoint(_sign, 17)
    assert older.startswith(log.checkpoint_text(17))
    assert log.latest_checkpoint() == (300, note)
    with pytest.raises(UsageError):
        log.sign_checkpoint(lambda t: t)  # not a signed note
    with pytest.raises(UsageError):
        log.sign_checkpoint(_sign, 301)
    assert log.checkpoint_text(0) == f"{ORIGIN}\n0\n{base64.b64encode(EMPTY_ROOT).decode()}\n"


def test_checkpoint_notes_gain_signatures(log: Log) -> None:
    log.append_batch([b"e%d" % i for i in range(5)])
    note = log.sign_checkpoint(_sign)
    cosigned = note + "\u2014 witness AAAAAAAAAAAAAAAA\n"
    log.put_checkpoint(5, cosigned)
    assert log.checkpoint(5) == cosigned
    assert log.latest_checkpoint() == (5, cosigned)
    # Each refusal names its mutation; nothing is stored on refusal.
    other = log.checkpoint_text(4)
    refusals = {
        "another checkpoint's text": (5, other + "\n\u2014 test AAAA\n", UsageError),
        "the log's signature dropped": (
            5,
            note.split("\n\n")[0] + "\n\n\u2014 w AAAA\n",
            UsageError,
        ),
        "not a signed note": (5, note.split("\n\n")[0] + "\n", UsageError),
        "no checkpoint at that size": (
            4,
            log.checkpoint_text(4) + "\n\u2014 t AAAA\n",
            NotFoundError,
        ),
    }
    for mutation, (size, text, error) in refusals.items():
        with pytest.raises(error):
            log.put_checkpoint(size, text)
        assert log.checkpoint(5) == cosigned, mutation
    assert log.checkpoint(4) is None
    older = log.sign_checkpoint(_sign, 2)
    assert log.recent_checkpoints(5) == [(5, cosigned), (2, older)]
    assert log.recent_checkpoints(1) == [(5, cosigned)]


@pytest.mark.parametrize(
    ("mutation", "call"),
    [
        ("empty batch", lambda lg: lg.append_batch([])),
        ("bytes, not a batch", lambda lg: lg.append_batch(b"abc")),
        ("str entry", lambda lg: lg.append_batch(["abc"])),
        ("bytearray entry", lambda lg: lg.append_batch([bytearray(b"a")])),
        ("root beyond size", lambda lg: lg.root_hash(11)),
        ("negative size", lambda lg: lg.root_hash(-1)),
        ("bool size", lambda lg: lg.root_hash(True)),
        ("index = size", lambda lg: lg.inclusion_proof(10, 10)),
        ("size beyond log", lambda lg: lg.inclusion_proof(0, 11)),
        ("consistency from 0", lambda lg: lg.consistency_proof(0, 10)),
        ("consistency reversed", lambda lg: lg.consistency_proof(5, 4)),
        ("consistency beyond", lambda lg: lg.consistency_proof(5, 11)),
        ("range reversed", lambda lg: lg.range_proof(5, 4, 10)),
        ("range beyond size", lambda lg: lg.range_proof(5, 11, 10)),
        ("entries beyond", lambda lg: lg.entries(5, 11)),
        ("entries reversed", lambda lg: lg.entries(5, 4)),
        ("entry = size", lambda lg: lg.entry(10)),
        ("leaf hashes beyond", lambda lg: lg.leaf_hashes(0, 11)),
        ("checkpoint beyond", lambda lg: lg.checkpoint_text(11)),
        ("bad node id", lambda lg: lg.read_nodes([(0,)])),
        ("negative checkpoint size", lambda lg: lg.checkpoint(-1)),
    ],
)
def test_bad_arguments(log: Log, mutation: str, call: object) -> None:
    log.append_batch([b"%d" % i for i in range(10)])
    with pytest.raises(UsageError):
        call(log)  # type: ignore[operator]
    assert log.size == 10


def test_missing_rows_are_store_errors(log: Log) -> None:
    log.append_batch([b"%d" % i for i in range(600)])
    with log.db.transaction() as tx:
        tx.execute("DELETE FROM log_entries WHERE first_index = 256")
        tx.execute("DELETE FROM log_tiles WHERE tile_key = 1")  # full tile (0, 1)
    fresh = Log.attach(log.db, cache_tiles=0)
    with pytest.raises(StoreError):
        fresh.entries(250, 260)
    with pytest.raises(StoreError):
        fresh.entry(300)
    with pytest.raises(StoreError):
        fresh.inclusion_proof(300, 600)
    assert fresh.entries(0, 250) == [b"%d" % i for i in range(250)]
    root = log.root_hash()
    with log.db.transaction() as tx:
        tx.execute("UPDATE log_head SET root = ?", (b"\x00" * 32,))
    with pytest.raises(StoreError, match="do not match the stored root"):
        Log.attach(log.db).append_batch([b"x"])
    with log.db.transaction() as tx:
        tx.execute("UPDATE log_head SET root = ?", (root,))
        tx.execute("DELETE FROM log_tiles WHERE tile_key = 2")  # right-edge tile (0, 2)
    with pytest.raises(StoreError, match="missing"):  # the right edge cannot be loaded
        Log.attach(log.db).append_batch([b"x"])
    assert log.db.fetchone("SELECT size FROM log_head") == (600,)


def test_attach_shares_the_database(db_url: str) -> None:
    with Database.open(db_url) as db:
        log = Log.attach(db, origin=ORIGIN)
        log.append_batch([b"a"])
        log.close()  # leaves the shared database open
        assert Log.attach(db).entries(0, 1) == [b"a"]


def test_proofs_right_after_appends_with_no_cache(db_url: str) -> None:
    """Reads never depend on the tile cache: cache_tiles=0 gives the same answers."""
    rng = random.Random(9)
    mem = MemoryTree()
    with Log.open(db_url, origin=ORIGIN, cache_tiles=0) as log:
        for n in (700, 1, 300):
            batch = _entries(rng, n)
            log.append_batch(batch)
            mem.extend(leaf_hash(e) for e in batch)
            for _ in range(20):
                size = rng.randint(1, mem.size)
                index = rng.randrange(size)
                assert log.inclusion_proof(index, size) == mem.inclusion_proof(index, size)


def test_reads_while_appending_from_threads(db_url: str) -> None:
    """One Log shared by a writer thread and reader threads: every answer is right."""
    data = [b"t%d" % i for i in range(12_000)]
    mem = MemoryTree.from_data(data)
    errors: list[BaseException] = []
    with Log.open(db_url, origin=ORIGIN) as log:
        log.append_batch(data[:1])
        done = threading.Event()

        def write() -> None:
            at = 1
            try:
                while at < len(data):
                    n = min(len(data) - at, 1 + at % 997)
                    log.append_batch(data[at : at + n])
                    at += n
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                done.set()

        def read(seed: int) -> None:
            rng = random.Random(seed)
            try:
                while not done.is_set():
                    size = rng.randint(1, log.size)
                    index = rng.randrange(size)
                    assert log.inclusion_proof(index, size) == mem.inclusion_proof(index, size)
                    assert log.root_hash(size) == mem.root(size)
                    assert log.entry(index) == data[index]
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=write)]
        threads += [threading.Thread(target=read, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert log.root_hash() == mem.root()
