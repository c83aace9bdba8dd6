"""The installed `accord` command in subprocesses, as a new user would run a node."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ACCORD = shutil.which("accord", path=str(Path(sys.executable).parent)) or "accord"


def accord(
    *args: str, env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [ACCORD, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(f"accord {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str, dict[str, str]]]:
    node = tmp_path / "cornell"
    accord("init", str(node), "--org", "cornell", "--port", "0")
    admin = accord("token", "create", str(node), "--role", "admin").stdout.strip()
    proc = subprocess.Popen(
        [ACCORD, "serve", str(node), "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (node / "serve.json").exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"serve did not start: {proc.stderr.read() if proc.stderr else ''}"
                )
            time.sleep(0.05)
        url = json.loads((node / "serve.json").read_text())["url"]
        env = dict(os.environ, ACCORD_TOKEN=admin)
        yield node, url, env
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_a_new_user_runs_a_node(served: tuple[Path, str, dict[str, str]], tmp_path: Path) -> None:
    node, url, env = served
    assert httpx.get(f"{url}/v1/health").json()["sealed"] is True
    shares = sorted((node / "shares").glob("*.json"))
    out = accord("unseal", str(node), str(shares[0]), env=env).stdout
    assert "sealed (1 of 2" in out
    out = accord("unseal", str(node), str(shares[2]), env=env).stdout
    assert "unsealed" in out

    key = tmp_path / "ehr.key"
    accord("source", "add", "ehr", "--key-out", str(key), "--dir", str(node), env=env)
    now = int(time.time() * 1000)
    lines = [
        {
            "v": 1,
            "schema": "ehr.access",
            "id": f"e2e-{i}",
            "org": "cornell",
            "source": "ehr",
            "event_ts": now,
            "principals": [{"kind": "patient", "id": "MPI-0001"}],
            "fields": {
                "accessor": {"id": "Practitioner/dr-marshall", "role": "physician"},
                "accessor_org": "nyu",
                "patient": "MPI-0001",
                "record_ref": f"{i:064x}",
                "action": "R",
                "purpose": "TREAT",
                "outcome": "success",
                "break_glass": False,
            },
        }
        for i in range(3)
    ]
    file = tmp_path / "statements.jsonl"
    file.write_text("\n".join(json.dumps(x) for x in lines))
    result = json.loads(
        accord("submit", str(file), "--key", str(key), "--dir", str(node), "--json", env=env).stdout
    )
    assert result["appended"] == 3

    auditor = accord("token", "create", str(node), "--role", "auditor").stdout.strip()
    aenv = dict(env, ACCORD_TOKEN=auditor)
    rows = json.loads(
        accord(
            "sql",
            "SELECT COUNT(*) AS n FROM access WHERE patient = pseudonym('patient', 'MPI-0001')",
            "--dir",
            str(node),
            "--json",
            env=aenv,
        ).stdout
    )
    assert rows["rows"] == [[3]]

    refused = accord("sql", "DELETE FROM access", "--dir", str(node), env=aenv, check=False)
    assert refused.returncode == 2
    assert "error" in refused.stderr

    bad = tmp_path / "bad.jsonl"
    lines[0]["fields"]["purpose"] = "SHOPPING"
    lines[0]["id"] = "bad"
    bad.write_text(json.dumps(lines[0]))
    failed = accord("submit", str(bad), "--key", str(key), "--dir", str(node), env=env, check=False)
    assert failed.returncode == 2
    assert "purpose" in failed.stderr

    accord("seal", str(node), env=env)
    assert httpx.get(f"{url}/v1/health").json()["sealed"] is True


def test_init_refuses_an_existing_node(tmp_path: Path) -> None:
    accord("init", str(tmp_path / "n"), "--org", "cornell")
    again = accord("init", str(tmp_path / "n"), "--org", "cornell", check=False)
    assert again.returncode == 2
    assert "already holds a node" in " ".join(again.stderr.split())  # rich wraps long paths
    bad_org = accord("init", str(tmp_path / "m"), "--org", "Not An Org", check=False)
    assert bad_org.returncode == 2
