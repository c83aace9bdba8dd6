"""Signed node-to-node requests (formats.md section 7) and the replay guard."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accord.encoding import canonical, sha256
from accord.errors import AuthError, UsageError
from accord.quorum import (
    ReplayGuard,
    RequestAuth,
    authenticate_request,
    new_nonce,
    sign_request,
    verify_request,
)
from accord.quorum.requests import DOMAIN, WINDOW_MS
from tests.unit.quorum.fixtures import consortium, log_key

C = consortium()
NOW = 1_710_000_000_000
NONCE = "0123456789abcdef0123456789abcdef"
BODY = b'{"record": "..."}'
PATH = "/v1/replicate"


def _headers(**changes: Any) -> dict[str, str]:
    args: dict[str, Any] = {
        "org": "nyu",
        "ts": NOW,
        "nonce": NONCE,
        "method": "POST",
        "path": PATH,
        "body": BODY,
    }
    args.update(changes)
    return sign_request(log_key(args.pop("key_of", "nyu")), **args)


def _verify(headers: dict[str, str], guard: ReplayGuard | None = None, **changes: Any) -> str:
    args: dict[str, Any] = {"method": "POST", "path": PATH, "body": BODY, "now": NOW}
    args.update(changes)
    return authenticate_request(headers, C, guard=guard, **args)


def test_signed_headers_match_formats_md_section_7() -> None:
    headers = _headers()
    assert list(headers) == ["Accord-Org", "Accord-Ts", "Accord-Nonce", "Accord-Sig"]
    assert headers["Accord-Org"] == "nyu"
    assert headers["Accord-Ts"] == str(NOW)
    assert headers["Accord-Nonce"] == NONCE
    value = {
        "org": "nyu",
        "ts": NOW,
        "nonce": NONCE,
        "method": "POST",
        "path": PATH,
        "body_hash": sha256(BODY).hex(),
    }
    auth = RequestAuth.from_headers(headers)
    log_key("nyu").public_key().verify(auth.sig, DOMAIN.encode() + canonical(value))


def test_a_signed_request_verifies_once() -> None:
    guard = ReplayGuard()
    assert _verify(_headers(), guard) == "nyu"
    with pytest.raises(AuthError) as info:
        _verify(_headers(), guard)
    assert info.value.details["reason"] == "replay"
    assert _verify(_headers(nonce=new_nonce()), guard) == "nyu"  # a fresh nonce is fine
    assert len(guard) == 2


def test_same_nonce_from_another_sender_is_not_a_replay() -> None:
    guard = ReplayGuard()
    _verify(_headers(), guard)
    assert _verify(_headers(org="cornell", key_of="cornell"), guard) == "cornell"


def test_header_names_are_case_insensitive() -> None:
    headers = {k.lower(): v for k, v in _headers().items()}
    assert _verify(headers) == "nyu"


# (mutation, what the receiver sees instead, reason)
REFUSED: list[tuple[str, Callable[[], str], str]] = [
    ("other path", lambda: _verify(_headers(), path="/v1/gossip"), "bad_signature"),
    ("other body", lambda: _verify(_headers(), body=BODY + b" "), "bad_signature"),
    ("empty body", lambda: _verify(_headers(), body=b""), "bad_signature"),
    ("other method", lambda: _verify(_headers(), method="PUT"), "bad_signature"),
    ("org relabelled", lambda: _verify({**_headers(), "Accord-Org": "cornell"}), "bad_signature"),
    ("ts changed", lambda: _verify({**_headers(), "Accord-Ts": str(NOW + 1)}), "bad_signature"),
    (
        "nonce changed",
        lambda: _verify({**_headers(), "Accord-Nonce": NONCE[::-1]}),
        "bad_signature",
    ),
    ("signed by another key", lambda: _verify(_headers(key_of="mskcc")), "bad_signature"),
    ("old timestamp", lambda: _verify(_headers(ts=NOW - WINDOW_MS - 1)), "stale"),
    ("future timestamp", lambda: _verify(_headers(ts=NOW + WINDOW_MS + 1)), "stale"),
    ("unknown sender", lambda: _verify(_headers(org="stanford", key_of="stanford")), "unknown_org"),
    (
        "missing signature",
        lambda: _verify({k: v for k, v in _headers().items() if k != "Accord-Sig"}),
        "missing",
    ),
    (
        "missing org",
        lambda: _verify({k: v for k, v in _headers().items() if k != "Accord-Org"}),
        "missing",
    ),
    ("no headers", lambda: _verify({}), "missing"),
    ("signature not base64", lambda: _verify({**_headers(), "Accord-Sig": "***"}), "malformed"),
    ("signature short", lambda: _verify({**_headers(), "Accord-Sig": "AAAA"}), "malformed"),
    ("ts not a number", lambda: _verify({**_headers(), "Accord-Ts": "soon"}), "malformed"),
    ("ts with sign", lambda: _verify({**_headers(), "Accord-Ts": "+" + str(NOW)}), "malformed"),
    (
        "ts with leading zero",
        lambda: _verify({**_headers(), "Accord-Ts": "0" + str(NOW)}),
        "malformed",
    ),
    ("ts huge", lambda: _verify({**_headers(), "Accord-Ts": "9" * 40}), "malformed"),
    ("nonce short", lambda: _verify({**_headers(), "Accord-Nonce": "abcd"}), "malformed"),
    (
        "nonce upper case",
        lambda: _verify({**_headers(), "Accord-Nonce": NONCE.upper()}),
        "malformed",
    ),
    ("org malformed", lambda: _verify({**_headers(), "Accord-Org": "NYU"}), "malformed"),
    ("header not text", lambda: _verify({**_headers(), "Accord-Ts": NOW}), "malformed"),  # type: ignore[dict-item]
]


@pytest.mark.parametrize(("mutation", "attempt", "reason"), REFUSED, ids=[r[0] for r in REFUSED])
def test_refused_requests(mutation: str, attempt: Callable[[], str], reason: str) -> None:
    with pytest.raises(AuthError) as info:
        attempt()
    assert info.value.details["reason"] == reason
    assert info.value.status == 401


class _MultiDict:
    """Stands in for an HTTP framework's header multi-dict."""

    def __init__(self, pairs: list[tuple[str, str]]) -> None:
        self.pairs = pairs

    def items(self) -> list[tuple[str, str]]:
        return self.pairs


