"""The node's compliance component: Facts over SQL, alerts as records arrive, the worklist.

docs/compliance.md section 7. Constructed by the Node (``node.compliance``), it

- migrates its tables (component ``compliance``) and reads ``directory.toml`` /
  ``rules.toml`` from the node directory (a bad file refuses the start);
- registers a planner **writer** that indexes each appended record in the
  append's transaction (:mod:`accord.node.compliance_tables`) and a **listener**
  that hands the new records to the alert monitor after the commit;
- answers the Facts queries over SQL (:class:`accord.node.sql_facts.SqlFacts`)
  with entries made from the decrypted bodies;
- keeps the privacy officer's worklist: decisions are ``accord.decision``
  statements signed by the node-held ``privacy-office`` source (its Ed25519
  seed is the keystore secret ``privacy_office_key``, created on first use for
  keystores made before it existed; the source is registered on first use).
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from prometheus_client import Counter

from accord.compliance.facts import Entry, parties_from_consortium
from accord.compliance.worklist import WorkItem, Worklist, decision_statement, replay
from accord.errors import AccordError, NotFoundError, SealedError, UsageError
from accord.keys import write_keystore
from accord.keys.files import KEYSTORE_FILE
from accord.node.alert_monitor import AlertMonitor
from accord.node.alert_store import AlertCrypto, read_alerts
from accord.node.compliance_files import load_compliance_files
from accord.node.compliance_tables import COMPLIANCE_STEPS, write_rows
from accord.node.planner import Appended
from accord.node.sql_facts import EntryCache, PseudonymCache, Query, SqlFacts
from accord.records import Reviewer, SignedStatement, sign_statement
from accord.store.database import Tx

if TYPE_CHECKING:
    from accord.node.service import Node

__all__ = ["PRIVACY_OFFICE_SECRET", "PRIVACY_OFFICE_SOURCE", "Compliance"]

#: The node-held source that signs the privacy officer's decisions.
PRIVACY_OFFICE_SOURCE: Final = "privacy-office"
#: Its keystore secret (an Ed25519 seed).
PRIVACY_OFFICE_SECRET: Final = "privacy_office_key"  # noqa: S105 - a name, not a secret
_IN_CHUNK: Final = 500
_FETCH: Final = (
    "SELECT r.log_index, r.hash, r.principal, r.log_ts, b.blob FROM records r"
    " JOIN record_bodies b ON b.hash = r.hash WHERE r.log_index IN "
)

_log = logging.getLogger("accord.compliance")


class Compliance:
    """Compliance for one node (see the module doc)."""

    def __init__(self, node: Node) -> None:
        self.node = node
        node.db.migrate("compliance", COMPLIANCE_STEPS)
        files = load_compliance_files(node.directory, node.org)
        self.files = files
        self.directory = files.directory
        self.rules = files.rules
        self.parties = parties_from_consortium(node.consortium) if node.consortium else {}
        self.pseudonyms = PseudonymCache(node._pseudonym)
        self.entries = EntryCache(self._fetch)
        self.crypto = AlertCrypto(node.datakeys.encrypt, node.datakeys.decrypt)
        self.monitor = AlertMonitor(self)
        self._decide_lock = threading.Lock()
        self._staged: list[tuple[int, Entry]] = []
        registry = node.metrics.registry
        self._evaluated = Counter(
            "accord_compliance_records_evaluated",
            "Records judged by the appropriateness rules",
            registry=registry,
        )
        self._alerts = Counter(
            "accord_compliance_alerts_raised", "Alerts raised as records arrived", registry=registry
        )
        node.vault.on_seal(self._forget)
        node.planner.writers.append(self._write)
        node.planner.listeners.append(self._appended)

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        self.monitor.start()
        self.monitor.wake()

    def stop(self) -> None:
        self.monitor.stop()

    def _forget(self) -> None:
        self.entries.forget()
        self.pseudonyms.forget()

    def metrics_evaluated(self, records: int, alerts: int) -> None:
        self._evaluated.inc(records)
        self._alerts.inc(alerts)

    # -- the planner's writer and listener -----------------------------------------------

    def _write(self, tx: Tx, appended: list[Appended]) -> None:
        staged = [
            (a.log_index, Entry.of(a.prepared.signed.record_hash, a.prepared.signed.statement, ts))
            for a in appended
            for ts in (a.header.log_ts,)
        ]
        if appended:
            self.monitor.in_flight = (appended[0].header.log_ts, time.monotonic())
        write_rows(tx, staged, self.pseudonyms)
        self._staged = staged

    def _appended(self, appended: list[Appended]) -> None:
        staged, self._staged = self._staged, []
        self.monitor.in_flight = None
        if appended and staged and staged[0][0] == appended[0].log_index:
            for index, entry in staged:
                self.entries.put(index, entry)
        self.monitor.wake()

    # -- Facts ---------------------------------------------------------------------------

    def pseudonym_key(self) -> bytes:
        return self.node._keys().pseudonym_key

    def facts(self, query: Query | None = None, asof: int | None = None) -> SqlFacts:
        """Facts over the node's tables (``query``: a transaction's fetchall, else the db's)."""
        return SqlFacts(
            query or self.node.db.fetchall,
            self.entries.load,
            directory=self.directory,
            pseudonym=self.pseudonyms,
            parties=self.parties,
            asof=asof,
        )

    def _fetch(self, indexes: Sequence[int]) -> dict[int, Entry]:
        """Entries from the decrypted bodies (SealedError while sealed; shredded: absent)."""
        node = self.node
        node._keys()
        out: dict[int, Entry] = {}
        for i in range(0, len(indexes), _IN_CHUNK):
            chunk = list(indexes[i : i + _IN_CHUNK])
            marks = ",".join("?" * len(chunk))
            sql = _FETCH + "(" + marks + ")"
            rows = node.db.fetchall(sql, chunk)
            for index, raw_hash, principal, log_ts, blob in rows:
                if principal is None:
                    continue
                record_hash = bytes(raw_hash)
                try:
                    body = node.decrypt_body(bytes(principal), record_hash, bytes(blob))
                    signed = SignedStatement.parse(body)
                except SealedError:
                    raise
                except AccordError as exc:
                    _log.warning("record %s unreadable: %s", record_hash.hex(), exc.code)
                    continue
                out[int(index)] = Entry.of(record_hash, signed.statement, int(log_ts))
        return out

    # -- the worklist ----------------------------------------------------------------------

    def worklist(self, *, patient: str | None = None, rule: str | None = None) -> Worklist:
        """The worklist replayed from the stored alerts and this org's decision records."""
        self.node._keys()
        facts = self.facts()
        patient_p = self.pseudonyms("patient", patient) if patient is not None else None
        alerts = read_alerts(self.node.db.fetchall, self.crypto, patient_p=patient_p, rule=rule)
        decisions = facts.decisions_about(patient_p) if patient_p else facts.decisions()
        return replay(alerts, decisions, org=self.node.org)

    def item(self, alert_id: bytes) -> WorkItem:
        self.node._keys()
        found = read_alerts(self.node.db.fetchall, self.crypto, alert_id=alert_id)
        if not found:
            raise NotFoundError(f"no alert {alert_id.hex()} at this node")
        decisions = self.facts().decisions_about(found[0].patient)
        return replay(found, decisions, org=self.node.org).get(alert_id)

    def decide(self, alert_id: bytes, *, status: str, reason: str, reviewer: Reviewer) -> WorkItem:
        """Append a signed ``accord.decision`` for the alert; the item's new state.

        UsageError for an illegal transition (to the status it already has).
        """
        with self._decide_lock:
            item = self.item(alert_id)
            trigger = self.facts().record(item.alert.trigger)
            if trigger is None or trigger.patient is None:
                raise NotFoundError("the record that raised this alert is no longer readable")
            key = self._privacy_key()
            self._ensure_privacy_source(key)
            statement = decision_statement(
                item,
                patient=trigger.patient,
                status=status,
                reason=reason,
                reviewer=reviewer,
                org=self.node.org,
                source=PRIVACY_OFFICE_SOURCE,
                event_ts=self.node.clock_ms(),
                pseudonym=lambda p: self.pseudonyms("patient", p),
            )
            signed = sign_statement(statement, key)
            node = self.node
            node._append([node.validator.prepare(signed, node.org)])
            return self.item(alert_id)

    def _privacy_key(self) -> Ed25519PrivateKey:
        vault = self.node.vault
        try:
            seed = vault.secret(PRIVACY_OFFICE_SECRET)
        except UsageError:  # a keystore made before the privacy office existed
            seed = secrets.token_bytes(32)
            keystore = vault.put_secret(PRIVACY_OFFICE_SECRET, seed)
            write_keystore(self.node.directory / KEYSTORE_FILE, keystore)
            _log.info("created the privacy office key in the keystore")
        return Ed25519PrivateKey.from_private_bytes(seed)

    def _ensure_privacy_source(self, key: Ed25519PrivateKey) -> None:
        raw = key.public_key().public_bytes_raw()
        current = self.node.registry.get(self.node.org, PRIVACY_OFFICE_SOURCE)
        if current is None or not current.active or current.raw != raw:
            self.node.register_source(PRIVACY_OFFICE_SOURCE, raw)

    # -- reading -------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Where evaluation stands (for clients waiting on alerts) and which files are used."""
        return {
            "evaluated": self.monitor.evaluated(),
            "log_size": self.node.log.size,
            "last_sweep": self.monitor.last_sweep(),
            "directory_file": str(self.files.directory_file) if self.files.directory_file else None,
            "rules_file": str(self.files.rules_file) if self.files.rules_file else None,
        }
