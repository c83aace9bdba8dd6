"""Compliance in a running node, over real HTTP: each rule fires on its triggering case and stays
silent on a justified one, the sweep, the worklist (decisions are records; they survive a
restart), re-runs, and bad configuration files refusing the start."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.client import generate_source_key
from accord.errors import UsageError
from accord.node.service import Node
from accord.records import SignedStatement, Statement
from tests.integration.compliance_nodes import Clock, compliance_node, reopen, wait_evaluated
from tests.integration.nodes import RunningNode
from tests.unit.compliance.builders import NOON, access, care, consent, disclosure
from tests.unit.compliance.history import DAY, HOUR, record_ref

DIRECTORY = """
version = 1
org = "nyu"
timezone = "America/New_York"
vip = ["MPI-VIP"]

[[people]]
id = "dr-a"
name = "Dr. Ann Able"
surname = "Able"
address = "1 First Avenue\\nNew York, NY"
status = "active"

[[people]]
id = "dr-gone"
name = "Dr. Gone Away"
status = "terminated"
end = 2024-01-01

[[people]]
id = "dr-night"
name = "Dr. Night Owl"
hours = ["daily 19:00-07:00"]
"""

RULES = """
version = 1
org = "nyu"
timezone = "America/New_York"
working_hours = ["mon-fri 07:00-19:00"]

[rules.volume]
min_count = 20
baseline_days = 7
factor = 2.0

[rules.unmatched-disclosure]
grace_hours = 1
"""

FILES = {"directory.toml": DIRECTORY, "rules.toml": RULES}
R = record_ref("chart", "MPI-1")


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def rn(tmp_path: Path, db_url: str, clock: Clock) -> Iterator[RunningNode]:
    with compliance_node(tmp_path, db_url, files=FILES, clock=clock) as node:
        yield node


def submit(rn: RunningNode, statements: list[Statement]) -> list[bytes]:
    signed = [rn.sign(st) for st in statements]
    result = rn.client("source").submit(signed)
    return [bytes.fromhex(r["record"]) for r in result["results"]]


def deliver(rn: RunningNode, statement: Statement) -> bytes:
    """Append another org's record as replication delivers it (prepared with its origin org)."""
    signed = generate_source_key(statement.org, "ehr").sign(statement)
    node = rn.node
    node._append([node.validator.prepare(signed, statement.org)])
    return signed.record_hash


def alerts(rn: RunningNode, **params: Any) -> dict[str, Any]:
    wait_evaluated(rn.client("admin"))
    out: dict[str, Any] = rn.client("auditor").json("GET", "/v1/alerts", params=params)
    return out


def rules_by_trigger(rn: RunningNode) -> dict[bytes, set[str]]:
    found: dict[bytes, set[str]] = {}
    for item in alerts(rn)["alerts"]:
        a = item["alert"]
        found.setdefault(bytes.fromhex(a["evidence"][0]), set()).add(a["rule"])
    return found


