"""The HIPAA reports through a real node's API equal the core's reports over MemoryFacts built
from the same records (brute force); CSV and HTML forms; across a consortium with the CLI."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from accord.cli.main import _register, app
from accord.compliance import (
    AccessReport,
    AccountingReport,
    Entry,
    ExchangeReport,
    MemoryFacts,
    access_report,
    accounting,
    exchange_log,
    parse_report,
)
from accord.records import SignedStatement, Statement
from tests.conftest import drop_schema, postgres_url
from tests.integration.compliance_nodes import compliance_node
from tests.integration.nodes import RunningNode, running_consortium
from tests.unit.compliance.builders import NOON, access, care, consent, disclosure
from tests.unit.compliance.history import DAY, HOUR, record_ref

PATIENT = "MPI-1"
START, END = NOON - 400 * DAY, NOON + 30 * DAY


def history() -> tuple[list[Statement], list[Statement]]:
    """(nyu's own statements, cornell's halves delivered to nyu) about MPI-1 and MPI-2."""
    own: list[Statement] = [care("dr-a", "nyu", NOON - 90 * DAY)]
    own.append(consent(("org", "nyu"), start=NOON - 50 * DAY, end=NOON + 50 * DAY, org="nyu"))
    for i in range(40):
        who = ("dr-a", "dr-b", "nurse-c")[i % 3]
        own.append(
            access(
                who,
                ts=NOON - i * 5 * DAY + i * HOUR,
                purpose=("TREAT", "HPAYMT", "BTG")[i % 3],
                break_glass=i % 3 == 2,
                ref=record_ref("chart", i % 4),
                sid=f"acc-{i}",
                patient=PATIENT if i % 5 else "MPI-2",
            )
        )
    for i in range(6):  # a repeated research series (accountable) and TPO ones (exempt)
        own.append(
            disclosure(
                "export", f"res-{i}", "nyu", "ext-lab", NOON - (60 - i * 7) * DAY, purpose="HRESCH"
            )
        )
        own.append(disclosure("import", f"in-{i}", "cornell", "nyu", NOON - i * 11 * DAY))
    own.append(disclosure("export", "legal-1", "nyu", "cornell", NOON - 3 * DAY, purpose="HLEGAL"))
    delivered = [
        disclosure("export", f"in-{i}", "cornell", "nyu", NOON - i * 11 * DAY) for i in range(4)
    ]
    delivered.append(access("dr-x", "cornell", NOON - 2 * DAY, sid="cornell-acc"))
    return own, delivered


@pytest.fixture
def rn(tmp_path: Path, db_url: str) -> Iterator[RunningNode]:
    with compliance_node(tmp_path, db_url) as node:
        own, delivered = history()
        node.client("source").submit([node.sign(st) for st in own])
        for st in delivered:
            signed = SignedStatement(st, b"\0" * 64)  # as replication delivers a peer's record
            node.node._append([node.node.validator.prepare(signed, st.org)])
        yield node


def _entries(rn: RunningNode) -> list[Entry]:
    rows = rn.node.db.fetchall("SELECT hash FROM records ORDER BY log_index")
    out = []
    for (h,) in rows:
        got = rn.client("auditor").record(bytes(h).hex())
        statement = SignedStatement.from_json(got["statement"]).statement
        out.append(Entry.of(bytes(h), statement, got["header"]["log_ts"]))
    return out


def _api(rn: RunningNode, kind: str, fmt: str = "json", **params: Any) -> httpx.Response:
    params = {"from": str(START), "to": str(END), "format": fmt, "timezone": "UTC", **params}
    r = httpx.get(
        f"{rn.url}/v1/reports/{kind}",
        params=params,
        headers={"Authorization": f"Bearer {rn.tokens['auditor']}"},
        timeout=30,
    )
    assert r.status_code == 200, r.text
    return r


def test_reports_equal_the_core_over_memory_facts(rn: RunningNode) -> None:
    keys = rn.node.keys
    assert keys is not None
    facts = MemoryFacts.from_records(
        _entries(rn), rn.node.compliance.directory, pseudonym_key=keys.pseudonym_key
    )

    def label(record: bytes) -> str:
        return "node log"

    for patient in (PATIENT, "MPI-2", "MPI-none"):
        got = parse_report(_api(rn, "disclosures", patient=patient).text)
        assert isinstance(got, AccountingReport)
        want = accounting(facts, patient, START, END, now=got.generated, verified=label)
        assert got == want
        got_a = parse_report(_api(rn, "accesses", patient=patient).text)
        assert isinstance(got_a, AccessReport)
        assert got_a == access_report(
            facts, patient, START, END, now=got_a.generated, verified=label
        )
    got_x = parse_report(_api(rn, "exchanges").text)
    assert isinstance(got_x, ExchangeReport)
    assert got_x == exchange_log(facts, "nyu", START, END, now=got_x.generated, verified=label)
    accounting_report = parse_report(_api(rn, "disclosures", patient=PATIENT).text)
    assert isinstance(accounting_report, AccountingReport)
    assert [e.count for e in accounting_report.entries] == [6]  # the research series (b)(3)
    assert len(accounting_report.exempt) == 7  # HLEGAL is-a HOPERAT: operations
    paired = [e for e in accounting_report.exempt if e.status == "export and import"]
    assert len(paired) == 4  # cornell's export halves were delivered for four transfers
    assert {e.verified for e in accounting_report.exempt} == {"node log"}


def test_report_formats(rn: RunningNode) -> None:
    r = _api(rn, "accesses", "csv", patient=PATIENT)
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0][0] == "Section"
    assert len(rows) - 1 == len(parse_report(_api(rn, "accesses", patient=PATIENT).text).rows)  # type: ignore[union-attr]
    h = _api(rn, "disclosures", "html", patient=PATIENT)
    assert h.headers["content-type"].startswith("text/html")
    assert "<script" not in h.text
    assert "Accounting of disclosures" in h.text
    assert "@page" in h.text
    bad = httpx.get(
        f"{rn.url}/v1/reports/accesses",
        params={"patient": PATIENT, "format": "pdf"},
        headers={"Authorization": f"Bearer {rn.tokens['auditor']}"},
    )
    assert bad.status_code == 400
    long = httpx.get(
        f"{rn.url}/v1/reports/disclosures",
        params={"patient": PATIENT, "from": "2010-01-01", "to": "2024-01-01"},
        headers={"Authorization": f"Bearer {rn.tokens['auditor']}"},
    )
    assert long.status_code == 400  # 164.528: at most six years
    assert "six years" in long.json()["error"]["message"]
    nobody = httpx.get(f"{rn.url}/v1/reports/accesses", params={"patient": PATIENT})
    assert nobody.status_code == 401


def test_reports_across_a_consortium_with_the_cli(tmp_path: Path) -> None:
    """Every member asked, rows merged by record hash, rows seen at several orgs marked."""
    pg = postgres_url()
    try:
        with running_consortium(tmp_path, databases={"nyu": pg}) as c:
            cornell, nyu, mskcc = c["cornell"], c["nyu"], c["mskcc"]
            export = disclosure("export", "t-1", "cornell", "nyu", NOON - DAY)
            cornell_access = access("dr-x", "cornell", NOON - 2 * DAY, sid="c-1")
            cornell.client("source").submit([cornell.sign(export), cornell.sign(cornell_access)])
            nyu.client("source").submit(
                [
                    nyu.sign(disclosure("import", "t-1", "cornell", "nyu", NOON - DAY + HOUR)),
                    nyu.sign(access("dr-a", "nyu", NOON - DAY, sid="n-1")),
                ]
            )
            mskcc.client("source").submit([mskcc.sign(access("dr-m", "mskcc", NOON, sid="m-1"))])
            c.settle()  # replication: every record reaches all three (the patient's trust set)
            tokens = [f"{org}={rn.tokens['auditor']}" for org, rn in c.nodes.items()]
            _register()
            runner = CliRunner()
            out_json = tmp_path / "accesses.json"
            common = ["--consortium", str(c.consortium_file), "--from", "2023-01-01"]
            common += ["--to", "2025-01-01"]
            for t in tokens:
                common += ["--token", t]
            result = runner.invoke(
                app,
                [
                    "report",
                    "accesses",
                    "--patient",
                    PATIENT,
                    "--format",
                    "json",
                    "--out",
                    str(out_json),
                    *common,
                ],
            )
            assert result.exit_code == 0, result.output
            merged = parse_report(out_json.read_text())
            assert isinstance(merged, AccessReport)
            by_user = {r.user_id: r for r in merged.rows}
            assert set(by_user) == {"dr-x", "dr-a", "dr-m"}
            for user in ("dr-x", "dr-a", "dr-m"):
                assert by_user[user].verified == "certificate at cornell, nyu, mskcc", user
            out_csv = tmp_path / "disclosures.csv"
            result = runner.invoke(
                app,
                [
                    "report",
                    "disclosures",
                    "--patient",
                    PATIENT,
                    "--format",
                    "csv",
                    "--out",
                    str(out_csv),
                    *common,
                ],
            )
            assert result.exit_code == 0, result.output
            rows = list(csv.reader(io.StringIO(out_csv.read_text())))
            assert len(rows) == 2  # one disclosure: the two halves, from two nodes, merged
            assert rows[1][0] == "exempt"
            header = rows[0]
            assert rows[1][header.index("Halves logged")] == "export and import"
            assert rows[1][header.index("Verified")] == "certificate at cornell, nyu, mskcc"
            html = tmp_path / "accesses.html"
            result = runner.invoke(
                app,
                ["report", "accesses", "--patient", PATIENT, "--out", str(html), *common],
            )
            assert result.exit_code == 0, result.output
            assert "certificate at cornell, nyu, mskcc" in html.read_text()
    finally:
        drop_schema(pg)
