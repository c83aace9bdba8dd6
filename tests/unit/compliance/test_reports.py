"""Every report equals a brute-force computation over the log, plus the 164.528 details."""

from __future__ import annotations

import pytest

from accord.compliance import (
    AccountingReport,
    Directory,
    Entry,
    MemoryFacts,
    Person,
    RuleConfig,
    access_report,
    accounting,
    exchange_log,
)
from accord.compliance.fhir import auditevent_to_statement
from accord.compliance.reports import purpose_text, six_years_after
from accord.errors import MalformedError, UsageError
from accord.records import Access, Disclosure, is_tpo
from tests.unit.compliance.builders import NOON, PATIENT, Log, access, disclosure
from tests.unit.compliance.fhir_data import DIRECTORY, EXPORT_R4, IMPORT_R4, LOGGED_BY, scenario
from tests.unit.compliance.history import DAY, HOUR, KEY, PARTIES, T0, directory, generate

SEEDS = range(6)
LABELS = ("certificate", "proof bundle", "node answer only")


def verified(record_hash: bytes) -> str:
    return LABELS[record_hash[0] % 3]


def _facts(
    entries: list[Entry], staff: list[tuple[str, str, str]], patients: list[str]
) -> MemoryFacts:
    return MemoryFacts.from_records(
        entries, directory(staff, patients), pseudonym_key=KEY, parties=PARTIES
    )


# -- brute force, written plainly -----------------------------------------------------------


def _transfers(entries: list[Entry]) -> list[tuple[Entry | None, Entry | None]]:
    """Every transfer in the log: (export, import) with the same id, orgs and patient."""
    halves = [e for e in entries if isinstance(e.view, Disclosure)]
    keys = []
    for e in halves:
        d = e.view
        key = (d.transfer_id, d.discloser_org, d.recipient_org, d.patient)  # type: ignore[union-attr]
        if key not in keys:
            keys.append(key)
    out = []
    for key in keys:
        same = [
            e
            for e in halves
            if (e.view.transfer_id, e.view.discloser_org, e.view.recipient_org, e.view.patient)  # type: ignore[union-attr]
            == key
        ]
        exports = [e for e in same if e.view.half == "export"]  # type: ignore[union-attr]
        imports = [e for e in same if e.view.half == "import"]  # type: ignore[union-attr]
        assert len(exports) <= 1
        assert len(imports) <= 1
        out.append((exports[0] if exports else None, imports[0] if imports else None))
    return out


def _date(t: tuple[Entry | None, Entry | None]) -> int:
    return (t[0] or t[1]).event_ts  # type: ignore[union-attr]


def _first(t: tuple[Entry | None, Entry | None]) -> Entry:
    return t[0] or t[1]  # type: ignore[return-value]


def _status(t: tuple[Entry | None, Entry | None]) -> str:
    if t[0] and t[1]:
        return "export and import"
    return "export only" if t[0] else "import only"


def _verified(t: tuple[Entry | None, Entry | None]) -> str:
    if t[0] and t[1]:
        a, b = verified(t[0].hash), verified(t[1].hash)
        return a if a == b else f"export: {a}; import: {b}"
    return verified(_first(t).hash)


def _records(t: tuple[Entry | None, Entry | None]) -> tuple[str, ...]:
    return tuple(h.hash.hex() for h in t if h is not None)


