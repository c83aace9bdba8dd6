"""The consortium file: members, keys, witness policy, default trust set (docs/consortium.md).

``Consortium.parse(text)`` reads the TOML file strictly (``tomllib``): unknown
keys, missing keys, wrong types, duplicate org ids, origins, URLs or keys, a
witness policy asking for more cosignatures than there are other members, bad
URLs and bad verifier keys all raise ``MalformedError("consortium file", ...)``
whose message and ``details["field"]`` name the field (``members[1].url``).
``Consortium.format()`` writes TOML that parses back to an equal value (a small
emitter for this fixed shape, so the pure package needs no ``tomli_w``).

``digest`` is ``SHA-256("accord/consortium/v1\\n" || canonical(to_json()))``:
two files have the same digest exactly when they parse to equal values
(comments, spacing and key order do not matter; member order does).
"""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from accord.encoding import domain_hash
from accord.errors import MalformedError, NotFoundError, TooLargeError, UsageError
from accord.quorum.names import is_org_id, is_origin, url_problem
from accord.quorum.trustset import (
    BYZANTINE,
    MAJORITY,
    TrustSet,
    TrustSetLookup,
    resolve_trust_set,
)
from accord.quorum.vkeys import SIGTYPE_COSIGNATURE, SIGTYPE_ED25519, check_vkey, public_key

__all__ = ["FORMAT_VERSION", "MAX_FILE_SIZE", "MAX_MEMBERS", "Consortium", "Member"]

FORMAT_VERSION: Final = 1
MAX_FILE_SIZE: Final = 1 << 20
MAX_MEMBERS: Final = 256
_WHAT: Final = "consortium file"
_MAX_NAME: Final = 200
_MAX_ADDRESS: Final = 1000

_TOP_KEYS: Final = ("version", "id", "witness", "trust", "members")
_WITNESS_KEYS: Final = ("k",)
_TRUST_KEYS: Final = ("model", "f", "members")
_MEMBER_KEYS: Final = ("org", "name", "url", "origin", "log_key", "witness_key", "address")
_MEMBER_OPTIONAL: Final = ("address",)


def _bad(field: str, message: str) -> MalformedError:
    return MalformedError(_WHAT, f"{field}: {message}", field=field, reason=message)


def _toml_string(value: str) -> str:
    """A TOML basic string (TOML 1.0 section "String"): escapes quotes, backslashes, controls."""
    out = ['"']
    for c in value:
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


_ESCAPES: Final = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\t": "\\t", "\r": "\\r"}


def _check_text(value: object, field: str, limit: int, lines: bool) -> str:
    """Printable text of 1..limit characters (``lines``: may hold newlines between lines)."""
    if not isinstance(value, str):
        raise _bad(field, "must be a string")
    if not 0 < len(value) <= limit:
        raise _bad(field, f"must be 1 to {limit} characters")
    parts = value.split("\n") if lines else [value]
    if not all(part.isprintable() for part in parts):
        raise _bad(field, "must not hold control characters" + ("" if lines else " or newlines"))
    if value != value.strip():
        raise _bad(field, "must not start or end with spaces")
    return value


@dataclass(frozen=True, slots=True)
class Member:
    """One member org (docs/consortium.md section 2).

    ``log_key`` is a C2SP verifier key of type 0x01 (checkpoints, receipts,
    node-to-node requests); ``witness_key`` of type 0x04 (tlog-cosignature/v1).
    ``address`` is the postal address for HIPAA reports, optional.
    Raises MalformedError("consortium file", "<field>: ...") when invalid.
    """

    org: str
    name: str
    url: str
    origin: str
    log_key: str
    witness_key: str
    address: str | None = None

    def __post_init__(self) -> None:
        if not is_org_id(self.org):
            raise _bad("org", "must match [a-z0-9][a-z0-9-]{0,62}")
        _check_text(self.name, "name", _MAX_NAME, lines=False)
        problem = url_problem(self.url)
        if problem is not None:
            raise _bad("url", problem)
        if not is_origin(self.origin):
            raise _bad("origin", "must be 1 to 255 printable characters without spaces or '+'")
        for field, sigtype in (("log_key", SIGTYPE_ED25519), ("witness_key", SIGTYPE_COSIGNATURE)):
            try:
                check_vkey(getattr(self, field), sigtype)
            except MalformedError as exc:
                raise _bad(field, exc.message) from None
        if self.address is not None:
            _check_text(self.address, "address", _MAX_ADDRESS, lines=True)

    def to_json(self) -> dict[str, Any]:
        out = {
            "org": self.org,
            "name": self.name,
            "url": self.url,
            "origin": self.origin,
            "log_key": self.log_key,
            "witness_key": self.witness_key,
        }
        if self.address is not None:
            out["address"] = self.address
        return out


