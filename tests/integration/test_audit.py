"""`accord audit` against a real consortium of three nodes (docs/audit.md)."""

from __future__ import annotations

from pathlib import Path

from tests.integration.audit_helpers import audit, fill
from tests.integration.nodes import running_consortium


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
