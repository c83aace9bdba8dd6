"""Admin routes: unsealing with key shares, sealing, shredding and rotating data keys, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accord.errors import MalformedError, UsageError
from accord.node.httpapi import int_param, json_body, raw_body, require, run
from accord.node.metrics import NodeMetrics
from accord.node.service import Node

__all__ = ["admin_router"]


def admin_router(node: Node, metrics: NodeMetrics) -> APIRouter:
    router = APIRouter(tags=["admin"])

    @router.post(
        "/v1/unseal",
        summary="Give one key share (the share file's text); k good shares unseal the node",
    )
    async def unseal(request: Request) -> Any:
        require(node, request, "admin")
        data = await raw_body(request, 64 * 1024)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedError("share file", "not UTF-8 text") from None
        progress = await run(node.unseal, text)
        return progress.to_json()

    @router.post("/v1/seal", summary="Seal the node: forget its keys until unsealed again")
    async def seal(request: Request) -> Any:
        require(node, request, "admin")
        await run(node.seal)
        return node.vault.progress.to_json()

    def _principal(body: Any) -> str:
        if not isinstance(body, dict) or set(body) != {"principal"}:
            raise UsageError('the body must be {"principal": "<patient identifier>"}')
        principal = body["principal"]
        if not isinstance(principal, str):
            raise UsageError("principal must be a string (the patient identifier)")
        return principal

    @router.post(
        "/v1/keys/shred",
        summary="Destroy a patient's data keys: their bodies are gone, proofs still verify",
        description=(
            'Body: {"principal": "<patient identifier, as in statements>"}. Irreversible. '
            "Every version of the patient's data key is destroyed; the log, proofs and "
            "certificates are unchanged. Written to the node's key audit trail."
        ),
    )
    async def shred(request: Request) -> Any:
        info = node.tokens.check(request.headers.get("authorization"), ("admin",))
        patient = _principal(await json_body(request, 4096))
        action = await run(lambda: node.key_actions.shred(patient, actor=info.id))
        return action.to_json()

    @router.post(
        "/v1/keys/rotate",
        summary="A new data key version for a patient's new records (old ones keep theirs)",
    )
    async def rotate(request: Request) -> Any:
        info = node.tokens.check(request.headers.get("authorization"), ("admin",))
        patient = _principal(await json_body(request, 4096))
        action = await run(lambda: node.key_actions.rotate(patient, actor=info.id))
        return action.to_json()

    @router.get("/v1/keys/actions", summary="The key audit trail: shreds and rotations")
    async def actions(request: Request) -> Any:
        require(node, request, "admin")
        limit = min(int_param(request, "limit", 1000), 10_000)
        found = await run(node.key_actions.history, limit)
        return {"actions": [a.to_json() for a in found]}

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        metrics.log_size.set(node.log.size)
        latest = node.log.latest_checkpoint()
        metrics.checkpoint_size.set(latest[0] if latest else 0)
        metrics.sealed.set(1 if node.sealed else 0)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return router
