"""Identifiers the quorum layer checks: org ids, log origins, principals, node URLs, integers.

Org ids follow docs/formats.md section 1 (``[a-z0-9][a-z0-9-]{0,62}``); a
principal in a certificate is the hex pseudonym of formats.md section 5 (32
lowercase hex digits); log origins follow C2SP tlog-checkpoint (one line, no
spaces; Accord also forbids ``+`` so the log key's name can equal the origin);
node URLs are plain http(s) base URLs. Each check is a predicate (or, for URLs,
returns what is wrong), so that every caller raises its own format's error.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import urlsplit

__all__ = [
    "MAX_JSON_INT",
    "is_json_int",
    "is_org_id",
    "is_origin",
    "is_principal",
    "url_problem",
]

#: The largest integer canonical JSON carries exactly (RFC 8785, IEEE 754 double).
MAX_JSON_INT: Final = 2**53 - 1

_ORG = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_PRINCIPAL = re.compile(r"[0-9a-f]{32}")
_MAX_ORIGIN: Final = 255
_MAX_URL: Final = 2048


def is_org_id(value: object) -> bool:
    """True for an org id of formats.md section 1."""
    return isinstance(value, str) and _ORG.fullmatch(value) is not None


def is_principal(value: object) -> bool:
    """True for a principal as certificates name it: a 32-hex-digit pseudonym."""
    return isinstance(value, str) and _PRINCIPAL.fullmatch(value) is not None


def is_origin(value: object) -> bool:
    """True for a log origin: 1..255 printable characters, no spaces, no ``+``."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= _MAX_ORIGIN
        and value.isprintable()
        and "+" not in value
        and not any(c.isspace() for c in value)
    )


def is_json_int(value: object) -> bool:
    """True for a non-negative int (not a bool) that canonical JSON carries exactly."""
    return type(value) is int and 0 <= value <= MAX_JSON_INT


def url_problem(value: object) -> str | None:
    """None for a node's base URL, else what is wrong with it.

    Accepted: ``http`` or ``https``, a host and optional port, an optional path;
    no user info, query or fragment; printable ASCII without spaces.
    """
    if not isinstance(value, str):
        return "must be a string"
    if not 0 < len(value) <= _MAX_URL:
        return f"must be 1 to {_MAX_URL} characters"
    if not value.isascii() or not value.isprintable() or " " in value:
        return "must be printable ASCII without spaces"
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        return f"not a URL ({exc})"
    if parts.scheme not in ("http", "https") or not value.startswith(parts.scheme + "://"):
        return "must start with http:// or https://"
    if "@" in parts.netloc:
        return "must not hold user info"
    if not parts.hostname or parts.netloc.endswith(":") or (port is not None and port == 0):
        return "must name a host and, optionally, a port from 1 to 65535"
    if parts.query or parts.fragment or "?" in value or "#" in value:
        return "must not have a query or fragment"
    if parts.path and not parts.path.startswith("/"):
        return "path must start with '/'"
    return None
