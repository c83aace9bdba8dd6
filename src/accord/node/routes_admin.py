"""Admin routes: unsealing with key shares, sealing, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accord.errors import MalformedError
from accord.node.httpapi import raw_body, require, run
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

    @router.get("/metrics", summary="Prometheus metrics", response_class=Response)
    async def prometheus() -> Response:
        metrics.log_size.set(node.log.size)
        latest = node.log.latest_checkpoint()
        metrics.checkpoint_size.set(latest[0] if latest else 0)
        metrics.sealed.set(1 if node.sealed else 0)
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    return router
