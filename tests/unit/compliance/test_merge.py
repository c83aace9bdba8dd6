"""Merging the reports of several nodes: by record hash, halves of one transfer joined,
rows seen at several orgs marked; checked against reports of the union of the records."""

from __future__ import annotations

import pytest

from accord.compliance import (
    AccessReport,
    AccountingReport,
    Directory,
    ExchangeReport,
    MemoryFacts,
    access_report,
    accounting,
    exchange_log,
)
from accord.compliance.merge import merge_reports, seen_at
from accord.errors import UsageError
from accord.records import Statement
from tests.unit.compliance.builders import NOON, access, disclosure
from tests.unit.compliance.history import DAY, KEY, PARTIES, entry

START, END = NOON - 100 * DAY, NOON + 10 * DAY


def _facts(statements: list[Statement]) -> MemoryFacts:
    return MemoryFacts.from_records(
        [entry(st, NOON + i) for i, st in enumerate(statements)],
        Directory(org="nyu"),
        pseudonym_key=KEY,
        parties=PARTIES,
    )


def _label(record: bytes) -> str:
    return "node log"


def test_seen_at_groups_orgs_by_label() -> None:
    assert seen_at([("cornell", "node log")]) == "node log at cornell"
    assert seen_at([("a", "x"), ("b", "x"), ("a", "x")]) == "x at a, b"
    assert seen_at([("a", "certificate"), ("b", "node log")]) == "certificate at a; node log at b"


def test_access_rows_merge_by_record_hash() -> None:
    shared = access("dr-x", "cornell", NOON - DAY, sid="shared")
    at_cornell = [shared, access("dr-y", "cornell", NOON - 2 * DAY, sid="c")]
    at_nyu = [shared, access("dr-a", "nyu", NOON - 3 * DAY, sid="n")]
    reports = [
        (org, access_report(_facts(sts), "MPI-1", START, END, now=NOON, verified=_label))
        for org, sts in (("cornell", at_cornell), ("nyu", at_nyu))
    ]
    merged = merge_reports(reports)
    assert isinstance(merged, AccessReport)
    union = access_report(
        _facts([*at_cornell, at_nyu[1]]), "MPI-1", START, END, now=NOON, verified=_label
    )
    assert [r.record for r in merged.rows] == [r.record for r in union.rows]
    marks = {r.user_id: r.verified for r in merged.rows}
    assert marks == {
        "dr-x": "node log at cornell, nyu",
        "dr-y": "node log at cornell",
        "dr-a": "node log at nyu",
    }


def test_the_two_halves_of_a_transfer_become_one_disclosure() -> None:
    export = disclosure("export", "t1", "cornell", "nyu", NOON - DAY, purpose="HRESCH")
    received = disclosure("import", "t1", "cornell", "nyu", NOON - DAY + 1000, purpose="HRESCH")
    alone = disclosure("export", "t2", "cornell", "mskcc", NOON - 5 * DAY, purpose="HRESCH")
    cornell = accounting(_facts([export, alone]), "MPI-1", START, END, now=NOON, verified=_label)
    nyu = accounting(_facts([received]), "MPI-1", START, END, now=NOON, verified=_label)
    merged = merge_reports([("cornell", cornell), ("nyu", nyu)])
    assert isinstance(merged, AccountingReport)
    both = accounting(
        _facts([export, alone, received]), "MPI-1", START, END, now=NOON, verified=_label
    )
    by_transfer = {e.transfers: e for e in merged.entries}
    want = {e.transfers: e for e in both.entries}
    assert set(by_transfer) == set(want)
    t1 = by_transfer[("t1",)]
    assert t1.status == "export and import"
    assert set(t1.records) == set(want[("t1",)].records)
    assert t1.date == want[("t1",)].date
    assert t1.verified == "node log at cornell, nyu"
    assert by_transfer[("t2",)].verified == "node log at cornell"


def test_exchange_rows_join_halves_across_nodes() -> None:
    export = disclosure("export", "t1", "cornell", "nyu", NOON - DAY)
    received = disclosure("import", "t1", "cornell", "nyu", NOON - DAY + 1000)
    a = exchange_log(_facts([export]), "nyu", START, END, now=NOON, verified=_label)
    b = exchange_log(_facts([received]), "nyu", START, END, now=NOON, verified=_label)
    merged = merge_reports([("cornell", a), ("nyu", b)])
    assert isinstance(merged, ExchangeReport)
    both = exchange_log(_facts([export, received]), "nyu", START, END, now=NOON, verified=_label)
    assert len(merged.incoming) == 1
    row, want = merged.incoming[0], both.incoming[0]
    assert (row.status, row.export_record, row.import_record) == (
        want.status,
        want.export_record,
        want.import_record,
    )
    assert row.verified == "node log at cornell, nyu"


def test_merging_needs_one_kind_and_period() -> None:
    facts = _facts([access(sid="one")])
    acc = access_report(facts, "MPI-1", START, END, now=NOON, verified=_label)
    other = access_report(facts, "MPI-1", START, END + 1, now=NOON, verified=_label)
    disc = accounting(facts, "MPI-1", START, END, now=NOON, verified=_label)
    with pytest.raises(UsageError):
        merge_reports([])
    with pytest.raises(UsageError, match="one kind"):
        merge_reports([("a", acc), ("b", disc)])
    with pytest.raises(UsageError, match="periods"):
        merge_reports([("a", acc), ("b", other)])


def test_a_series_seen_at_two_nodes_becomes_one_series() -> None:
    """164.528(b)(3): the discloser's exports and the recipient's imports of one series."""
    exports = [
        disclosure("export", f"s{i}", "cornell", "nyu", NOON - i * 9 * DAY, purpose="HRESCH")
        for i in range(4)
    ]
    imports = [
        disclosure("import", f"s{i}", "cornell", "nyu", NOON - i * 9 * DAY + 1000, purpose="HRESCH")
        for i in range(2)
    ]
    cornell = accounting(_facts(exports), "MPI-1", START, END, now=NOON, verified=_label)
    nyu = accounting(_facts(imports), "MPI-1", START, END, now=NOON, verified=_label)
    merged = merge_reports([("cornell", cornell), ("nyu", nyu)])
    assert isinstance(merged, AccountingReport)
    union = accounting(_facts(exports + imports), "MPI-1", START, END, now=NOON, verified=_label)
    assert len(merged.entries) == len(union.entries) == 1
    got, want = merged.entries[0], union.entries[0]
    assert (got.count, got.date, got.status) == (want.count, want.date, want.status)
    assert set(got.transfers) == set(want.transfers)
    assert set(got.records) == set(want.records)
    assert got.frequency == want.frequency
    assert got.verified == "node log at cornell, nyu"
