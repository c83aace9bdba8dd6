"""Quorum replication between three real nodes over real HTTP on 127.0.0.1.

Records become final with certificates that verify against the consortium file and
whose receipts are in the members' logs; duplicates; source registrations reach every
member; a record stays pending (never reported final) while its quorum is away.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli.main import _register, app
from accord.client.certificates import check_certificate, check_in_logs
from accord.client.sourcekey import generate_source_key
from accord.errors import NotFoundError
from accord.quorum import Certificate, Consortium, org_principal, whole_consortium
from accord.records import parse_leaf
from tests.conftest import drop_schema, postgres_url
from tests.integration.nodes import Consortium3, access_statement, running_consortium
from tests.integration.replication_helpers import statuses, wait_for, wait_status

ORGS = ("cornell", "nyu", "mskcc")


@pytest.fixture(scope="module")
def three(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Consortium3]:
    with running_consortium(tmp_path_factory.mktemp("three")) as c:
        yield c


def _consortium(c: Consortium3) -> Consortium:
    return Consortium.parse(c.consortium_file.read_text())


def _status_query(records: list[str]) -> str:
    """Count the records by status in the record_status projection."""
    listed = "','".join(records)
    return (
        f"SELECT status, COUNT(*) FROM record_status WHERE record IN ('{listed}') GROUP BY status"  # noqa: S608
    )


def _submit(c: Consortium3, org: str, n: int, patient: str = "MPI-0001") -> list[str]:
    rn = c[org]
    signed = [rn.sign(access_statement(org, patient=patient)) for _ in range(n)]
    result = rn.client("source").submit(signed)
    assert result["appended"] == n
    assert {r["status"] for r in result["results"]} == {"pending"}
    return [r["record"] for r in result["results"]]


def test_records_become_final_with_certificates_that_verify(three: Consortium3) -> None:
    consortium = _consortium(three)
    mine = {org: _submit(three, org, 12, patient=f"MPI-{org}") for org in ("cornell", "nyu")}
    for org, records in mine.items():
        wait_status(three[org].client("auditor"), records)
    for org, records in mine.items():
        auditor = three[org].client("auditor")
        for record in records:
            cert = check_certificate(Certificate.from_json(auditor.certificate(record)), consortium)
            assert cert.org == org
            assert cert.record.hex() == record
            assert [t.trust_set for t in cert.trust_sets] == [consortium.trust]
            assert org in cert.signers  # the originating node's own receipt counts
            assert len(cert.signers) >= 2
            shown = auditor.record(record)
            assert shown["status"] == "final"
            assert shown["certificate"] == cert.to_json()
            for signed in cert.receipts:  # each signer holds it at the receipt's index
                index, status, _ = three[signed.org].node.record_row(cert.record)
                assert index == signed.receipt.index
                header = parse_leaf(three[signed.org].node.log.entry(index))
                assert header.log_ts == signed.receipt.log_ts
                assert status in ("pending", "final")
    sql = three["cornell"].client("auditor").sql(_status_query(mine["cornell"]))
    assert sql["rows"] == [["final", 12]]


def test_every_holder_ends_up_with_the_certificate(three: Consortium3) -> None:
    records = _submit(three, "mskcc", 5, patient="MPI-holders")
    for org in ORGS:
        wait_status(three[org].client("auditor"), records)
    for record in records:
        certs = {org: three[org].client("auditor").certificate(record) for org in ORGS}
        assert certs["cornell"] == certs["nyu"] == certs["mskcc"]


def test_certificates_are_in_the_members_logs(three: Consortium3) -> None:
    consortium = _consortium(three)
    records = _submit(three, "cornell", 3, patient="MPI-logs")
    auditor = three["cornell"].client("auditor")
    wait_status(auditor, records)
    for record in records:
        cert = Certificate.from_json(auditor.certificate(record))
        results = check_in_logs(cert, consortium, allow_unwitnessed=True, wait_s=10)
        assert [r.org for r in results] == [s.org for s in cert.receipts]
        assert all(r.ok for r in results), [r.to_json() for r in results]
        assert all(r.checkpoint_size is not None and r.checkpoint_size > r.index for r in results)


def test_verify_certificate_command(three: Consortium3, tmp_path: Path) -> None:
    records = _submit(three, "nyu", 1, patient="MPI-cli")
    auditor = three["nyu"].client("auditor")
    wait_status(auditor, records)
    path = tmp_path / "cert.json"
    path.write_text(Certificate.from_json(auditor.certificate(records[0])).format())
    _register()
    runner = CliRunner()
    args = ["verify-certificate", str(path), "--consortium", str(three.consortium_file)]
    plain = runner.invoke(app, args)
    assert plain.exit_code == 0, plain.output
    assert f"certificate of record {records[0]}" in plain.output
    fetched = runner.invoke(app, [*args, "--fetch", "--allow-unwitnessed"])
    assert fetched.exit_code == 0, fetched.output
    assert "receipts in the members' logs:" in fetched.output
    assert "REFUSED" not in fetched.output
    tampered = tmp_path / "tampered.json"
    tampered.write_text(path.read_text().replace('"threshold":2', '"threshold":1'))
    refused = runner.invoke(
        app, ["verify-certificate", str(tampered), "--consortium", str(three.consortium_file)]
    )
    assert refused.exit_code == 1
    assert "claims threshold 1" in refused.output


def test_duplicates_are_one_record(three: Consortium3) -> None:
    rn = three["cornell"]
    signed = [rn.sign(access_statement("cornell", patient="MPI-dup")) for _ in range(4)]
    first = rn.client("source").submit(signed)
    records = [r["record"] for r in first["results"]]
    wait_status(rn.client("auditor"), records)
    again = rn.client("source").submit([*signed, signed[0]])
    assert again["appended"] == 0
    assert again["duplicates"] == 5
    assert {r["status"] for r in again["results"]} == {"final"}
    assert [r["log_index"] for r in again["results"][:4]] == [
        r["log_index"] for r in first["results"]
    ]
    wait_status(three["nyu"].client("auditor"), records)
    before = three["nyu"].node.log.size
    time.sleep(0.5)
    assert three["nyu"].node.log.size == before  # nothing was replicated a second time


def test_source_registrations_reach_every_member(three: Consortium3) -> None:
    lab = generate_source_key("nyu", "lab")
    nyu = three["nyu"]
    added = nyu.client("admin").add_source("lab", lab.public_raw)
    assert added["status"] == "pending"
    for org in ORGS:
        wait_for(
            lambda org=org: (
                (k := three[org].node.registry.get("nyu", "lab")) is not None and k.active
            ),
            what=f"{org} to learn nyu/lab",
        )
    auditor = nyu.client("auditor")
    wait_status(auditor, [added["record"]])
    cert = check_certificate(
        Certificate.from_json(auditor.certificate(added["record"])), _consortium(three)
    )
    assert [t.principal for t in cert.trust_sets] == [org_principal("nyu")]
    assert cert.trust_sets[0].trust_set == whole_consortium(_consortium(three))
    # The new source's statements are accepted by every member, so they become final.
    signed = [lab.sign(access_statement("nyu", source="lab", patient="MPI-lab"))]
    result = nyu.client("source").submit(signed)
    wait_status(auditor, [result["results"][0]["record"]])
    revoked = nyu.client("admin").revoke_source("lab")
    for org in ORGS:
        wait_for(
            lambda org=org: not three[org].node.registry.get("nyu", "lab").active,  # type: ignore[union-attr]
            what=f"{org} to learn nyu/lab is revoked",
        )
    wait_status(auditor, [revoked["record"]])


def test_records_stay_pending_while_the_quorum_is_away(three: Consortium3) -> None:
    """Sealed members answer 503: like members that are down. Nothing is reported final
    until one of them comes back; then every record becomes final."""
    cornell = three["cornell"].client("auditor")
    for org in ("nyu", "mskcc"):
        three[org].node.seal()
    try:
        records = _submit(three, "cornell", 6, patient="MPI-away")
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:
            assert set(statuses(cornell, records).values()) == {"pending"}
            with pytest.raises(NotFoundError, match="its status is pending"):
                cornell.certificate(records[0])
            time.sleep(0.1)
        assert cornell.sql(_status_query(records))["rows"] == [["pending", 6]]
    finally:
        rn = three["mskcc"]
        rn.node.unseal_with([p.read_text() for p in rn.shares[:2]])
    wait_status(cornell, records, timeout=30)
    rn = three["nyu"]
    rn.node.unseal_with([p.read_text() for p in rn.shares[:2]])
    for org in ORGS:
        wait_status(three[org].client("auditor"), records, timeout=60)


def test_final_never_goes_back(three: Consortium3) -> None:
    records = _submit(three, "mskcc", 3, patient="MPI-final")
    auditor = three["mskcc"].client("auditor")
    wait_status(auditor, records)
    certs = [auditor.certificate(r) for r in records]
    # Later receipts from the third member, and the same records sent again, change nothing.
    wait_for(
        lambda: all(
            three[o].node.record_row(bytes.fromhex(r))[1] == "final" for o in ORGS for r in records
        ),
        what="holders final",
    )
    replication = three["mskcc"].node.replication
    assert replication is not None
    assert replication.status()["pending"] == 0
    assert [auditor.certificate(r) for r in records] == certs
    assert set(statuses(auditor, records).values()) == {"final"}


@pytest.mark.postgres
def test_replication_on_postgresql(tmp_path: Path) -> None:
    urls = {org: postgres_url() for org in ORGS}
    try:
        with running_consortium(tmp_path, databases=urls) as c:
            consortium = _consortium(c)
            records = _submit(c, "cornell", 20, patient="MPI-pg")
            auditor = c["cornell"].client("auditor")
            wait_status(auditor, records)
            for org in ORGS:
                wait_status(c[org].client("auditor"), records)
            for record in records[:3]:
                cert = check_certificate(
                    Certificate.from_json(auditor.certificate(record)), consortium
                )
                assert all(r.ok for r in check_in_logs(cert, consortium, allow_unwitnessed=True))
    finally:
        for url in urls.values():
            drop_schema(url)
