"""The HIPAA reports, computed from the Facts seam (healthcare.md section 8; docs/compliance.md 6).

- :func:`accounting`: the accounting of disclosures, 45 CFR 164.528, for one
  patient over a period of at most six years (UsageError beyond). One entry per
  disclosure (a transfer: its export and/or import half), dated by the export
  (else the import); recipient name and address from ``parties`` (the
  consortium's member info), else the org reference in the statement. TPO
  disclosures (treatment, payment, operations: ``is_tpo``) are listed apart as
  exempt, (a)(1)(i). Repeated disclosures to one recipient for one purpose,
  (b)(3): the first in full, then the number, the frequency and the date of the
  last, in one entry.
- :func:`access_report`: every access to the patient's records at any org.
- :func:`exchange_log`: one org's outgoing and incoming disclosures, halves
  paired by transfer (:mod:`accord.compliance.pairing`), unmatched shown as such.

Each row carries ``verified``: how its records were verified, as the caller
says per record hash (e.g. "certificate", "proof bundle", "node answer only").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Final, cast

from accord.compliance.facts import Entry, Facts, check_window
from accord.compliance.pairing import Transfer, pair_halves
from accord.compliance.report_types import (
    AccessReport,
    AccessRow,
    AccountingEntry,
    AccountingReport,
    ExchangeReport,
    ExchangeRow,
)
from accord.compliance.schedule import DAY_MS, LocalClock
from accord.errors import UsageError
from accord.records.codes import ancestors, is_tpo
from accord.records.schemas import Access, Disclosure

__all__ = [
    "MAX_ACCOUNTING_YEARS",
    "access_report",
    "accounting",
    "exchange_log",
    "purpose_text",
    "six_years_after",
]

MAX_ACCOUNTING_YEARS: Final = 6
Verified = Callable[[bytes], str]

_PURPOSES: Final = {
    "TREAT": "treatment",
    "ETREAT": "emergency treatment",
    "BTG": "break the glass",
    "HPAYMT": "payment",
    "HOPERAT": "health care operations",
    "HRESCH": "research",
    "PATRQT": "at the patient's request",
    "PUBHLTH": "public health",
    "HMARKT": "marketing",
    "HLEGAL": "legal",
    "GOV": "government",
    "FRAUD": "fraud",
    "DISASTER": "disaster",
    "THREAT": "threat",
    "FAMRQT": "family request",
    "PWATRNY": "power of attorney",
    "SUPNWK": "support network",
    "HCOMPL": "compliance",
    "HQUALIMP": "quality improvement",
    "COVERAGE": "coverage",
    "CLMATTCH": "claim attachment",
}


def purpose_text(code: str) -> str:
    """A short English name for a purpose-of-use code (via its nearest named ancestor)."""
    for c in ancestors(code):
        if c in _PURPOSES:
            return _PURPOSES[c] if c == code else f"{_PURPOSES[c]}: {code}"
    return code  # pragma: no cover - every root is named


def six_years_after(ts: int) -> int:
    """``ts`` plus six calendar years (29 February -> 28 February), in ms."""
    when = datetime.fromtimestamp(ts / 1000, UTC)
    try:
        later = when.replace(year=when.year + MAX_ACCOUNTING_YEARS)
    except ValueError:
        later = when.replace(year=when.year + MAX_ACCOUNTING_YEARS, day=28)
    return ts + round((later - when).total_seconds() * 1000)


def _period(start: int, end: int, now: int) -> None:
    check_window(start, end)
    if start == end:
        raise UsageError("the report period is empty: end must be after start")
    if type(now) is not int:
        raise UsageError("now must be an integer time in ms")


def _verified(values: Iterable[str]) -> str:
    """One label for several records: the label if they agree, else each with its count."""
    counts: dict[str, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return "; ".join(f"{v} ({n})" for v, n in counts.items())


def _transfer_verified(t: Transfer, verified: Verified) -> str:
    if t.export is not None and t.received is not None:
        a, b = verified(t.export.hash), verified(t.received.hash)
        return a if a == b else f"export: {a}; import: {b}"
    return verified(t.first.hash)


def _transfers(facts: Facts, halves: Sequence[Entry]) -> list[Transfer]:
    """Transfers with at least one half in ``halves``, with every half the facts hold."""
    ids = dict.fromkeys(cast(Disclosure, h.view).transfer_id for h in halves)
    found = {h.hash: h for t in ids for h in facts.halves(t)}
    found.update((h.hash, h) for h in halves)
    wanted = {
        (d.transfer_id, d.discloser_org, d.recipient_org, d.patient)
        for d in (cast(Disclosure, h.view) for h in halves)
    }
    return [
        t
        for t in pair_halves(sorted(found.values(), key=lambda h: (h.log_ts, h.hash)))
        if (t.view.transfer_id, t.view.discloser_org, t.view.recipient_org, t.view.patient)
        in wanted
    ]


# -- accounting of disclosures -----------------------------------------------------------


def _entry(t: Transfer, facts: Facts, verified: Verified) -> AccountingEntry:
    d = t.view
    recipient = facts.party(d.recipient_org)
    return AccountingEntry(
        date=t.date,
        discloser=d.discloser_org,
        discloser_name=facts.party(d.discloser_org).name,
        recipient=d.recipient_org,
        recipient_name=recipient.name,
        recipient_address=recipient.address,
        description=d.description,
        purpose=d.purpose,
        purpose_text=purpose_text(d.purpose),
        count=1,
        last_date=None,
        frequency=None,
        transfers=(d.transfer_id,),
        status=t.status,
        records=tuple(h.hash.hex() for h in t.halves),
        verified=_transfer_verified(t, verified),
    )


def _frequency(dates: list[int], clock: LocalClock) -> str:
    n = len(dates)
    days = (dates[-1] - dates[0]) / (n - 1) / DAY_MS
    every = "less than a day apart" if days < 1 else f"about every {round(days)} days"
    first = clock.format(dates[0], "%Y-%m-%d")
    last = clock.format(dates[-1], "%Y-%m-%d")
    return f"{n} disclosures from {first} to {last}, {every}"


def _summarise(
    series: list[Transfer], facts: Facts, verified: Verified, clock: LocalClock
) -> AccountingEntry:
    first = _entry(series[0], facts, verified)
    if len(series) == 1:
        return first
    dates = [t.date for t in series]
    return AccountingEntry(
        date=first.date,
        discloser=first.discloser,
        discloser_name=first.discloser_name,
        recipient=first.recipient,
        recipient_name=first.recipient_name,
        recipient_address=first.recipient_address,
        description=first.description,
        purpose=first.purpose,
        purpose_text=first.purpose_text,
        count=len(series),
        last_date=dates[-1],
        frequency=_frequency(dates, clock),
        transfers=tuple(t.view.transfer_id for t in series),
        status=_verified(t.status for t in series),
        records=tuple(h.hash.hex() for t in series for h in t.halves),
        verified=_verified(_transfer_verified(t, verified) for t in series),
    )


def accounting(
    facts: Facts,
    patient: str,
    start: int,
    end: int,
    *,
    now: int,
    verified: Verified,
    timezone: str = "UTC",
) -> AccountingReport:
    """The accounting of disclosures of ``patient`` dated in ``[start, end)`` (164.528).

    UsageError if the period is empty or longer than six years ((a)(1): "in the
    six years prior"). ``verified(record_hash)`` labels each record's verification.
    """
    _period(start, end, now)
    if end > six_years_after(start):
        raise UsageError("an accounting of disclosures covers at most six years (164.528(a))")
    clock = LocalClock.of(timezone, "report")
    halves = facts.patient_entries(patient, "ehr.disclosure", start, end)
    transfers = [t for t in _transfers(facts, halves) if start <= t.date < end]
    exempt = tuple(_entry(t, facts, verified) for t in transfers if is_tpo(t.view.purpose))
    series: dict[tuple[str, str, str], list[Transfer]] = {}
    for t in transfers:
        if not is_tpo(t.view.purpose):
            d = t.view
            series.setdefault((d.discloser_org, d.recipient_org, d.purpose), []).append(t)
    entries = sorted(
        (_summarise(s, facts, verified, clock) for s in series.values()),
        key=lambda e: (e.date, e.records[0]),
    )
    return AccountingReport(patient, start, end, now, timezone, tuple(entries), exempt)


# -- access report -------------------------------------------------------------------------


def access_report(
    facts: Facts,
    patient: str,
    start: int,
    end: int,
    *,
    now: int,
    verified: Verified,
    timezone: str = "UTC",
) -> AccessReport:
    """Every access to ``patient``'s records at any org, ``start <= event_ts < end``."""
    _period(start, end, now)
    LocalClock.of(timezone, "report")
    directory = facts.directory
    rows = []
    for e in sorted(
        facts.patient_entries(patient, "ehr.access", start, end),
        key=lambda e: (e.event_ts, e.hash),
    ):
        a = cast(Access, e.view)
        person = directory.person(a.accessor.id) if a.accessor_org == directory.org else None
        rows.append(
            AccessRow(
                ts=e.event_ts,
                user=a.accessor.name or (person.name if person else None) or a.accessor.id,
                user_id=a.accessor.id,
                role=a.accessor.role,
                org=a.accessor_org,
                org_name=facts.party(a.accessor_org).name,
                purpose=a.purpose,
                data=a.record_ref.hex(),
                action=a.action,
                break_glass=a.break_glass,
                outcome=a.outcome,
                logged_by=e.org,
                record=e.hash.hex(),
                verified=verified(e.hash),
            )
        )
    return AccessReport(patient, start, end, now, timezone, tuple(rows))


# -- exchange log --------------------------------------------------------------------------


def _exchange_row(t: Transfer, org: str, facts: Facts, verified: Verified) -> ExchangeRow:
    d = t.view
    outgoing = d.discloser_org == org
    counterpart = d.recipient_org if outgoing else d.discloser_org
    return ExchangeRow(
        direction="outgoing" if outgoing else "incoming",
        transfer_id=d.transfer_id,
        counterpart=counterpart,
        counterpart_name=facts.party(counterpart).name,
        patient=facts.pseudonym(d.patient),
        purpose=d.purpose,
        description=d.description,
        status=t.status,
        export_ts=t.export.event_ts if t.export else None,
        import_ts=t.received.event_ts if t.received else None,
        export_record=t.export.hash.hex() if t.export else None,
        import_record=t.received.hash.hex() if t.received else None,
        notes="; ".join(t.differences()),
        verified=_transfer_verified(t, verified),
    )


def exchange_log(
    facts: Facts,
    org: str,
    start: int,
    end: int,
    *,
    now: int,
    verified: Verified,
    timezone: str = "UTC",
) -> ExchangeReport:
    """``org``'s disclosures dated in ``[start, end)``: outgoing and incoming, halves paired."""
    _period(start, end, now)
    LocalClock.of(timezone, "report")
    transfers = [
        t
        for t in _transfers(facts, facts.org_disclosures(org, start, end))
        if start <= t.date < end
    ]
    rows = [_exchange_row(t, org, facts, verified) for t in transfers]
    return ExchangeReport(
        org=org,
        org_name=facts.party(org).name,
        start=start,
        end=end,
        generated=now,
        timezone=timezone,
        outgoing=tuple(r for r in rows if r.direction == "outgoing"),
        incoming=tuple(r for r in rows if r.direction == "incoming"),
    )
