"""Renderers: CSV parses back, the HTML page holds every row, JSON round-trips exactly."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from typing import Any

import pytest

from accord.compliance import (
    MemoryFacts,
    Report,
    access_report,
    accounting,
    exchange_log,
    parse_report,
    to_csv,
    to_html,
    to_json,
)
from accord.errors import MalformedError
from tests.unit.compliance.builders import NOON, PATIENT, Log, access, disclosure
from tests.unit.compliance.history import DAY, HOUR, KEY, PARTIES, T0, directory, generate

LABELS = ("certificate", "proof bundle", "node answer only")


def _verified(h: bytes) -> str:
    return LABELS[h[1] % 3]


def _reports() -> list[Report]:
    h = generate(4)
    facts = MemoryFacts.from_records(
        h.entries, directory(h.staff, h.patients), pseudonym_key=KEY, parties=PARTIES
    )
    start, end = T0 - DAY, h.end + 20 * DAY
    out: list[Report] = []
    for patient in h.patients[:4]:
        out.append(accounting(facts, patient, start, end, now=end, verified=_verified))
        out.append(
            access_report(
                facts, patient, start, end, now=end, verified=_verified, timezone="America/New_York"
            )
        )
    for org in ("nyu", "cornell", "ext-lab"):
        out.append(exchange_log(facts, org, start, end, now=end, verified=_verified))
    return out


REPORTS = _reports()


def _hostile() -> list[Report]:
    """Reports whose cells hold markup and spreadsheet formulas."""
    log = Log()
    log.add(
        disclosure(
            "export",
            "=HYPERLINK(1)",
            purpose="PUBHLTH",
            description="<script>alert('x')</script> & \"co\", -2+3",
        )
    )
    log.add(access("dr-x", name="=cmd|' /C calc'!A0", role="@admin", ts=NOON + HOUR))
    return [
        accounting(log.facts, PATIENT, T0, NOON + DAY, now=NOON, verified=lambda h: "<b>ok</b>"),
        access_report(log.facts, PATIENT, T0, NOON + DAY, now=NOON, verified=lambda h: "x"),
        exchange_log(log.facts, "nyu", T0, NOON + DAY, now=NOON, verified=lambda h: "x"),
    ]


ALL = REPORTS + _hostile()


def _ids(r: Report) -> str:
    return r.kind


def test_the_generated_reports_are_not_empty() -> None:
    kinds = {r.kind for r in REPORTS if any(s.rows for s in r.sections())}
    assert kinds == {"accounting", "accesses", "exchanges"}


def _csv_cell(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@pytest.mark.parametrize("report", ALL, ids=_ids)
def test_csv_parses_back_to_the_rows(report: Report) -> None:
    text = to_csv(report)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    sections = report.sections()
    assert rows[0] == ["Section", *sections[0].headers]
    want = [[s.key, *(_csv_cell(c) for c in row)] for s in sections for row in s.rows]
    assert rows[1:] == want
    assert all(s.headers == sections[0].headers for s in sections)
    assert text.endswith("\r\n")


def test_csv_neutralises_formulas() -> None:
    text = "".join(to_csv(r) for r in _hostile())
    assert "'=HYPERLINK(1)" in text
    assert "'=cmd|" in text
    assert "'@admin" in text
    assert ",=" not in text
    assert ",@" not in text


class _Cells(HTMLParser):
    """Collects the text of every table cell, row by row, per table."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self.heads: list[list[str]] = []
        self.tags: list[str] = []
        self.cell: list[str] | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "table":
            self.tables.append([])
            self.heads.append([])
        elif tag == "tr" and "tbody" in self.tags:
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self.cell = []

    def handle_endtag(self, tag: str) -> None:
        self.tags.pop()
        if tag in ("td", "th") and self.cell is not None:
            text = "".join(self.cell)
            (self.tables[-1][-1] if tag == "td" else self.heads[-1]).append(text)
            self.cell = None

    def handle_data(self, data: str) -> None:
        self.text += data
        if self.cell is not None:
            self.cell.append(data)


