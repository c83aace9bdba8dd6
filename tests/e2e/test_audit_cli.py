"""`accord audit` as a subprocess against real `accord serve` processes (docs/audit.md):
a clean consortium, an unreachable member, a member made to present a forked log, and a
lying member caught by the certificate check."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.client.checkpoints import verify_checkpoint
from accord.demo.faults import fork_log
from accord.errors import AccordError, QuorumNotMetError
from accord.quorum import Consortium
from tests.e2e.procs import ACCORD, ProcConsortium, proc_consortium
from tests.e2e.test_faults import _statements


def _audit(c: ProcConsortium, *args: str) -> tuple[int, dict[str, Any]]:
    tokens = []
    for org, proc in c.procs.items():
        if proc.running:
            tokens += ["--token", f"{org}={c.tokens[org]['auditor']}"]
    result = subprocess.run(
        [ACCORD, "audit", "--consortium", str(c.consortium_file), *tokens, "--json", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout, result.stderr
    return result.returncode, json.loads(result.stdout)


def _wait(check: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _cosigned(c: ProcConsortium, org: str) -> bool:
    consortium = Consortium.parse(c.consortium_file.read_text())
    try:
        note = httpx.get(c[org].url + "/v1/checkpoint", timeout=10).text
        size = httpx.get(c[org].url + "/v1/health", timeout=10).json()["size"]
        return verify_checkpoint(note, consortium).checkpoint.size == size
    except (AccordError, httpx.HTTPError):
        return False


def _evidence(url: str) -> list[Any]:
    items: list[Any] = httpx.get(url + "/v1/witness/evidence", timeout=10).json()["evidence"]
    return items


def test_clean_unreachable_and_forked(tmp_path: Path) -> None:
    with proc_consortium(tmp_path) as c:
        for org in c.procs:
            c.wait_final(org, c.submit(org, _statements(c, org, 3, f"MPI-audit-{org}")))
        _wait(lambda: all(_cosigned(c, org) for org in c.procs), "cosigned checkpoints")

        status, report = _audit(c, "--certificates", "2")
        assert status == 0, report["findings"]
        assert report["verdicts"] == {"cornell": "ok", "nyu": "ok", "mskcc": "ok"}
        status, report = _audit(c, "--replay")
        assert status == 0, report["findings"]

        c["nyu"].stop()
        status, report = _audit(c)
        assert status == 3, report["findings"]
        assert report["verdicts"] == {"cornell": "ok", "nyu": "unreachable", "mskcc": "ok"}

        # The insider forks nyu's log while it is down and restarts it.
        shares = [p.read_text() for p in sorted((c["nyu"].directory / "shares").glob("*.json"))]
        forked = fork_log(c["nyu"].directory, shares)
        assert forked.old_root != forked.new_root
        c["nyu"].start()
        nyu_origin = Consortium.parse(c.consortium_file.read_text()).member("nyu").origin
        for witness in ("cornell", "mskcc"):
            _wait(
                lambda w=witness: any(e["origin"] == nyu_origin for e in _evidence(c[w].url)),
                f"{witness}'s witness to keep evidence against nyu",
            )
        # The witnesses refused to cosign the forked checkpoint.
        latest = httpx.get(c["nyu"].url + "/v1/checkpoint/latest", timeout=10).text
        assert latest == forked.note
        with pytest.raises(QuorumNotMetError):
            verify_checkpoint(latest, Consortium.parse(c.consortium_file.read_text()))
        status, report = _audit(c)
        assert status == 1
        assert report["verdicts"] == {"cornell": "ok", "nyu": "wrong", "mskcc": "ok"}
        nyu = [f for f in report["findings"] if f["org"] == "nyu"]
        checks = {f["check"] for f in nyu}
        assert "fork" in checks
        assert "witness-evidence" in checks
        fork = next(f for f in nyu if f["check"] == "fork")
        assert forked.note in fork["evidence"].values()  # the forked checkpoint, log-signed
        held = [f for f in nyu if f["check"] == "witness-evidence"]
        assert len(held) == 2
        assert all(f["evidence"]["proven"].startswith("yes") for f in held)
        # The human report shows the same, with the evidence.
        text = subprocess.run(
            [ACCORD, "audit", "--consortium", str(c.consortium_file)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env={"COLUMNS": "200", "PATH": str(Path(sys.executable).parent)},
        )
        assert text.returncode == 1
        assert "WRONG" in text.stdout
        assert "witness_head" in text.stdout


def test_a_lying_member_is_caught_by_the_certificate_check(tmp_path: Path) -> None:
    """mskcc signs receipts without appending; nyu is down, so cornell's certificates rest
    on mskcc's receipts. The audit checks them in mskcc's log and names mskcc."""
    root = tmp_path / "consortium"
    liar = [sys.executable, "-m", "tests.e2e.liar", str(root / "mskcc")]
    with proc_consortium(tmp_path, commands={"mskcc": liar}, start=("cornell", "mskcc")) as c:
        records = c.submit("cornell", _statements(c, "cornell", 3, "MPI-lies"))
        c.wait_final("cornell", records)
        status, report = _audit(c, "--certificates", "3")
        assert status == 1, report["findings"]
        assert report["verdicts"] == {"cornell": "ok", "nyu": "unreachable", "mskcc": "wrong"}
        lies = [f for f in report["findings"] if f["org"] == "mskcc"]
        assert lies
        assert {f["check"] for f in lies} == {"receipt"}
        assert all("mskcc's receipt says" in f["message"] for f in lies)
        assert all(json.loads(f["evidence"]["receipt"]) for f in lies)
        cornell = next(o for o in report["orgs"] if o["org"] == "cornell")
        assert cornell["certificates_checked"] >= 1
