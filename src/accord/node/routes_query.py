"""``POST /v1/query``: verifiable query answers as proof bundles (docs/bundles.md)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from accord.node.httpapi import json_body, require, run
from accord.node.querying import process_query
from accord.node.service import Node

__all__ = ["query_router"]


def query_router(node: Node) -> APIRouter:
    router = APIRouter(tags=["query"])

    @router.post(
        "/v1/query",
        summary="A proof bundle (accord-bundle/v1) answering one audit query",
        description=(
            'Body: {"kind": "patient"|"accessor"|"disclosures"|"record", its parameters '
            '("patient"; "accessor_org", "accessor"; "discloser", "recipient"; "record"), '
            '"and": [<more terms>], "from", "to" (event time, ms or ISO 8601), "page", '
            '"page_size", "size" (a checkpoint size; default the latest cosigned one)}. '
            "Auditor token. Check the answer with `accord verify`."
        ),
    )
    async def query(request: Request) -> Response:
        require(node, request, "auditor")
        body = await json_body(request, 1 << 16)
        text = await run(process_query, node, body)
        return Response(text.encode("utf-8"), media_type="application/json")

    return router
