"""Public log routes: health, checkpoints, entries and proofs. No token needed:
these are what witnesses, auditors and other members check the log with."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from accord.errors import NotFoundError, UsageError
from accord.node.httpapi import int_param, parse_hash, run
from accord.node.service import Node

__all__ = ["log_router", "process_consistency", "process_inclusion", "process_range"]

NOTE_TYPE = "text/plain; charset=utf-8"


def _size(node: Node, request: Request) -> int:
    """``size`` from the query, by default the latest checkpoint's size."""
    if "size" in request.query_params:
        size = int_param(request, "size")
    else:
        latest = node.log.latest_checkpoint()
        size = latest[0] if latest else node.log.size
    if size > node.log.size:
        raise UsageError(f"size {size} is beyond the log's size {node.log.size}")
    return size


def process_inclusion(node: Node, index: int | None, record: bytes | None, size: int) -> Any:
    if record is not None:
        index = node.record_row(record)[0]
    if index is None:
        raise UsageError("give `index` or `record`")
    if index >= size:
        raise NotFoundError(f"entry {index} is not in the tree of size {size}")
    return {
        "index": index,
        "size": size,
        "leaf_hash": node.log.leaf_hashes(index, index + 1)[0].hex(),
        "root": node.log.root_hash(size).hex(),
        "proof": [h.hex() for h in node.log.inclusion_proof(index, size)],
    }


def process_consistency(node: Node, size1: int, size2: int) -> Any:
    if not 0 < size1 <= size2:
        raise UsageError("a consistency proof needs 0 < size1 <= size2")
    return {
        "size1": size1,
        "size2": size2,
        "root1": node.log.root_hash(size1).hex(),
        "root2": node.log.root_hash(size2).hex(),
        "proof": [h.hex() for h in node.log.consistency_proof(size1, size2)],
    }


def process_range(node: Node, start: int, end: int, size: int) -> Any:
    if not 0 <= start < end <= size or end - start > 1000:
        raise UsageError("a range proof needs 0 <= start < end <= size, at most 1000 leaves")
    return {
        "start": start,
        "end": end,
        "size": size,
        "root": node.log.root_hash(size).hex(),
        "leaf_hashes": [h.hex() for h in node.log.leaf_hashes(start, end)],
        "proof": [h.hex() for h in node.log.range_proof(start, end, size)],
    }


def log_router(node: Node) -> APIRouter:
    router = APIRouter(tags=["log"])

    @router.get("/v1/health", summary="Liveness, seal state and log size")
    async def health() -> Any:
        return await run(node.process_health)

    @router.get(
        "/v1/checkpoints/{size}",
        response_class=PlainTextResponse,
        summary="The signed checkpoint at one size",
    )
    async def checkpoint_at(size: int) -> PlainTextResponse:
        note = await run(node.log.checkpoint, size)
        if note is None:
            raise NotFoundError(f"no checkpoint was signed at size {size}")
        return PlainTextResponse(note, media_type=NOTE_TYPE)

    @router.get("/v1/entries", summary="Log leaves (record headers) by index range")
    async def entries(request: Request) -> Any:
        start = int_param(request, "start")
        end = int_param(request, "end", start + 100)
        return await run(node.process_entries, start, end)

    @router.get("/v1/proofs/inclusion", summary="Inclusion proof of an entry or a record")
    async def inclusion(request: Request) -> Any:
        size = await run(_size, node, request)
        record = request.query_params.get("record")
        index = int_param(request, "index") if "index" in request.query_params else None
        rec = parse_hash(record) if record is not None else None
        return await run(process_inclusion, node, index, rec, size)

    @router.get("/v1/proofs/consistency", summary="Consistency proof between two sizes")
    async def consistency(request: Request) -> Any:
        size1 = int_param(request, "size1")
        if "size2" in request.query_params:
            size2 = int_param(request, "size2")
        else:
            size2 = await run(_size, node, request)
        return await run(process_consistency, node, size1, size2)

    @router.get("/v1/proofs/range", summary="Range proof of leaves [start, end) (compact ranges)")
    async def range_(request: Request) -> Any:
        size = await run(_size, node, request)
        start = int_param(request, "start")
        end = int_param(request, "end")
        return await run(process_range, node, start, end, size)

    return router
