"""Compliance as a new user meets it: `accord init` and `serve` in subprocesses, the FHIR
scenario posted with curl (tests/e2e/fhir_curl.sh), then `accord alerts` and `accord report`."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest
import tomli_w
from fhir.resources.R4B.bundle import Bundle

from tests.conftest import TESTDATA
from tests.e2e.test_cli_node import ACCORD, accord
from tests.unit.compliance.fhir_data import DIRECTORY, PATIENT

HERE = Path(__file__).resolve().parent

DIRECTORY_TOML = """
version = 1
org = "pcp91959"
timezone = "America/New_York"

[[people]]
id = "Practitioner/8d782c6e-9fe8-397c-8c90-3a0b673ea432"
name = "Dr. Janette321 Fisher429"
"""

RULES_TOML = """
version = 1
org = "pcp91959"
timezone = "America/New_York"
working_hours = ["daily 00:00-24:00"]
"""


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Path, str, dict[str, str]]]:
    node = tmp_path / "pcp"
    accord("init", str(node), "--org", "pcp91959", "--port", "0")
    config = tomllib.loads((node / "node.toml").read_text())
    config.setdefault("fhir", {})["directory"] = DIRECTORY
    (node / "node.toml").write_text(tomli_w.dumps(config))
    (node / "directory.toml").write_text(DIRECTORY_TOML)
    (node / "rules.toml").write_text(RULES_TOML)
    tokens = {
        role: accord("token", "create", str(node), "--role", role).stdout.strip()
        for role in ("admin", "auditor", "source")
    }
    proc = subprocess.Popen(
        [ACCORD, "serve", str(node), "--port", "0", "--unseal-dir", str(node / "shares")],
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
        yield node, url, tokens
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def _env(token: str) -> dict[str, str]:
    return dict(os.environ, ACCORD_TOKEN=token)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_a_new_user_posts_the_fhir_scenario_and_reviews_alerts(
    served: tuple[Path, str, dict[str, str]], tmp_path: Path
) -> None:
    node, url, tokens = served
    out = tmp_path / "out"
    run = subprocess.run(
        [
            "bash",
            str(HERE / "fhir_curl.sh"),
            url,
            tokens["source"],
            tokens["auditor"],
            str(TESTDATA / "fhir" / "scenario"),
            str(out),
            PATIENT,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    lines = {ln.split()[0]: ln.split()[1:] for ln in run.stdout.splitlines()}
    status = {name: int(v[1]) for name, v in lines.items() if name != "search"}
    assert status == {
        "r4-auditevent-disclosure-recipient.json": 400,  # the import is logged by the recipient
        "r4-auditevent-disclosure-source.json": 201,
        "r4-consent-permit-treat.json": 201,
        "r4-provenance-transfer-received.json": 400,
        "r5-auditevent-breakglass.json": 201,
        "r5-auditevent-patientread-treat.json": 201,
        "r5-consent-permit-treat.json": 201,
    }
    refused = json.loads((out / "r4-provenance-transfer-received.json.out").read_text())
    assert refused["resourceType"] == "OperationOutcome"
    for name, code in status.items():
        if code == 201:
            record = json.loads((out / f"{lines[name][2]}.record.json").read_text())
            assert record["record"] == lines[name][2]
            statement = record["statement"]["statement"]
            if "consent" in name:
                assert statement["schema"] == "ehr.consent"
                continue
            source = json.loads((TESTDATA / "fhir" / "scenario" / name).read_text())
            assert statement["fields"]["fhir"]["resource"] == source
    bundle = json.loads((out / "search.json").read_text())
    Bundle.model_validate(bundle)
    assert lines["search"] == ["3"]
    ids = {e["resource"]["id"] for e in bundle["entry"]}
    assert ids == {v[2] for n, v in lines.items() if "auditevent" in n and int(v[1]) == 201}

    auditor, admin = _env(tokens["auditor"]), _env(tokens["admin"])
    listed = {}
    for _ in range(100):
        listed = json.loads(
            accord("alerts", "list", "--dir", str(node), "--json", env=auditor).stdout
        )
        if listed["evaluated"] >= 0 and listed["alerts"]:
            break
        time.sleep(0.1)
    rules = {i["alert"]["rule"] for i in listed["alerts"]}
    assert "break-glass" in rules
    btg = next(i for i in listed["alerts"] if i["alert"]["rule"] == "break-glass")
    text = accord("alerts", "list", "--dir", str(node), env=auditor).stdout
    assert "break-glass" in text
    decided = accord(
        "alerts",
        "decide",
        btg["alert"]["id"],
        "--status",
        "justified",
        "--reason",
        "emergency documented in the chart",
        "--reviewer",
        "po-1",
        "--dir",
        str(node),
        env=auditor,
    ).stdout
    assert "justified" in decided
    again = accord(
        "alerts",
        "decide",
        btg["alert"]["id"],
        "--status",
        "justified",
        "--reason",
        "x",
        "--reviewer",
        "po-1",
        "--dir",
        str(node),
        env=auditor,
        check=False,
    )
    assert again.returncode == 2
    assert "already justified" in again.stderr
    justified = json.loads(
        accord(
            "alerts", "list", "--status", "justified", "--dir", str(node), "--json", env=auditor
        ).stdout
    )
    assert justified["total"] == 1

    html = tmp_path / "accesses.html"
    accord(
        "report",
        "accesses",
        "--patient",
        PATIENT,
        "--dir",
        str(node),
        "--out",
        str(html),
        "--from",
        "2021-01-01",
        "--to",
        "2022-01-01",
        env=auditor,
    )
    page = html.read_text()
    assert "Dr. Janette321 Fisher429" in page
    assert "<script" not in page
    disclosures = tmp_path / "disclosures.csv"
    accord(
        "report",
        "disclosures",
        "--patient",
        PATIENT,
        "--dir",
        str(node),
        "--format",
        "csv",
        "--out",
        str(disclosures),
        "--from",
        "2021-01-01",
        "--to",
        "2022-01-01",
        env=auditor,
    )
    rows = list(csv.reader(io.StringIO(disclosures.read_text())))
    assert [r[0] for r in rows[1:]] == ["exempt"]  # the TREAT export: exempt, listed apart
    rerun = json.loads(accord("alerts", "rerun", str(node), "--json", env=admin).stdout)
    assert rerun["new"] == []
    assert rerun["missing"] == []
    refused_rules = accord(
        "alerts", "rerun", str(node), "--rules", str(html), env=admin, check=False
    )
    assert refused_rules.returncode == 2