def test_each_rule_fires_on_its_case_and_not_on_a_justified_one(rn: RunningNode) -> None:
    evidence = submit(
        rn,
        [
            care("dr-a", "nyu", NOON - 30 * DAY, patient="MPI-1"),
            care("dr-a", "nyu", NOON - 30 * DAY, patient="MPI-VIP"),
            care("dr-gone", "nyu", NOON - 30 * DAY, patient="MPI-2"),
            care("dr-night", "nyu", NOON - 30 * DAY, patient="MPI-5"),
            consent(
                ("org", "nyu"),
                start=NOON - 10 * DAY,
                end=NOON - 5 * DAY,
                patient="MPI-4",
                org="nyu",
            ),
            disclosure(
                "import",
                "t-in",
                "cornell",
                "nyu",
                NOON - DAY,
                purpose="TREAT",
                refs=(R,),
                patient="MPI-1",
            ),
        ],
    )
    assert len(evidence) == 6
    cases: dict[str, tuple[Statement, Statement]] = {
        # rule: (triggering access, justified access)
        "no-relationship": (
            access("dr-a", patient="MPI-3", sid="nr-1"),
            access("dr-a", sid="nr-0"),
        ),
        "break-glass": (
            access("dr-a", purpose="BTG", break_glass=True, sid="bg-1"),
            access("dr-a", purpose="ETREAT", sid="bg-0"),
        ),
        "consent-ended": (
            access("dr-a", patient="MPI-4", sid="ce-1"),
            access("dr-a", ts=NOON - 7 * DAY, patient="MPI-4", sid="ce-0"),
        ),
        "purpose-drift": (
            access("dr-a", purpose="HRESCH", ref=R, sid="pd-1"),
            access("dr-a", purpose="TREAT", ref=R, sid="pd-0"),
        ),
        "after-hours": (
            access("dr-a", ts=NOON + 11 * HOUR, sid="ah-1"),
            access("dr-night", ts=NOON + 11 * HOUR, patient="MPI-5", sid="ah-0"),
        ),
        "terminated-account": (
            access("dr-gone", patient="MPI-2", sid="ta-1"),
            access("dr-a", patient="MPI-1", sid="ta-0"),
        ),
        "vip": (
            access("dr-a", patient="MPI-VIP", sid="vip-1"),
            access("dr-a", patient="MPI-1", sid="vip-0"),
        ),
    }
    triggers = submit(rn, [c[0] for c in cases.values()])
    justified = submit(rn, [c[1] for c in cases.values()])
    found = rules_by_trigger(rn)
    expected = {
        "no-relationship": {"no-relationship"},
        "break-glass": {"break-glass"},
        "consent-ended": {"no-relationship", "consent-ended"},
        "purpose-drift": {"purpose-drift"},
        "after-hours": {"after-hours"},
        "terminated-account": {"terminated-account"},
        "vip": {"vip"},
    }
    for (rule, _), record in zip(cases.items(), triggers, strict=True):
        assert found.get(record) == expected[rule], rule
    for (rule, _), record in zip(cases.items(), justified, strict=True):
        assert rule not in found.get(record, set()), rule
    # after-hours for dr-night is judged by their own hours: the night access is fine
    assert found.get(justified[4]) is None


def test_volume_fires_once_on_the_access_that_crosses(rn: RunningNode) -> None:
    submit(rn, [care("dr-a", "nyu", NOON - 30 * DAY, patient="MPI-1")])
    burst = [access("dr-v", ts=NOON + i * 60_000, sid=f"v-{i}") for i in range(25)]
    calm = [access("dr-c", ts=NOON + i * 60_000, sid=f"c-{i}") for i in range(19)]
    records = submit(rn, burst + calm)
    found = rules_by_trigger(rn)
    fired = [r for r in records if "volume" in found.get(r, set())]
    assert fired == [records[19]]  # the 20th access reaches min_count 20; dr-c stays below


def test_unmatched_disclosure_is_found_by_the_sweep_after_the_grace(
    rn: RunningNode, clock: Clock
) -> None:
    lonely = submit(rn, [disclosure("export", "t-lonely", "nyu", "cornell", NOON)])[0]
    paired = submit(rn, [disclosure("import", "t-paired", "cornell", "nyu", NOON)])[0]
    deliver(rn, disclosure("export", "t-paired", "cornell", "nyu", NOON))
    admin = rn.client("admin")
    early = admin.json("POST", "/v1/alerts/sweep")
    assert early["swept"] == []  # within the grace: not judged yet
    clock.advance(2 * HOUR)
    swept = admin.json("POST", "/v1/alerts/sweep")
    assert [a["rule"] for a in swept["swept"]] == ["unmatched-disclosure"]
    assert swept["swept"][0]["evidence"] == [lonely.hex()]
    assert "logged no import" in swept["swept"][0]["explanation"]
    again = admin.json("POST", "/v1/alerts/sweep")
    assert again["swept"] == []  # each half is judged once
    listed = alerts(rn, rule="unmatched-disclosure")
    assert [i["alert"]["evidence"][0] for i in listed["alerts"]] == [lonely.hex()]
    assert paired.hex() not in str(listed)


