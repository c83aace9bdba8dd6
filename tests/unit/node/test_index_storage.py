"""Back-pressure between the sequencer and the index materializer: when appends outrun the
table writes, ``NodeIndex.commit`` waits so that at most ``max_backlog`` entries are held in
memory, and nothing is lost (real SQLite file, the node's own tables)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from accord.errors import StoreError
from accord.index import IndexState, Window, verify_key_proof
from accord.log import Log
from accord.node import indexing
from accord.node.indexing import NodeIndex, stored_heads
from accord.store.database import Database


@dataclass(frozen=True, slots=True)
class _Header:
    leaf: bytes
    keys: tuple[bytes, ...]

    def leaf_hash(self) -> bytes:
        return self.leaf


def _h(*parts: object) -> bytes:
    return hashlib.sha256(repr(parts).encode()).digest()


def test_commit_waits_for_a_slow_materializer_and_loses_nothing(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'node.db'}")
    index = NodeIndex(db, Log.attach(db, origin="test.example/backlog"), max_backlog=300)
    write_rows = index._write_rows

    def slow(results: Any, overlay: bool = True) -> None:
        time.sleep(0.02)
        write_rows(results, overlay)

    index._write_rows = slow  # type: ignore[method-assign]
    index.start()
    keys = [_h("key", k) for k in range(7)]
    seq, lag = 0, []
    try:
        for batch in range(30):
            headers = [_Header(_h(batch, i), (keys[(batch + i) % 7],)) for i in range(100)]
            index.stage(seq, 1_000 + batch, headers)
            index.commit()
            seq += len(headers) + 1
            lag.append(index.state.size - index.materialized)
        assert max(lag) <= 300 + 101  # the bound, plus the batch that crossed it
        assert index.wait_materialized(index.state.size, timeout=30)
        # every record's posting; commit leaves have no keys
        assert db.fetchone("SELECT COUNT(*) FROM index_postings")[0] == 3_000
        size = index.state.size
        for k in keys:
            proof = index.prove(k, Window(0, 2**62), size)
            answer = verify_key_proof(index.view(size).root, k, Window(0, 2**62), proof)
            assert len(answer.postings) > 0
    finally:
        index.stop()
        db.close()


def test_a_stopped_materializer_never_blocks_the_sequencer(tmp_path: Path) -> None:
    db = Database.open(f"sqlite:///{tmp_path / 'node.db'}")
    index = NodeIndex(db, Log.attach(db, origin="test.example/backlog"), max_backlog=10)
    try:
        started = time.monotonic()
        seq = 0
        for batch in range(5):
            headers = [_Header(_h(batch, i), (_h("k"),)) for i in range(50)]
            index.stage(seq, 1_000 + batch, headers)
            index.commit()
            seq += len(headers) + 1
        assert time.monotonic() - started < 5
        assert index.materialized == 0
    finally:
        db.close()


@pytest.fixture(params=[20, 5], ids=["one-part", "many-parts"])
def part_shift(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Rows go to part ``log size >> PART_SHIFT``: the node's 2**20, or 2**5 so that the
    rows of these small logs spread over many parts and every read must gather them."""
    monkeypatch.setattr(indexing, "PART_SHIFT", request.param)
    return int(request.param)


