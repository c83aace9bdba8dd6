"""Signed node-to-node requests and the replay guard (formats.md section 7).

A request between nodes (replication, gossip) carries four headers:
``Accord-Org`` (the sender), ``Accord-Ts`` (ms), ``Accord-Nonce`` (32 lowercase
hex) and ``Accord-Sig``: the sender's log-key signature (padded base64) over
``"accord/node-request/v1\\n" || canonical({"org", "ts", "nonce", "method",
"path", "body_hash"})`` with ``body_hash`` the hex SHA-256 of the body bytes.

The receiver refuses a timestamp more than 5 minutes off its clock and a nonce
it has seen from that sender within the window. Every refusal is an
:class:`~accord.errors.AuthError` (401): missing or malformed headers, an
unknown sender, a bad signature, a stale timestamp, and a **replay** (a spent
nonce is a spent credential; the sender retries with a fresh nonce). Its
``details["reason"]`` says which: ``missing``, ``malformed``, ``unknown_org``,
``bad_signature``, ``stale``, ``replay``, ``guard_full``.
"""

from __future__ import annotations

import heapq
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from accord.encoding import b64decode, b64encode, sha256, sign, verify_signature
from accord.errors import AccordError, AuthError, UsageError
from accord.quorum.consortium import Consortium
from accord.quorum.names import is_json_int, is_org_id
from accord.quorum.vkeys import public_key

__all__ = [
    "DOMAIN",
    "HEADERS",
    "WINDOW_MS",
    "ReplayGuard",
    "RequestAuth",
    "authenticate_request",
    "new_nonce",
    "sign_request",
    "verify_request",
]

DOMAIN: Final = "accord/node-request/v1\n"
#: How far a request's timestamp may be from the receiver's clock, either way.
WINDOW_MS: Final = 5 * 60 * 1000
#: The header names, in the order they are written.
HEADERS: Final = ("Accord-Org", "Accord-Ts", "Accord-Nonce", "Accord-Sig")

_LOWER_HEADERS: Final = frozenset(h.lower() for h in HEADERS)
_NONCE = re.compile(r"[0-9a-f]{32}")
_METHOD = re.compile(r"[A-Z]{1,16}")
_TS = re.compile(r"0|[1-9][0-9]{0,15}")
_MAX_PATH: Final = 2048


def _refuse(reason: str, message: str, **details: Any) -> AuthError:
    return AuthError(f"node request refused: {message}", reason=reason, **details)


def new_nonce() -> str:
    """A fresh random nonce: 32 lowercase hex digits (128 bits)."""
    return secrets.token_hex(16)


def _check_target(method: str, path: str) -> None:
    if not isinstance(method, str) or not _METHOD.fullmatch(method):
        raise UsageError(f"method {method!r} must be an upper-case HTTP method")
    if (
        not isinstance(path, str)
        or not path.startswith("/")
        or len(path) > _MAX_PATH
        or not path.isascii()
        or not path.isprintable()
        or " " in path
    ):
        raise UsageError("path must be printable ASCII starting with '/', without spaces")


def _signed_value(
    org: str, ts: int, nonce: str, method: str, path: str, body: bytes
) -> dict[str, Any]:
    return {
        "org": org,
        "ts": ts,
        "nonce": nonce,
        "method": method,
        "path": path,
        "body_hash": sha256(body).hex(),
    }


@dataclass(frozen=True, slots=True)
class RequestAuth:
    """The four Accord request headers, decoded. :meth:`from_headers` refuses bad ones."""

    org: str
    ts: int
    nonce: str
    sig: bytes

    def headers(self) -> dict[str, str]:
        values = (self.org, str(self.ts), self.nonce, b64encode(self.sig))
        return dict(zip(HEADERS, values, strict=True))

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> RequestAuth:
        """Decode the headers (names case-insensitive); AuthError if missing or malformed.

        A header given twice (``Accord-Sig`` and ``accord-sig``, or a multi-dict
        with two values) is refused as malformed rather than guessed between.
        """
        lower: dict[str, object] = {}
        for key, value in headers.items():
            name = str(key).lower()
            if name in lower and name in _LOWER_HEADERS:
                raise _refuse("malformed", f"header {name} is given twice")
            lower[name] = value
        values: list[str] = []
        for name in HEADERS:
            found = lower.get(name.lower())
            if found is None:
                raise _refuse("missing", f"header {name} is missing")
            if not isinstance(found, str):
                raise _refuse("malformed", f"header {name} is not text")
            values.append(found)
        org, ts, nonce, sig = values
        if not is_org_id(org):
            raise _refuse("malformed", "Accord-Org is not an org id")
        if not _TS.fullmatch(ts) or not is_json_int(int(ts)):
            raise _refuse("malformed", "Accord-Ts is not a time in milliseconds")
        if not _NONCE.fullmatch(nonce):
            raise _refuse("malformed", "Accord-Nonce must be 32 lowercase hex digits")
        try:
            raw = b64decode(sig, "Accord-Sig")
        except AccordError:
            raise _refuse("malformed", "Accord-Sig is not padded base64") from None
        if len(raw) != 64:
            raise _refuse("malformed", "Accord-Sig is not an Ed25519 signature")
        return cls(org, int(ts), nonce, raw)


