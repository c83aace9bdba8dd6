"""Crypto-shredding and data-key rotation in a running node, and their audit trail.

``shred(patient)`` destroys every version of the patient's data key (the principal is the
patient's keyed pseudonym, DESIGN.md section 6): their bodies can no longer be read, while
the log, its proofs and certificates, which hold only headers and hashes, still verify.
``rotate(patient)`` makes a new data key version for the patient's new records; old
bodies keep the version they were encrypted with.

There is no log record type for key actions (the statement schemas describe clinical and
consortium events, and a record naming the shredded patient would outlive the shred), so
each action is written to the node's **audit trail**, the ``key_actions`` table: what was
done, to which principal (the pseudonym, never the identifier), how many key versions,
when, and by which admin token id. Both need the node unsealed (SealedError otherwise).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from accord.errors import MalformedError, UsageError
from accord.keys import body_key_version
from accord.store.migrations import Step

if TYPE_CHECKING:
    from accord.node.service import Node

__all__ = ["KEY_ACTION_STEPS", "KeyAction", "KeyActions", "check_patient"]

KEY_ACTION_STEPS: Final = (
    Step(
        "001-key-actions",
        (
            "CREATE TABLE key_actions ("
            " seq INTEGER PRIMARY KEY,"
            " action TEXT NOT NULL,"  # shred | rotate
            " principal BLOB NOT NULL,"  # the patient's pseudonym bytes
            " versions INTEGER NOT NULL,"  # shred: versions destroyed; rotate: the new version
            " records INTEGER NOT NULL,"  # records of this principal held here
            " at_ms INTEGER NOT NULL,"
            " actor TEXT NOT NULL)",  # the admin token id ('' from inside the process)
        ),
    ),
    Step(
        "002-master-key",
        (
            # The keyset of the master key the data keys are wrapped under, written in the
            # same transaction that re-wraps them (accord keys init --new-master-key): it
            # tells a node whether a pending keystore.next.json was committed.
            "CREATE TABLE master_key (id INTEGER PRIMARY KEY, keyset TEXT NOT NULL)",
        ),
    ),
)

_MAX_ID: Final = 256


def check_patient(patient: object) -> str:
    """A patient identifier as in statements: 1..256 printable characters (UsageError)."""
    if not isinstance(patient, str) or not 1 <= len(patient) <= _MAX_ID:
        raise UsageError("principal must be a patient identifier of 1..256 characters")
    if not patient.isprintable() or patient != patient.strip():
        raise UsageError("principal must be printable, without surrounding spaces")
    return patient


@dataclass(frozen=True, slots=True)
class KeyAction:
    seq: int
    action: str
    principal: str  # pseudonym hex
    versions: int
    records: int
    at_ms: int
    actor: str

    def to_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "action": self.action,
            "principal": self.principal,
            "versions": self.versions,
            "records": self.records,
            "at_ms": self.at_ms,
            "actor": self.actor,
        }


class KeyActions:
    """Shred and rotate one node's per-patient data keys (see the module doc)."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._lock = threading.Lock()
        node.db.migrate("key_actions", KEY_ACTION_STEPS)

    def principal(self, patient: str) -> bytes:
        """The data-key principal of a patient: the pseudonym bytes (SealedError if sealed)."""
        return bytes.fromhex(self._node._pseudonym("patient", check_patient(patient)))

    def _records(self, principal: bytes) -> list[bytes]:
        rows = self._node.db.fetchall("SELECT hash FROM records WHERE principal = ?", (principal,))
        return [bytes(r[0]) for r in rows]

    def _record(
        self, action: str, principal: bytes, versions: int, records: int, actor: str
    ) -> KeyAction:
        at = self._node.clock_ms()
        with self._node.db.transaction() as tx:
            row = tx.fetchone("SELECT COALESCE(MAX(seq), 0) + 1 FROM key_actions")
            seq = int(row[0]) if row is not None else 1
            tx.execute(
                "INSERT INTO key_actions (seq, action, principal, versions, records, at_ms, actor)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (seq, action, principal, versions, records, at, actor),
            )
        return KeyAction(seq, action, principal.hex(), versions, records, at, actor)

    def shred(self, patient: str, *, actor: str = "") -> KeyAction:
        """Destroy every version of the patient's data key (irreversible); forget every
        decrypted copy the node keeps in memory."""
        node = self._node
        node._keys()
        principal = self.principal(patient)
        with self._lock:
            destroyed = node.datakeys.shred(principal)
            records = self._records(principal)
            node.compliance.entries.forget()
            if node.replication is not None:
                node.replication.forget_bodies(records)
            return self._record("shred", principal, destroyed, len(records), actor)

    def rotate(self, patient: str, *, actor: str = "") -> KeyAction:
        """A new data key version for the patient's new records (old bodies keep theirs)."""
        node = self._node
        node._keys()
        principal = self.principal(patient)
        with self._lock:
            key = node.datakeys.rotate(principal)
            records = self._records(principal)
            return self._record("rotate", principal, key.version, len(records), actor)

    def shredded_records(self, patient: str) -> int:
        """How many records of this patient held here have a body whose data key was
        shredded (for reports and FHIR searches to say so). SealedError while sealed."""
        principal = self.principal(patient)
        db = self._node.db
        head = db.fetchone("SELECT latest FROM data_key_heads WHERE principal = ?", (principal,))
        if head is None:
            return 0
        live = {
            int(r[0])
            for r in db.fetchall("SELECT version FROM data_keys WHERE principal = ?", (principal,))
        }
        rows = db.fetchall(
            "SELECT b.blob FROM records r JOIN record_bodies b ON b.hash = r.hash"
            " WHERE r.principal = ?",
            (principal,),
        )
        count = 0
        for (blob,) in rows:
            try:
                version = body_key_version(bytes(blob))
            except MalformedError:
                continue  # a body stored in the clear (benchmark switch): never shredded
            if version not in live:
                count += 1
        return count

    def history(self, limit: int = 1000) -> list[KeyAction]:
        rows = self._node.db.fetchall(
            "SELECT seq, action, principal, versions, records, at_ms, actor FROM key_actions"
            " ORDER BY seq DESC LIMIT ?",
            (limit,),
        )
        return [
            KeyAction(
                int(r[0]), str(r[1]), bytes(r[2]).hex(), int(r[3]), int(r[4]), int(r[5]), str(r[6])
            )
            for r in rows
        ]
