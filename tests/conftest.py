"""Shared fixtures: the shared test data, fresh SQLite files and fresh PostgreSQL schemas."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("ACCORD_SHARED", REPO.parent / "shared")).resolve()
TESTDATA = SHARED / "testdata"
POSTGRES_DSN = os.environ.get("ACCORD_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")


def load_vectors(name: str) -> Any:
    """A JSON file of ../shared/testdata, read in place (never copied into the repo)."""
    path = TESTDATA / name
    if not path.exists():
        pytest.fail(f"test data {path} is missing: set ACCORD_SHARED to the shared folder")
    return json.loads(path.read_text(encoding="utf-8"))


def _postgres_available() -> str | None:
    """None if the server answers, else the reason it does not."""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_DSN, connect_timeout=3):
            return None
    except Exception as exc:
        return f"PostgreSQL at {POSTGRES_DSN} does not answer: {exc}"


_PG_REASON: list[str | None] = []


def postgres_url() -> str:
    """A DSN whose search_path is a fresh, empty schema (dropped at session end by name)."""
    if not _PG_REASON:
        _PG_REASON.append(_postgres_available())
    reason = _PG_REASON[0]
    if reason is not None:
        if os.environ.get("CI"):
            pytest.fail(f"{reason} (CI is set, so PostgreSQL tests must run)")
        pytest.skip(reason)
    import psycopg

    schema = "t_" + uuid.uuid4().hex[:16]
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in POSTGRES_DSN else "?"
    return f"{POSTGRES_DSN}{sep}options=-csearch_path%3D{schema}"


def drop_schema(url: str) -> None:
    import psycopg

    schema = url.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(POSTGRES_DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh database on each backend: a SQLite file, then a PostgreSQL schema."""
    if request.param == "sqlite":
        yield str(tmp_path / "accord.db")
        return
    url = postgres_url()
    try:
        yield url
    finally:
        drop_schema(url)
