"""The node's HTTP app: routes only (each calls a ``process_*`` function of the node)."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from accord import __version__
from accord.node.httpapi import install_error_handlers
from accord.node.routes_admin import admin_router
from accord.node.routes_compliance import compliance_router
from accord.node.routes_fhir import fhir_router
from accord.node.routes_log import log_router
from accord.node.routes_query import query_router
from accord.node.routes_records import records_router
from accord.node.routes_replicate import replicate_router
from accord.node.routes_witness import witness_router
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
    app.include_router(compliance_router(node))
    app.include_router(fhir_router(node))
    app.include_router(witness_router(node))
    app.include_router(replicate_router(node))
    app.include_router(query_router(node))

    class CountRefusals:
        """Counts answers of status 400 and above, by status. Plain ASGI: Starlette's
        BaseHTTPMiddleware costs a task and a stream per request (about 0.4 ms of CPU)."""

        def __init__(self, app: ASGIApp) -> None:
            self.app = app

        async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http":
                await self.app(scope, receive, send)
                return

            async def counting(message: Message) -> None:
                if message["type"] == "http.response.start" and message["status"] >= 400:
                    metrics.refused.labels(str(message["status"])).inc()
                await send(message)

            await self.app(scope, receive, counting)

    app.add_middleware(CountRefusals)
    app.state.node = node
    return app
