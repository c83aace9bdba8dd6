"""A real node for integration tests: a node directory, unsealed, served by uvicorn on
127.0.0.1 (a real HTTP server on an ephemeral port) in a background thread."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvicorn

from accord.client import NodeClient, SourceKey, generate_source_key
from accord.node.app import create_app
from accord.node.config import load_config, save_config
from accord.node.initdir import init_node
from accord.node.service import Node
from accord.records import Principal, SignedStatement, Statement

__all__ = [
    "Consortium3",
    "RunningNode",
    "access_statement",
    "bound_socket",
    "running_consortium",
    "running_node",
    "serve_app",
]


def bound_socket() -> socket.socket:
    """A socket bound to 127.0.0.1 on an ephemeral port (reserve a port before serving)."""
    # IPPROTO_TCP so that asyncio sets TCP_NODELAY on accepted connections (see server.py).
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_app(app: Any, sock: socket.socket | None = None) -> Iterator[str]:
    """Serve an ASGI app on 127.0.0.1 (an ephemeral port unless ``sock`` is given) until
    the block ends; yields its URL."""
    sock = sock or bound_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()


@dataclass
class RunningNode:
    node: Node
    url: str
    directory: Path
    shares: list[Path]
    tokens: dict[str, str]
    source: SourceKey
    _clients: list[NodeClient] = field(default_factory=list)

    def client(self, role: str | None = "admin") -> NodeClient:
        c = NodeClient(self.url, self.tokens[role] if role else None)
        self._clients.append(c)
        return c

    def sign(self, statement: Statement) -> SignedStatement:
        return self.source.sign(statement)


def access_statement(
    org: str = "cornell",
    source: str = "ehr",
    patient: str = "MPI-0001",
    *,
    accessor: str = "Practitioner/dr-marshall",
    purpose: str = "TREAT",
    event_ts: int | None = None,
    sid: str | None = None,
    accessor_org: str | None = None,
) -> Statement:
    return Statement(
        schema="ehr.access",
        id=sid or uuid.uuid4().hex,
        org=org,
        source=source,
        event_ts=event_ts if event_ts is not None else int(time.time() * 1000),
        principals=(Principal("patient", patient),),
        fields={
            "accessor": {"id": accessor, "role": "physician"},
            "accessor_org": accessor_org or org,
            "patient": patient,
            "record_ref": uuid.uuid4().hex * 2,
            "action": "R",
            "purpose": purpose,
            "outcome": "success",
            "break_glass": purpose == "BTG",
        },
    )


@contextmanager
def running_node(
    tmp_path: Path, db_url: str, org: str = "cornell", **policy: Any
) -> Iterator[RunningNode]:
    """A started, unsealed node with tokens of every role and a registered source ``ehr``.

    ``policy`` overrides fields of the node's [policy] (e.g. max_batch=10).
    """
    directory = tmp_path / org
    database = None if db_url.endswith(".db") else db_url
    result = init_node(directory, org, database=database)
    if policy:
        config = load_config(directory)
        updated = config.model_copy(update={"policy": config.policy.model_copy(update=policy)})
        save_config(directory, updated)
    with serving(Node.open(directory), directory, result.share_files, org) as running:
        yield running


@contextmanager
def serving(
    node: Node, directory: Path, share_files: Sequence[Path], org: str
) -> Iterator[RunningNode]:
    """Start ``node``, unseal it with two of its shares, make a token of every role and
    register a source ``ehr`` of ``org``, and serve it over HTTP; stopped at the end."""
    node.start()
    try:
        node.unseal_with([p.read_text() for p in list(share_files)[:2]])
        tokens = {role: node.tokens.create(role) for role in ("source", "auditor", "admin")}
        source = generate_source_key(org, "ehr")
        node.register_source("ehr", source.public_raw)
        with serve_app(create_app(node)) as url:
            running = RunningNode(node, url, directory, list(share_files), tokens, source)
            try:
                yield running
            finally:
                for c in running._clients:
                    c.close()
    finally:
        node.stop()


@dataclass
class Consortium3:
    """Several real nodes of one consortium, each served on its own port."""

    directory: Path
    consortium_file: Path
    nodes: dict[str, RunningNode]

    def __getitem__(self, org: str) -> RunningNode:
        return self.nodes[org]

    def settle(self, timeout: float = 30.0) -> None:
        """Wait until every node knows every org's sources and nothing is left to replicate,
        so that the logs only grow by what a test does next."""
        deadline = time.monotonic() + timeout
        sources = {(org, name) for org in self.nodes for name in ("ehr", "fhir-gateway")}

        def quiet(rn: RunningNode) -> bool:
            known = {(k.org, k.name) for k in rn.node.registry.all() if k.active}
            if not sources <= known:
                return False
            repl = rn.node.replication
            if repl is not None:
                status = repl.status()
                if status["pending"] or any(
                    sum(lane["queued"].values()) if isinstance(lane["queued"], dict) else 0
                    for lane in status["lanes"].values()
                ):
                    return False
            return True

        while not all(quiet(rn) for rn in self.nodes.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("the consortium did not settle")
            time.sleep(0.02)


@contextmanager
def running_consortium(
    tmp_path: Path,
    orgs: tuple[str, ...] = ("cornell", "nyu", "mskcc"),
    *,
    databases: dict[str, str] | None = None,
    witness_k: int = 1,
    trust: tuple[str, ...] | None = None,
    **policy: Any,
) -> Iterator[Consortium3]:
    """A consortium of real nodes (in this process, each on a real HTTP port), unsealed,
    with tokens of every role and a registered source ``ehr`` at each org.

    ``trust`` names the members of the default trust set (all members when None)."""
    from contextlib import ExitStack

    from accord.node.founding import new_consortium

    socks = {org: bound_socket() for org in orgs}
    founded = new_consortium(
        tmp_path / "consortium",
        [(org, org.upper()) for org in orgs],
        consortium_id="test",
        ports={org: s.getsockname()[1] for org, s in socks.items()},
        witness_k=witness_k,
        databases=databases,
    )
    if trust is not None:
        _set_default_trust(founded.consortium_file, trust, founded.nodes)
    with ExitStack() as stack:
        started: dict[str, RunningNode] = {}
        for org, result in founded.nodes.items():
            if policy:
                config = load_config(result.directory)
                updated = config.model_copy(
                    update={"policy": config.policy.model_copy(update=policy)}
                )
                save_config(result.directory, updated)
            node = Node.open(result.directory)
            node.start()
            stack.callback(node.stop)
            node.unseal_with([p.read_text() for p in result.share_files[:2]])
            tokens = {role: node.tokens.create(role) for role in ("source", "auditor", "admin")}
            source = generate_source_key(org, "ehr")
            node.register_source("ehr", source.public_raw)
            url = stack.enter_context(serve_app(create_app(node), socks[org]))
            started[org] = RunningNode(
                node, url, result.directory, result.share_files, tokens, source
            )
        found = Consortium3(founded.consortium_file.parent, founded.consortium_file, started)
        found.settle()
        yield found
        for rn in started.values():
            for c in rn._clients:
                c.close()


def _set_default_trust(consortium_file: Path, trust: tuple[str, ...], nodes: Any) -> None:
    """Rewrite the consortium file with another default trust set and re-join every node."""
    import dataclasses

    from accord.node.founding import join_consortium
    from accord.quorum import Consortium, TrustSet

    c = Consortium.parse(consortium_file.read_text(encoding="utf-8"))
    c = dataclasses.replace(c, trust=TrustSet(trust, c.trust.model, c.trust.f))
    consortium_file.write_text(c.format(), encoding="utf-8")
    for result in nodes.values():
        join_consortium(result.directory, consortium_file)