@pytest.mark.parametrize("report", ALL, ids=_ids)
def test_html_holds_every_row_and_is_self_contained(report: Report) -> None:
    page = to_html(report)
    parser = _Cells()
    parser.feed(page)
    sections = [s for s in report.sections() if s.rows]
    assert parser.tables == [[list(r) for r in s.rows] for s in sections]
    assert parser.heads == [list(s.headers) for s in sections]
    for label, value in report.meta():
        assert label in parser.text
        assert value in parser.text
    assert page.startswith("<!DOCTYPE html>")
    assert "@media print" in page
    assert "display: table-header-group" in page
    for forbidden in ("<script", "src=", "href=", "http://", "https://", "@import"):
        assert forbidden not in page
    empty = [s for s in report.sections() if not s.rows]
    assert page.count('<p class="empty">None.</p>') == len(empty)


def test_html_escapes_markup() -> None:
    page = "".join(to_html(r) for r in _hostile())
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;co&quot;" in page
    assert "&lt;b&gt;ok&lt;/b&gt;" in page


@pytest.mark.parametrize("report", ALL, ids=_ids)
def test_json_round_trip(report: Report) -> None:
    text = to_json(report)
    back = parse_report(text)
    assert back == report
    assert to_json(back) == text
    assert json.loads(text)["report"] == report.kind


def _mutate(value: dict[str, Any], path: tuple[Any, ...], new: Any) -> dict[str, Any]:
    out = json.loads(json.dumps(value))
    target = out
    for step in path[:-1]:
        target = target[step]
    if new is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return out


ACCOUNTING = next(r for r in REPORTS if r.kind == "accounting" and r.to_json()["exempt"]).to_json()
ACCESSES = next(r for r in REPORTS if r.kind == "accesses" and r.to_json()["rows"]).to_json()
EXCHANGES = next(r for r in REPORTS if r.kind == "exchanges" and r.to_json()["incoming"]).to_json()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("not-object", [], "must be one of"),
        ("unknown-kind", _mutate(ACCESSES, ("report",), "audit"), "must be one of"),
        ("version-2", _mutate(ACCESSES, ("version",), 2), "version 1"),
        ("missing-rows", _mutate(ACCESSES, ("rows",), KeyError), "rows: is required"),
        ("extra-top", _mutate(ACCESSES, ("colour",), "red"), "colour: unknown field"),
        ("start-after-end", _mutate(ACCESSES, ("start",), ACCESSES["end"]), "end: must be after"),
        ("start-string", _mutate(ACCESSES, ("start",), "0"), "start: must be an integer"),
        ("bad-zone", _mutate(ACCESSES, ("timezone",), "Mars/Base"), "timezone"),
        ("rows-not-list", _mutate(ACCESSES, ("rows",), {}), "rows: must be a list"),
        ("row-extra", _mutate(ACCESSES, ("rows", 0, "x"), 1), "rows[0].x: unknown field"),
        (
            "row-missing",
            _mutate(ACCESSES, ("rows", 0, "user"), KeyError),
            "rows[0].user: is required",
        ),
        ("row-bool-as-int", _mutate(ACCESSES, ("rows", 0, "break_glass"), 1), "true or false"),
        ("row-ts-float", _mutate(ACCESSES, ("rows", 0, "ts"), 1.5), "rows[0].ts: must be an int"),
        ("row-not-object", _mutate(ACCESSES, ("rows", 0), "row"), "rows[0]: must be an object"),
        (
            "entry-records-str",
            _mutate(ACCOUNTING, ("exempt", 0, "records"), "ab"),
            "list of strings",
        ),
        ("entry-last-date-str", _mutate(ACCOUNTING, ("exempt", 0, "last_date"), "x"), "last_date"),
        ("exchange-org-none", _mutate(EXCHANGES, ("org",), None), "org: must be a string"),
        ("exchange-ts-neg", _mutate(EXCHANGES, ("incoming", 0, "import_ts"), -1), "import_ts"),
    ],
)
def test_bad_report_json(name: str, value: Any, message: str) -> None:
    with pytest.raises(MalformedError) as info:
        parse_report(json.dumps(value))
    assert info.value.what == "report", name
    assert message in info.value.message, info.value.message


def test_parse_report_needs_json() -> None:
    with pytest.raises(MalformedError):
        parse_report("not json")
    with pytest.raises(MalformedError):
        parse_report(b"\xff")