def test_decisions_are_signed_records_and_survive_a_restart(rn: RunningNode) -> None:
    record = submit(rn, [access("dr-a", patient="MPI-3", sid="d-1")])[0]
    auditor = rn.client("auditor")
    listed = alerts(rn, status="open", patient="MPI-3")
    assert listed["counts"] == {"open": 1, "justified": 0, "violation": 0}
    item = listed["alerts"][0]
    alert_id = item["alert"]["id"]
    assert item["alert"]["evidence"][0] == record.hex()
    decided = auditor.json(
        "POST",
        f"/v1/alerts/{alert_id}/decision",
        json={"status": "justified", "reason": "covering the ward", "reviewer": {"id": "po-1"}},
    )
    assert decided["status"] == "justified"
    review = decided["reviews"][0]
    stored = auditor.record(review["record"])
    signed = SignedStatement.from_json(stored["statement"])
    assert signed.statement.schema == "accord.decision"
    assert signed.statement.source == "privacy-office"
    assert signed.statement.fields["alert"] == alert_id
    assert signed.statement.fields["patient"] == "MPI-3"
    with pytest.raises(UsageError, match="already justified"):
        auditor.json(
            "POST",
            f"/v1/alerts/{alert_id}/decision",
            json={"status": "justified", "reason": "again", "reviewer": {"id": "po-1"}},
        )
    second = auditor.json(
        "POST",
        f"/v1/alerts/{alert_id}/decision",
        json={"status": "violation", "reason": "no ward duty", "reviewer": {"id": "po-2"}},
    )
    assert [r["status"] for r in second["reviews"]] == ["justified", "violation"]
    assert alerts(rn, status="violation")["total"] == 1
    assert alerts(rn, status="open", patient="MPI-3")["total"] == 0


def test_worklist_survives_a_restart(tmp_path: Path, db_url: str) -> None:
    with compliance_node(tmp_path, db_url, files=FILES) as first:
        submit(first, [access("dr-a", patient="MPI-3", sid="r-1")])
        alert_id = alerts(first)["alerts"][0]["alert"]["id"]
        first.client("auditor").json(
            "POST",
            f"/v1/alerts/{alert_id}/decision",
            json={"status": "violation", "reason": "snooping", "reviewer": {"id": "po"}},
        )
    with reopen(first) as again:
        listed = alerts(again)
        assert listed["counts"] == {"open": 0, "justified": 0, "violation": 1}
        assert listed["alerts"][0]["reviews"][0]["reason"] == "snooping"
        # new records after the restart are still judged
        submit(again, [access("dr-a", patient="MPI-6", sid="r-2")])
        assert alerts(again)["counts"]["open"] == 1


def test_rerun_reports_no_difference_then_the_effect_of_new_rules(rn: RunningNode) -> None:
    submit(
        rn,
        [
            access("dr-a", patient="MPI-3", sid="x-1"),
            access("dr-a", ts=NOON + 11 * HOUR, sid="x-2"),
        ],
    )
    admin = rn.client("admin")
    admin.json("POST", "/v1/alerts/sweep")
    same = admin.json("POST", "/v1/alerts/rerun", json={})
    assert same["new"] == []
    assert same["missing"] == []
    assert same["alerts"] == alerts(rn)["total"]
    quieter = RULES + "\n[rules.after-hours]\nenabled = false\n"
    diff = admin.json("POST", "/v1/alerts/rerun", json={"rules": quieter})
    assert {a["rule"] for a in diff["missing"]} == {"after-hours"}
    assert diff["new"] == []
    louder = RULES + "\n[rules.no-relationship]\ncare_days_after = 0\ncare_days_before = 0\n"
    bad = admin.json("POST", "/v1/alerts/rerun", json={"rules": louder, "apply": False})
    assert bad["applied"] == 0
    # Shorter working hours make the noon access after hours too: applying stores exactly
    # the new alert, and only once.
    shorter = RULES.replace('["mon-fri 07:00-19:00"]', '["mon-sun 03:00-03:01"]')
    total = alerts(rn)["total"]
    done = admin.json("POST", "/v1/alerts/rerun", json={"rules": shorter, "apply": True})
    assert {a["rule"] for a in done["new"]} == {"after-hours"}
    assert done["applied"] == len(done["new"]) >= 1
    assert alerts(rn)["total"] == total + done["applied"]
    again = admin.json("POST", "/v1/alerts/rerun", json={"rules": shorter, "apply": True})
    assert again["new"] == []
    assert again["applied"] == 0


