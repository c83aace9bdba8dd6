"""Witness routes (docs/witness.md section 1) and the checkpoints a node serves.

- ``POST /v1/witness/add-checkpoint``: C2SP tlog-witness, byte-exact: the body,
  status and Content-Type of :func:`accord.witness.process_add_checkpoint` are
  written as they are (200 ``text/plain; charset=utf-8`` cosignature lines,
  409 ``text/x.tlog.size`` ``<size>\\n``, other refusals the JSON error shape);
  503 while sealed; 413 over 64 KiB. No token: the log's signature is the only
  authentication (tlog-witness).
- ``GET /v1/witness/evidence``, ``GET /v1/witness/heads``: public.
- ``POST /v1/witness/gossip``: a node-signed request from another member.
- ``POST /v1/witness/clear``: an operator (admin token) resumes witnessing a halted log.
- ``GET /v1/checkpoint``: the latest checkpoint with the consortium's ``witness.k``
  cosignatures (the latest signed one while none has k yet);
  ``GET /v1/checkpoint/latest``: the latest signed, cosigned or not.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse

from accord.node.httpapi import json_body, raw_body, require, run
from accord.node.service import Node
from accord.witness import MAX_REQUEST_SIZE
from accord.witness.gossip import MAX_GOSSIP_SIZE

__all__ = ["NOTE_TYPE", "process_checkpoint", "witness_router"]

NOTE_TYPE = "text/plain; charset=utf-8"
_JSON = "application/json"


def process_checkpoint(node: Node) -> str:
    """The checkpoint clients should verify: k-cosigned if any is, else the latest signed."""
    served = node.witnessing.served_note()
    return served if served is not None else node.checkpoint_note()


def witness_router(node: Node) -> APIRouter:
    router = APIRouter(tags=["witness"])
    witnessing = node.witnessing

    @router.post(
        "/v1/witness/add-checkpoint",
        summary="C2SP tlog-witness add-checkpoint: cosign another member's checkpoint",
        response_class=PlainTextResponse,
    )
    async def add_checkpoint(request: Request) -> Response:
        body = await raw_body(request, MAX_REQUEST_SIZE)
        result = await run(witnessing.process_add_checkpoint, body)
        # Content-Type exactly as the protocol says (no charset added to text/x.tlog.size).
        return Response(
            result.body, status_code=result.status, headers={"content-type": result.content_type}
        )

    @router.get("/v1/witness/evidence", summary="Evidence of equivocation this witness holds")
    async def evidence() -> Response:
        text = await run(witnessing.evidence_text)
        return Response(text, headers={"content-type": _JSON})

    @router.get(
        "/v1/witness/heads",
        summary="The latest checkpoint this witness cosigned for every log, with its cosignature",
    )
    async def heads() -> Response:
        text = await run(witnessing.heads_text)
        return Response(text, headers={"content-type": _JSON})

    @router.post("/v1/witness/clear", summary="Clear the evidence held for a log (admin)")
    async def clear(request: Request) -> Any:
        require(node, request, "admin")
        body = await json_body(request, 4096)
        return await run(witnessing.process_clear, body)

    @router.post("/v1/witness/gossip", summary="Another member's witness heads (node-signed)")
    async def gossip(request: Request) -> Any:
        body = await raw_body(request, MAX_GOSSIP_SIZE)
        # All header lines, repeats included: a repeated auth header is refused.
        return await run(witnessing.process_gossip, request.headers, request.url.path, body)

    @router.get(
        "/v1/checkpoint",
        response_class=PlainTextResponse,
        summary="The latest checkpoint with the consortium's k cosignatures (C2SP signed note)",
    )
    async def checkpoint() -> PlainTextResponse:
        note = await run(process_checkpoint, node)
        return PlainTextResponse(note, media_type=NOTE_TYPE)

    @router.get(
        "/v1/checkpoint/latest",
        response_class=PlainTextResponse,
        summary="The latest signed checkpoint, with the cosignatures collected so far",
    )
    async def checkpoint_latest() -> PlainTextResponse:
        note = await run(node.checkpoint_note)
        return PlainTextResponse(note, media_type=NOTE_TYPE)

    return router
