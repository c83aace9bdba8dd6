"""`accord query` then `accord verify` against real `accord serve` processes: a verified
answer (exit 0), the same bundle with one record left out refused (exit 1), bad options
(exit 2)."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from pathlib import Path

from accord.errors import NotFoundError
from accord.index.bundle import needed_postings, parse_bundle
from accord.records import Principal, Statement
from accord.verify import omit_record
from tests.e2e.procs import ACCORD, proc_consortium


def _statement(i: int, patient: str, now: int) -> Statement:
    return Statement(
        schema="ehr.access",
        id=uuid.uuid4().hex,
        org="cornell",
        source="ehr",
        event_ts=now - 3_600_000 + i * 60_000,
        principals=(Principal("patient", patient),),
        fields={
            "accessor": {"id": f"dr-{i % 3}", "role": "physician"},
            "accessor_org": "cornell",
            "patient": patient,
            "record_ref": f"{i % 4:064x}",
            "action": "R",
            "purpose": "TREAT",
            "outcome": "success",
            "break_glass": False,
        },
    )


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ACCORD, *args], capture_output=True, text=True, timeout=120, check=False, env=env
    )


def test_query_then_verify(tmp_path: Path) -> None:
    with proc_consortium(tmp_path) as c:
        now = int(time.time() * 1000)
        sts = [_statement(i, ("MPI-1", "MPI-2")[i % 2], now) for i in range(20)]
        c.submit("cornell", [c.sources["cornell"].sign(s) for s in sts])
        auditor = c.client("cornell")
        deadline = time.monotonic() + 60
        while True:
            try:
                found = parse_bundle(auditor.query({"kind": "patient", "patient": "MPI-1"}))
                if len(found.records) == 10:
                    break
            except NotFoundError:
                pass
            assert time.monotonic() < deadline, "no cosigned checkpoint covers the records"
            time.sleep(0.3)
        out = tmp_path / "bundle.json"
        token = c.tokens["cornell"]["auditor"]
        url = c["cornell"].url
        fetched = _run(
            "query", "patient", "MPI-1", "--from", str(now - 7_200_000), "--url", url,
            "--token", token, "--out", str(out),
        )  # fmt: skip
        assert fetched.returncode == 0, fetched.stderr
        keys = str(c.directory / "consortium-keys.json")
        file = str(c.consortium_file)
        ok = _run("verify", str(out), "--consortium", file, "--keys", keys, "--max-age", "600")
        assert ok.returncode == 0, ok.stderr
        assert "VERIFIED" in ok.stdout
        assert "10 record(s)" in ok.stdout
        as_json = _run("verify", str(out), "--consortium", file, "--keys", keys, "--json")
        assert as_json.returncode == 0
        assert json.loads(as_json.stdout)["count"] == 10

        bundle = parse_bundle(out.read_text())
        assert all(r.header is None for r in bundle.records)  # bodies, no headers
        late = None if bundle.late is None else bundle.late[1]
        drv = bundle.proofs[bundle.driver]
        victim = needed_postings(bundle.query, bundle.policy, drv, late)[3].event_hash
        lie = tmp_path / "lie.json"
        lie.write_text(omit_record(bundle, victim).format())
        refused = _run("verify", str(lie), "--consortium", file, "--keys", keys)
        assert refused.returncode == 1
        assert "REFUSED" in refused.stderr

        usage = _run("verify", str(out), "--consortium", str(out), "--keys", keys)
        assert usage.returncode == 2
        bad = _run(
            "query", "patient", "MPI-1", "--from", "yesterday", "--url", url, "--token", token,
            "--out", str(tmp_path / "x.json"),
        )  # fmt: skip
        assert bad.returncode == 2
