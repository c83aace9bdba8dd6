"""The SQL projection: records as rows with secondary indexes for the audit patterns.

Auditors query these tables read-only (``POST /v1/sql``, ``accord sql``). They hold no
direct identifiers: patients and people appear as keyed pseudonyms (docs/formats.md
section 5), and the SQL function ``pseudonym(kind, value)`` computes one from a real
identifier. Record hashes and record references are lowercase hex; times are ms.

Tables (every one has ``record``, ``org``, ``event_ts`` and ``log_ts``):

- ``access``: who accessed which patient's record, when, for what purpose;
  indexed by (patient, event_ts), (accessor, event_ts), (accessor_org, event_ts),
  (purpose, event_ts).
- ``disclosure``: export and import halves; indexed by (discloser_org, recipient_org,
  event_ts), (patient, event_ts), (transfer_id).
- ``consent`` and ``care``: the evidence that makes an access appropriate; indexed by
  (patient, start_ts).
- ``record_status``: every record's schema, org, status (pending or final) and log index.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Final

from accord.records import Access, Care, Consent, Disclosure, SignedStatement
from accord.store.database import Tx
from accord.store.migrations import Step

__all__ = ["PROJECTION_STEPS", "PROJECTION_TABLES", "Projector"]

PROJECTION_TABLES: Final = ("access", "disclosure", "consent", "care", "record_status")

PROJECTION_STEPS: Final = (
    Step(
        "001-tables",
        (
            "CREATE TABLE access ("
            " record TEXT PRIMARY KEY, org TEXT NOT NULL, event_ts INTEGER NOT NULL,"
            " log_ts INTEGER NOT NULL, patient TEXT NOT NULL, accessor TEXT NOT NULL,"
            " accessor_role TEXT NOT NULL, accessor_org TEXT NOT NULL, action TEXT NOT NULL,"
            " purpose TEXT NOT NULL, outcome TEXT NOT NULL, break_glass INTEGER NOT NULL,"
            " record_ref TEXT NOT NULL, authorization_kind TEXT, authorization_ref TEXT)",
            "CREATE INDEX access_patient_time ON access (patient, event_ts)",
            "CREATE INDEX access_accessor_time ON access (accessor, event_ts)",
            "CREATE INDEX access_accessor_org_time ON access (accessor_org, event_ts)",
            "CREATE INDEX access_purpose_time ON access (purpose, event_ts)",
            "CREATE TABLE disclosure ("
            " record TEXT PRIMARY KEY, org TEXT NOT NULL, event_ts INTEGER NOT NULL,"
            " log_ts INTEGER NOT NULL, half TEXT NOT NULL, transfer_id TEXT NOT NULL,"
            " discloser_org TEXT NOT NULL, recipient_org TEXT NOT NULL, patient TEXT NOT NULL,"
            " purpose TEXT NOT NULL, description TEXT NOT NULL, record_count INTEGER NOT NULL,"
            " other_half TEXT)",
            "CREATE INDEX disclosure_pair_time ON disclosure"
            " (discloser_org, recipient_org, event_ts)",
            "CREATE INDEX disclosure_patient_time ON disclosure (patient, event_ts)",
            "CREATE INDEX disclosure_transfer ON disclosure (transfer_id)",
            "CREATE TABLE consent ("
            " record TEXT PRIMARY KEY, org TEXT NOT NULL, event_ts INTEGER NOT NULL,"
            " log_ts INTEGER NOT NULL, patient TEXT NOT NULL, grantee_kind TEXT NOT NULL,"
            " grantee TEXT NOT NULL, purposes TEXT NOT NULL, start_ts INTEGER NOT NULL,"
            " end_ts INTEGER, decision TEXT NOT NULL, revokes TEXT)",
            "CREATE INDEX consent_patient_time ON consent (patient, start_ts)",
            "CREATE TABLE care ("
            " record TEXT PRIMARY KEY, org TEXT NOT NULL, event_ts INTEGER NOT NULL,"
            " log_ts INTEGER NOT NULL, patient TEXT NOT NULL, clinician TEXT NOT NULL,"
            " clinician_role TEXT, care_org TEXT NOT NULL, start_ts INTEGER NOT NULL,"
            " end_ts INTEGER, encounter_ref TEXT)",
            "CREATE INDEX care_patient_time ON care (patient, start_ts)",
            "CREATE INDEX care_clinician ON care (clinician, start_ts)",
            "CREATE TABLE record_status ("
            " record TEXT PRIMARY KEY, schema TEXT NOT NULL, org TEXT NOT NULL,"
            " event_ts INTEGER NOT NULL, log_ts INTEGER NOT NULL, log_index INTEGER NOT NULL,"
            " status TEXT NOT NULL)",
            "CREATE INDEX record_status_schema_time ON record_status (schema, event_ts)",
        ),
    ),
)

_INSERT: Final = {
    "access": "INSERT INTO access VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "disclosure": "INSERT INTO disclosure VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "consent": "INSERT INTO consent VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
    "care": "INSERT INTO care VALUES (?,?,?,?,?,?,?,?,?,?,?)",
    "record_status": "INSERT INTO record_status VALUES (?,?,?,?,?,?,?)",
}


class Projector:
    """Turns sequenced records into projection rows. ``pseudonym(kind, value)`` is keyed."""

    def __init__(self, pseudonym: Callable[[str, str], str]) -> None:
        self._pseudonym = pseudonym

    def rows(
        self, signed: SignedStatement, log_index: int, log_ts: int, status: str
    ) -> list[tuple[str, tuple[Any, ...]]]:
        """(table, row) pairs for one record."""
        st = signed.statement
        rec = signed.record_hash.hex()
        p = self._pseudonym
        out: list[tuple[str, tuple[Any, ...]]] = [
            ("record_status", (rec, st.schema, st.org, st.event_ts, log_ts, log_index, status))
        ]
        typed = st.typed
        common = (rec, st.org, st.event_ts, log_ts)
        if isinstance(typed, Access):
            auth = typed.authorization
            out.append(
                (
                    "access",
                    (
                        *common,
                        p("patient", typed.patient),
                        p("person", typed.accessor.id),
                        typed.accessor.role,
                        typed.accessor_org,
                        typed.action,
                        typed.purpose,
                        typed.outcome,
                        int(typed.break_glass),
                        typed.record_ref.hex(),
                        auth.kind if auth else None,
                        auth.ref.hex() if auth else None,
                    ),
                )
            )
        elif isinstance(typed, Disclosure):
            out.append(
                (
                    "disclosure",
                    (
                        *common,
                        typed.half,
                        typed.transfer_id,
                        typed.discloser_org,
                        typed.recipient_org,
                        p("patient", typed.patient),
                        typed.purpose,
                        typed.description,
                        len(typed.record_refs),
                        typed.other_half.hex() if typed.other_half else None,
                    ),
                )
            )
        elif isinstance(typed, Consent):
            g = typed.grantee
            out.append(
                (
                    "consent",
                    (
                        *common,
                        p("patient", typed.patient),
                        g.kind,
                        p("person", g.id) if g.kind == "person" else g.id,
                        " ".join(typed.purposes),
                        typed.period.start,
                        typed.period.end,
                        typed.decision,
                        typed.revokes.hex() if typed.revokes else None,
                    ),
                )
            )
        elif isinstance(typed, Care):
            out.append(
                (
                    "care",
                    (
                        *common,
                        p("patient", typed.patient),
                        p("person", typed.clinician.id),
                        typed.clinician.role,
                        typed.org,
                        typed.period.start,
                        typed.period.end,
                        typed.encounter_ref,
                    ),
                )
            )
        return out

    @staticmethod
    def write(tx: Tx, rows: Sequence[tuple[str, tuple[Any, ...]]]) -> None:
        """Insert rows grouped by table (one executemany per table)."""
        by_table: dict[str, list[tuple[Any, ...]]] = {}
        for table, row in rows:
            by_table.setdefault(table, []).append(row)
        for table, table_rows in by_table.items():
            tx.executemany(_INSERT[table], table_rows)

    @staticmethod
    def set_status(tx: Tx, record_hashes: Sequence[bytes], status: str) -> None:
        tx.executemany(
            "UPDATE record_status SET status = ? WHERE record = ?",
            [(status, h.hex()) for h in record_hashes],
        )
