"""`accord demo` as a new user runs it (`make demo`): three real node processes, every step
checked, exit 0; with --keep the nodes stay up and demo.json describes them for scripts."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx


def test_demo_tells_the_whole_story_and_keeps_its_nodes(tmp_path: Path) -> None:
    directory = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "accord", "demo", "--dir", str(directory), "--keep"],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "120"},
    )
    described = directory / "demo.json"
    pids: list[int] = []
    try:
        if described.exists():
            pids = [org["pid"] for org in json.loads(described.read_text())["orgs"].values()]
        assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
        out = result.stdout
        for shown in (
            "every record final",
            "every certificate verifies",
            "Dr. Marshall's unexplained access raises an alert",
            "Sally Smith in March verifies and is complete",
            "refused by the verifier",
            "the audit catches the edited entry",
            "the audit catches nyu's fork",
        ):
            assert shown in out, shown
        assert "FAILED" not in out
        info = json.loads(described.read_text())
        assert set(info["orgs"]) == {"cornell", "nyu", "mskcc"}
        assert Path(info["consortium"]).exists()
        assert info["patients"] == {"Sally Smith": "MPI-4471-SMITH"}
        for org in info["orgs"].values():
            assert set(org["tokens"]) >= {"admin", "auditor", "source"}
            health = httpx.get(f"{org['url']}/v1/health", timeout=10).json()
            assert health["size"] > 0
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
