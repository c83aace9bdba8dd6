"""The narrow data seam the appropriateness rules and the reports read through.

Compliance never opens a database: it reads records as :class:`Entry` values
(record hash, the org whose source made the statement, schema, ``event_ts``,
``log_ts`` and the typed view of accord.records) through the :class:`Facts`
protocol. Two implementations exist: :class:`accord.compliance.memory_facts.MemoryFacts`
(in memory: the brute-force reference of the tests, and the engine that re-runs
the rules over history) and the node's, over its SQL projection
(docs/compliance.md section 7 lists the queries and indexes it needs).

Every query answers **as of now**: the records the implementation holds at the
time of the call, the one being evaluated included. Results are in log order.
Time bounds are milliseconds; ``[lo, hi)`` is half-open unless a method says
otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Protocol

from accord.errors import UsageError
from accord.records.schemas import Fields
from accord.records.statement import Statement
from accord.records.values import MAX_TS

if TYPE_CHECKING:
    from accord.compliance.directory import Directory

__all__ = [
    "Entry",
    "Facts",
    "Party",
    "check_window",
    "parties_from_consortium",
]

_HASH_SIZE: Final = 32


@dataclass(frozen=True, slots=True)
class Entry:
    """One record as compliance reads it.

    ``hash`` is the record hash (formats.md section 1), ``org`` the org whose
    source signed the statement (for a disclosure half: the discloser for the
    export, the recipient for the import), ``view`` the typed fields
    (:class:`accord.records.Access`, ``Disclosure``, ``Consent``, ``Care``,
    ``Decision``...). ``log_ts`` is the time the log holding it appended it.
    """

    hash: bytes
    org: str
    schema: str
    event_ts: int
    log_ts: int
    view: Fields

    def __post_init__(self) -> None:
        if type(self.hash) is not bytes or len(self.hash) != _HASH_SIZE:
            raise UsageError("Entry.hash must be a 32-byte record hash")
        if type(self.event_ts) is not int or type(self.log_ts) is not int:
            raise UsageError("Entry times must be integer milliseconds")
        if not 0 <= self.event_ts < MAX_TS or not 0 <= self.log_ts < MAX_TS:
            raise UsageError("Entry times must be in [0, 2**53) milliseconds")

    @classmethod
    def of(cls, record_hash: bytes, statement: Statement, log_ts: int) -> Entry:
        """The entry of a validated statement stored with ``record_hash`` at ``log_ts``."""
        return cls(
            record_hash,
            statement.org,
            statement.schema,
            statement.event_ts,
            log_ts,
            statement.typed,
        )

    @property
    def patient(self) -> str | None:
        """The patient the record is about, if any."""
        patient: Any = getattr(self.view, "patient", None)
        return patient if isinstance(patient, str) else None


@dataclass(frozen=True, slots=True)
class Party:
    """An org as reports name it: display name and postal address (if known)."""

    name: str
    address: str | None = None


def parties_from_consortium(consortium: Any) -> dict[str, Party]:
    """org id -> Party from an :class:`accord.quorum.Consortium` (members' name and address)."""
    return {m.org: Party(m.name, m.address) for m in consortium.members}


class Facts(Protocol):
    """What the rules and reports may ask. Implementations answer as of now, in log order."""

    @property
    def directory(self) -> Directory:
        """The evaluating org's directory (its own people, known patients, VIP list)."""
        ...

    def pseudonym(self, patient: str) -> str:
        """The keyed pseudonym of a patient id (formats.md section 5)."""
        ...

    def party(self, org: str) -> Party:
        """Name and address of an org reference; ``Party(org)`` when unknown."""
        ...

    def record(self, record_hash: bytes) -> Entry | None:
        """The entry with this record hash, if held."""
        ...

    def care(self, patient: str, org: str, person: str, lo: int, hi: int) -> Sequence[Entry]:
        """``ehr.care`` entries of ``patient`` at ``org`` or with clinician ``person`` whose
        period overlaps ``[lo, hi]`` (closed; an open-ended period never ends)."""
        ...

    def consents(self, patient: str) -> Sequence[Entry]:
        """Every ``ehr.consent`` entry of ``patient`` (revocations included)."""
        ...

    def disclosures_to(self, org: str, record_ref: bytes) -> Sequence[Entry]:
        """Disclosure halves (either) with ``recipient_org == org`` listing ``record_ref``."""
        ...

    def halves(self, transfer_id: str) -> Sequence[Entry]:
        """Every ``ehr.disclosure`` half with this ``transfer_id``."""
        ...

    def halves_logged(self, lo: int, hi: int) -> Sequence[Entry]:
        """``ehr.disclosure`` halves with ``lo < log_ts <= hi`` (the unmatched-half sweep)."""
        ...

    def access_count(self, accessor_org: str, accessor: str, lo: int, hi: int) -> int:
        """How many ``ehr.access`` entries by (``accessor_org``, ``accessor``) have
        ``lo <= event_ts < hi``."""
        ...

    def patient_entries(self, patient: str, schema: str, lo: int, hi: int) -> Sequence[Entry]:
        """Entries of ``schema`` about ``patient`` with ``lo <= event_ts < hi``."""
        ...

    def org_disclosures(self, org: str, lo: int, hi: int) -> Sequence[Entry]:
        """``ehr.disclosure`` halves with ``org`` as discloser or recipient and
        ``lo <= event_ts < hi``."""
        ...

    def decisions(self) -> Sequence[Entry]:
        """Every ``accord.decision`` entry."""
        ...


def check_window(lo: int, hi: int) -> None:
    """Both bounds integers, ``lo <= hi``: else UsageError."""
    if type(lo) is not int or type(hi) is not int or lo > hi:
        raise UsageError(f"bad time window [{lo!r}, {hi!r})")