def test_other_orgs_records_are_judged_too(rn: RunningNode) -> None:
    """A replicated access by another org's clinician is judged by this org's rules (vip)."""
    record = deliver(rn, access("dr-x", org="cornell", patient="MPI-VIP", sid="o-1"))
    found = rules_by_trigger(rn)
    assert {"vip", "no-relationship"} <= found[record]
    assert "after-hours" not in found[record]  # directory rules: this org's people only


@pytest.mark.parametrize(
    ("name", "text", "complaint"),
    [
        ("rules.toml", 'version = 1\norg = "nyu"\n[rules.volume]\nfactor = "x"\n', "factor"),
        ("rules.toml", 'version = 1\norg = "cornell"\n', "cornell"),
        ("rules.toml", "version = 1\norg = \n", "not TOML"),
        (
            "directory.toml",
            'version = 1\norg = "nyu"\n[[people]]\nid = "a"\nend = "x"\n',
            "people[0].end",
        ),
        ("directory.toml", 'version = 1\norg = "nyu"\ncolor = "red"\n', "color"),
    ],
)
def test_bad_files_refuse_to_start(
    tmp_path: Path, db_url: str, name: str, text: str, complaint: str
) -> None:
    from accord.node.initdir import init_node

    directory = tmp_path / "nyu"
    database = None if db_url.endswith(".db") else db_url
    init_node(directory, "nyu", database=database)
    (directory / name).write_text(text)
    with pytest.raises(UsageError, match=re.escape(complaint)) as caught:
        Node.open(directory)
    assert name in caught.value.message


def test_alert_bodies_are_encrypted_at_rest(rn: RunningNode) -> None:
    submit(rn, [access("dr-a", patient="MPI-3", name="Dr. Ann Able", sid="e-1")])
    alerts(rn)
    rows = rn.node.db.fetchall("SELECT blob, patient_p FROM compliance_alerts")
    assert rows
    for blob, patient_p in rows:
        assert b"Able" not in bytes(blob)
        assert b"MPI-3" not in bytes(blob)
        assert patient_p == rn.node._pseudonym("patient", "MPI-3")
    digest = hashlib.sha256(b"MPI-3").hexdigest()
    assert digest not in str(rows)


def test_an_older_keystore_gets_its_privacy_office_key_on_first_use(
    tmp_path: Path, db_url: str
) -> None:
    from accord.keys import (
        KEYSTORE_FILE,
        read_keystore,
        read_share_file,
        recover_master,
        remove_secret,
        write_keystore,
    )

    with compliance_node(tmp_path, db_url, files=FILES) as first:
        submit(first, [access("dr-a", patient="MPI-3", sid="k-1")])
        alerts(first)
    path = first.directory / KEYSTORE_FILE
    keystore = read_keystore(path)
    assert "privacy_office_key" in keystore.names  # accord init makes it now
    master = recover_master(keystore, [read_share_file(p) for p in first.shares[:2]])
    write_keystore(path, remove_secret(keystore, master, "privacy_office_key"))
    with reopen(first) as again:
        item = alerts(again)["alerts"][0]
        decided = again.client("auditor").json(
            "POST",
            f"/v1/alerts/{item['alert']['id']}/decision",
            json={"status": "violation", "reason": "no duty", "reviewer": {"id": "po"}},
        )
        assert decided["status"] == "violation"
        source = again.node.registry.get("nyu", "privacy-office")
        assert source is not None
        assert source.active
    assert "privacy_office_key" in read_keystore(path).names


def test_the_sweep_never_passes_a_batch_being_written(rn: RunningNode, clock: Clock) -> None:
    import time as _time

    monitor = rn.node.compliance.monitor
    now = clock()
    assert now - 6_000 <= monitor.sweep_now() <= clock() - monitor.sweep_lag_ms
    monitor.in_flight = (now - 60_000, _time.monotonic())
    assert monitor.sweep_now() == now - 60_001
    monitor.in_flight = (now - 60_000, _time.monotonic() - 120)  # a failed batch's old mark
    assert monitor.sweep_now() >= now - 6_000
    monitor.in_flight = None
