"""Sources: the systems (an EHR, a FHIR gateway, a device) that sign statements for an org.

An org registers a source by appending an ``accord.source`` statement signed by
its **log key** (reserved source name ``log``); revocation is the same statement
with ``action: revoke``. Both are records in the log, so the registry can be
rebuilt from it, and other members learn each org's sources from the same records
when they are replicated. A statement is accepted only when signed by a
registered, unrevoked source of its org.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.errors import ForbiddenError, UnknownKeyError, UsageError
from accord.records import SignedStatement, SourceChange
from accord.store.database import Database, Tx

__all__ = ["LOG_SOURCE", "SourceKey", "SourceRegistry"]

#: The reserved source name of statements signed by the org's log key.
LOG_SOURCE: Final = "log"


@dataclass(frozen=True, slots=True)
class SourceKey:
    org: str
    name: str
    raw: bytes
    active: bool

    @property
    def key(self) -> Ed25519PublicKey:
        return Ed25519PublicKey.from_public_bytes(self.raw)


def _change(signed: SignedStatement) -> SourceChange:
    change = signed.statement.typed
    if not isinstance(change, SourceChange):
        raise UsageError(f"{signed.statement.schema} is not a source registration")
    return change


class SourceRegistry:
    """The registered sources of every org this node has seen, kept in memory and in SQL."""

    def __init__(self, db: Database) -> None:
        self._lock = threading.Lock()
        self._keys: dict[tuple[str, str], SourceKey] = {}
        self._pubkeys: dict[bytes, Ed25519PublicKey] = {}
        for org, name, raw, status in db.fetchall(
            "SELECT org, name, public_key, status FROM sources"
        ):
            self._keys[(org, name)] = SourceKey(org, name, bytes(raw), status == "active")

    def get(self, org: str, name: str) -> SourceKey | None:
        with self._lock:
            return self._keys.get((org, name))

    def active(self, org: str) -> list[SourceKey]:
        with self._lock:
            return sorted(
                (k for k in self._keys.values() if k.org == org and k.active),
                key=lambda k: k.name,
            )

    def all(self) -> list[SourceKey]:
        with self._lock:
            return sorted(self._keys.values(), key=lambda k: (k.org, k.name))

    def key_for(self, org: str, name: str) -> Ed25519PublicKey:
        """The public key that must have signed a statement of source ``org/name``.

        UnknownKeyError if the source was never registered; ForbiddenError if revoked.
        """
        found = self.get(org, name)
        if found is None:
            raise UnknownKeyError(
                f"source {org}/{name} is not registered (register it with `accord source add`)",
                source=f"{org}/{name}",
            )
        if not found.active:
            raise ForbiddenError(f"source {org}/{name} has been revoked", source=f"{org}/{name}")
        with self._lock:
            key = self._pubkeys.get(found.raw)
            if key is None:
                key = self._pubkeys[found.raw] = found.key
        return key

    @staticmethod
    def check_change(signed: SignedStatement, current: SourceKey | None) -> SourceChange:
        """Validate a registration or revocation against the current state (UsageError)."""
        change = _change(signed)
        if change.name == LOG_SOURCE:
            raise UsageError(f"the source name {LOG_SOURCE!r} is reserved for the org's log key")
        if change.action == "revoke":
            if current is None or not current.active:
                raise UsageError(f"source {signed.statement.org}/{change.name} is not active")
            if current.raw != change.public_key:
                raise UsageError("a revocation must name the registered public key")
        elif current is not None and current.active and current.raw == change.public_key:
            raise UsageError(f"source {signed.statement.org}/{change.name} is already registered")
        return change

    @staticmethod
    def write(tx: Tx, signed: SignedStatement, log_ts: int) -> SourceKey:
        """Upsert the registry row for a sequenced ``accord.source`` record."""
        change = _change(signed)
        org = signed.statement.org
        status = "active" if change.action == "register" else "revoked"
        tx.execute(
            "INSERT INTO sources (org, name, public_key, status, record, log_ts)"
            " VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (org, name) DO UPDATE SET public_key = excluded.public_key,"
            " status = excluded.status, record = excluded.record, log_ts = excluded.log_ts",
            (org, change.name, change.public_key, status, signed.record_hash, log_ts),
        )
        return SourceKey(org, change.name, change.public_key, status == "active")

    def apply(self, keys: list[SourceKey]) -> None:
        """Make committed changes visible."""
        with self._lock:
            for k in keys:
                self._keys[(k.org, k.name)] = k