def sign_request(
    key: Ed25519PrivateKey,
    *,
    org: str,
    ts: int,
    nonce: str,
    method: str,
    path: str,
    body: bytes,
) -> dict[str, str]:
    """The four signed headers for a request from ``org`` (formats.md section 7).

    Preconditions (UsageError otherwise): ``org`` an org id, ``ts`` ms in
    [0, 2**53), ``nonce`` 32 lowercase hex (see :func:`new_nonce`), ``method``
    upper case, ``path`` the request path (with its query string, if any).
    """
    if not is_org_id(org) or not is_json_int(ts) or not _NONCE.fullmatch(str(nonce)):
        raise UsageError("org, ts and nonce must be an org id, ms and 32 lowercase hex")
    _check_target(method, path)
    if not isinstance(body, bytes):
        raise UsageError("body must be bytes")
    sig = sign(key, DOMAIN, _signed_value(org, ts, nonce, method, path, body))
    return RequestAuth(org, ts, nonce, sig).headers()


def _check_time(ts: int, now: int, window_ms: int) -> None:
    if abs(now - ts) > window_ms:
        raise _refuse(
            "stale",
            f"timestamp {ts} is {abs(now - ts) // 1000} s off this node's clock "
            f"(at most {window_ms // 1000} s allowed)",
            ts=ts,
            now=now,
        )


def verify_request(
    auth: RequestAuth,
    key: Ed25519PublicKey,
    *,
    method: str,
    path: str,
    body: bytes,
    now: int,
    guard: ReplayGuard | None = None,
) -> None:
    """Raise AuthError unless ``auth`` signs this request, now, for the first time.

    ``key`` is the public log key of ``auth.org``; ``now`` the receiver's clock
    (ms). Order: timestamp window, signature, then ``guard`` (so that only
    authentic requests spend memory in the guard).
    """
    _check_target(method, path)
    _check_time(auth.ts, now, guard.window_ms if guard is not None else WINDOW_MS)
    value = _signed_value(auth.org, auth.ts, auth.nonce, method, path, body)
    try:
        verify_signature(key, DOMAIN, value, auth.sig)
    except AccordError:
        raise _refuse(
            "bad_signature",
            f"the signature is not {auth.org}'s over this method, path and body",
            org=auth.org,
        ) from None
    if guard is not None:
        guard.check(auth.org, auth.nonce, auth.ts, now)


def authenticate_request(
    headers: Mapping[str, str],
    consortium: Consortium,
    *,
    method: str,
    path: str,
    body: bytes,
    now: int,
    guard: ReplayGuard | None,
) -> str:
    """Decode, look up and verify a node request; return the sending org.

    The sender's key is its ``log_key`` in ``consortium``; a sender the file
    does not name is refused (AuthError, reason ``unknown_org``).
    """
    auth = RequestAuth.from_headers(headers)
    if auth.org not in consortium.orgs:
        raise _refuse("unknown_org", f"{auth.org!r} is not a member of {consortium.id!r}")
    key = public_key(consortium.member(auth.org).log_key)
    verify_request(auth, key, method=method, path=path, body=body, now=now, guard=guard)
    return auth.org


class ReplayGuard:
    """Remembers the nonces of accepted requests for the time window (pure state).

    :meth:`check` refuses a timestamp more than ``window_ms`` off ``now`` and a
    (sender, nonce) already seen; it forgets entries once their timestamp is
    older than ``now - window_ms`` (such requests are refused as stale anyway).
    Memory is bounded by ``max_entries``: when full, the oldest entry is
    dropped and its timestamp becomes a floor, at or below which requests are
    refused (reason ``guard_full``), so a dropped nonce can never be replayed.
    Eviction follows the latest ``now`` seen, so a clock stepped backwards
    cannot readmit a forgotten nonce: timestamps older than that latest
    ``now - window_ms`` stay refused. Not thread-safe: the shell serializes calls.
    """

    __slots__ = ("_floor", "_heap", "_horizon", "_seen", "max_entries", "window_ms")

    def __init__(self, window_ms: int = WINDOW_MS, max_entries: int = 200_000) -> None:
        if type(window_ms) is not int or window_ms < 0:
            raise UsageError("window_ms must be a non-negative integer")
        if type(max_entries) is not int or max_entries < 1:
            raise UsageError("max_entries must be a positive integer")
        self.window_ms = window_ms
        self.max_entries = max_entries
        self._seen: dict[tuple[str, str], int] = {}
        self._heap: list[tuple[int, str, str]] = []
        self._floor = -1
        self._horizon: int | None = None  # latest now - window_ms; older entries are forgotten

    def __len__(self) -> int:
        return len(self._seen)

    def _drop_oldest(self) -> int:
        ts, org, nonce = heapq.heappop(self._heap)
        del self._seen[(org, nonce)]
        return ts

    def evict(self, now: int) -> None:
        """Forget every entry older than the latest ``now`` seen minus ``window_ms``."""
        horizon = now - self.window_ms
        if self._horizon is not None:
            horizon = max(horizon, self._horizon)
        self._horizon = horizon
        while self._heap and self._heap[0][0] < horizon:
            self._drop_oldest()

    def check(self, org: str, nonce: str, ts: int, now: int) -> None:
        """Accept and remember (org, nonce) at ``ts``, or raise AuthError."""
        _check_time(ts, now, self.window_ms)
        self.evict(now)
        if self._horizon is not None and ts < self._horizon:
            raise _refuse(
                "stale",
                f"timestamp {ts} is older than this node's replay window "
                f"(its clock has been ahead, up to {self._horizon + self.window_ms})",
                ts=ts,
                now=now,
            )
        if (org, nonce) in self._seen:
            raise _refuse("replay", f"nonce {nonce} from {org} was already used", org=org)
        if ts <= self._floor:
            raise _refuse(
                "guard_full",
                f"the replay guard is full; timestamps at or before {self._floor} are "
                "refused (retry with a fresh timestamp)",
                org=org,
            )
        while len(self._seen) >= self.max_entries:
            self._floor = max(self._floor, self._drop_oldest())
        self._seen[(org, nonce)] = ts
        heapq.heappush(self._heap, (ts, org, nonce))
