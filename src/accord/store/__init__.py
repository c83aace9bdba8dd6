"""Storage shell: one SQLite or PostgreSQL database shared by every subsystem of a node.

- :class:`Database` (``Database.open(url)``), its transactions :class:`Tx`, and
  single-statement reads ``db.fetchone`` / ``db.fetchall``;
- :class:`Step` and ``db.migrate(component, steps)`` for each subsystem's schema;
- :func:`parse_url` and :func:`translate` for the two SQL dialects.
"""

from accord.store.database import Database, Row, Synchronous, Tx, driver_error
from accord.store.dialect import DIALECTS, Dialect, Target, parse_url, translate
from accord.store.migrations import MIGRATIONS_TABLE, Step, applied_steps, migrate

__all__ = [
    "DIALECTS",
    "MIGRATIONS_TABLE",
    "Database",
    "Dialect",
    "Row",
    "Step",
    "Synchronous",
    "Target",
    "Tx",
    "applied_steps",
    "driver_error",
    "migrate",
    "parse_url",
    "translate",
]
