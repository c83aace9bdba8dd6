"""The HTTP edge shared by every route: one error shape, bearer-token roles, bounded bodies.

One function (:func:`error_response`) maps every AccordError to its status and the
one JSON shape ``{"error": {"code", "message", "details"}}``; FastAPI's own
validation errors and unknown routes are answered in the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from accord.encoding import hex32, parse_json
from accord.errors import AccordError, MalformedError, TooLargeError, UsageError
from accord.node.service import Node

__all__ = [
    "error_response",
    "install_error_handlers",
    "int_param",
    "json_body",
    "parse_hash",
    "raw_body",
    "require",
    "run",
]

_log = logging.getLogger("accord.http")
T = TypeVar("T")


def error_response(exc: AccordError) -> JSONResponse:
    return JSONResponse(exc.to_dict(), status_code=exc.status)


def _error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Any:
    return JSONResponse(
        {"error": {"code": code, "message": message, "details": details or {}}},
        status_code=status,
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AccordError)
    async def _accord(request: Request, exc: AccordError) -> JSONResponse:
        return error_response(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        message = f"{where}: {first.get('msg', 'invalid request')}"
        result: JSONResponse = _error(400, "usage", message, {"problems": len(exc.errors())})
        return result

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http")
        result: JSONResponse = _error(exc.status_code, code, str(exc.detail))
        return result

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        _log.exception("unhandled error on %s %s", request.method, request.url.path)
        result: JSONResponse = _error(500, "internal", "internal error; see the node's log")
        return result


async def run(fn: Callable[..., T], *args: Any) -> T:
    """Run blocking node work off the event loop."""
    return await run_in_threadpool(fn, *args)


async def raw_body(request: Request, limit: int) -> bytes:
    """The request body, refused past ``limit`` bytes without reading it all."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise TooLargeError("request", f"body of {declared} bytes is over the limit of {limit}")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLargeError("request", f"body is over the limit of {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: Request, limit: int) -> Any:
    """The request body parsed as strict JSON (no NaN, no duplicate keys)."""
    data = await raw_body(request, limit)
    if not data:
        raise MalformedError("request", "the body is empty; JSON expected")
    return await run(parse_json, data, "request")


def parse_hash(text: str, what: str = "record hash") -> bytes:
    return hex32(text.lower() if len(text) == 64 else text, what)


def require(node: Node, request: Request, *roles: str) -> None:
    """Check the request's bearer token has one of ``roles`` (admin always may)."""
    node.tokens.check(request.headers.get("authorization"), tuple(roles))


def int_param(request: Request, name: str, default: int | None = None) -> int:
    value = request.query_params.get(name)
    if value is None:
        if default is None:
            raise UsageError(f"query parameter {name!r} is required")
        return default
    if not value.isdigit() or len(value) > 19:
        raise UsageError(f"query parameter {name!r} must be a non-negative integer")
    return int(value)
