"""accord.store.multirow: which INSERTs are rewritten, and how rows are cut into statements."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from accord.store.multirow import CHUNK, insert_shape

PLAIN = "INSERT INTO t (a, b) VALUES (?, ?)"
UPSERT = (
    "INSERT INTO index_keys (key_id, size) VALUES (?, ?)"
    " ON CONFLICT (key_id) DO UPDATE SET size = excluded.size"
)


def _insert(width: int) -> str:
    """An INSERT of ``width`` placeholders (a test's fixed text, not user input)."""
    return "INSERT INTO t VALUES (" + ", ".join(["?"] * width) + ")"  # noqa: S608


def test_plain_and_upsert_inserts_have_a_shape() -> None:
    plain = insert_shape(PLAIN)
    assert plain is not None
    assert (plain.head, plain.group, plain.tail, plain.width) == (
        "INSERT INTO t (a, b) VALUES ",
        "(?, ?)",
        "",
        2,
    )
    upsert = insert_shape(UPSERT)
    assert upsert is not None
    assert upsert.width == 2
    assert upsert.sql(3) == (
        "INSERT INTO index_keys (key_id, size) VALUES (?, ?), (?, ?), (?, ?)"
        " ON CONFLICT (key_id) DO UPDATE SET size = excluded.size"
    )
    nested = insert_shape("INSERT INTO t VALUES (?, coalesce(?, 0), NULL)")
    assert nested is not None
    assert nested.group == "(?, coalesce(?, 0), NULL)"
    assert nested.width == 2


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE t SET a = ? WHERE b = ?",
        "DELETE FROM t WHERE a = ?",
        "INSERT INTO t SELECT ?, ?",
        "INSERT INTO t (a) SELECT x FROM u WHERE y = ?",
        "INSERT INTO t VALUES (?, 'a?')",
        'INSERT INTO "t" VALUES (?, ?)',
        "INSERT INTO t VALUES (?1, ?2)",
        "INSERT INTO t VALUES (:a, :b)",
        "INSERT INTO t VALUES (?, ?) ON CONFLICT (a) DO UPDATE SET b = ?",
        "INSERT INTO t VALUES (?, ?); DELETE FROM t",
        "INSERT INTO t VALUES (?, ?) -- note",
        "INSERT INTO t VALUES (?, ?), (?, ?)",
        "INSERT INTO t VALUES (1, 2)",
        "INSERT INTO t VALUES (?, ?",
    ],
)
def test_other_statements_are_left_alone(sql: str) -> None:
    assert insert_shape(sql) is None


@given(n=st.integers(min_value=1, max_value=3 * CHUNK + 7), width=st.integers(1, 40))
def test_chunks_carry_every_row_in_order(n: int, width: int) -> None:
    shape = insert_shape(_insert(width))
    assert shape is not None
    rows = [tuple(range(i * width, (i + 1) * width)) for i in range(n)]
    flat: list[int] = []
    statements = list(shape.chunks(rows))
    for i, (sql, params) in enumerate(statements):
        groups = sql.count("(")
        assert sql.count("?") == len(params) == groups * width
        assert groups == min(CHUNK, 32_766 // width) or i == len(statements) - 1
        flat.extend(params)
    assert flat == [v for row in rows for v in row]
    assert len(statements) == -(-n // min(CHUNK, 32_766 // width))


def test_wide_rows_stay_under_sqlites_parameter_limit() -> None:
    shape = insert_shape(_insert(200))
    assert shape is not None
    rows = [tuple(range(200))] * 1_000
    sizes = [len(params) for _, params in shape.chunks(rows)]
    assert max(sizes) <= 32_766
    assert sum(sizes) == 200_000