def test_a_header_given_twice_is_refused() -> None:
    headers = _headers()
    doubled = {**headers, "accord-sig": _headers(body=b"other")["Accord-Sig"]}
    with pytest.raises(AuthError, match="given twice") as info:
        _verify(doubled)
    assert info.value.details["reason"] == "malformed"
    pairs = [*headers.items(), ("Accord-Org", "cornell")]
    with pytest.raises(AuthError, match="given twice"):
        _verify(_MultiDict(pairs))  # type: ignore[arg-type]
    assert _verify({**headers, "X-Other": "1", "x-other": "2"}) == "nyu"  # not ours: ignored


def test_timestamps_at_the_edge_of_the_window_are_accepted() -> None:
    assert _verify(_headers(ts=NOW - WINDOW_MS)) == "nyu"
    assert _verify(_headers(ts=NOW + WINDOW_MS, nonce=new_nonce())) == "nyu"


def test_a_refused_signature_does_not_spend_the_nonce() -> None:
    guard = ReplayGuard()
    with pytest.raises(AuthError):
        _verify(_headers(), guard, body=b"forged")
    assert len(guard) == 0
    assert _verify(_headers(), guard) == "nyu"


def test_verify_request_with_a_known_key() -> None:
    auth = RequestAuth.from_headers(_headers())
    verify_request(auth, log_key("nyu").public_key(), method="POST", path=PATH, body=BODY, now=NOW)
    with pytest.raises(AuthError):
        verify_request(
            auth, log_key("cornell").public_key(), method="POST", path=PATH, body=BODY, now=NOW
        )


