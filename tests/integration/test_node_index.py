"""The verifiable index inside a real node, on SQLite and PostgreSQL: commit leaves after every
batch, checkpoints only at commits, proofs that verify, and replay from scratch."""

from __future__ import annotations

from pathlib import Path

import pytest

from accord.errors import VerificationError
from accord.index import IndexEntry, IndexState, Window, verify_key_proof
from accord.merkle import leaf_hash, verify_inclusion
from accord.node.service import Node
from accord.records import IndexCommit, key_id, parse_leaf
from tests.integration.nodes import access_statement, running_node


def _replay_roots(entries: list[bytes]) -> dict[int, bytes]:
    """Index roots recomputed from scratch at every commit leaf (by seq)."""
    state = IndexState(history=0)
    pending: list[IndexEntry] = []
    roots = {}
    for seq, raw in enumerate(entries):
        leaf = parse_leaf(raw)
        if isinstance(leaf, IndexCommit):
            if pending:
                state.apply_batch(pending)
                pending = []
            roots[seq] = state.root
            pending.append(IndexEntry(seq, leaf.log_ts, leaf_hash(raw)))
        else:
            pending.append(IndexEntry(seq, leaf.log_ts, leaf_hash(raw), leaf.keys))
    return roots


def test_every_batch_ends_in_a_commit_and_replay_agrees(tmp_path: Path, db_url: str) -> None:
    with running_node(tmp_path, db_url) as rn:
        client = rn.client("source")
        for round_ in range(6):
            client.submit(
                [rn.sign(access_statement(patient=f"P-{i % 4}")) for i in range(round_ + 1)]
            )
        node = rn.node
        entries = node.log.entries(0, node.log.size)
        commits = {
            seq: leaf
            for seq, raw in enumerate(entries)
            if isinstance(leaf := parse_leaf(raw), IndexCommit)
        }
        assert isinstance(parse_leaf(entries[-1]), IndexCommit)
        assert len(commits) >= 7  # the gateway and ehr registrations, then six batches
        roots = _replay_roots(entries)
        for seq, commit in commits.items():
            assert commit.covers_size == seq
            assert roots[seq] == commit.index_root
        previous = None
        for seq in sorted(commits):
            assert commits[seq].prev_commit_seq == previous
            previous = seq
        note = node.sign_checkpoint()
        size = int(note.split("\n")[1])
        assert isinstance(parse_leaf(entries[size - 1]), IndexCommit)


def test_a_key_proof_verifies_against_the_checkpoint(tmp_path: Path, db_url: str) -> None:
    with running_node(tmp_path, db_url) as rn:
        rn.client("source").submit([rn.sign(access_statement(patient="P-9")) for _ in range(5)])
        node = rn.node
        node.sign_checkpoint()
        size = node.log.size
        commit_raw = node.log.entry(size - 1)
        commit = parse_leaf(commit_raw)
        assert isinstance(commit, IndexCommit)
        verify_inclusion(
            size - 1,
            size,
            leaf_hash(commit_raw),
            node.log.inclusion_proof(size - 1, size),
            node.log.root_hash(size),
        )
        assert node.keys is not None
        kid = key_id(node.keys.index_key, "patient", "P-9")
        proof = node.index.prove(kid, Window(0, 2**62), commit.covers_size)
        answer = verify_key_proof(commit.index_root, kid, Window(0, 2**62), proof)
        assert len(answer.postings) == 5
        for posting in answer.postings:
            header = parse_leaf(node.log.entry(posting.seq))
            assert posting.event_hash == leaf_hash(node.log.entry(posting.seq))
            assert kid in header.keys  # type: ignore[union-attr]
        absent = key_id(node.keys.index_key, "patient", "nobody")
        none = verify_key_proof(
            commit.index_root, absent, None, node.index.prove(absent, None, commit.covers_size)
        )
        assert none.value is None


def test_restart_restores_and_a_lost_index_is_rebuilt(tmp_path: Path, db_url: str) -> None:
    with running_node(tmp_path, db_url) as rn:
        for _ in range(3):
            rn.client("source").submit([rn.sign(access_statement()) for _ in range(7)])
        directory = rn.directory
        assert rn.node.index.wait_materialized(rn.node.index.state.size)
        root, size = rn.node.index.state.root, rn.node.index.state.size
    again = Node.open(directory)
    try:
        assert (again.index.state.size, again.index.state.root) == (size, root)
        for table in ("index_postings", "index_posting_nodes", "index_head"):
            with again.db.transaction() as tx:
                tx.execute(f"DELETE FROM {table}")  # noqa: S608
    finally:
        again.stop()
    rebuilt = Node.open(directory)
    try:
        assert (rebuilt.index.state.size, rebuilt.index.state.root) == (size, root)
        assert rebuilt.index.materialized == size
    finally:
        rebuilt.stop()


def test_a_changed_posting_table_refuses_to_start(tmp_path: Path, db_url: str) -> None:
    """Heads are rebuilt from the tables at restart and checked against the commit leaf
    at the materialized size: one altered posting makes the node refuse to start."""
    with running_node(tmp_path, db_url) as rn:
        rn.client("source").submit([rn.sign(access_statement()) for _ in range(5)])
        directory = rn.directory
        assert rn.node.index.wait_materialized(rn.node.index.state.size)
    again = Node.open(directory)
    try:
        with again.db.transaction() as tx:
            tx.execute("UPDATE index_postings SET evh = ? WHERE idx = 0", (bytes(32),))
    finally:
        again.stop()
    with pytest.raises(VerificationError, match="rebuilt from its tables"):
        Node.open(directory)
