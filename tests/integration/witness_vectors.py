"""A real node witnessing the shared vectors' log: a consortium whose other member has the
vector's origin and log key (shared/testdata/tlog/witness_add_checkpoint.json)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from accord.client import generate_source_key
from accord.encoding import b64encode
from accord.errors import AccordError
from accord.node.app import create_app
from accord.node.config import load_config, save_config
from accord.node.founding import join_consortium, new_consortium
from accord.node.membership import read_consortium
from accord.node.service import Node
from accord.note import Cosigner
from accord.quorum import Consortium, Member
from accord.witness import AddCheckpointRequest, WitnessState
from tests.conftest import load_vectors
from tests.integration.nodes import RunningNode, bound_socket, serve_app

__all__ = ["VECTORS", "vector_witness"]

VECTORS = load_vectors("tlog/witness_add_checkpoint.json")
ORIGIN = VECTORS["trusted_log"]["origin"]


def _notes() -> dict[tuple[int, str], Any]:
    """A signed note for each (size, base64 root) of the vector log (to install a state)."""
    out = {}
    for case in VECTORS["cases"]:
        if case["id"] in ("bad-log-signature", "only-unknown-signature"):
            continue
        try:
            request = AddCheckpointRequest.parse(case["request_body"])
        except AccordError:
            continue
        cp = request.checkpoint
        if cp.origin == ORIGIN:
            out.setdefault((cp.size, b64encode(cp.root_hash)), request.note)
    return out


@contextmanager
def vector_witness(
    tmp_path: Path, db_url: str
) -> Iterator[tuple[RunningNode, Callable[[dict[str, Any] | None], None]]]:
    """A node (org ``cornell``) whose consortium's other member is the vector log.

    Yields the running node and ``reset(state_before)``, which puts the node's
    witness state for the vector origin as a case needs it (through its real store).
    """
    sock = bound_socket()
    database = None if db_url.endswith(".db") else db_url
    founded = new_consortium(
        tmp_path / "consortium",
        [("cornell", "Cornell")],
        consortium_id="vectors",
        ports={"cornell": sock.getsockname()[1]},
        witness_k=0,
        databases={"cornell": database} if database else None,
    )
    base = read_consortium(founded.consortium_file)
    vector_log = Member(
        org="hospital-a",
        name="Hospital A (the vectors' log)",
        url="http://127.0.0.1:9",  # nothing listens: pushes to it fail and back off
        origin=ORIGIN,
        log_key=VECTORS["trusted_log"]["vkey"],
        witness_key=Cosigner.generate("example.com/hospital-a/witness").verifier().format(),
    )
    consortium = Consortium(base.id, (*base.members, vector_log), 0, base.trust)
    founded.consortium_file.write_text(consortium.format(), encoding="utf-8")
    result = founded.nodes["cornell"]
    join_consortium(result.directory, founded.consortium_file)
    config = load_config(result.directory)
    # The vectors' log has no Accord leaves to recompute an index from: plain C2SP witness.
    policy = config.policy.model_copy(
        update={"gossip_interval_ms": 0, "witness_index_check": False}
    )
    save_config(result.directory, config.model_copy(update={"policy": policy}))

    node = Node.open(result.directory)
    node.start()
    notes = _notes()
    store = node.witnessing.store

    def reset(before: dict[str, Any] | None) -> None:
        if store.is_halted(ORIGIN):
            store.clear(ORIGIN, reset_state=True)
        with store.db.transaction() as tx:
            tx.execute("DELETE FROM witness_state WHERE origin = ?", (ORIGIN,))
        if before is not None:
            store.set_state(WitnessState.from_note(notes[(before["size"], before["root_b64"])]))

    try:
        node.unseal_with([p.read_text() for p in result.share_files[:2]])
        with serve_app(create_app(node), sock) as url:
            source = generate_source_key("cornell", "ehr")  # unused: the node only witnesses
            yield RunningNode(node, url, result.directory, result.share_files, {}, source), reset
    finally:
        node.stop()
