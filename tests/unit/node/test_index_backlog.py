"""Back-pressure between the sequencer and the index materializer: when appends outrun the
table writes, ``NodeIndex.commit`` waits so that at most ``max_backlog`` entries are held in
memory, and nothing is lost (real SQLite file, the node's own tables)."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accord.index import Window, verify_key_proof
from accord.log import Log
from accord.node.indexing import NodeIndex
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
