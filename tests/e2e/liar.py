"""A lying member, for the fault tests: ``python -m tests.e2e.liar NODE_DIR``.

It runs the member's real node (its real log, checkpoints and keys, unsealed from the
shares in NODE_DIR/shares) but answers ``POST /v1/replicate`` with receipts signed with
its real log key **without appending anything**: each receipt claims the record is at
index 0 of its log. Everything else is the real node's API, so a skeptic can fetch its
checkpoint, the leaf at index 0 and an inclusion proof, and catch the lie.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response

from accord.encoding import parse_json
from accord.keys import read_share_file
from accord.node.app import create_app
from accord.node.routes_replicate import authenticate
from accord.node.service import Node
from accord.quorum import Receipt, sign_batch
from accord.records import SignedStatement
from accord.replication import REPLICATE_PATH, ReplicateAnswer


def lying_app(node: Node) -> FastAPI:
    app = FastAPI()
    real = create_app(node)
    replication = node.replication
    assert replication is not None

    @app.post(REPLICATE_PATH)
    async def replicate(request: Request) -> Response:
        body = await request.body()
        authenticate(node, request, body)
        items: list[Any] = parse_json(body)["records"]
        receipts = []
        for item in items:
            signed = SignedStatement.from_json(item)
            principals = replication.placement(signed).principals
            receipts.append(
                Receipt(signed.record_hash, node.org, node.origin, 0, node.clock_ms(), principals)
            )
        keys = node._keys()
        batch = sign_batch(receipts, node.org, node.origin, node.clock_ms(), keys.log.ed25519())
        return Response(ReplicateAnswer(batch, ()).format(), media_type="application/json")

    app.mount("/", real)
    return app


def main(directory: Path) -> None:
    node = Node.open(directory)
    node.start()
    node.unseal_with(
        [read_share_file(p).format() for p in sorted((directory / "shares").glob("*.json"))]
    )
    port = node.config.node.port
    (directory / "serve.json").write_text(
        json.dumps({"url": f"http://127.0.0.1:{port}", "pid": os.getpid()})
    )
    try:
        uvicorn.run(lying_app(node), host="127.0.0.1", port=port, log_level="warning")
    finally:
        node.stop()


if __name__ == "__main__":
    main(Path(sys.argv[1]))
