"""SQL translation and URL parsing of accord.store.dialect (pure)."""

from __future__ import annotations

import pytest

from accord.errors import UsageError
from accord.store import Step, parse_url, translate


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        ("SELECT a FROM t WHERE b = ?", "SELECT a FROM t WHERE b = %s"),
        ("CREATE TABLE t (a INTEGER, b BLOB)", "CREATE TABLE t (a BIGINT, b BYTEA)"),
        ("SELECT '?' , ? FROM t", "SELECT '?' , %s FROM t"),
        ("SELECT 'it''s ?', ?", "SELECT 'it''s ?', %s"),
        ('SELECT "INTEGER" FROM t', 'SELECT "INTEGER" FROM t'),
        ("SELECT a % 2 FROM t", "SELECT a %% 2 FROM t"),
        ("SELECT '5%' FROM t", "SELECT '5%%' FROM t"),
        ("SELECT blob_col, integer_x FROM t", "SELECT blob_col, integer_x FROM t"),
        ("SELECT 1 -- why? INTEGER\n, ?", "SELECT 1 -- why? INTEGER\n, %s"),
    ],
)
def test_translate_for_postgresql(sql: str, expected: str) -> None:
    assert translate(sql, "postgresql") == expected
    assert translate(sql, "sqlite") == sql


def test_translate_unknown_dialect() -> None:
    with pytest.raises(UsageError):
        translate("SELECT 1", "mysql")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("url", "dialect", "location"),
    [
        ("/var/lib/accord/node.db", "sqlite", "/var/lib/accord/node.db"),
        ("node.db", "sqlite", "node.db"),
        ("sqlite:///var/lib/a.db", "sqlite", "/var/lib/a.db"),
        ("postgresql://u@h:5432/db", "postgresql", "postgresql://u@h:5432/db"),
        ("postgres://h/db?sslmode=disable", "postgresql", "postgres://h/db?sslmode=disable"),
    ],
)
def test_parse_url(url: str, dialect: str, location: str) -> None:
    target = parse_url(url)
    assert (target.dialect, target.location) == (dialect, location)


@pytest.mark.parametrize(
    ("mutation", "url"),
    [
        ("empty", ""),
        ("not a string", b"/x.db"),
        ("in-memory", ":memory:"),
        ("sqlite URI", "file:x.db?mode=ro"),
        ("unknown scheme", "mysql://h/db"),
        ("scheme without path", "sqlite://"),
        ("NUL", "/tmp/a\x00b"),
    ],
)
def test_bad_urls(mutation: str, url: object) -> None:
    with pytest.raises(UsageError):
        parse_url(url)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("mutation", "kwargs"),
    [
        ("bad name", {"name": "Bad Name", "sql": ("SELECT 1",)}),
        ("no statements", {"name": "s1"}),
        ("one dialect only", {"name": "s1", "sqlite": ("SELECT 1",)}),
        ("list not tuple", {"name": "s1", "sql": ["SELECT 1"]}),
        ("empty statement", {"name": "s1", "sql": ("",)}),
    ],
)
def test_bad_steps(mutation: str, kwargs: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        Step(**kwargs)  # type: ignore[arg-type]


def test_step_statements_per_dialect() -> None:
    both = Step("s1", ("CREATE TABLE t (a INTEGER)",))
    assert both.statements("sqlite") == both.statements("postgresql")
    split = Step("s2", sqlite=("A",), postgresql=("B",))
    assert split.statements("sqlite") == ("A",)
    assert split.statements("postgresql") == ("B",)
