"""The three reports as values: rows, JSON form, and the table view renderers print.

Each report is a frozen dataclass with ``to_json()`` and a strict
``from_json()`` (``MalformedError("report", ...)``), exact inverses; and
``sections()`` / ``meta()``: the tables and header facts every renderer
(CSV, JSON, HTML in :mod:`accord.compliance.render`) shows, times written in the
report's time zone. Formats: docs/compliance.md section 6.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from accord.compliance.report_json import (
    VERSION,
    bad,
    check_header,
    check_value,
    row_to_json,
    rows_from_json,
)
from accord.compliance.schedule import LocalClock

__all__ = [
    "REPORT_KINDS",
    "AccessReport",
    "AccessRow",
    "AccountingEntry",
    "AccountingReport",
    "ExchangeReport",
    "ExchangeRow",
    "Report",
    "Section",
    "report_from_json",
]

_WHAT: Final = "report"


@dataclass(frozen=True, slots=True)
class Section:
    """One printed table: ``key`` (machine name), ``title``, column ``headers``, ``rows``."""

    key: str
    title: str
    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def _opt(value: str | None, none: str = "") -> str:
    return none if value is None else value


# -- accounting of disclosures (45 CFR 164.528) --------------------------------------


@dataclass(frozen=True, slots=True)
class AccountingEntry:
    """One entry: a disclosure, or a series of repeated disclosures summarised (b)(3)."""

    date: int
    discloser: str
    discloser_name: str
    recipient: str
    recipient_name: str
    recipient_address: str | None
    description: str
    purpose: str
    purpose_text: str
    count: int
    last_date: int | None
    frequency: str | None
    transfers: tuple[str, ...]
    status: str
    records: tuple[str, ...]
    verified: str


_ACCOUNTING_HEADERS: Final = (
    "Date",
    "Disclosed by",
    "Recipient",
    "Recipient address",
    "What was disclosed",
    "Purpose",
    "Repeated disclosures",
    "Last disclosure",
    "Halves logged",
    "Verified",
    "Records",
)


def _accountingrows_from_json(
    entries: tuple[AccountingEntry, ...], day: Callable[[int], str]
) -> tuple[tuple[str, ...], ...]:
    return tuple(
        (
            day(e.date),
            e.discloser_name,
            e.recipient_name,
            _opt(e.recipient_address, "address unknown"),
            e.description,
            f"{e.purpose} ({e.purpose_text})",
            _opt(e.frequency),
            "" if e.last_date is None else day(e.last_date),
            e.status,
            e.verified,
            " ".join(e.records),
        )
        for e in entries
    )


@dataclass(frozen=True, slots=True)
class AccountingReport:
    """The accounting of disclosures for one patient over ``[start, end)`` (at most 6 years)."""

    kind: ClassVar[str] = "accounting"
    title: ClassVar[str] = "Accounting of disclosures (45 CFR 164.528)"
    patient: str
    start: int
    end: int
    generated: int
    timezone: str
    entries: tuple[AccountingEntry, ...]
    exempt: tuple[AccountingEntry, ...]

    def meta(self) -> list[tuple[str, str]]:
        clock = LocalClock.of(self.timezone, _WHAT)
        return [
            ("Patient", self.patient),
            ("Period", f"{_day(clock, self.start)} to {_day(clock, self.end - 1)}"),
            ("Generated", clock.format(self.generated)),
            ("Accountable entries", str(len(self.entries))),
            ("Exempt (TPO) disclosures", str(len(self.exempt))),
        ]

    def sections(self) -> list[Section]:
        clock = LocalClock.of(self.timezone, _WHAT)

        def day(ts: int) -> str:
            return _day(clock, ts)

        return [
            Section(
                "accountable",
                "Disclosures subject to accounting",
                _ACCOUNTING_HEADERS,
                _accountingrows_from_json(self.entries, day),
            ),
            Section(
                "exempt",
                "Treatment, payment and operations (exempt, 164.528(a)(1)(i); listed apart)",
                _ACCOUNTING_HEADERS,
                _accountingrows_from_json(self.exempt, day),
            ),
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "report": self.kind,
            "version": VERSION,
            "patient": self.patient,
            "start": self.start,
            "end": self.end,
            "generated": self.generated,
            "timezone": self.timezone,
            "entries": [row_to_json(e) for e in self.entries],
            "exempt": [row_to_json(e) for e in self.exempt],
        }

    @classmethod
    def from_json(cls, value: Any) -> AccountingReport:
        v = check_header(value, cls.kind, ("patient", "entries", "exempt"))
        return cls(
            patient=check_value("str", v["patient"], "patient"),
            start=v["start"],
            end=v["end"],
            generated=v["generated"],
            timezone=v["timezone"],
            entries=rows_from_json(AccountingEntry, v["entries"], "entries"),
            exempt=rows_from_json(AccountingEntry, v["exempt"], "exempt"),
        )


# -- access report (the 2011 NPRM's "access report") ---------------------------------


@dataclass(frozen=True, slots=True)
class AccessRow:
    ts: int
    user: str
    user_id: str
    role: str
    org: str
    org_name: str
    purpose: str
    data: str
    action: str
    break_glass: bool
    outcome: str
    logged_by: str
    record: str
    verified: str


_ACTIONS: Final = {"R": "read", "C": "create", "U": "update", "D": "delete", "E": "query"}
_ACCESS_HEADERS: Final = (
    "Date",
    "Time",
    "User",
    "Role",
    "Organization",
    "Declared purpose",
    "Data (record ref)",
    "Action",
    "Break-the-glass",
    "Outcome",
    "Logged by",
    "Verified",
    "Record",
)


@dataclass(frozen=True, slots=True)
class AccessReport:
    """Who accessed one patient's records, at any org, over ``[start, end)``."""

    kind: ClassVar[str] = "accesses"
    title: ClassVar[str] = "Access report: who accessed the patient's records"
    patient: str
    start: int
    end: int
    generated: int
    timezone: str
    rows: tuple[AccessRow, ...]

    def meta(self) -> list[tuple[str, str]]:
        clock = LocalClock.of(self.timezone, _WHAT)
        return [
            ("Patient", self.patient),
            ("Period", f"{_day(clock, self.start)} to {_day(clock, self.end - 1)}"),
            ("Generated", clock.format(self.generated)),
            ("Accesses", str(len(self.rows))),
            ("Break-the-glass", str(sum(r.break_glass for r in self.rows))),
        ]

    def sections(self) -> list[Section]:
        clock = LocalClock.of(self.timezone, _WHAT)
        rows = tuple(
            (
                _day(clock, r.ts),
                clock.format(r.ts, "%H:%M:%S %Z"),
                r.user if r.user == r.user_id else f"{r.user} ({r.user_id})",
                r.role,
                r.org_name,
                r.purpose,
                r.data,
                _ACTIONS.get(r.action, r.action),
                _yes(r.break_glass),
                r.outcome,
                r.logged_by,
                r.verified,
                r.record,
            )
            for r in self.rows
        )
        return [Section("accesses", "Accesses", _ACCESS_HEADERS, rows)]

    def to_json(self) -> dict[str, Any]:
        return {
            "report": self.kind,
            "version": VERSION,
            "patient": self.patient,
            "start": self.start,
            "end": self.end,
            "generated": self.generated,
            "timezone": self.timezone,
            "rows": [row_to_json(r) for r in self.rows],
        }

    @classmethod
    def from_json(cls, value: Any) -> AccessReport:
        v = check_header(value, cls.kind, ("patient", "rows"))
        return cls(
            patient=check_value("str", v["patient"], "patient"),
            start=v["start"],
            end=v["end"],
            generated=v["generated"],
            timezone=v["timezone"],
            rows=rows_from_json(AccessRow, v["rows"], "rows"),
        )


