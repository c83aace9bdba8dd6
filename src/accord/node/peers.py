"""Talking to the other members' nodes: signed node-to-node requests (formats.md section 7).

:class:`Peers` sends requests signed with this node's log key to a member's URL from the
consortium file; :func:`authenticate_peer` checks an incoming request's signature,
timestamp and nonce (with one :class:`~accord.quorum.ReplayGuard` per node) and returns
the sending org. Replays and forgeries are AuthError (401).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client.http import error_from_response
from accord.errors import NetworkError, UsageError
from accord.quorum import Consortium, ReplayGuard, authenticate_request, new_nonce, sign_request

__all__ = ["Peers", "authenticate_peer"]


class Peers:
    """HTTP clients to every other member, signing each request as this org."""

    def __init__(
        self,
        consortium: Consortium,
        org: str,
        key: Callable[[], Ed25519PrivateKey],
        clock_ms: Callable[[], int],
        *,
        timeout: float = 10.0,
    ) -> None:
        self.consortium = consortium
        self.org = org
        self._key = key
        self._clock_ms = clock_ms
        self._timeout = timeout
        self._clients: dict[str, httpx.Client] = {}
        self._lock = threading.Lock()

    def others(self) -> list[str]:
        return [m for m in self.consortium.orgs if m != self.org]

    def _client(self, org: str) -> httpx.Client:
        with self._lock:
            client = self._clients.get(org)
            if client is None:
                url = self.consortium.member(org).url.rstrip("/")
                client = httpx.Client(base_url=url, timeout=self._timeout)
                self._clients[org] = client
            return client

    def request(
        self,
        org: str,
        method: str,
        path: str,
        body: bytes = b"",
        *,
        content_type: str = "application/json",
        signed: bool = True,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Send a request to member ``org``; NetworkError if unreachable.

        Error answers (4xx/5xx) are returned, not raised: protocols such as
        tlog-witness give meaning to their statuses.
        """
        if org not in self.consortium.orgs:
            raise UsageError(f"{org!r} is not a member of {self.consortium.id!r}")
        all_headers = {"Content-Type": content_type, **(headers or {})}
        if signed:
            all_headers.update(
                sign_request(
                    self._key(),
                    org=self.org,
                    ts=self._clock_ms(),
                    nonce=new_nonce(),
                    method=method,
                    path=path,
                    body=body,
                )
            )
        try:
            return self._client(org).request(method, path, content=body, headers=all_headers)
        except httpx.HTTPError as exc:
            raise NetworkError(f"cannot reach {org} ({exc.__class__.__name__}: {exc})") from None

    def json(self, org: str, method: str, path: str, body: bytes = b"") -> Any:
        """A signed request whose error answers are raised as their AccordError."""
        response = self.request(org, method, path, body)
        if response.status_code >= 400:
            raise error_from_response(response)
        return response.json()

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for client in clients:
            client.close()


def authenticate_peer(
    headers: Mapping[str, str],
    consortium: Consortium | None,
    guard: ReplayGuard,
    *,
    method: str,
    path: str,
    body: bytes,
    now: int,
) -> str:
    """The member org that signed this request (AuthError otherwise)."""
    if consortium is None:
        raise UsageError("this node is not in a consortium")
    return authenticate_request(
        headers, consortium, method=method, path=path, body=body, now=now, guard=guard
    )
