"""Helpers for the replication tests: waiting for status, signed requests to a member."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import NodeClient
from accord.errors import AccordError
from accord.quorum import new_nonce, sign_request
from accord.records import SignedStatement

__all__ = [
    "post_signed",
    "replicate_body",
    "statuses",
    "wait_for",
    "wait_status",
]


def wait_for(check: Callable[[], Any], timeout: float = 30.0, what: str = "the condition") -> Any:
    """Poll ``check`` until it returns something truthy (and return it)."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


def statuses(client: NodeClient, records: Sequence[str]) -> dict[str, str]:
    """Each record's status at that node ('missing' if it does not hold it)."""
    out = {}
    for r in records:
        try:
            out[r] = client.record(r)["status"]
        except AccordError:
            out[r] = "missing"
    return out


def wait_status(
    client: NodeClient, records: Sequence[str], status: str = "final", timeout: float = 30.0
) -> None:
    wait_for(
        lambda: set(statuses(client, records).values()) == {status},
        timeout,
        f"{len(records)} records to be {status} at {client.url}",
    )


def replicate_body(statements: Sequence[SignedStatement | Any]) -> bytes:
    """``{"records": [...]}`` from signed statements (or any JSON values, for bad ones)."""
    parts = [
        s.body if isinstance(s, SignedStatement) else json.dumps(s).encode() for s in statements
    ]
    return b'{"records":[' + b",".join(parts) + b"]}"


def post_signed(
    url: str,
    path: str,
    body: bytes,
    *,
    org: str,
    key: Ed25519PrivateKey,
    ts: int | None = None,
    nonce: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """POST a node-to-node request signed as ``org`` with ``key`` (formats.md section 7)."""
    signed = headers or sign_request(
        key,
        org=org,
        ts=int(time.time() * 1000) if ts is None else ts,
        nonce=nonce or new_nonce(),
        method="POST",
        path=path,
        body=body,
    )
    return httpx.post(
        url + path,
        content=body,
        headers={**signed, "Content-Type": "application/json"},
        timeout=30,
    )