# -- an org's exchange log -------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExchangeRow:
    direction: str
    transfer_id: str
    counterpart: str
    counterpart_name: str
    patient: str
    purpose: str
    description: str
    status: str
    export_ts: int | None
    import_ts: int | None
    export_record: str | None
    import_record: str | None
    notes: str
    verified: str


_EXCHANGE_HEADERS: Final = (
    "Transfer",
    "Counterpart",
    "Patient (pseudonym)",
    "Purpose",
    "What",
    "Halves",
    "Export logged",
    "Import logged",
    "Notes",
    "Verified",
    "Export record",
    "Import record",
)


@dataclass(frozen=True, slots=True)
class ExchangeReport:
    """One org's outgoing and incoming disclosures over ``[start, end)``, halves paired."""

    kind: ClassVar[str] = "exchanges"
    title: ClassVar[str] = "Disclosure exchange log"
    org: str
    org_name: str
    start: int
    end: int
    generated: int
    timezone: str
    outgoing: tuple[ExchangeRow, ...]
    incoming: tuple[ExchangeRow, ...]

    def meta(self) -> list[tuple[str, str]]:
        clock = LocalClock.of(self.timezone, _WHAT)
        unmatched = sum(r.status != "export and import" for r in self.outgoing + self.incoming)
        return [
            ("Organization", f"{self.org_name} ({self.org})"),
            ("Period", f"{_day(clock, self.start)} to {_day(clock, self.end - 1)}"),
            ("Generated", clock.format(self.generated)),
            ("Outgoing", str(len(self.outgoing))),
            ("Incoming", str(len(self.incoming))),
            ("Unmatched halves", str(unmatched)),
        ]

    def sections(self) -> list[Section]:
        clock = LocalClock.of(self.timezone, _WHAT)

        def when(ts: int | None) -> str:
            return "" if ts is None else clock.format(ts, "%Y-%m-%d %H:%M:%S %Z")

        def table(rows: tuple[ExchangeRow, ...]) -> tuple[tuple[str, ...], ...]:
            return tuple(
                (
                    r.transfer_id,
                    f"{r.counterpart_name} ({r.counterpart})",
                    r.patient,
                    r.purpose,
                    r.description,
                    r.status,
                    when(r.export_ts),
                    when(r.import_ts),
                    r.notes,
                    r.verified,
                    _opt(r.export_record),
                    _opt(r.import_record),
                )
                for r in rows
            )

        return [
            Section(
                "outgoing", "Outgoing (this org disclosed)", _EXCHANGE_HEADERS, table(self.outgoing)
            ),
            Section(
                "incoming", "Incoming (this org received)", _EXCHANGE_HEADERS, table(self.incoming)
            ),
        ]

    def to_json(self) -> dict[str, Any]:
        return {
            "report": self.kind,
            "version": VERSION,
            "org": self.org,
            "org_name": self.org_name,
            "start": self.start,
            "end": self.end,
            "generated": self.generated,
            "timezone": self.timezone,
            "outgoing": [row_to_json(r) for r in self.outgoing],
            "incoming": [row_to_json(r) for r in self.incoming],
        }

    @classmethod
    def from_json(cls, value: Any) -> ExchangeReport:
        v = check_header(value, cls.kind, ("org", "org_name", "outgoing", "incoming"))
        return cls(
            org=check_value("str", v["org"], "org"),
            org_name=check_value("str", v["org_name"], "org_name"),
            start=v["start"],
            end=v["end"],
            generated=v["generated"],
            timezone=v["timezone"],
            outgoing=rows_from_json(ExchangeRow, v["outgoing"], "outgoing"),
            incoming=rows_from_json(ExchangeRow, v["incoming"], "incoming"),
        )


Report = AccountingReport | AccessReport | ExchangeReport
REPORT_KINDS: Final[dict[str, Any]] = {
    AccountingReport.kind: AccountingReport,
    AccessReport.kind: AccessReport,
    ExchangeReport.kind: ExchangeReport,
}


def _day(clock: LocalClock, ts: int) -> str:
    return clock.format(ts, "%Y-%m-%d")


def report_from_json(value: Any) -> Report:
    """Any of the three reports from its JSON value (by its ``report`` key)."""
    kind = value.get("report") if isinstance(value, dict) else None
    cls = REPORT_KINDS.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise bad("report", f"must be one of {', '.join(REPORT_KINDS)}")
    return cls.from_json(value)  # type: ignore[no-any-return]
