"""The SQL storage of per-principal data keys (accord.keys.DataKeyStorage).

Rows hold only wrapped keys. ``put`` is a compare-and-swap on the principal's
head; ``delete`` (crypto-shredding) removes every wrapped version and keeps the
head so a new key never reuses a shredded version number. On SQLite the node
turns on ``secure_delete`` so shredded bytes are overwritten in the file.
"""

from __future__ import annotations

from collections.abc import Iterable

from accord.errors import ConflictError
from accord.store.database import Database

__all__ = ["SqlDataKeyStorage"]


class SqlDataKeyStorage:
    def __init__(self, db: Database) -> None:
        self._db = db

    def get(self, principal: bytes, version: int) -> bytes | None:
        row = self._db.fetchone(
            "SELECT wrapped FROM data_keys WHERE principal = ? AND version = ?",
            (principal, version),
        )
        return None if row is None else bytes(row[0])

    def latest(self, principal: bytes) -> int:
        row = self._db.fetchone(
            "SELECT latest FROM data_key_heads WHERE principal = ?", (principal,)
        )
        return 0 if row is None else int(row[0])

    def put(self, principal: bytes, version: int, wrapped: bytes) -> bool:
        try:
            with self._db.transaction() as tx:
                if version == 1:
                    tx.execute(
                        "INSERT INTO data_key_heads (principal, latest) VALUES (?, 1)",
                        (principal,),
                    )
                elif not tx.execute(
                    "UPDATE data_key_heads SET latest = ? WHERE principal = ? AND latest = ?",
                    (version, principal, version - 1),
                ):
                    return False
                tx.execute(
                    "INSERT INTO data_keys (principal, version, wrapped) VALUES (?, ?, ?)",
                    (principal, version, wrapped),
                )
        except ConflictError:
            return False
        return True

    def delete(self, principal: bytes) -> int:
        with self._db.transaction() as tx:
            return tx.execute("DELETE FROM data_keys WHERE principal = ?", (principal,))

    def principals(self) -> Iterable[bytes]:
        return [bytes(r[0]) for r in self._db.fetchall("SELECT principal FROM data_key_heads")]
