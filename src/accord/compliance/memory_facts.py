"""MemoryFacts: the :class:`accord.compliance.facts.Facts` seam over records held in memory.

Built by adding entries in log order (``add``), it is both the brute-force
reference the tests compare the node against and the stateful engine that
:func:`accord.compliance.rules.rerun` replays history with: adding a record
and then evaluating it sees exactly what the node saw when that record arrived.
Every index is a dict keyed the way the seam asks; counts per accessor are
sorted lists of ``event_ts`` (records may arrive late, so inserts are ordered).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections.abc import Iterable, Mapping, Sequence
from typing import Final, cast

from accord.compliance.directory import Directory
from accord.compliance.facts import Entry, Party, check_window
from accord.errors import UsageError
from accord.records.pseudonym import pseudonym
from accord.records.schemas import Access, Care, Consent, Decision, Disclosure
from accord.records.statement import Statement

__all__ = ["MemoryFacts"]

_EMPTY: Final[tuple[Entry, ...]] = ()


class MemoryFacts:
    """Records in memory, indexed for the Facts queries. Add them in log order.

    ``directory`` is the evaluating org's directory; ``parties`` names orgs
    (org id -> Party, e.g. from :func:`accord.compliance.facts.parties_from_consortium`);
    ``pseudonym_key`` is the consortium's 32-byte pseudonym key.
    """

    def __init__(
        self,
        directory: Directory,
        *,
        pseudonym_key: bytes,
        parties: Mapping[str, Party] | None = None,
    ) -> None:
        if type(directory) is not Directory:
            raise UsageError("MemoryFacts needs the org's Directory")
        pseudonym(pseudonym_key, "patient", "check")  # UsageError for a bad key
        self._directory = directory
        self._key = pseudonym_key
        self._pseudonyms: dict[str, str] = {}
        self._parties = dict(parties or {})
        self._by_hash: dict[bytes, Entry] = {}
        self._last_log_ts = -1
        self._care: dict[str, list[Entry]] = {}
        self._consents: dict[str, list[Entry]] = {}
        self._to: dict[tuple[str, bytes], list[Entry]] = {}
        self._halves: dict[str, list[Entry]] = {}
        self._halves_log: list[Entry] = []
        self._halves_log_ts: list[int] = []
        self._org_halves: dict[str, list[Entry]] = {}
        self._access_ts: dict[tuple[str, str], list[int]] = {}
        self._by_patient: dict[tuple[str, str], list[Entry]] = {}
        self._decisions: list[Entry] = []

    @classmethod
    def from_records(
        cls,
        records: Iterable[Entry | tuple[bytes, Statement, int]],
        directory: Directory,
        *,
        pseudonym_key: bytes,
        parties: Mapping[str, Party] | None = None,
    ) -> MemoryFacts:
        """Facts holding ``records`` (entries, or (record hash, statement, log_ts)) in order."""
        facts = cls(directory, pseudonym_key=pseudonym_key, parties=parties)
        for r in records:
            facts.add(r if type(r) is Entry else Entry.of(*r))  # type: ignore[misc]
        return facts

    def __len__(self) -> int:
        return len(self._by_hash)

    def add(self, entry: Entry) -> bool:
        """Hold ``entry``; False if a record with its hash is already held (one record).

        UsageError if ``entry.log_ts`` is below the last one added (a log never goes back).
        """
        if entry.hash in self._by_hash:
            return False
        if entry.log_ts < self._last_log_ts:
            raise UsageError(
                f"entries must be added in log order: log_ts {entry.log_ts} < {self._last_log_ts}"
            )
        self._last_log_ts = entry.log_ts
        self._by_hash[entry.hash] = entry
        v = entry.view
        if isinstance(v, Access):
            times = self._access_ts.get((v.accessor_org, v.accessor.id))
            if times is None:
                self._access_ts[(v.accessor_org, v.accessor.id)] = [entry.event_ts]
            elif times[-1] <= entry.event_ts:
                times.append(entry.event_ts)
            else:
                insort(times, entry.event_ts)
        elif isinstance(v, Disclosure):
            for ref in v.record_refs:
                self._to.setdefault((v.recipient_org, ref), []).append(entry)
            self._halves.setdefault(v.transfer_id, []).append(entry)
            self._halves_log.append(entry)
            self._halves_log_ts.append(entry.log_ts)
            self._org_halves.setdefault(v.discloser_org, []).append(entry)
            self._org_halves.setdefault(v.recipient_org, []).append(entry)
        elif isinstance(v, Consent):
            self._consents.setdefault(v.patient, []).append(entry)
        elif isinstance(v, Care):
            self._care.setdefault(v.patient, []).append(entry)
        elif isinstance(v, Decision):
            self._decisions.append(entry)
        patient = entry.patient
        if patient is not None:
            self._by_patient.setdefault((patient, entry.schema), []).append(entry)
        return True

    # -- the Facts protocol ---------------------------------------------------------

    @property
    def directory(self) -> Directory:
        return self._directory

    def pseudonym(self, patient: str) -> str:
        out = self._pseudonyms.get(patient)
        if out is None:
            out = self._pseudonyms[patient] = pseudonym(self._key, "patient", patient)
        return out

    def party(self, org: str) -> Party:
        return self._parties.get(org) or Party(org)

    def record(self, record_hash: bytes) -> Entry | None:
        return self._by_hash.get(record_hash)

    def care(self, patient: str, org: str, person: str, lo: int, hi: int) -> Sequence[Entry]:
        out = []
        for e in self._care.get(patient, _EMPTY):
            c = cast(Care, e.view)
            if (c.org == org or c.clinician.id == person) and c.period.start <= hi:
                end = c.period.end
                if end is None or end >= lo:
                    out.append(e)
        return out

    def consents(self, patient: str) -> Sequence[Entry]:
        return self._consents.get(patient, _EMPTY)

    def disclosures_to(self, org: str, record_ref: bytes) -> Sequence[Entry]:
        return self._to.get((org, record_ref), _EMPTY)

    def halves(self, transfer_id: str) -> Sequence[Entry]:
        return self._halves.get(transfer_id, _EMPTY)

    def halves_logged(self, lo: int, hi: int) -> Sequence[Entry]:
        if hi <= lo:
            return _EMPTY
        ts = self._halves_log_ts
        return self._halves_log[bisect_right(ts, lo) : bisect_right(ts, hi)]

    def access_count(self, accessor_org: str, accessor: str, lo: int, hi: int) -> int:
        times = self._access_ts.get((accessor_org, accessor))
        if not times or hi <= lo:
            return 0
        return bisect_left(times, hi) - bisect_left(times, lo)

    def patient_entries(self, patient: str, schema: str, lo: int, hi: int) -> Sequence[Entry]:
        check_window(lo, hi)
        return [e for e in self._by_patient.get((patient, schema), _EMPTY) if lo <= e.event_ts < hi]

    def org_disclosures(self, org: str, lo: int, hi: int) -> Sequence[Entry]:
        check_window(lo, hi)
        return [e for e in self._org_halves.get(org, _EMPTY) if lo <= e.event_ts < hi]

    def decisions(self) -> Sequence[Entry]:
        return self._decisions