def test_locate_and_proofs_agree_while_rows_are_still_being_written(
    tmp_path: Path, part_shift: int
) -> None:
    """``locate`` searches the primary key (no log_ts index): one read for a short posting log,
    bisection for a long one, over rows in the tables and rows still in memory."""
    db = Database.open(f"sqlite:///{tmp_path / 'node.db'}")
    index = NodeIndex(db, Log.attach(db, origin="test.example/locate"))
    long_key, short_key = _h("long"), _h("short")
    times: dict[bytes, list[int]] = {long_key: [], short_key: []}
    seq = 0
    try:
        index.start()
        for batch in range(40):
            if batch == 25:
                index.stop()  # the first 25 batches' rows go to the tables, the rest stay
            log_ts = 1_000 + 10 * (batch // 3)  # equal log_ts across batches too
            headers = [_Header(_h(batch, i), (long_key,)) for i in range(10)]
            if batch % 8 == 0:
                headers.append(_Header(_h(batch, "s"), (short_key,)))
            index.stage(seq, log_ts, headers)
            index.commit()
            seq += len(headers) + 1
            if batch < 25:  # one batch a transaction: with small parts, rows in many
                assert index.wait_materialized(index.state.size, timeout=30)
            for h in headers:
                times[h.keys[0]].append(log_ts)
        assert 0 < index.materialized < index.state.size
        parts = db.fetchone("SELECT COUNT(DISTINCT part) FROM index_postings")[0]
        assert parts == 1 if part_shift == 20 else parts > 5
        for key, ts in times.items():
            for size in sorted({0, 1, min(7, len(ts)), len(ts) // 2, len(ts)}):
                for probe in (0, 1_000, 1_005, 1_010, 1_060, 1_130, 1_131, 10**6):
                    expected = next((i for i in range(size) if ts[i] >= probe), size)
                    assert index.locate(key, size, probe) == expected, (size, probe)
        # Proofs read postings and stored posting-log nodes from both places.
        size = index.state.size
        for key, ts in times.items():
            proof = index.prove(key, Window(0, 2**62), size)
            answer = verify_key_proof(index.view(size).root, key, Window(0, 2**62), proof)
            assert len(answer.postings) == len(ts)
    finally:
        db.close()


def test_a_database_from_before_the_compact_tables_keeps_its_rows(db_url: str) -> None:
    """Step 002 on a database holding step 001's tables (and their log_ts index): every row
    is kept, and the tables take new rows as before."""
    from accord.node.indexing import INDEX_STEPS

    db = Database.open(db_url)
    try:
        db.migrate("index", INDEX_STEPS[:1])
        with db.transaction() as tx:
            tx.executemany(
                "INSERT INTO index_postings VALUES (?, ?, ?, ?, ?)",
                [(_h("k"), i, 10 + i, 1_000 + i, _h("e", i)) for i in range(5)],
            )
            tx.execute(  # a posting past the first 2**20 log entries
                "INSERT INTO index_postings VALUES (?, ?, ?, ?, ?)",
                (_h("late"), 0, 3 << 20, 9_000, _h("e", "late")),
            )
            tx.execute("INSERT INTO index_posting_nodes VALUES (?, ?, ?, ?)", (_h("k"), 3, 0, _h()))
            tx.execute("INSERT INTO index_keys VALUES (?, ?, ?, ?)", (_h("k"), 5, _h(), b"edge"))
        db.migrate("index", INDEX_STEPS[:2])
        rows = db.fetchall(
            "SELECT idx, seq, log_ts, evh FROM index_postings WHERE key_id = ? ORDER BY idx",
            (_h("k"),),
        )
        assert [(int(a), int(b), int(c), bytes(d)) for a, b, c, d in rows] == [
            (i, 10 + i, 1_000 + i, _h("e", i)) for i in range(5)
        ]
        assert db.fetchone("SELECT COUNT(*) FROM index_posting_nodes")[0] == 1
        assert bytes(db.fetchone("SELECT edge FROM index_keys")[0]) == b"edge"
        # Step 003 drops the key heads (rebuilt at restart); the postings stay.
        db.migrate("index", INDEX_STEPS)
        with pytest.raises(StoreError):
            db.fetchone("SELECT COUNT(*) FROM index_keys")
        assert db.fetchone("SELECT COUNT(*) FROM index_postings")[0] == 6
        index = NodeIndex(db, Log.attach(db, origin="test.example/migrate"))
        assert index.locate(_h("k"), 5, 1_003) == 3
        # Step 004 put each posting in its seq's part and each node in part 0.
        parts = db.fetchall("SELECT key_id, part FROM index_postings ORDER BY seq")
        assert {(bytes(k), int(p)) for k, p in parts} == {(_h("k"), 0), (_h("late"), 3)}
        assert db.fetchall("SELECT DISTINCT part FROM index_posting_nodes") == [(0,)]
    finally:
        db.close()


def test_key_heads_are_rebuilt_from_the_tables(db_url: str, part_shift: int) -> None:
    """Restart's heads come from the stored postings and nodes only: for posting logs of every
    size around the stored level's multiples of 16, and keys in every first-byte range, the
    rebuilt state has the live state's root and key rows; a missing node is refused."""
    db = Database.open(db_url)
    index = NodeIndex(db, Log.attach(db, origin="test.example/heads"))
    sizes = [1, 2, 15, 16, 17, 31, 32, 33, 47, 48, 64, 100, 255, 256, 257]
    keys = [bytes([i * 17 % 256]) + _h("key", i)[1:] for i in range(len(sizes))]
    keys.append(b"\xff" * 32)  # the last range has no upper bound
    sizes.append(3)
    index.start()
    try:
        seq, batch = 0, 0
        while any(sizes):
            headers = []
            for i, key in enumerate(keys):
                take = min(sizes[i], 1 + (i + batch) % 40)
                sizes[i] -= take
                headers += [_Header(_h(batch, i, j), (key,)) for j in range(take)]
            index.stage(seq, 1_000 + batch, headers)
            index.commit()
            # one batch a transaction: with small parts, a key's rows are in many
            assert index.wait_materialized(index.state.size, timeout=30)
            seq += len(headers) + 1
            batch += 1
        live = index.state
        rebuilt = IndexState.restore(live.size, live.log_ts, stored_heads(db))
        assert rebuilt.root == live.root
        assert sorted(rebuilt.key_rows()) == sorted(live.key_rows())
        if part_shift < 20:
            assert db.fetchone("SELECT COUNT(DISTINCT part) FROM index_postings")[0] > 10
        with db.transaction() as tx:
            tx.execute(
                "DELETE FROM index_posting_nodes WHERE key_id = ? AND level = 8", (keys[13],)
            )
        with pytest.raises(StoreError, match="not stored"):
            list(stored_heads(db))
    finally:
        index.stop()
        db.close()


def test_a_posting_stored_twice_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Parts do not make (key, posting index) unique in the primary key; a second copy of a
    posting in another part is refused by proofs and by the restart's rebuild."""
    db = Database.open(f"sqlite:///{tmp_path / 'node.db'}")
    index = NodeIndex(db, Log.attach(db, origin="test.example/twice"))
    key = _h("key")
    index.stage(0, 1_000, [_Header(_h(i), (key,)) for i in range(20)])
    index.commit()
    index.start()
    try:
        assert index.wait_materialized(index.state.size, timeout=30)
        assert list(stored_heads(db))
        with db.transaction() as tx:
            tx.execute(
                "INSERT INTO index_postings SELECT part + 1, key_id, idx, seq, log_ts, evh"
                " FROM index_postings WHERE idx = 19"
            )
        with pytest.raises(StoreError, match="stored twice"):
            list(stored_heads(db))
        monkeypatch.setattr(indexing, "PART_SHIFT", 0)  # so that reads look in part 1 too
        with pytest.raises(StoreError, match="stored twice"):
            index.read_postings(key, 0, 20)
    finally:
        index.stop()
        db.close()
