"""Records: batch submission by sources, reading by auditors, source registration by admins."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from accord.encoding import b64decode
from accord.errors import MalformedError, NotFoundError, UsageError
from accord.node.httpapi import json_body, parse_hash, require, run
from accord.node.service import Node
from accord.records import SignedStatement

__all__ = ["process_add_source", "process_statements", "records_router"]


def process_statements(node: Node, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or set(body) != {"statements"}:
        raise UsageError('the body must be {"statements": [<signed statement>, ...]}')
    outcomes = node.process_submit(body["statements"])
    return {
        "appended": sum(1 for o in outcomes if not o.duplicate),
        "duplicates": sum(1 for o in outcomes if o.duplicate),
        "results": [o.to_json() for o in outcomes],
    }


def process_add_source(node: Node, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or set(body) != {"name", "public_key"}:
        raise UsageError('the body must be {"name": ..., "public_key": <base64 Ed25519 key>}')
    name, key = body["name"], body["public_key"]
    if not isinstance(name, str) or not isinstance(key, str):
        raise UsageError("name and public_key must be strings")
    raw = b64decode(key, "public key")
    if len(raw) != 32:
        raise MalformedError("public key", "an Ed25519 public key is 32 bytes")
    return node.register_source(name, raw).to_json()


def process_record_body(node: Node, record: bytes) -> dict[str, Any]:
    _, _, principal = node.record_row(record)
    if principal is None:
        raise NotFoundError(f"record {record.hex()} has no body at this node")
    return SignedStatement.parse(node.body(record, principal)).to_json()


def records_router(node: Node) -> APIRouter:
    router = APIRouter(tags=["records"])
    limit = node.config.policy.max_request_bytes

    @router.post(
        "/v1/statements",
        summary="Append a batch of signed statements (all or nothing)",
        description=(
            'Body: {"statements": [{"statement": {...}, "sig": "<base64>"}, ...]}. Each '
            "statement must be signed by a registered, unrevoked source of this node's org. "
            "One bad statement refuses the whole batch (every bad one is listed) and "
            "nothing is appended. A statement already in the log is reported as a "
            "duplicate with its existing log index."
        ),
    )
    async def statements(request: Request) -> Any:
        require(node, request, "source")
        body = await json_body(request, limit)
        return await run(process_statements, node, body)

    @router.get("/v1/records/{record}", summary="A record by hash: status, header, statement")
    async def record(record: str, request: Request) -> Any:
        require(node, request, "auditor")
        return await run(node.process_get_record, parse_hash(record))

    @router.get(
        "/v1/records/{record}/body",
        summary="A record's signed statement (410 once its patient's data key is shredded)",
    )
    async def record_body(record: str, request: Request) -> Any:
        require(node, request, "auditor")
        return await run(process_record_body, node, parse_hash(record))

    @router.get("/v1/sources", summary="Registered sources of every org this node knows")
    async def sources(request: Request) -> Any:
        require(node, request, "auditor")
        from accord.encoding import b64encode

        return {
            "sources": [
                {
                    "org": s.org,
                    "name": s.name,
                    "public_key": b64encode(s.raw),
                    "status": "active" if s.active else "revoked",
                }
                for s in node.registry.all()
            ]
        }

    @router.post("/v1/sources", summary="Register a source of this org (a record in the log)")
    async def add_source(request: Request) -> Any:
        require(node, request, "admin")
        body = await json_body(request, 64 * 1024)
        return await run(process_add_source, node, body)

    @router.post("/v1/sources/{name}/revoke", summary="Revoke a source (a record in the log)")
    async def revoke_source(name: str, request: Request) -> Any:
        require(node, request, "admin")
        outcome = await run(node.revoke_source, name)
        return outcome.to_json()

    @router.post(
        "/v1/sql",
        summary="Run one read-only SQL query over the projection tables",
        description=(
            'Body: {"sql": "SELECT ..."}. Tables: access, disclosure, consent, care, '
            "record_status. Patients and people are pseudonyms; pseudonym(kind, value) "
            "computes one. Writes, ATTACH, PRAGMA and several statements are refused (400); "
            "queries are stopped at the time limit and answers cut at the row limit."
        ),
    )
    async def sql(request: Request) -> Any:
        require(node, request, "auditor")
        body = await json_body(request, 200_000)
        if not isinstance(body, dict) or set(body) != {"sql"} or not isinstance(body["sql"], str):
            raise UsageError('the body must be {"sql": "<one SELECT statement>"}')
        return await run(node.process_sql, body["sql"])

    return router
