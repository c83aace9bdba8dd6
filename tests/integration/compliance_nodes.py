"""Real nodes for the compliance tests: a node directory with its compliance files (and FHIR
directory) written before the node opens, an optional settable clock, served over HTTP.

Like tests.integration.nodes.running_node (same init, tokens and ``ehr`` source), plus
what compliance needs before the node starts; :func:`reopen` restarts a node from its
directory (a real restart: new Node, new database handles, unsealed with its shares).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from accord.client import NodeClient
from accord.node.app import create_app
from accord.node.config import load_config, save_config
from accord.node.initdir import init_node
from accord.node.service import Node
from tests.integration.nodes import RunningNode, serve_app, serving

__all__ = ["Clock", "compliance_node", "reopen", "wait_evaluated"]


class Clock:
    """A node clock tests can move: real time plus an offset (ms)."""

    def __init__(self) -> None:
        self.offset = 0
        self._lock = threading.Lock()

    def __call__(self) -> int:
        with self._lock:
            return int(time.time() * 1000) + self.offset

    def advance(self, ms: int) -> None:
        with self._lock:
            self.offset += ms


def _prepare(
    directory: Path, files: dict[str, str], fhir_directory: dict[str, str] | None, policy: Any
) -> None:
    for name, text in files.items():
        (directory / name).write_text(text, encoding="utf-8")
    if fhir_directory is not None or policy:
        config = load_config(directory)
        update: dict[str, Any] = {}
        if policy:
            update["policy"] = config.policy.model_copy(update=policy)
        if fhir_directory is not None:
            update["fhir"] = config.fhir.model_copy(update={"directory": fhir_directory})
        save_config(directory, config.model_copy(update=update))


@contextmanager
def compliance_node(
    tmp_path: Path,
    db_url: str,
    org: str = "nyu",
    *,
    files: dict[str, str] | None = None,
    clock: Clock | None = None,
    fhir_directory: dict[str, str] | None = None,
    **policy: Any,
) -> Iterator[RunningNode]:
    """A started, unsealed node with ``files`` (e.g. rules.toml) in its directory."""
    directory = tmp_path / org
    database = None if db_url.endswith(".db") else db_url
    result = init_node(directory, org, database=database)
    _prepare(directory, files or {}, fhir_directory, policy)
    kwargs = {"clock_ms": clock} if clock is not None else {}
    with serving(Node.open(directory, **kwargs), directory, result.share_files, org) as running:
        yield running


@contextmanager
def reopen(previous: RunningNode, clock: Clock | None = None) -> Iterator[RunningNode]:
    """The same node directory opened again (after ``previous`` stopped), unsealed, served."""
    kwargs = {"clock_ms": clock} if clock is not None else {}
    node = Node.open(previous.directory, **kwargs)
    node.start()
    try:
        node.unseal_with([p.read_text() for p in previous.shares[:2]])
        with serve_app(create_app(node)) as url:
            running = RunningNode(
                node, url, previous.directory, previous.shares, previous.tokens, previous.source
            )
            try:
                yield running
            finally:
                for c in running._clients:
                    c.close()
    finally:
        node.stop()


def wait_evaluated(client: NodeClient, timeout: float = 20.0) -> dict[str, Any]:
    """Wait until the node has evaluated every record it holds; its compliance status."""
    deadline = time.monotonic() + timeout
    while True:
        status: dict[str, Any] = client.json("GET", "/v1/compliance")
        size = client.json("GET", "/v1/health")["size"]
        last = client.json(
            "POST", "/v1/sql", json={"sql": "SELECT max(log_index) FROM record_status"}
        )
        newest = last["rows"][0][0]
        if newest is None or status["evaluated"] >= newest:
            return status
        if time.monotonic() > deadline:
            raise TimeoutError(f"evaluation stuck at {status['evaluated']} of {size}")
        time.sleep(0.05)


def get(url: str, token: str, path: str, **params: Any) -> httpx.Response:
    return httpx.get(url + path, params=params, headers={"Authorization": f"Bearer {token}"})