def brute_accounting(entries: list[Entry], patient: str, start: int, end: int) -> tuple[list, list]:  # type: ignore[type-arg]
    mine = [t for t in _transfers(entries) if _first(t).view.patient == patient]  # type: ignore[union-attr]
    mine = [t for t in mine if start <= _date(t) < end]
    mine.sort(key=lambda t: (_date(t), _first(t).hash))
    exempt = []
    series: dict[tuple[str, str, str], list] = {}  # type: ignore[type-arg]
    for t in mine:
        d = _first(t).view
        if is_tpo(d.purpose):  # type: ignore[union-attr]
            exempt.append(
                (
                    _date(t),
                    d.recipient_org,
                    d.purpose,
                    1,
                    None,
                    (d.transfer_id,),
                    _status(t),
                    _records(t),
                    _verified(t),
                )  # type: ignore[union-attr]
            )
        else:
            series.setdefault((d.discloser_org, d.recipient_org, d.purpose), []).append(t)  # type: ignore[union-attr]
    entries_out = []
    for ts in series.values():
        d = _first(ts[0]).view
        statuses = [_status(t) for t in ts]
        labels = [_verified(t) for t in ts]
        entries_out.append(
            (
                _date(ts[0]),
                d.recipient_org,  # type: ignore[union-attr]
                d.purpose,  # type: ignore[union-attr]
                len(ts),
                _date(ts[-1]) if len(ts) > 1 else None,
                tuple(_first(t).view.transfer_id for t in ts),  # type: ignore[union-attr]
                statuses[0]
                if len(set(statuses)) == 1
                else "; ".join(f"{s} ({statuses.count(s)})" for s in dict.fromkeys(statuses)),
                tuple(r for t in ts for r in _records(t)),
                labels[0]
                if len(set(labels)) == 1
                else "; ".join(f"{s} ({labels.count(s)})" for s in dict.fromkeys(labels)),
            )
        )
    entries_out.sort(key=lambda row: (row[0], row[7][0]))
    return entries_out, exempt


