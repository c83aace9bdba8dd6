"""Bearer tokens: ``accord token create DIR --role source|auditor|admin``.

A token is ``acc_<id>_<secret>``: a 12-hex-digit id and 32 random bytes in
base64url. The node keeps only SHA-256 of the secret (the secret has 256 bits
of entropy, so a plain hash is as good as a slow one), the role and a label;
``accord token create`` prints the token once. Roles nest: ``admin`` may do
everything, ``auditor`` reads (records, SQL, reports, queries), ``source``
submits statements and FHIR resources.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Final

from accord.errors import AuthError, ForbiddenError, NotFoundError, UsageError
from accord.store.database import Database

__all__ = ["ROLES", "TokenInfo", "Tokens"]

ROLES: Final = ("source", "auditor", "admin")
_TOKEN_RE: Final = re.compile(r"acc_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")
_CACHE_SECONDS: Final = 2.0


@dataclass(frozen=True, slots=True)
class TokenInfo:
    id: str
    role: str
    label: str


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.encode("ascii")).digest()


class Tokens:
    """Token storage and checks over the node's database (safe to share between threads)."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._cache: dict[str, tuple[float, TokenInfo]] = {}
        self._lock = threading.Lock()

    def create(self, role: str, label: str = "", now_ms: int | None = None) -> str:
        """A new token for ``role``; the only time its secret is seen."""
        if role not in ROLES:
            raise UsageError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        now = int(time.time() * 1000) if now_ms is None else now_ms
        with self._db.transaction() as tx:
            tx.execute(
                "INSERT INTO tokens (id, role, hash, label, created_ms, revoked_ms)"
                " VALUES (?, ?, ?, ?, ?, NULL)",
                (token_id, role, _digest(secret), label[:200], now),
            )
        return f"acc_{token_id}_{secret}"

    def revoke(self, token_id: str, now_ms: int | None = None) -> None:
        now = int(time.time() * 1000) if now_ms is None else now_ms
        with self._db.transaction() as tx:
            changed = tx.execute(
                "UPDATE tokens SET revoked_ms = ? WHERE id = ? AND revoked_ms IS NULL",
                (now, token_id),
            )
        if not changed:
            raise NotFoundError(f"no active token with id {token_id!r}")
        with self._lock:
            self._cache.clear()

    def list(self) -> list[dict[str, object]]:
        rows = self._db.fetchall(
            "SELECT id, role, label, created_ms, revoked_ms FROM tokens ORDER BY created_ms"
        )
        return [
            {"id": r[0], "role": r[1], "label": r[2], "created_ms": r[3], "revoked_ms": r[4]}
            for r in rows
        ]

    def check(self, authorization: str | None, allowed: tuple[str, ...]) -> TokenInfo:
        """The token in an ``Authorization: Bearer`` header, if it has one of ``allowed`` roles.

        AuthError (401) without a valid token; ForbiddenError (403) for the wrong role.
        """
        info = self._lookup(authorization)
        if info.role != "admin" and info.role not in allowed:
            raise ForbiddenError(
                f"a {info.role} token may not do this (needs {' or '.join(allowed)})",
                role=info.role,
            )
        return info

    def _lookup(self, authorization: str | None) -> TokenInfo:
        if not authorization:
            raise AuthError("this endpoint needs a bearer token (Authorization: Bearer acc_...)")
        scheme, _, token = authorization.partition(" ")
        if scheme.lower() != "bearer":
            raise AuthError("use the Bearer authorization scheme")
        token = token.strip()
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(token)
        if hit is not None and hit[0] > now:
            return hit[1]
        match = _TOKEN_RE.fullmatch(token)
        if match is None:
            raise AuthError("malformed token")
        token_id, secret = match.groups()
        row = self._db.fetchone(
            "SELECT role, hash, label FROM tokens WHERE id = ? AND revoked_ms IS NULL",
            (token_id,),
        )
        if row is None or not hmac.compare_digest(bytes(row[1]), _digest(secret)):
            raise AuthError("unknown or revoked token")
        info = TokenInfo(token_id, str(row[0]), str(row[2]))
        with self._lock:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[token] = (now + _CACHE_SECONDS, info)
        return info
