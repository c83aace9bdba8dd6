"""The Facts seam over the node's SQL tables (docs/compliance.md section 7).

:class:`SqlFacts` answers every :class:`accord.compliance.facts.Facts` query with
one indexed SELECT over the ``compliance_*`` tables (:mod:`accord.node.compliance_tables`)
that returns log indexes in log order, then turns the indexes into
:class:`~accord.compliance.facts.Entry` values through a loader (the node's
decrypts the bodies; :class:`EntryCache` keeps recent ones). The tables hold
pseudonyms, so every patient or person argument is pseudonymised first.

**As of a log index.** ``asof`` (None: everything) adds ``log_index <= :asof`` to
every query, so a record is judged against exactly the records before it and
itself, however many later records a batch already wrote: set it to the log
index of the record being evaluated.

The seams are narrow callables: ``query(sql, params) -> rows`` (a read
transaction's ``fetchall``) and ``load(log_indexes) -> entries``.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

from accord.compliance.directory import Directory
from accord.compliance.facts import Entry, Party, check_window

__all__ = ["ALL", "EntryCache", "Load", "PseudonymCache", "Query", "SqlFacts"]

#: ``asof`` meaning "every record held".
ALL: Final = (1 << 62) - 1

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]
Load = Callable[[Sequence[int]], list[Entry]]
_EMPTY: Final[tuple[Entry, ...]] = ()


class PseudonymCache:
    """``pseudonym(kind, value)`` with a bounded memo (one HMAC per new value)."""

    def __init__(self, pseudonym: Callable[[str, str], str], size: int = 200_000) -> None:
        self._pseudonym = pseudonym
        self._size = size
        self._memo: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def __call__(self, kind: str, value: str) -> str:
        key = (kind, value)
        found = self._memo.get(key)
        if found is not None:
            return found
        out = self._pseudonym(kind, value)
        with self._lock:
            if len(self._memo) >= self._size:
                self._memo.clear()
            self._memo[key] = out
        return out

    def forget(self) -> None:
        with self._lock:
            self._memo.clear()


class EntryCache:
    """Entries by log index: a bounded LRU in front of ``fetch`` (which decrypts bodies).

    ``fetch(indexes)`` returns {log_index: Entry} for the indexes it can still read
    (a shredded body is simply absent). Thread-safe; :meth:`forget` drops
    everything (call it when the node seals: the entries are decrypted bodies).
    """

    def __init__(
        self, fetch: Callable[[Sequence[int]], dict[int, Entry]], size: int = 65_536
    ) -> None:
        self._fetch = fetch
        self._size = size
        self._lock = threading.Lock()
        self._entries: OrderedDict[int, Entry] = OrderedDict()

    def put(self, log_index: int, entry: Entry) -> None:
        with self._lock:
            self._entries[log_index] = entry
            self._entries.move_to_end(log_index)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)

    def forget(self) -> None:
        with self._lock:
            self._entries.clear()

    def load(self, indexes: Sequence[int]) -> list[Entry]:
        """The entries at ``indexes``, in that order (unreadable ones left out)."""
        found = self.get_many(indexes)
        return [found[i] for i in indexes if i in found]

    def get_many(self, indexes: Sequence[int]) -> dict[int, Entry]:
        """{log_index: entry} for the ``indexes`` still readable."""
        if not indexes:
            return {}
        found: dict[int, Entry] = {}
        missing: list[int] = []
        with self._lock:
            for i in indexes:
                e = self._entries.get(i)
                if e is None:
                    missing.append(i)
                else:
                    found[i] = e
                    self._entries.move_to_end(i)
        if missing:
            fetched = self._fetch(missing)
            for i, e in fetched.items():
                self.put(i, e)
            found.update(fetched)
        return found


class SqlFacts:
    """Facts over the compliance tables, answering as of log index ``asof``."""

    def __init__(
        self,
        query: Query,
        load: Load,
        *,
        directory: Directory,
        pseudonym: Callable[[str, str], str],
        parties: Mapping[str, Party] | None = None,
        asof: int | None = None,
    ) -> None:
        self._query = query
        self._load = load
        self._directory = directory
        self._p = pseudonym
        self._parties = dict(parties or {})
        self.asof = ALL if asof is None else asof

    def _indexes(self, sql: str, params: Sequence[Any]) -> Sequence[Entry]:
        rows = self._query(sql, (*params, self.asof))
        if not rows:
            return _EMPTY
        return self._load([int(r[0]) for r in rows])

    # -- the Facts protocol ---------------------------------------------------------

    @property
    def directory(self) -> Directory:
        return self._directory

    def pseudonym(self, patient: str) -> str:
        return self._p("patient", patient)

    def party(self, org: str) -> Party:
        return self._parties.get(org) or Party(org)

    def record(self, record_hash: bytes) -> Entry | None:
        found = self._indexes(
            "SELECT log_index FROM compliance_records WHERE hash = ? AND log_index <= ?",
            (record_hash,),
        )
        return found[0] if found else None

    def care(self, patient: str, org: str, person: str, lo: int, hi: int) -> Sequence[Entry]:
        return self._indexes(
            "SELECT log_index FROM compliance_care WHERE patient_p = ?"
            " AND (org = ? OR clinician_p = ?) AND start_ts <= ?"
            " AND (end_ts IS NULL OR end_ts >= ?) AND log_index <= ? ORDER BY log_index",
            (self._p("patient", patient), org, self._p("person", person), hi, lo),
        )

    def consents(self, patient: str) -> Sequence[Entry]:
        return self._indexes(
            "SELECT log_index FROM compliance_consents WHERE patient_p = ?"
            " AND log_index <= ? ORDER BY log_index",
            (self._p("patient", patient),),
        )

    def disclosures_to(self, org: str, record_ref: bytes) -> Sequence[Entry]:
        return self._indexes(
            "SELECT log_index FROM compliance_disclosure_refs WHERE recipient_org = ?"
            " AND record_ref = ? AND log_index <= ? ORDER BY log_index",
            (org, record_ref),
        )

    def halves(self, transfer_id: str) -> Sequence[Entry]:
        return self._indexes(
            "SELECT log_index FROM compliance_disclosures WHERE transfer_id = ?"
            " AND log_index <= ? ORDER BY log_index",
            (transfer_id,),
        )

    def halves_logged(self, lo: int, hi: int) -> Sequence[Entry]:
        if hi <= lo:
            return _EMPTY
        return self._indexes(
            "SELECT log_index FROM compliance_disclosures WHERE log_ts > ? AND log_ts <= ?"
            " AND log_index <= ? ORDER BY log_index",
            (lo, hi),
        )

    def access_count(self, accessor_org: str, accessor: str, lo: int, hi: int) -> int:
        if hi <= lo:
            return 0
        rows = self._query(
            "SELECT count(*) FROM compliance_accesses WHERE accessor_org = ?"
            " AND accessor_p = ? AND event_ts >= ? AND event_ts < ? AND log_index <= ?",
            (accessor_org, self._p("person", accessor), lo, hi, self.asof),
        )
        return int(rows[0][0])

    def patient_entries(self, patient: str, schema: str, lo: int, hi: int) -> Sequence[Entry]:
        check_window(lo, hi)
        return self._indexes(
            "SELECT log_index FROM compliance_records WHERE patient_p = ? AND schema = ?"
            " AND event_ts >= ? AND event_ts < ? AND log_index <= ? ORDER BY log_index",
            (self._p("patient", patient), schema, lo, hi),
        )

    def org_disclosures(self, org: str, lo: int, hi: int) -> Sequence[Entry]:
        check_window(lo, hi)
        return self._indexes(
            "SELECT log_index FROM compliance_disclosures"
            " WHERE (discloser_org = ? OR recipient_org = ?) AND event_ts >= ? AND event_ts < ?"
            " AND log_index <= ? ORDER BY log_index",
            (org, org, lo, hi),
        )

    def decisions(self) -> Sequence[Entry]:
        return self._indexes(
            "SELECT log_index FROM compliance_records WHERE schema = 'accord.decision'"
            " AND log_index <= ? ORDER BY log_index",
            (),
        )

    # -- beyond the protocol: what the worklist needs --------------------------------

    def decisions_about(self, patient_p: str) -> Sequence[Entry]:
        """The ``accord.decision`` entries about the patient with pseudonym ``patient_p``."""
        return self._indexes(
            "SELECT log_index FROM compliance_records WHERE patient_p = ?"
            " AND schema = 'accord.decision' AND log_index <= ? ORDER BY log_index",
            (patient_p,),
        )
