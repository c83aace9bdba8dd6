"""The node's compliance tables: the Facts index over its records, alerts and sweep state.

One migration component, ``compliance`` (docs/compliance.md section 7). The
tables hold pseudonyms, never patient or person ids (formats.md section 5):
``patient_p`` = ``pseudonym("patient", id)``, ``clinician_p`` / ``accessor_p`` and
a person grantee = ``pseudonym("person", id)``; org ids, purposes, transfer ids
and record references (hashes) are kept as they are. Every row carries the
record's ``log_index`` so a record can be judged **as of its log index**
(``AND log_index <= :asof``). The table names carry a ``compliance_`` prefix
because the node's ``records`` and the projection's ``care`` already exist.

Rows are written by :func:`write_rows`, a planner batch writer: in the append's
transaction, so the index is never behind the log. Alerts are stored encrypted
under their patient's data key (the explanation names people), keyed by the
alert id (``INSERT ... ON CONFLICT DO NOTHING``: the same alert is stored once).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from accord.compliance.facts import Entry
from accord.records import Access, Care, Consent, Disclosure
from accord.store.database import Tx
from accord.store.migrations import Step

__all__ = [
    "COMPLIANCE_STEPS",
    "EVALUATED",
    "SWEPT",
    "read_state",
    "row_batches",
    "write_rows",
    "write_state",
]

#: ``compliance_state`` names: the last log index evaluated (-1: none), the last sweep's now.
EVALUATED: Final = "evaluated"
SWEPT: Final = "swept"

COMPLIANCE_STEPS: Final = (
    Step(
        "001-facts",
        (
            "CREATE TABLE compliance_records ("
            " log_index INTEGER PRIMARY KEY, hash BLOB NOT NULL UNIQUE, schema TEXT NOT NULL,"
            " org TEXT NOT NULL, patient_p TEXT, event_ts INTEGER NOT NULL,"
            " log_ts INTEGER NOT NULL)",
            "CREATE INDEX compliance_records_patient ON compliance_records"
            " (patient_p, schema, event_ts)",
            "CREATE INDEX compliance_records_schema ON compliance_records (schema, log_index)",
            "CREATE TABLE compliance_care ("
            " log_index INTEGER PRIMARY KEY, patient_p TEXT NOT NULL, org TEXT NOT NULL,"
            " clinician_p TEXT NOT NULL, start_ts INTEGER NOT NULL, end_ts INTEGER)",
            "CREATE INDEX compliance_care_org ON compliance_care (patient_p, org)",
            "CREATE INDEX compliance_care_clinician ON compliance_care (patient_p, clinician_p)",
            "CREATE TABLE compliance_consents ("
            " log_index INTEGER PRIMARY KEY, patient_p TEXT NOT NULL,"
            " grantee_kind TEXT NOT NULL, grantee_id TEXT NOT NULL, decision TEXT NOT NULL,"
            " start_ts INTEGER NOT NULL, end_ts INTEGER, revokes BLOB)",
            "CREATE INDEX compliance_consents_patient ON compliance_consents (patient_p)",
            "CREATE TABLE compliance_disclosures ("
            " log_index INTEGER PRIMARY KEY, half TEXT NOT NULL, transfer_id TEXT NOT NULL,"
            " discloser_org TEXT NOT NULL, recipient_org TEXT NOT NULL,"
            " patient_p TEXT NOT NULL, purpose TEXT NOT NULL, event_ts INTEGER NOT NULL,"
            " log_ts INTEGER NOT NULL)",
            "CREATE INDEX compliance_disclosures_transfer ON compliance_disclosures (transfer_id)",
            "CREATE INDEX compliance_disclosures_logged ON compliance_disclosures (log_ts)",
            "CREATE INDEX compliance_disclosures_discloser ON compliance_disclosures"
            " (discloser_org, event_ts)",
            "CREATE INDEX compliance_disclosures_recipient ON compliance_disclosures"
            " (recipient_org, event_ts)",
            "CREATE TABLE compliance_disclosure_refs ("
            " log_index INTEGER NOT NULL, recipient_org TEXT NOT NULL,"
            " record_ref BLOB NOT NULL, PRIMARY KEY (log_index, record_ref))",
            "CREATE INDEX compliance_disclosure_refs_to ON compliance_disclosure_refs"
            " (recipient_org, record_ref)",
            "CREATE TABLE compliance_accesses ("
            " log_index INTEGER PRIMARY KEY, accessor_org TEXT NOT NULL,"
            " accessor_p TEXT NOT NULL, patient_p TEXT NOT NULL, record_ref BLOB NOT NULL,"
            " purpose TEXT NOT NULL, event_ts INTEGER NOT NULL)",
            "CREATE INDEX compliance_accesses_accessor ON compliance_accesses"
            " (accessor_org, accessor_p, event_ts)",
        ),
    ),
    Step(
        "002-alerts",
        (
            # One row per alert raised; ``blob`` is Alert.to_json (canonical) encrypted
            # under the patient's data key (principal = the pseudonym's bytes), bound to
            # ``body_hash`` = SHA-256 of that JSON.
            "CREATE TABLE compliance_alerts ("
            " id BLOB PRIMARY KEY, rule TEXT NOT NULL, severity TEXT NOT NULL,"
            " patient_p TEXT NOT NULL, org TEXT NOT NULL, time INTEGER NOT NULL,"
            " trigger_index INTEGER, raised_ms INTEGER NOT NULL, body_hash BLOB NOT NULL,"
            " blob BLOB NOT NULL)",
            "CREATE INDEX compliance_alerts_patient ON compliance_alerts (patient_p, time)",
            "CREATE INDEX compliance_alerts_time ON compliance_alerts (time)",
            "CREATE TABLE compliance_state (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        ),
    ),
)

Pseudonym = Callable[[str, str], str]
_TABLES: Final = (
    ("compliance_records", 7),
    ("compliance_care", 6),
    ("compliance_consents", 8),
    ("compliance_disclosures", 9),
    ("compliance_disclosure_refs", 3),
    ("compliance_accesses", 7),
)
_INSERT: Final = {
    name: "INSERT INTO " + name + " VALUES (" + ", ".join("?" * n) + ")"  # noqa: S608
    for name, n in _TABLES
}


def row_batches(
    records: Sequence[tuple[int, Entry]], pseudonym: Pseudonym
) -> dict[str, list[tuple[Any, ...]]]:
    """Rows per table for records given as (log_index, entry)."""
    out: dict[str, list[tuple[Any, ...]]] = {name: [] for name, _ in _TABLES}
    for idx, e in records:
        patient = e.patient
        patient_p = pseudonym("patient", patient) if patient is not None else None
        out["compliance_records"].append(
            (idx, e.hash, e.schema, e.org, patient_p, e.event_ts, e.log_ts)
        )
        v = e.view
        if isinstance(v, Access):
            out["compliance_accesses"].append(
                (
                    idx,
                    v.accessor_org,
                    pseudonym("person", v.accessor.id),
                    pseudonym("patient", v.patient),
                    v.record_ref,
                    v.purpose,
                    e.event_ts,
                )
            )
        elif isinstance(v, Disclosure):
            out["compliance_disclosures"].append(
                (
                    idx,
                    v.half,
                    v.transfer_id,
                    v.discloser_org,
                    v.recipient_org,
                    pseudonym("patient", v.patient),
                    v.purpose,
                    e.event_ts,
                    e.log_ts,
                )
            )
            out["compliance_disclosure_refs"].extend(
                (idx, v.recipient_org, ref) for ref in dict.fromkeys(v.record_refs)
            )
        elif isinstance(v, Consent):
            g = v.grantee
            out["compliance_consents"].append(
                (
                    idx,
                    pseudonym("patient", v.patient),
                    g.kind,
                    pseudonym("person", g.id) if g.kind == "person" else g.id,
                    v.decision,
                    v.period.start,
                    v.period.end,
                    v.revokes,
                )
            )
        elif isinstance(v, Care):
            out["compliance_care"].append(
                (
                    idx,
                    pseudonym("patient", v.patient),
                    v.org,
                    pseudonym("person", v.clinician.id),
                    v.period.start,
                    v.period.end,
                )
            )
    return out


def write_rows(tx: Tx, records: Sequence[tuple[int, Entry]], pseudonym: Pseudonym) -> None:
    """Insert the Facts rows of ``records`` (in the append's transaction)."""
    for table, rows in row_batches(records, pseudonym).items():
        if rows:
            tx.executemany(_INSERT[table], rows)


def read_state(tx: Tx, name: str) -> int | None:
    row = tx.fetchone("SELECT value FROM compliance_state WHERE name = ?", (name,))
    return None if row is None else int(row[0])


def write_state(tx: Tx, name: str, old: int | None, new: int) -> bool:
    """Compare-and-swap ``name`` from ``old`` (None: absent) to ``new``; False if it moved."""
    if old is None:
        return (
            tx.execute(
                "INSERT INTO compliance_state (name, value) VALUES (?, ?)"
                " ON CONFLICT (name) DO NOTHING",
                (name, new),
            )
            == 1
        )
    return (
        tx.execute(
            "UPDATE compliance_state SET value = ? WHERE name = ? AND value = ?",
            (new, name, old),
        )
        == 1
    )
