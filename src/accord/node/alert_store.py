"""Stored alerts: the ``compliance_alerts`` table, encrypted under the patient's data key.

An alert's explanation names the accessor and may name the patient, so its JSON
(``Alert.to_json``, canonical) is stored as an encrypted body under the data key
of the patient it is about (principal = the patient pseudonym's 32 bytes,
bound to the SHA-256 of the JSON, kept beside it): shredding the patient's key makes the alerts
unreadable with the records. Plain columns hold only what filters need: id,
rule, severity, patient pseudonym, org, time, the trigger's log index.

Alerts are stored once per id (``ON CONFLICT DO NOTHING``): the id is the hash
of the rule and its evidence, so the same finding raised twice (a re-run, a
restart in the middle of a batch) is one row.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Final

from accord.compliance.alerts import Alert
from accord.encoding import canonical, parse_json
from accord.errors import AccordError, SealedError
from accord.store.database import Tx

__all__ = ["AlertCrypto", "insert_alerts", "read_alerts", "seal_alerts", "store_alert_rows"]

_COLUMNS: Final = (
    "id, rule, severity, patient_p, org, time, trigger_index, raised_ms, body_hash, blob"
)


class AlertCrypto:
    """Encrypt and decrypt alert bodies with the node's data keys."""

    def __init__(
        self,
        encrypt: Callable[[bytes, bytes, bytes], bytes],
        decrypt: Callable[[bytes, bytes, bytes], bytes],
    ) -> None:
        self._encrypt = encrypt
        self._decrypt = decrypt

    def seal(self, alert: Alert) -> tuple[bytes, bytes]:
        """(body hash, encrypted body) of an alert."""
        body = canonical(alert.to_json())
        digest = hashlib.sha256(body).digest()
        return digest, self._encrypt(bytes.fromhex(alert.patient), digest, body)

    def open(self, alert_id: bytes, patient_p: str, digest: bytes, blob: bytes) -> Alert | None:
        """The alert, or None if its patient's key was shredded or the row was altered."""
        try:
            body = self._decrypt(bytes.fromhex(patient_p), digest, blob)
            alert = Alert.from_json(parse_json(body, "alert"))
        except SealedError:
            raise
        except AccordError:
            return None
        return alert if alert.id == alert_id and alert.patient == patient_p else None


def seal_alerts(
    alerts: Iterable[tuple[Alert, int | None]], crypto: AlertCrypto, now_ms: int
) -> list[tuple[Any, ...]]:
    """The rows of (alert, trigger log index) pairs, bodies encrypted: done before the
    write transaction, so the database's write lock is held only to insert them."""
    return [
        (
            alert.id,
            alert.rule,
            alert.severity,
            alert.patient,
            alert.org,
            alert.time,
            trigger_index,
            now_ms,
            *crypto.seal(alert),
        )
        for alert, trigger_index in alerts
    ]


def store_alert_rows(tx: Tx, rows: Iterable[Sequence[Any]]) -> int:
    """Insert sealed alert rows not stored yet; the number of new rows."""
    batch = list(rows)
    if not batch:
        return 0
    return tx.executemany(
        f"INSERT INTO compliance_alerts ({_COLUMNS})"  # noqa: S608 - fixed columns
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING",
        batch,
    )


def insert_alerts(
    tx: Tx,
    alerts: Iterable[tuple[Alert, int | None]],
    crypto: AlertCrypto,
    now_ms: int,
) -> int:
    """Store (alert, trigger log index) pairs not stored yet; the number of new rows."""
    return store_alert_rows(tx, seal_alerts(alerts, crypto, now_ms))


def read_alerts(
    query: Callable[[str, Sequence[Any]], list[tuple[Any, ...]]],
    crypto: AlertCrypto,
    *,
    patient_p: str | None = None,
    rule: str | None = None,
    alert_id: bytes | None = None,
) -> list[Alert]:
    """Stored alerts (time, then id order), filtered; unreadable ones are left out."""
    where: list[str] = []
    params: list[Any] = []
    for column, value in (("patient_p", patient_p), ("rule", rule), ("id", alert_id)):
        if value is not None:
            where.append(f"{column} = ?")
            params.append(value)
    sql = "SELECT id, patient_p, body_hash, blob FROM compliance_alerts"
    if where:
        sql += " WHERE " + " AND ".join(where)
    out = []
    for raw_id, patient, digest, blob in query(sql + " ORDER BY time, id", params):
        alert = crypto.open(bytes(raw_id), str(patient), bytes(digest), bytes(blob))
        if alert is not None:
            out.append(alert)
    return out
