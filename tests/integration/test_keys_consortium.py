"""Shredding a patient at every member of a consortium (the records are replicated):
``accord keys shred --consortium FILE --token ORG=T ...`` over real HTTP; afterwards the
bodies are gone at every member while certificates, receipts in the members' logs and
``accord verify-certificate`` still verify."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli.main import _register, app
from accord.client.certificates import check_certificate, check_in_logs
from accord.errors import ShreddedError
from accord.quorum import Certificate, Consortium
from tests.integration.nodes import Consortium3, access_statement, running_consortium
from tests.integration.replication_helpers import wait_status

ORGS = ("cornell", "nyu", "mskcc")
CAROL = "MPI-CAROL-0003"
DAVE = "MPI-DAVE-0004"


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium3]:
    with running_consortium(tmp_path_factory.mktemp("keys3")) as c:
        yield c


def _submit(c: Consortium3, org: str, patient: str, n: int) -> list[str]:
    rn = c[org]
    result = rn.client("source").submit(
        [rn.sign(access_statement(org, patient=patient)) for _ in range(n)]
    )
    assert result["appended"] == n
    return [r["record"] for r in result["results"]]


def test_shred_at_every_member_and_certificates_still_verify(
    three: Consortium3, tmp_path: Path
) -> None:
    consortium = Consortium.parse(three.consortium_file.read_text())
    carol = _submit(three, "cornell", CAROL, 3) + _submit(three, "nyu", CAROL, 2)
    dave = _submit(three, "cornell", DAVE, 2)
    for org in ORGS:
        wait_status(three[org].client("auditor"), carol + dave)
    holders = {}
    for org in ORGS:  # every member holds (replicas of) the bodies
        auditor = three[org].client("auditor")
        holders[org] = [r for r in carol if auditor.record(r)["body"] == "present"]
    assert all(len(found) == len(carol) for found in holders.values()), holders
    certs = {r: three["cornell"].client("auditor").certificate(r) for r in carol}

    _register()
    runner = CliRunner()
    base = ["keys", "shred", "--principal", CAROL, "--consortium", str(three.consortium_file)]
    missing = runner.invoke(app, [*base, "--token", f"cornell={three['cornell'].tokens['admin']}"])
    assert missing.exit_code == 2, missing.output
    assert "missing" in missing.output
    tokens = [a for org in ORGS for a in ("--token", f"{org}={three[org].tokens['admin']}")]
    done = runner.invoke(app, [*base, *tokens, "--json"])
    assert done.exit_code == 0, done.output
    answers = json.loads(done.output)
    assert [a["node"] for a in answers] == list(consortium.orgs)
    assert all(a["records"] == len(carol) for a in answers)
    assert all(a["versions"] >= 1 for a in answers)
    assert len({a["principal"] for a in answers}) == 1  # the same pseudonym everywhere

    for org in ORGS:
        auditor = three[org].client("auditor")
        for r in carol:
            assert auditor.record(r)["body"] == "shredded"
            with pytest.raises(ShreddedError):
                auditor.record_body(r)
        for r in dave:
            assert auditor.record(r)["body"] == "present"

    # certificates, and the receipts in every member's log, still verify
    for r in carol:
        shown = three["nyu"].client("auditor").certificate(r)
        assert shown == certs[r]
        cert = check_certificate(Certificate.from_json(shown), consortium)
        results = check_in_logs(cert, consortium, allow_unwitnessed=True, wait_s=10)
        assert all(x.ok for x in results), [x.to_json() for x in results]
    path = tmp_path / "cert.json"
    path.write_text(Certificate.from_json(certs[carol[0]]).format())
    verified = runner.invoke(
        app,
        [
            *("verify-certificate", str(path), "--consortium", str(three.consortium_file)),
            *("--fetch", "--allow-unwitnessed"),
        ],
    )
    assert verified.exit_code == 0, verified.output
    assert "REFUSED" not in verified.output


@pytest.mark.postgres
def test_shred_at_every_member_on_postgresql(tmp_path: Path) -> None:
    from tests.conftest import drop_schema, postgres_url

    urls = {org: postgres_url() for org in ORGS}
    try:
        with running_consortium(tmp_path, databases=urls) as c:
            consortium = Consortium.parse(c.consortium_file.read_text())
            records = _submit(c, "mskcc", CAROL, 3)
            for org in ORGS:
                wait_status(c[org].client("auditor"), records)
            for org in ORGS:
                assert c[org].client("admin").shred(CAROL)["records"] == 3
            for org in ORGS:
                for r in records:
                    with pytest.raises(ShreddedError):
                        c[org].client("auditor").record_body(r)
            for r in records:
                cert = check_certificate(
                    Certificate.from_json(c["cornell"].client("auditor").certificate(r)),
                    consortium,
                )
                assert all(x.ok for x in check_in_logs(cert, consortium, allow_unwitnessed=True))
    finally:
        for url in urls.values():
            drop_schema(url)