def _check_distinct(members: tuple[Member, ...]) -> None:
    """Org ids, origins, URLs and public keys (log or witness) appear once in the file."""
    seen: dict[tuple[str, object], int] = {}
    for i, m in enumerate(members):
        if not isinstance(m, Member):
            raise _bad(f"members[{i}]", "must be a Member")
        values: list[tuple[str, object]] = [
            ("org", m.org),
            ("origin", m.origin),
            ("url", m.url.rstrip("/")),
            ("log_key", public_key(m.log_key).public_bytes_raw()),
            ("witness_key", public_key(m.witness_key).public_bytes_raw()),
        ]
        for field, value in values:
            kind = "key" if field.endswith("_key") else field
            if (kind, value) in seen:
                raise _bad(
                    f"members[{i}] ({m.org}).{field}",
                    f"repeats the {kind} of members[{seen[(kind, value)]}]",
                )
            seen[(kind, value)] = i


def _prefixed(exc: MalformedError, prefix: str) -> MalformedError:
    """A member's field error under its place in the file (``members[2] (nyu).url``)."""
    return _bad(f"{prefix}.{exc.details['field']}", exc.details["reason"])


@dataclass(frozen=True, slots=True)
class Consortium:
    """A consortium: id, members, witness policy ``witness_k``, default trust set ``trust``.

    Invariants (docs/consortium.md section 2): 1..256 members; org ids, origins,
    URLs and public keys all distinct; ``0 <= witness_k <= len(members) - 1``
    (k cosignatures from the *other* members); ``trust`` names members only.
    """

    id: str
    members: tuple[Member, ...]
    witness_k: int
    trust: TrustSet
    _orgs: tuple[str, ...] = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not is_org_id(self.id):
            raise _bad("id", "must match [a-z0-9][a-z0-9-]{0,62}")
        if not isinstance(self.members, tuple) or not self.members:
            raise _bad("members", "must list at least one member")
        if len(self.members) > MAX_MEMBERS:
            raise _bad("members", f"at most {MAX_MEMBERS} members")
        _check_distinct(self.members)
        object.__setattr__(self, "_orgs", tuple(m.org for m in self.members))
        k = self.witness_k
        if type(k) is not int or not 0 <= k <= len(self.members) - 1:
            raise _bad(
                "witness.k",
                f"must be an integer from 0 to {len(self.members) - 1} "
                f"(cosignatures from the other members), not {k!r}",
            )
        if not isinstance(self.trust, TrustSet):
            raise _bad("trust", "must be a TrustSet")
        orgs = {m.org for m in self.members}
        for org in self.trust.members:
            if org not in orgs:
                raise _bad("trust.members", f"{org!r} is not a member")

    # -- lookups ---------------------------------------------------------------

    @property
    def orgs(self) -> tuple[str, ...]:
        return self._orgs

    def member(self, org: str) -> Member:
        """The member ``org``; NotFoundError if the consortium does not name it."""
        for m in self.members:
            if m.org == org:
                return m
        raise NotFoundError(f"org {org!r} is not a member of consortium {self.id!r}", org=org)

    def witnesses_for(self, org: str) -> tuple[Member, ...]:
        """The other members, who witness ``org``'s log (``witness_k`` of them must cosign)."""
        self.member(org)
        return tuple(m for m in self.members if m.org != org)

    @property
    def default_trust_set(self) -> TrustSet:
        return self.trust

    def trust_set_for(self, principal: str, lookup: TrustSetLookup | None = None) -> TrustSet:
        """``principal``'s trust set: ``lookup(principal)``, else the default.

        UnknownKeyError if the set names an org outside this consortium.
        """
        return resolve_trust_set(principal, lookup, self.trust, self.orgs)

    # -- canonical form ----------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        trust: dict[str, Any] = {"model": self.trust.model, "members": list(self.trust.members)}
        if self.trust.model == BYZANTINE:
            trust["f"] = self.trust.f
        return {
            "version": FORMAT_VERSION,
            "id": self.id,
            "witness": {"k": self.witness_k},
            "trust": trust,
            "members": [m.to_json() for m in self.members],
        }

    @property
    def digest(self) -> bytes:
        """SHA-256 of the canonical form under the ``accord/consortium/v1`` domain."""
        return domain_hash("accord/consortium/v1\n", self.to_json())

    def format(self) -> str:
        """The TOML file; ``Consortium.parse(c.format()) == c``."""
        data = self.to_json()
        trust = data["trust"]
        lines = [
            "# Accord consortium file (docs/consortium.md)",
            f"version = {FORMAT_VERSION}",
            f"id = {_toml_string(self.id)}",
            "",
            "[witness]",
            f"k = {self.witness_k}",
            "",
            "[trust]",
            f"model = {_toml_string(trust['model'])}",
        ]
        if "f" in trust:
            lines.append(f"f = {trust['f']}")
        lines.append("members = [" + ", ".join(_toml_string(o) for o in trust["members"]) + "]")
        for member in data["members"]:
            lines += ["", "[[members]]"]
            lines += [f"{key} = {_toml_string(value)}" for key, value in member.items()]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str | bytes) -> Consortium:
        """Parse a consortium file strictly; MalformedError("consortium file", ...) otherwise.

        TooLargeError above 1 MiB.
        """
        if isinstance(text, bytes | bytearray):
            if len(text) > MAX_FILE_SIZE:
                raise TooLargeError(_WHAT, f"larger than {MAX_FILE_SIZE} bytes")
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedError(_WHAT, "not UTF-8") from None
        if not isinstance(text, str):
            raise MalformedError(_WHAT, "expected text")
        if len(text) > MAX_FILE_SIZE:
            raise TooLargeError(_WHAT, f"larger than {MAX_FILE_SIZE} characters")
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
            raise MalformedError(_WHAT, f"not TOML: {exc}") from None
        return cls._from_toml(data)

    @classmethod
    def _from_toml(cls, data: dict[str, Any]) -> Consortium:
        _keys(data, "", _TOP_KEYS, ())
        if type(data["version"]) is not int or data["version"] != FORMAT_VERSION:
            raise _bad("version", f"must be {FORMAT_VERSION}")
        witness = _table(data["witness"], "witness")
        _keys(witness, "witness.", _WITNESS_KEYS, ())
        trust = _table(data["trust"], "trust")
        _keys(trust, "trust.", _TRUST_KEYS, ("f", "members"))
        raw_members = data["members"]
        if not isinstance(raw_members, list) or not raw_members:
            raise _bad("members", "must be one or more [[members]] tables")
        if len(raw_members) > MAX_MEMBERS:
            raise _bad("members", f"at most {MAX_MEMBERS} members")
        members = tuple(_member(raw, i) for i, raw in enumerate(raw_members))
        _check_distinct(members)
        return cls(
            id=data["id"],
            members=members,
            witness_k=witness["k"],
            trust=_trust(trust, tuple(m.org for m in members)),
        )


