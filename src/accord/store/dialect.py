"""The two SQL dialects: which database a URL names, and portable SQL translated for each.

Accord's SQL is written once, in SQLite's spelling with ``?`` placeholders and
portable column types (``INTEGER``, ``BLOB``, ``TEXT``). For PostgreSQL the
placeholders become ``%s`` (and a literal ``%`` becomes ``%%``), ``BLOB`` becomes
``BYTEA`` and ``INTEGER`` becomes ``BIGINT`` (SQLite integers are 64-bit; a log
index does not fit PostgreSQL's 32-bit ``INTEGER``); type names are matched as
whole upper-case words only, so write them in upper case and name no column
``BLOB`` or ``INTEGER``. Text inside single-quoted
literals, double-quoted identifiers and ``--`` comments is left alone.

Pure: this module touches no database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal

from accord.errors import UsageError

__all__ = ["DIALECTS", "Dialect", "Target", "parse_url", "translate"]

Dialect = Literal["sqlite", "postgresql"]

DIALECTS: Final[tuple[Dialect, ...]] = ("sqlite", "postgresql")

_TYPES: Final = {"BLOB": "BYTEA", "INTEGER": "BIGINT"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Target:
    """Where a database lives: a SQLite file path, or a PostgreSQL connection URL."""

    dialect: Dialect
    location: str

    def __post_init__(self) -> None:
        if self.dialect not in DIALECTS:
            raise UsageError(f"unknown SQL dialect {self.dialect!r}")
        if not self.location:
            raise UsageError("empty database location")


def parse_url(url: str) -> Target:
    """Which database ``url`` names.

    ``postgresql://...`` or ``postgres://...`` is PostgreSQL (the URL is passed
    to psycopg unchanged); ``sqlite:///abs/path`` or ``sqlite://rel/path`` and
    any other string is a SQLite file path. ``:memory:`` is refused: a log in
    memory is not durable, and each connection would see a different database.
    """
    if not isinstance(url, str) or not url:
        raise UsageError("a database URL or file path is required")
    if "\x00" in url:
        raise UsageError("database URL contains a NUL character")
    lower = url.lower()
    if lower.startswith(("postgresql://", "postgres://")):
        return Target("postgresql", url)
    if lower.startswith("sqlite://"):
        path = url[len("sqlite://") :]
        if not path:
            raise UsageError("sqlite:// URL without a path")
    elif "://" in url:
        raise UsageError(f"unsupported database URL scheme in {url.split('://', 1)[0]!r}")
    else:
        path = url
    if path == ":memory:" or path.startswith("file:"):
        raise UsageError("a SQLite database must be a file path")
    return Target("sqlite", str(Path(path)))


def translate(sql: str, dialect: Dialect) -> str:
    """``sql`` (SQLite spelling, ``?`` placeholders) as ``dialect`` expects it."""
    if dialect == "sqlite":
        return sql
    if dialect == "postgresql":
        return _to_postgresql(sql)
    raise UsageError(f"unknown SQL dialect {dialect!r}")


@lru_cache(maxsize=512)
def _to_postgresql(sql: str) -> str:
    out: list[str] = []
    i, n = 0, len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            j = i + 1
            while j < n:
                if sql[j] == c:
                    if j + 1 < n and sql[j + 1] == c:  # doubled quote inside a literal
                        j += 2
                        continue
                    break
                j += 1
            literal = sql[i : j + 1]
            out.append(literal.replace("%", "%%"))
            i = j + 1
        elif c == "-" and sql.startswith("--", i):
            j = sql.find("\n", i)
            j = n if j < 0 else j
            out.append(sql[i:j].replace("%", "%%"))
            i = j
        elif c == "?":
            out.append("%s")
            i += 1
        elif c == "%":
            out.append("%%")
            i += 1
        else:
            m = _WORD.match(sql, i)
            if m is None:
                out.append(c)
                i += 1
            else:
                word = m.group(0)
                out.append(_TYPES.get(word, word))
                i = m.end()
    return "".join(out)
