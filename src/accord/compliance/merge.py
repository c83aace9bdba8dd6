"""One report from the reports of several orgs' nodes ("across every org that holds records").

Each node answers from the records it holds; a record replicated to several
members is in several answers, and the two halves of one disclosure are at the
discloser's and the recipient's nodes. :func:`merge_reports` takes
``(org, report)`` pairs of one kind and returns one report of that kind:

- access report: rows merged **by record hash**;
- accounting of disclosures: entries sharing a record hash or a transfer
  (transfer id, discloser, recipient) are one entry: a transfer seen as "export
  only" at the discloser's node and "import only" at the recipient's becomes
  "export and import" with both records. Accountable series (164.528(b)(3): one
  discloser, recipient and purpose) from several nodes become one series: the
  union of their transfers, first and last dates, the frequency recomputed from
  them, halves per transfer counted;
- exchange log: rows merged by transfer (transfer id, direction, counterpart,
  patient), the export half from one node and the import half from another.

Every merged row's ``verified`` says where it was seen: each label with the orgs
that gave it (``"node log at cornell, nyu"``; ``"certificate at cornell; node
log at nyu"``), so rows seen at several orgs are marked. Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from typing import Any, Final, TypeVar

from accord.compliance.pairing import EXPORT_ONLY, IMPORT_ONLY, PAIRED
from accord.compliance.report_types import (
    AccessReport,
    AccessRow,
    AccountingEntry,
    AccountingReport,
    ExchangeReport,
    ExchangeRow,
    Report,
)
from accord.compliance.schedule import DAY_MS, LocalClock
from accord.errors import UsageError

__all__ = ["merge_reports", "seen_at"]

_SEP: Final = "; "
T = TypeVar("T")


def seen_at(labels: Iterable[tuple[str, str]]) -> str:
    """``(org, label)`` pairs as one text: each label with the orgs that gave it, in order."""
    by_label: dict[str, list[str]] = {}
    for org, label in labels:
        orgs = by_label.setdefault(label, [])
        if org not in orgs:
            orgs.append(org)
    return _SEP.join(f"{label} at {', '.join(orgs)}" for label, orgs in by_label.items())


def _check(reports: Sequence[tuple[str, Report]]) -> type:
    if not reports:
        raise UsageError("no report to merge")
    kinds = {type(r) for _, r in reports}
    if len(kinds) != 1:
        raise UsageError("merge reports of one kind only")
    first = reports[0][1]
    for _, r in reports[1:]:
        if (r.start, r.end, r.timezone) != (first.start, first.end, first.timezone):
            raise UsageError("the reports cover different periods or time zones")
    return next(iter(kinds))


def merge_reports(reports: Sequence[tuple[str, Report]]) -> Report:
    """One report from ``(org, report)`` pairs of the same kind, period and time zone."""
    kind = _check(reports)
    generated = max(r.generated for _, r in reports)
    if kind is AccessReport:
        access = [(o, rep) for o, rep in reports if isinstance(rep, AccessReport)]
        rows = _merge_access([(o, r) for o, rep in access for r in rep.rows])
        return dataclasses.replace(access[0][1], generated=generated, rows=rows)
    if kind is AccountingReport:
        acc = [(o, rep) for o, rep in reports if isinstance(rep, AccountingReport)]
        return dataclasses.replace(
            acc[0][1],
            generated=generated,
            entries=_merge_entries(
                [(o, e) for o, rep in acc for e in rep.entries], True, acc[0][1].timezone
            ),
            exempt=_merge_entries(
                [(o, e) for o, rep in acc for e in rep.exempt], False, acc[0][1].timezone
            ),
        )
    exc = [(o, rep) for o, rep in reports if isinstance(rep, ExchangeReport)]
    return dataclasses.replace(
        exc[0][1],
        generated=generated,
        outgoing=_merge_exchange([(o, r) for o, rep in exc for r in rep.outgoing]),
        incoming=_merge_exchange([(o, r) for o, rep in exc for r in rep.incoming]),
    )


def _merge_access(rows: list[tuple[str, AccessRow]]) -> tuple[AccessRow, ...]:
    by_record: dict[str, tuple[AccessRow, list[tuple[str, str]]]] = {}
    for org, row in rows:
        held = by_record.setdefault(row.record, (row, []))
        held[1].append((org, row.verified))
    out = [dataclasses.replace(row, verified=seen_at(labels)) for row, labels in by_record.values()]
    return tuple(sorted(out, key=lambda r: (r.ts, r.record)))


# -- accounting -------------------------------------------------------------------------


def _halves(statuses: Iterable[str]) -> str:
    found = set(statuses)
    if PAIRED in found or {EXPORT_ONLY, IMPORT_ONLY} <= found:
        return PAIRED
    return found.pop() if len(found) == 1 else _SEP.join(sorted(found))


class _Group:
    """Union-find over indexes: entries that are one disclosure end up in one group."""

    def __init__(self, n: int) -> None:
        self.parent = list(range(n))

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def _groups(keys: list[list[Any]]) -> list[list[int]]:
    g = _Group(len(keys))
    owner: dict[Any, int] = {}
    for i, ks in enumerate(keys):
        for k in ks:
            if k in owner:
                g.join(i, owner[k])
            else:
                owner[k] = i
    out: dict[int, list[int]] = {}
    for i in range(len(keys)):
        out.setdefault(g.find(i), []).append(i)
    return list(out.values())


def _merge_entries(
    items: list[tuple[str, AccountingEntry]], series: bool, timezone: str
) -> tuple[AccountingEntry, ...]:
    """Entries that are one disclosure (or, with ``series``, one summarised series: same
    discloser, recipient and purpose, 164.528(b)(3)) become one entry."""
    keys: list[list[Any]] = []
    for _, e in items:
        ks: list[Any] = [("record", r) for r in e.records]
        ks += [("transfer", t, e.discloser, e.recipient) for t in e.transfers]
        if series:
            ks.append(("series", e.discloser, e.recipient, e.purpose))
        keys.append(ks)
    clock = LocalClock.of(timezone, "report")
    out = [_one_entry([items[i] for i in group], clock) for group in _groups(keys)]
    return tuple(sorted(out, key=lambda e: (e.date, e.records[0] if e.records else "")))


def _halves_of(entries: list[AccountingEntry]) -> str:
    """The halves logged, per transfer, as far as the entries tell (each node's entry says
    which halves it holds of its transfers)."""
    seen: dict[str, set[str]] = {}
    mixed: list[str] = []
    for e in entries:
        for t in e.transfers:
            halves = seen.setdefault(t, set())
            if e.status == PAIRED:
                halves.update(("export", "import"))
            elif e.status == EXPORT_ONLY:
                halves.add("export")
            elif e.status == IMPORT_ONLY:
                halves.add("import")
            else:
                mixed.append(e.status)
    if mixed:  # a node's own summary already mixes statuses: keep what it said
        return _SEP.join(dict.fromkeys(e.status for e in entries))
    per = [
        PAIRED if len(h) == 2 else (EXPORT_ONLY if "export" in h else IMPORT_ONLY)
        for h in seen.values()
    ]
    counts: dict[str, int] = {}
    for status in per:
        counts[status] = counts.get(status, 0) + 1
    if len(counts) == 1:
        return next(iter(counts))
    return _SEP.join(f"{status} ({n})" for status, n in counts.items())


def _one_entry(members: list[tuple[str, AccountingEntry]], clock: LocalClock) -> AccountingEntry:
    entries = [e for _, e in members]
    # The discloser's view first (an entry with the export half dates the disclosure).
    base = min(entries, key=lambda e: (e.status == IMPORT_ONLY, e.date))
    verified = seen_at((org, e.verified) for org, e in members)
    if len(entries) == 1:
        return dataclasses.replace(base, verified=verified)
    records = tuple(dict.fromkeys(r for e in entries for r in e.records))
    transfers = tuple(dict.fromkeys(t for e in entries for t in e.transfers))
    first = min(e.date for e in entries)
    last = max(e.last_date if e.last_date is not None else e.date for e in entries)
    count = len(transfers)
    frequency = None
    if count > 1:
        days = (last - first) / (count - 1) / DAY_MS
        every = "less than a day apart" if days < 1 else f"about every {round(days)} days"
        frequency = (
            f"{count} disclosures from {clock.format(first, '%Y-%m-%d')} to "
            f"{clock.format(last, '%Y-%m-%d')}, {every}"
        )
    return dataclasses.replace(
        base,
        date=first,
        count=count,
        last_date=last if count > 1 else None,
        frequency=frequency,
        transfers=transfers,
        records=records,
        status=_halves_of(entries),
        verified=verified,
    )


# -- exchange log -----------------------------------------------------------------------


def _merge_exchange(rows: list[tuple[str, ExchangeRow]]) -> tuple[ExchangeRow, ...]:
    keys = [
        [
            ("transfer", r.transfer_id, r.direction, r.counterpart, r.patient),
            *(("record", x) for x in (r.export_record, r.import_record) if x),
        ]
        for _, r in rows
    ]
    out = []
    for group in _groups(keys):
        members = [rows[i] for i in group]
        base = members[0][1]
        export = next((r for _, r in members if r.export_record), None)
        received = next((r for _, r in members if r.import_record), None)
        notes = _SEP.join(dict.fromkeys(r.notes for _, r in members if r.notes))
        status = (
            PAIRED
            if export is not None and received is not None
            else _halves(r.status for _, r in members)
        )
        out.append(
            dataclasses.replace(
                export or base,
                status=status,
                export_ts=export.export_ts if export else None,
                export_record=export.export_record if export else None,
                import_ts=received.import_ts if received else None,
                import_record=received.import_record if received else None,
                notes=notes,
                verified=seen_at((org, r.verified) for org, r in members),
            )
        )
    return tuple(sorted(out, key=lambda r: (r.export_ts or r.import_ts or 0, r.transfer_id)))
