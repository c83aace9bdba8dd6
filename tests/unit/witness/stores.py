"""Fresh witness stores of each kind for the seam tests: the reference MemoryWitnessStore, and
the node's SqlWitnessStore on a real SQLite file or a real PostgreSQL schema."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from accord.node.witness_store import SqlWitnessStore
from accord.store.database import Database
from accord.witness import MemoryWitnessStore
from tests.conftest import drop_schema, postgres_url

__all__ = ["ALL_STORES", "SQL_STORES", "witness_stores"]

_PG = pytest.param("postgres", marks=pytest.mark.postgres)
#: Fixture parameters: every store kind, and the SQL ones only.
ALL_STORES = ["memory", "sqlite", _PG]
SQL_STORES = ["sqlite", _PG]


@contextmanager
def witness_stores(kind: str, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """A factory of fresh, empty stores of ``kind`` (each SQL one on its own database)."""
    databases: list[Database] = []
    schemas: list[str] = []

    def make() -> Any:
        if kind == "memory":
            return MemoryWitnessStore()
        if kind == "sqlite":
            db = Database.open(str(tmp_path / f"witness-{len(databases)}.db"))
        else:
            url = postgres_url()
            schemas.append(url)
            db = Database.open(url)
        databases.append(db)
        return SqlWitnessStore(db, lambda: 1_700_000_000_000)

    try:
        yield make
    finally:
        for db in databases:
            db.close()
        for url in schemas:
            drop_schema(url)