def _table(value: object, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(field, "must be a table")
    return value


def _keys(
    table: Mapping[str, Any], prefix: str, allowed: tuple[str, ...], optional: tuple[str, ...]
) -> None:
    for key in table:
        if key not in allowed:
            raise _bad(f"{prefix}{key}", "unknown key")
    for key in allowed:
        if key not in table and key not in optional:
            raise _bad(f"{prefix}{key}", "missing")


def _member(raw: object, i: int) -> Member:
    table = _table(raw, f"members[{i}]")
    prefix = f"members[{i}]"
    if is_org_id(table.get("org")):
        prefix += f" ({table['org']})"
    _keys(table, prefix + ".", _MEMBER_KEYS, _MEMBER_OPTIONAL)
    try:
        return Member(**table)
    except MalformedError as exc:
        raise _prefixed(exc, prefix) from None


def _trust(table: dict[str, Any], orgs: tuple[str, ...]) -> TrustSet:
    model = table["model"]
    if model not in (MAJORITY, BYZANTINE):
        raise _bad("trust.model", "must be 'majority' or 'byzantine'")
    f = table.get("f", 0)
    if model == BYZANTINE and "f" not in table:
        raise _bad("trust.f", "missing (the byzantine model needs f)")
    if model == MAJORITY and "f" in table:
        raise _bad("trust.f", "only the byzantine model takes f")
    if type(f) is not int or f < 0:
        raise _bad("trust.f", "must be a non-negative integer")
    members = table.get("members", list(orgs))
    if not isinstance(members, list) or not all(isinstance(o, str) for o in members):
        raise _bad("trust.members", "must be a list of org ids")
    for org in members:
        if org not in orgs:
            raise _bad("trust.members", f"{org!r} is not a member")
    try:
        return TrustSet(tuple(members), model, f)
    except UsageError as exc:
        field = "trust.f" if model == BYZANTINE and "n >= 3f+1" in exc.message else "trust.members"
        raise _bad(field, exc.message) from None
