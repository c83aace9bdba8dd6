"""`accord audit` against a real consortium of three nodes (docs/audit.md)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from accord.audit import AuditReport, Finding, run_audit
from accord.demo.faults import restore, tamper_database
from accord.node.membership import read_consortium
from accord.records import IndexCommit, parse_leaf
from tests.conftest import drop_schema, postgres_url
from tests.integration.audit_helpers import audit, fill
from tests.integration.nodes import bound_socket, running_consortium


def test_a_clean_consortium_audits_ok(tmp_path: Path) -> None:
    with running_consortium(tmp_path) as c:
        fill(c)
        report = audit(c, certificates=3)
        assert report.findings == [], [f.to_json() for f in report.findings]
        assert report.exit_status() == 0
        assert report.verdicts() == {"cornell": "ok", "nyu": "ok", "mskcc": "ok"}
        for org, summary in report.orgs.items():
            assert summary.checkpoint_size == c[org].node.log.size
            assert summary.entries_checked == summary.checkpoint_size
            assert summary.bodies_checked >= 3
            assert summary.certificates_checked == 3
            assert summary.heads_compared == 2
        replayed = audit(c, replay=True)
        assert replayed.findings == [], [f.to_json() for f in replayed.findings]
        for summary in replayed.orgs.values():
            assert summary.replayed
            assert summary.index_commits_checked >= 1


def _findings(report: AuditReport, org: str, check: str) -> list[Finding]:
    return [f for f in report.findings if f.org == org and f.check == check]


def test_a_tampered_entry_is_caught(tmp_path: Path) -> None:
    with running_consortium(tmp_path) as c:
        fill(c)
        tampered = tamper_database(c["nyu"].directory)
        assert tampered.before != tampered.after
        assert c["nyu"].node.log.entry(tampered.index or 0) == tampered.after
        report = audit(c)
        assert report.verdicts() == {"cornell": "ok", "nyu": "wrong", "mskcc": "ok"}
        assert report.exit_status() == 1
        (found,) = _findings(report, "nyu", "entry")
        assert f"entry {tampered.index} " in found.message
        evidence = dict(found.evidence)
        assert evidence["leaf"] == tampered.after.decode()
        assert "proof" in evidence
        assert "checkpoint" in evidence
        replayed = audit(c, replay=True)
        assert _findings(replayed, "nyu", "tree")
        assert replayed.verdict("nyu") == "wrong"
        assert replayed.verdict("cornell") == "ok"


def test_a_tampered_body_is_caught(tmp_path: Path) -> None:
    with running_consortium(tmp_path) as c:
        fill(c)
        tampered = tamper_database(c["mskcc"].directory, what="body")
        report = audit(c)
        assert report.verdicts() == {"cornell": "ok", "nyu": "ok", "mskcc": "wrong"}
        (found,) = _findings(report, "mskcc", "body")
        assert tampered.record is not None
        assert tampered.record in found.message
        assert dict(found.evidence)["error"] == "verification_failed"
        # The log itself is intact: only the body is wrong.
        assert not _findings(report, "mskcc", "entry")


def test_a_wrong_index_root_is_caught_by_the_replay(tmp_path: Path) -> None:
    with running_consortium(tmp_path) as c:
        fill(c)
        log = c["cornell"].node.log
        commits = [i for i in range(log.size) if isinstance(parse_leaf(log.entry(i)), IndexCommit)]
        tampered = tamper_database(c["cornell"].directory, index=commits[-1])
        assert b"index_root" in tampered.after
        report = audit(c, replay=True)
        assert report.verdict("cornell") == "wrong"
        (found,) = _findings(report, "cornell", "index")
        evidence = dict(found.evidence)
        assert evidence["commit_seq"] == str(commits[-1])
        assert evidence["claimed_root"] != evidence["computed_root"]
        assert evidence["commit_leaf"] == tampered.after.decode()
        assert _findings(report, "cornell", "tree")  # and the tree no longer matches


def test_an_unreachable_member_has_its_own_verdict(tmp_path: Path) -> None:
    with running_consortium(tmp_path) as c:
        fill(c, per_org=1)
        consortium = read_consortium(c.consortium_file)
        sock = bound_socket()  # bound, never listening: connections are refused
        try:
            dead = f"http://127.0.0.1:{sock.getsockname()[1]}"
            members = tuple(
                dataclasses.replace(m, url=dead) if m.org == "nyu" else m
                for m in consortium.members
            )
            report = run_audit(
                dataclasses.replace(consortium, members=members),
                certificates=2,
                tokens={org: rn.tokens["auditor"] for org, rn in c.nodes.items()},
            )
        finally:
            sock.close()
        assert report.verdicts() == {"cornell": "ok", "nyu": "unreachable", "mskcc": "ok"}
        assert report.exit_status() == 3
        (found,) = report.of("nyu")
        assert found.severity == "unreachable"


@pytest.mark.postgres
def test_tampering_with_a_postgresql_node_is_caught(tmp_path: Path) -> None:
    pg = postgres_url()
    try:
        with running_consortium(tmp_path, databases={"nyu": pg}) as c:
            fill(c)
            entry = tamper_database(c["nyu"].directory)
            body = tamper_database(c["nyu"].directory, what="body")
            report = audit(c)
            assert report.verdicts() == {"cornell": "ok", "nyu": "wrong", "mskcc": "ok"}
            assert {f.check for f in report.of("nyu")} >= {"entry", "body"}
            restore(c["nyu"].directory, entry)
            restore(c["nyu"].directory, body)
            again = audit(c, replay=True)
            assert again.findings == [], [f.to_json() for f in again.findings]
    finally:
        drop_schema(pg)