@pytest.mark.parametrize(
    "changes",
    [
        {"org": "NYU"},
        {"ts": -1},
        {"ts": 2**53},
        {"nonce": "short"},
        {"method": "post"},
        {"path": "v1/replicate"},
        {"path": "/v1/a b"},
        {"body": "text"},
    ],
)
def test_sign_request_preconditions(changes: dict[str, Any]) -> None:
    with pytest.raises(UsageError):
        _headers(**changes)


def test_new_nonces_are_fresh_32_hex() -> None:
    nonces = {new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    assert all(len(n) == 32 and int(n, 16) >= 0 and n == n.lower() for n in nonces)


# -- the guard alone --------------------------------------------------------------------


def test_guard_refuses_replays_and_stale_timestamps() -> None:
    g = ReplayGuard()
    g.check("nyu", "a" * 32, NOW, NOW)
    with pytest.raises(AuthError, match="already used"):
        g.check("nyu", "a" * 32, NOW, NOW + 1000)
    with pytest.raises(AuthError, match="off this node's clock"):
        g.check("nyu", "b" * 32, NOW - WINDOW_MS - 1, NOW)


def test_guard_forgets_by_time() -> None:
    g = ReplayGuard()
    for i in range(10):  # one a minute, all within 5 minutes of the receiver's clock
        g.check("nyu", f"{i:032x}", NOW + i * 60_000, NOW + 5 * 60_000)
    assert len(g) == 10
    later = NOW + 9 * 60_000 + 1
    g.evict(later)
    # entries older than later - 5 min (i = 0..4) are gone; the rest remain refused
    assert len(g) == 5
    with pytest.raises(AuthError, match="already used"):
        g.check("nyu", f"{9:032x}", NOW + 9 * 60_000, later)
    # an evicted nonce could only come back with a stale timestamp, which is refused
    with pytest.raises(AuthError) as info:
        g.check("nyu", f"{0:032x}", NOW, later)
    assert info.value.details["reason"] == "stale"


def test_a_clock_stepped_back_does_not_readmit_a_forgotten_nonce() -> None:
    g = ReplayGuard()
    g.check("nyu", "a" * 32, NOW, NOW)
    g.evict(NOW + WINDOW_MS + 1)  # the receiver's clock ran ahead; the nonce is forgotten
    assert len(g) == 0
    with pytest.raises(AuthError, match="older than this node's replay window") as info:
        g.check("nyu", "a" * 32, NOW, NOW + 10)  # ... and was then stepped back
    assert info.value.details["reason"] == "stale"
    g.check("nyu", "b" * 32, NOW + 10, NOW + 10)  # within the window of both clocks: fine


def test_guard_memory_is_bounded_and_never_readmits_a_dropped_nonce() -> None:
    g = ReplayGuard(max_entries=3)
    for i in range(5):
        g.check("nyu", f"{i:032x}", NOW + i, NOW + 10)
    assert len(g) == 3
    # nonces 0 and 1 were dropped for room; the floor (NOW + 1) refuses them as replays could
    for i in (0, 1):
        with pytest.raises(AuthError) as info:
            g.check("nyu", f"{i:032x}", NOW + i, NOW + 10)
        assert info.value.details["reason"] == "guard_full"
    # a request from before the floor but never seen is refused too (it may retry)
    with pytest.raises(AuthError, match="replay guard is full"):
        g.check("nyu", "f" * 32, NOW, NOW + 10)
    # fresh requests after the floor still pass
    g.check("nyu", "e" * 32, NOW + 11, NOW + 11)
    assert len(g) == 3


def test_guard_with_many_requests_stays_bounded() -> None:
    g = ReplayGuard(max_entries=1000)
    for i in range(20_000):
        g.check("nyu", f"{i:032x}", NOW + i, NOW + i)
    assert len(g) == 1000


def test_guard_parameters() -> None:
    with pytest.raises(UsageError):
        ReplayGuard(max_entries=0)
    with pytest.raises(UsageError):
        ReplayGuard(window_ms=-1)
    g = ReplayGuard(window_ms=1000)
    with pytest.raises(AuthError, match="off this node's clock"):
        _verify(_headers(ts=NOW - 1001), g)
