"""Replication routes (docs/replication.md): signed node-to-node requests between members,
and the certificate of a record for auditors."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from accord.encoding import parse_json
from accord.errors import NotFoundError, UsageError
from accord.node.httpapi import parse_hash, raw_body, require, run
from accord.node.peers import authenticate_peer
from accord.node.replicate import Replication
from accord.node.service import Node
from accord.replication import FINAL_PATH, HELLO_PATH, REPLICATE_PATH

__all__ = ["authenticate", "process_certificate", "replicate_router"]


def _replication(node: Node) -> Replication:
    if node.replication is None:
        raise UsageError("this node is not in a consortium: it does not replicate")
    return node.replication


def authenticate(node: Node, request: Request, body: bytes) -> str:
    """The member that signed this request (AuthError otherwise: unknown org, bad signature,
    stale timestamp, replayed nonce). Called on the event loop, so the node's replay guard
    is only ever used by one thread at a time."""
    sender = authenticate_peer(
        request.headers,
        node.consortium,
        node.replay_guard,
        method=request.method,
        path=request.url.path,
        body=body,
        now=node.clock_ms(),
    )
    _replication(node).heard_from(sender)
    return sender


def process_certificate(node: Node, record: bytes) -> dict[str, Any]:
    cert = _replication(node).certificate(record)
    if cert is None:
        _, status, _ = node.record_row(record)
        raise NotFoundError(
            f"record {record.hex()} has no certificate here (its status is {status})",
            status=status,
        )
    return cert


def replicate_router(node: Node) -> APIRouter:
    router = APIRouter(tags=["replication"])
    limit = node.config.policy.max_request_bytes

    @router.post(
        REPLICATE_PATH,
        summary="Store records a member sends (signed node request); answer signed receipts",
        description=(
            'Body: {"records": [<signed statement>, ...]}. Each record is checked on its own '
            "(schema, source signature, consortium membership, this node in its trust sets), "
            'appended, and covered by one signed receipt batch: {"receipts": {"batch", "sig", '
            '"receipts"} | null, "refused": [{"index", "record", "error"}, ...]}.'
        ),
    )
    async def replicate(request: Request) -> Response:
        body = await raw_body(request, limit)
        sender = authenticate(node, request, body)
        value = await run(parse_json, body, "replication request")
        answer = await run(_replication(node).process_replicate, sender, value)
        return Response(answer, media_type="application/json")

    @router.post(
        FINAL_PATH,
        summary="Keep the certificates of records held here (signed node request)",
    )
    async def final(request: Request) -> Any:
        body = await raw_body(request, limit)
        sender = authenticate(node, request, body)
        value = await run(parse_json, body, "replication request")
        return await run(_replication(node).process_final, sender, value)

    @router.post(HELLO_PATH, summary="A member says it is up (signed node request)")
    async def hello(request: Request) -> Any:
        body = await raw_body(request, 1024)
        authenticate(node, request, body)
        return {"org": node.org}

    @router.get(
        "/v1/records/{record}/certificate",
        summary="The certificate that makes a record final (formats.md section 6)",
    )
    async def certificate(record: str, request: Request) -> Any:
        require(node, request, "auditor")
        return await run(process_certificate, node, parse_hash(record))

    @router.get("/v1/replication", summary="Replication queues and lanes (operators)")
    async def status(request: Request) -> Any:
        require(node, request, "auditor")
        return await run(_replication(node).status)

    return router
