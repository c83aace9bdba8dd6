"""Many rows in one INSERT statement: ``VALUES (?, ?), (?, ?), ...``.

Python's ``sqlite3`` gives up the GIL around every ``sqlite3_step``, and
``executemany`` steps once per row. In a process where other threads run
Python (a node verifies signatures, evaluates rules and serves HTTP while its
sequencer writes), each of those steps may wait up to the interpreter's switch
interval to get the GIL back: 2,000 rows that take 7 ms alone took over a
second beside one busy thread (bench/bench_gil.py). Sent as a few multi-row
statements, the same rows step a few times instead of once each.

:func:`insert_shape` recognises a plain ``INSERT ... VALUES (group) [tail]``
whose placeholders are all in the one group; :meth:`InsertShape.chunks` cuts
the rows into statements of :data:`CHUNK` rows (fewer for wide rows: SQLite
takes at most 32,766 parameters) and one statement for the rest. Preparing a
statement of a new length costs far less than one GIL hand-off. Anything else
(placeholders outside the group, quotes or comments) is not rewritten.

Pure: this module touches no database.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

__all__ = ["CHUNK", "InsertShape", "insert_shape"]

#: Rows per full statement (fewer when the columns times the rows would pass 32,766).
CHUNK: Final = 1_024
_MAX_PARAMS: Final = 32_766
_HEAD: Final = re.compile(r"\s*INSERT\s", re.IGNORECASE)
_VALUES: Final = re.compile(r"\bVALUES\s*\(", re.IGNORECASE)
_NAMED: Final = re.compile(r"\?\d|[:@$][A-Za-z0-9_]")


@dataclass(frozen=True, slots=True)
class InsertShape:
    """An INSERT split around its one VALUES group."""

    head: str
    group: str
    tail: str
    width: int

    def sql(self, rows: int) -> str:
        return _sql(self, rows)

    def chunks(self, rows: Sequence[Sequence[Any]]) -> Iterator[tuple[str, list[Any]]]:
        """(statement, flat parameters) pairs that insert ``rows`` in order."""
        per = max(1, min(CHUNK, _MAX_PARAMS // self.width))
        at, n = 0, len(rows)
        while at < n:
            size = min(per, n - at)
            params = [v for row in rows[at : at + size] for v in row]
            yield _sql(self, size), params
            at += size


@lru_cache(maxsize=4096)
def _sql(shape: InsertShape, rows: int) -> str:
    return shape.head + ", ".join([shape.group] * rows) + shape.tail


@lru_cache(maxsize=512)
def insert_shape(sql: str) -> InsertShape | None:
    """The shape of ``sql`` if it can be sent as multi-row statements, else None."""
    if (
        not _HEAD.match(sql)
        or any(c in sql for c in "'\"`[;")
        or "--" in sql
        or "/*" in sql
        or _NAMED.search(sql)
    ):
        return None
    found = _VALUES.search(sql)
    if found is None:
        return None
    start = found.end() - 1
    depth = 0
    for i in range(start, len(sql)):
        if sql[i] == "(":
            depth += 1
        elif sql[i] == ")":
            depth -= 1
            if depth == 0:
                end = i + 1
                break
    else:
        return None
    head, group, tail = sql[:start], sql[start:end], sql[end:]
    width = group.count("?")
    if width == 0 or "?" in head or "?" in tail or _VALUES.search(tail) or "SELECT" in sql.upper():
        return None
    return InsertShape(head, group, tail, width)
