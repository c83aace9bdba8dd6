"""The node's HTTP app: routes only (each calls a ``process_*`` function of the node)."""

from __future__ import annotations

from fastapi import FastAPI, Request, Response
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint

from accord import __version__
from accord.node.httpapi import install_error_handlers
from accord.node.routes_admin import admin_router
from accord.node.routes_log import log_router
from accord.node.routes_records import records_router
from accord.node.routes_replicate import replicate_router
from accord.node.service import Node

__all__ = ["create_app"]


def create_app(node: Node) -> FastAPI:
    """The FastAPI app of ``node`` (OpenAPI at /openapi.json, docs at /docs)."""
    app = FastAPI(
        title=f"Accord node {node.org}",
        version=__version__,
        description=(
            "One organization's Accord node: signed statements in, an append-only RFC 9162 "
            "log with C2SP checkpoints, proofs, SQL and FHIR out. Errors always have the "
            'shape {"error": {"code", "message", "details"}}.'
        ),
    )
    metrics = node.metrics
    install_error_handlers(app)
    app.include_router(log_router(node))
    app.include_router(records_router(node))
    app.include_router(admin_router(node, metrics))
    app.include_router(replicate_router(node))

    class CountRefusals(BaseHTTPMiddleware):
        async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
            response = await call_next(request)
            if response.status_code >= 400:
                metrics.refused.labels(str(response.status_code)).inc()
            return response

    app.add_middleware(CountRefusals)
    app.state.node = node
    return app
