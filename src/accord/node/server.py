"""``accord serve``: run a node's HTTP app on uvicorn until interrupted."""

from __future__ import annotations

import json
import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

import uvicorn

from accord.errors import UsageError
from accord.node.app import create_app
from accord.node.service import Node

__all__ = ["SERVE_FILE", "serve"]

#: Written while the node runs: {"url": ..., "pid": ...} (how scripts find a node on port 0).
SERVE_FILE = "serve.json"


def serve(
    directory: Path,
    *,
    host: str | None = None,
    port: int | None = None,
    unseal_texts: Sequence[str] = (),
) -> None:
    node = Node.open(directory)
    host = host or node.config.node.host
    port = node.config.node.port if port is None else port
    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        # IPPROTO_TCP named explicitly: asyncio turns Nagle off (TCP_NODELAY) only on
        # sockets whose proto is IPPROTO_TCP, and a response written in two parts would
        # otherwise wait for the client's delayed ACK (about 40 ms per request).
        sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((host, port))
        sock.listen(2048)  # listening before serve.json says where: no refused first connection
    except OSError as exc:
        node.stop()
        raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    bound = sock.getsockname()[1]
    url = f"http://{host}:{bound}"
    node.start()
    if unseal_texts:
        node.unseal_with(unseal_texts)
    (directory / SERVE_FILE).write_text(json.dumps({"url": url, "pid": os.getpid()}))
    print(f"accord node {node.org} listening on {url} ({'sealed' if node.sealed else 'unsealed'})")
    sys.stdout.flush()
    config = uvicorn.Config(
        create_app(node), log_level="warning", access_log=False, timeout_graceful_shutdown=5
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        node.stop()
        (directory / SERVE_FILE).unlink(missing_ok=True)
