"""Schema migrations: each subsystem declares its tables as ordered, named steps.

A :class:`Step` holds the statements of one change, written once in portable
SQL (translated per dialect by :func:`accord.store.dialect.translate`) or given
per dialect where the two must differ (overrides use the same ``?`` spelling
and pass through the same translation, which is harmless for PostgreSQL text).
:func:`migrate` applies, in one transaction, the steps of a component that the
``schema_migrations`` table does not list yet, and records them. It is
idempotent, and safe when two processes race: SQLite's ``BEGIN IMMEDIATE``
and a PostgreSQL transaction-scoped advisory lock make the second wait, and it
then finds the steps applied.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from accord.errors import UsageError
from accord.store.dialect import Dialect

if TYPE_CHECKING:
    from accord.store.database import Database

__all__ = ["MIGRATIONS_TABLE", "Step", "applied_steps", "migrate"]

MIGRATIONS_TABLE: Final = "schema_migrations"

#: pg_advisory_xact_lock key shared by every migration (any constant 64-bit value).
_PG_LOCK_KEY: Final = 0x61636D6967726174  # "acmigrat"

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,99}")

_CREATE_TABLE: Final = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " component TEXT NOT NULL,"
    " name TEXT NOT NULL,"
    " position INTEGER NOT NULL,"
    " applied_ms INTEGER NOT NULL,"
    " PRIMARY KEY (component, name))"
)


@dataclass(frozen=True, slots=True)
class Step:
    """One named schema change. ``sql`` is portable; ``sqlite``/``postgresql`` override it."""

    name: str
    sql: tuple[str, ...] = ()
    sqlite: tuple[str, ...] | None = None
    postgresql: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not _NAME.fullmatch(self.name):
            raise UsageError(f"bad migration step name {self.name!r}")
        for part in (self.sql, self.sqlite, self.postgresql):
            if part is not None and (
                not isinstance(part, tuple) or not all(isinstance(s, str) and s for s in part)
            ):
                raise UsageError(f"step {self.name}: statements must be a tuple of strings")
        if not self.sql and (self.sqlite is None or self.postgresql is None):
            raise UsageError(f"step {self.name}: give portable sql or both dialects' statements")

    def statements(self, dialect: Dialect) -> tuple[str, ...]:
        """The statements to run on ``dialect``, in the portable spelling (``?``, ``%``)
        that :meth:`accord.store.Tx.execute` translates."""
        own = self.sqlite if dialect == "sqlite" else self.postgresql
        return self.sql if own is None else own


def _check(component: str, steps: Sequence[Step]) -> None:
    if not isinstance(component, str) or not _NAME.fullmatch(component):
        raise UsageError(f"bad migration component name {component!r}")
    names = [s.name for s in steps]
    if not all(isinstance(s, Step) for s in steps) or len(set(names)) != len(names):
        raise UsageError(f"{component}: steps must be distinct Step values")


def migrate(db: Database, component: str, steps: Sequence[Step]) -> list[str]:
    """Apply the steps of ``component`` missing from the database, in order, in one
    transaction; return the names applied now (empty when up to date).

    Raises UsageError when the database records steps that are not a prefix of
    ``steps`` (a database migrated by other code), StoreError when a step fails
    (nothing of this call is then applied).
    """
    _check(component, steps)
    with db.transaction() as tx:
        if tx.dialect == "postgresql":
            tx.fetchone("SELECT pg_advisory_xact_lock(?)", (_PG_LOCK_KEY,))
        tx.execute(_CREATE_TABLE)
        rows = tx.fetchall(
            "SELECT name FROM schema_migrations WHERE component = ? ORDER BY position",
            (component,),
        )
        done = [r[0] for r in rows]
        expected = [s.name for s in steps[: len(done)]]
        if done != expected:
            raise UsageError(
                f"{component}: the database records steps {done}, which this code does not "
                f"declare in that order (it declares {[s.name for s in steps]})"
            )
        applied: list[str] = []
        now = int(time.time() * 1000)
        for position, step in enumerate(steps[len(done) :], start=len(done)):
            for statement in step.statements(tx.dialect):
                tx.execute(statement)
            tx.execute(
                "INSERT INTO schema_migrations (component, name, position, applied_ms)"
                " VALUES (?, ?, ?, ?)",
                (component, step.name, position, now),
            )
            applied.append(step.name)
        return applied


def applied_steps(db: Database, component: str) -> list[str]:
    """Names of the steps of ``component`` recorded in the database, in order."""
    with db.transaction(readonly=True) as tx:
        if tx.dialect == "sqlite":
            exists = tx.fetchone(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                (MIGRATIONS_TABLE,),
            )
        else:
            exists = tx.fetchone("SELECT to_regclass(?)", (MIGRATIONS_TABLE,))
            exists = exists if exists and exists[0] is not None else None
        if exists is None:
            return []
        rows = tx.fetchall(
            "SELECT name FROM schema_migrations WHERE component = ? ORDER BY position",
            (component,),
        )
    return [r[0] for r in rows]