def _row(e: object) -> tuple:  # type: ignore[type-arg]
    return (
        e.date,  # type: ignore[attr-defined]
        e.recipient,  # type: ignore[attr-defined]
        e.purpose,  # type: ignore[attr-defined]
        e.count,  # type: ignore[attr-defined]
        e.last_date,  # type: ignore[attr-defined]
        e.transfers,  # type: ignore[attr-defined]
        e.status,  # type: ignore[attr-defined]
        e.records,  # type: ignore[attr-defined]
        e.verified,  # type: ignore[attr-defined]
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_accounting_equals_brute_force(seed: int) -> None:
    h = generate(seed)
    facts = _facts(h.entries, h.staff, h.patients)
    start, end = T0 - 10 * DAY, h.end + 20 * DAY
    rows = 0
    for patient in h.patients:
        report = accounting(facts, patient, start, end, now=end, verified=verified)
        want_entries, want_exempt = brute_accounting(h.entries, patient, start, end)
        assert [_row(e) for e in report.entries] == want_entries
        assert [_row(e) for e in report.exempt] == want_exempt
        for e in report.entries + report.exempt:
            party = PARTIES.get(e.recipient)
            assert e.recipient_name == (party.name if party else e.recipient)
            assert e.recipient_address == (party.address if party else None)
        rows += len(report.entries) + len(report.exempt)
    assert rows > 0


@pytest.mark.parametrize("seed", SEEDS)
def test_accounting_window_cuts_by_disclosure_date(seed: int) -> None:
    h = generate(seed)
    facts = _facts(h.entries, h.staff, h.patients)
    start, end = T0 + 20 * DAY, T0 + 40 * DAY
    for patient in h.patients:
        report = accounting(facts, patient, start, end, now=end, verified=verified)
        got = ([_row(e) for e in report.entries], [_row(e) for e in report.exempt])
        assert got == brute_accounting(h.entries, patient, start, end)
        assert all(start <= e.date < end for e in report.entries + report.exempt)


def brute_accesses(entries: list[Entry], patient: str, start: int, end: int) -> list[tuple]:  # type: ignore[type-arg]
    rows = [
        e
        for e in entries
        if isinstance(e.view, Access) and e.view.patient == patient and start <= e.event_ts < end
    ]
    rows.sort(key=lambda e: (e.event_ts, e.hash))
    return [
        (
            e.event_ts,
            e.view.accessor.id,  # type: ignore[union-attr]
            e.view.accessor.role,  # type: ignore[union-attr]
            e.view.accessor_org,  # type: ignore[union-attr]
            e.view.purpose,  # type: ignore[union-attr]
            e.view.record_ref.hex(),  # type: ignore[union-attr]
            e.view.action,  # type: ignore[union-attr]
            e.view.break_glass,  # type: ignore[union-attr]
            e.view.outcome,  # type: ignore[union-attr]
            e.org,
            e.hash.hex(),
            verified(e.hash),
        )
        for e in rows
    ]


@pytest.mark.parametrize("seed", SEEDS)
def test_access_report_equals_brute_force(seed: int) -> None:
    h = generate(seed)
    facts = _facts(h.entries, h.staff, h.patients)
    for start, end in ((T0 - DAY, h.end + DAY), (T0 + 10 * DAY, T0 + 11 * DAY)):
        for patient in h.patients:
            report = access_report(facts, patient, start, end, now=end, verified=verified)
            got = [
                (
                    r.ts,
                    r.user_id,
                    r.role,
                    r.org,
                    r.purpose,
                    r.data,
                    r.action,
                    r.break_glass,
                    r.outcome,
                    r.logged_by,
                    r.record,
                    r.verified,
                )
                for r in report.rows
            ]
            assert got == brute_accesses(h.entries, patient, start, end)
            for r in report.rows:
                assert r.org_name == (PARTIES[r.org].name if r.org in PARTIES else r.org)
                assert r.user == f"Dr. {r.user_id}"  # the statement's accessor name


def brute_exchanges(entries: list[Entry], org: str, start: int, end: int) -> tuple[list, list]:  # type: ignore[type-arg]
    mine = [
        t
        for t in _transfers(entries)
        if org in (_first(t).view.discloser_org, _first(t).view.recipient_org)  # type: ignore[union-attr]
        and start <= _date(t) < end
    ]
    mine.sort(key=lambda t: (_date(t), _first(t).hash))

    def row(t: tuple[Entry | None, Entry | None]) -> tuple:  # type: ignore[type-arg]
        d = _first(t).view
        outgoing = d.discloser_org == org  # type: ignore[union-attr]
        notes = []
        if t[0] and t[1] and t[0].view.purpose != t[1].view.purpose:  # type: ignore[union-attr]
            notes.append(f"purpose {t[0].view.purpose} at export, {t[1].view.purpose} at import")  # type: ignore[union-attr]
        return (
            d.transfer_id,  # type: ignore[union-attr]
            d.recipient_org if outgoing else d.discloser_org,  # type: ignore[union-attr]
            _status(t),
            t[0].event_ts if t[0] else None,
            t[1].event_ts if t[1] else None,
            t[0].hash.hex() if t[0] else None,
            t[1].hash.hex() if t[1] else None,
            "; ".join(notes),
            _verified(t),
        )

    outgoing = [row(t) for t in mine if _first(t).view.discloser_org == org]  # type: ignore[union-attr]
    incoming = [row(t) for t in mine if _first(t).view.recipient_org == org]  # type: ignore[union-attr]
    return outgoing, incoming


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("org", ["nyu", "cornell", "ext-lab"])
def test_exchange_log_equals_brute_force(seed: int, org: str) -> None:
    h = generate(seed)
    facts = _facts(h.entries, h.staff, h.patients)
    start, end = T0 - DAY, h.end + 20 * DAY
    report = exchange_log(facts, org, start, end, now=end, verified=verified)

    def got(rows: tuple) -> list[tuple]:  # type: ignore[type-arg]
        return [
            (
                r.transfer_id,
                r.counterpart,
                r.status,
                r.export_ts,
                r.import_ts,
                r.export_record,
                r.import_record,
                r.notes,
                r.verified,
            )
            for r in rows
        ]

    want_out, want_in = brute_exchanges(h.entries, org, start, end)
    assert got(report.outgoing) == want_out
    assert got(report.incoming) == want_in
    assert {r.patient for r in report.outgoing + report.incoming} <= {
        facts.pseudonym(p) for p in h.patients
    }
    assert report.org_name == (PARTIES[org].name if org in PARTIES else org)


def test_generated_histories_have_every_kind_of_transfer() -> None:
    statuses: set[str] = set()
    notes = 0
    for seed in SEEDS:
        h = generate(seed)
        for org in ("nyu", "cornell", "mskcc"):
            out, inc = brute_exchanges(h.entries, org, 0, 2**52)
            statuses |= {r[2] for r in out + inc}
            notes += sum(bool(r[7]) for r in out + inc)
    assert statuses == {"export and import", "export only", "import only"}
    assert notes > 0


# -- 164.528 specifics ------------------------------------------------------------------------


def _accounting(
    log: Log, start: int = NOON - 100 * DAY, end: int = NOON + 100 * DAY
) -> AccountingReport:
    return accounting(log.facts, PATIENT, start, end, now=end, verified=lambda h: "certificate")


def test_accounting_period_is_at_most_six_years() -> None:
    log = Log()
    start = T0
    assert six_years_after(start) == T0 + (6 * 365 + 2) * DAY  # 2024-01-01 + 6 years: 2 leap days
    _accounting(log, start, six_years_after(start))
    with pytest.raises(UsageError, match="at most six years"):
        _accounting(log, start, six_years_after(start) + 1)
    with pytest.raises(UsageError, match="empty"):
        _accounting(log, start, start)
    with pytest.raises(UsageError):
        _accounting(log, start, start - 1)
    leap = T0 + 59 * DAY  # 2024-02-29
    assert six_years_after(leap) == leap + (6 * 365 + 1) * DAY  # to 2030-02-28


def test_accounting_lists_tpo_apart_and_summarises_a_series() -> None:
    log = Log()
    log.add(disclosure("export", "tp1", purpose="TREAT", ts=NOON - 50 * DAY))
    log.add(disclosure("export", "tp2", purpose="HPAYMT", dst="mskcc", ts=NOON - 49 * DAY))
    for i in range(4):  # a series: public health reporting to one recipient, weekly
        log.add(
            disclosure(
                "export", f"ph{i}", purpose="PUBHLTH", dst="ext-lab", ts=NOON - (40 - 7 * i) * DAY
            )
        )
    log.add(disclosure("export", "res", purpose="HRESCH", dst="mskcc", ts=NOON - 30 * DAY))
    log.add(disclosure("import", "res", purpose="HRESCH", dst="mskcc", ts=NOON - 30 * DAY + HOUR))
    report = _accounting(log)
    assert [(e.purpose, e.recipient) for e in report.exempt] == [
        ("TREAT", "nyu"),
        ("HPAYMT", "mskcc"),
    ]
    series, single = report.entries
    assert (series.purpose, series.recipient, series.count) == ("PUBHLTH", "ext-lab", 4)
    assert series.date == NOON - 40 * DAY
    assert series.last_date == NOON - 19 * DAY
    assert series.frequency == "4 disclosures from 2023-12-02 to 2023-12-23, about every 7 days"
    assert series.transfers == ("ph0", "ph1", "ph2", "ph3")
    assert series.status == "export only"
    assert (series.recipient_name, series.recipient_address) == ("ext-lab", None)
    assert single.count == 1
    assert single.last_date is None
    assert single.frequency is None
    assert single.status == "export and import"
    assert single.recipient_name == "Memorial Sloan Kettering"
    assert single.recipient_address == "1275 York Avenue\nNew York, NY 10065"
    assert single.purpose_text == "research"
    sections = report.sections()
    assert sections[0].rows[0][3] == "address unknown"
    assert sections[0].rows[0][6] == series.frequency


def test_other_half_pairs_before_log_order() -> None:
    log = Log()
    first = log.add(disclosure("export", "dup", ts=NOON - 3 * DAY, description="first"))
    second = log.add(disclosure("export", "dup", ts=NOON - 2 * DAY, description="second"))
    imp = log.add(disclosure("import", "dup", ts=NOON - DAY, other_half=second.hash))
    report = exchange_log(log.facts, "nyu", NOON - 9 * DAY, NOON, now=NOON, verified=lambda h: "x")
    rows = [(r.export_record, r.import_record, r.status) for r in report.incoming]
    assert rows == [
        (first.hash.hex(), None, "export only"),
        (second.hash.hex(), imp.hash.hex(), "export and import"),
    ]


def test_exchange_notes_where_halves_disagree() -> None:
    log = Log()
    other = log.add(disclosure("export", "zz", ts=NOON - 5 * DAY))
    log.add(disclosure("export", "t", ts=NOON - 3 * DAY))
    log.add(
        disclosure(
            "import",
            "t",
            ts=NOON - 2 * DAY,
            purpose="HOPERAT",
            refs=("ab" * 32,),
            other_half=other.hash,
        )
    )
    [row] = [
        r
        for r in exchange_log(log.facts, "nyu", 0, NOON, now=NOON, verified=lambda h: "x").incoming
        if r.transfer_id == "t"
    ]
    assert row.notes == (
        "the halves list different records; purpose TREAT at export, HOPERAT at import; "
        "the import names another export as its other half"
    )


def test_transfer_split_by_the_window_is_dated_by_its_export() -> None:
    log = Log()
    log.add(disclosure("export", "edge", purpose="PUBHLTH", ts=NOON - DAY))
    log.add(disclosure("import", "edge", purpose="PUBHLTH", ts=NOON + DAY))
    inside = _accounting(log, NOON - 2 * DAY, NOON)
    assert [e.status for e in inside.entries] == ["export and import"]
    assert _accounting(log, NOON, NOON + 2 * DAY).entries == ()


def test_access_report_names_users_from_the_directory() -> None:
    d = Directory(org="nyu", people=(Person(id="dr-a", name="Dr. Ames"),))
    log = Log(directory=d)
    log.add(access("dr-a", purpose="BTG", break_glass=True))
    log.add(access("dr-b", org="mskcc", name="Dr. Brown", ts=NOON + HOUR))
    log.add(access("dr-c", org="mskcc", ts=NOON + 2 * HOUR))
    report = access_report(log.facts, PATIENT, NOON, NOON + DAY, now=NOON + DAY, verified=verified)
    assert [r.user for r in report.rows] == ["Dr. Ames", "Dr. Brown", "dr-c"]
    assert [r.break_glass for r in report.rows] == [True, False, False]
    rows = report.sections()[0].rows
    assert rows[0][:2] == ("2024-01-11", "17:00:00 UTC")
    assert rows[0][2] == "Dr. Ames (dr-a)"
    assert rows[2][2] == "dr-c"
    assert rows[0][8] == "yes"
    assert dict(report.meta())["Break-the-glass"] == "1"


def test_report_arguments() -> None:
    log = Log()
    with pytest.raises(UsageError):
        access_report(log.facts, PATIENT, 5, 5, now=9, verified=verified)
    with pytest.raises(UsageError):
        exchange_log(log.facts, "nyu", 0, 1.5, now=9, verified=verified)  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        accounting(log.facts, PATIENT, 0, 9, now=None, verified=verified)  # type: ignore[arg-type]
    with pytest.raises(MalformedError, match="timezone"):
        access_report(log.facts, PATIENT, 0, 9, now=9, verified=verified, timezone="Mars/Base")


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("TREAT", "treatment"),
        ("BTG", "break the glass"),
        ("CLINTRL", "treatment: CLINTRL"),
        ("HTEST", "health care operations: HTEST"),
        ("PUBHLTH", "public health"),
    ],
)
def test_purpose_text(code: str, text: str) -> None:
    assert purpose_text(code) == text


def test_scenario_disclosure_pair_in_the_exchange_log() -> None:
    log = Log(directory=Directory(org="mount-auburn"), config=RuleConfig(org="mount-auburn"))
    for name in (EXPORT_R4, IMPORT_R4):
        log.add(
            auditevent_to_statement(
                scenario(name), org=LOGGED_BY[name], source="fhir", directory=DIRECTORY
            )
        )
    end = log.last + DAY
    report = exchange_log(log.facts, "mount-auburn", 0, end, now=end, verified=verified)
    assert report.outgoing == ()
    [row] = report.incoming
    assert (row.status, row.counterpart, row.purpose, row.notes) == (
        "export and import",
        "pcp91959",
        "TREAT",
        "",
    )
    assert row.description == "DocumentReference/example-transfer-summary"
