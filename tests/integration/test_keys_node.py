"""Keys in a running node over real HTTP, on SQLite and PostgreSQL: shred a patient and every
proof still verifies; rotate; the key audit trail; sealed refusals; unseal refusals; the
``accord keys`` commands (shred/rotate over HTTP, init re-splitting a stopped node's key)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accord.cli.main import _register, app
from accord.errors import (
    BadShareError,
    ForbiddenError,
    NotFoundError,
    SealedError,
    ShreddedError,
    UsageError,
    VerificationError,
)
from accord.keys import ShareFile, body_key_version, check_master, read_keystore, recover_master
from accord.keys.datakeys import DATA_KEYS_KEK_LABEL
from accord.keys.files import KEYSTORE_FILE
from accord.keys.wrapping import derive_kek, unwrap
from accord.merkle import leaf_hash, verify_consistency, verify_inclusion
from accord.node.initdir import init_node
from accord.node.keyshares import NEXT_KEYSTORE_FILE, rekey_node, resplit_node
from accord.node.service import Node
from accord.note import Checkpoint, verify_cosigned_checkpoint
from accord.records import SignedStatement
from tests.integration.nodes import RunningNode, access_statement, running_node

ALICE = "MPI-ALICE-0001"
BOB = "MPI-BOB-0002"


@pytest.fixture
def rn(tmp_path: Path, db_url: str) -> Iterator[RunningNode]:
    with running_node(tmp_path, db_url) as node:
        yield node


def _checkpoint(rn: RunningNode) -> Checkpoint:
    rn.node.sign_checkpoint()
    assert rn.node.keys is not None
    cp, _ = verify_cosigned_checkpoint(
        rn.client(None).checkpoint(), rn.node.keys.log.verifier(), [], 0
    )
    return cp


def _submit(rn: RunningNode, patient: str, n: int) -> list[dict[str, object]]:
    signed = [rn.sign(access_statement(patient=patient)) for _ in range(n)]
    result = rn.client("source").submit(signed)
    assert result["appended"] == n
    out: list[dict[str, object]] = result["results"]
    return out


def _verify_all(rn: RunningNode, results: list[dict[str, object]], cp: Checkpoint) -> None:
    for r in results:
        index = int(str(r["log_index"]))
        proof = rn.client(None).inclusion(record=str(r["record"]), size=cp.size)
        leaf = rn.client(None).entries(index, index + 1)[0].encode()
        path = [bytes.fromhex(h) for h in proof["proof"]]
        verify_inclusion(index, cp.size, leaf_hash(leaf), path, cp.root_hash)


def _blob(rn: RunningNode, record: str) -> bytes:
    row = rn.node.db.fetchone(
        "SELECT blob FROM record_bodies WHERE hash = ?", (bytes.fromhex(record),)
    )
    assert row is not None
    return bytes(row[0])


def test_shred_a_patient_and_every_proof_still_verifies(rn: RunningNode) -> None:
    alice = _submit(rn, ALICE, 4)
    bob = _submit(rn, BOB, 3)
    cp1 = _checkpoint(rn)
    admin = rn.client("admin")
    done = admin.shred(ALICE)
    principal = rn.node.key_actions.principal(ALICE).hex()
    assert done["action"] == "shred"
    assert done["principal"] == principal
    assert done["versions"] == 1
    assert done["records"] == 4
    assert done["actor"] == rn.tokens["admin"].split("_")[1]
    auditor = rn.client("auditor")
    for r in alice:
        shown = auditor.record(str(r["record"]))
        assert shown["body"] == "shredded"
        assert "statement" not in shown
        assert shown["header"]["body_hash"] == r["record"]  # the header is still served
        with pytest.raises(ShreddedError) as info:
            auditor.record_body(str(r["record"]))
        assert info.value.status == 410
    for r in bob:
        shown = auditor.record(str(r["record"]))
        assert shown["body"] == "present"
        body = SignedStatement.from_json(auditor.record_body(str(r["record"])))
        assert body.statement.fields["patient"] == BOB
    # the log, inclusion and consistency proofs still verify, for every record
    more = _submit(rn, BOB, 1)
    cp2 = _checkpoint(rn)
    _verify_all(rn, alice + bob + more, cp2)
    cons = rn.client(None).consistency(cp1.size, cp2.size)
    verify_consistency(
        cp1.size, cp2.size, [bytes.fromhex(h) for h in cons["proof"]], cp1.root_hash, cp2.root_hash
    )
    # the audit trail names the pseudonym, never the identifier
    trail = admin.key_actions()["actions"]
    assert [a["action"] for a in trail] == ["shred"]
    assert ALICE not in json.dumps(trail)
    # shredding again destroys nothing more; Alice's new records get a fresh key version
    assert admin.shred(ALICE)["versions"] == 0
    again = _submit(rn, ALICE, 1)
    assert body_key_version(_blob(rn, str(again[0]["record"]))) == 2
    assert auditor.record(str(again[0]["record"]))["body"] == "present"
    for r in alice:
        with pytest.raises(ShreddedError):
            auditor.record_body(str(r["record"]))


def test_reports_and_fhir_say_the_records_were_shredded(rn: RunningNode) -> None:
    _submit(rn, ALICE, 2)
    _submit(rn, BOB, 1)
    auditor = rn.client("auditor")

    def report(patient: str) -> tuple[int, str]:
        answer = auditor.request("GET", "/v1/reports/accesses", params={"patient": patient})
        rows = len(answer.json()["rows"])
        return rows, answer.headers["X-Accord-Shredded-Records"]

    def fhir(patient: str) -> list[dict[str, object]]:
        answer = auditor.request("GET", "/fhir/AuditEvent", params={"patient": patient})
        entries: list[dict[str, object]] = answer.json().get("entry", [])
        return entries

    assert report(ALICE) == (2, "0")
    assert len(fhir(ALICE)) == 2
    rn.client("admin").shred(ALICE)
    assert report(ALICE) == (0, "2")
    assert report(BOB) == (1, "0")
    found = fhir(ALICE)
    assert [e["search"] for e in found] == [{"mode": "outcome"}]
    outcome = found[0]["resource"]
    assert isinstance(outcome, dict)
    assert outcome["resourceType"] == "OperationOutcome"
    assert "2 record(s) of this patient were crypto-shredded" in json.dumps(outcome)
    assert [e["search"] for e in fhir(BOB)] == [{"mode": "match"}]


def test_rotate_new_records_use_the_new_version_old_ones_still_decrypt(rn: RunningNode) -> None:
    old = _submit(rn, ALICE, 2)
    admin = rn.client("admin")
    rotated = admin.rotate(ALICE)
    assert (rotated["action"], rotated["versions"], rotated["records"]) == ("rotate", 2, 2)
    new = _submit(rn, ALICE, 2)
    assert [body_key_version(_blob(rn, str(r["record"]))) for r in old + new] == [1, 1, 2, 2]
    auditor = rn.client("auditor")
    for r in old + new:
        body = SignedStatement.from_json(auditor.record_body(str(r["record"])))
        assert body.record_hash.hex() == r["record"]
    # a shred after a rotation destroys both versions
    assert admin.shred(ALICE)["versions"] == 2
    for r in old + new:
        with pytest.raises(ShreddedError):
            auditor.record_body(str(r["record"]))
    assert [a["action"] for a in admin.key_actions()["actions"]] == ["shred", "rotate"]


def test_shred_and_rotate_refusals_change_nothing(rn: RunningNode) -> None:
    records = _submit(rn, ALICE, 1)
    for role in ("source", "auditor"):
        with pytest.raises(ForbiddenError):
            rn.client(role).shred(ALICE)
        with pytest.raises(ForbiddenError):
            rn.client(role).rotate(ALICE)
    admin = rn.client("admin")
    for body in ({}, {"principal": 5}, {"principal": ""}, {"principal": ALICE, "x": 1}, [ALICE]):
        with pytest.raises(UsageError):
            admin.json("POST", "/v1/keys/shred", json=body)
    with pytest.raises(UsageError):
        admin.json("POST", "/v1/keys/rotate", json={"principal": " padded "})
    assert admin.key_actions()["actions"] == []
    assert rn.client("auditor").record(str(records[0]["record"]))["body"] == "present"


def test_sealed_node_refuses_append_sign_decrypt_and_key_actions(rn: RunningNode) -> None:
    records = _submit(rn, ALICE, 1)
    rn.node.sign_checkpoint()
    admin = rn.client("admin")
    admin.seal()
    public = rn.client(None)
    assert public.health()["sealed"] is True
    assert public.checkpoint().startswith(rn.node.origin)
    assert public.entries(0, 1)
    with pytest.raises(SealedError):
        rn.client("source").submit([rn.sign(access_statement(patient=BOB))])
    with pytest.raises(SealedError):
        rn.node.sign_checkpoint()
    with pytest.raises(SealedError):
        rn.client("auditor").record_body(str(records[0]["record"]))
    with pytest.raises(SealedError):
        admin.shred(ALICE)
    with pytest.raises(SealedError):
        admin.rotate(ALICE)
    # a share of the right keyset whose bytes were altered is refused; the good ones unseal
    good = ShareFile.parse(rn.shares[0].read_text())
    altered = ShareFile(
        good.keyset, good.x, good.threshold, good.total, bytes(32), good.name
    ).format()
    with pytest.raises(BadShareError, match="share 1 is not a share of this node's key"):
        admin.unseal(altered)
    assert admin.unseal(rn.shares[0].read_text())["have"] == 1
    with pytest.raises(UsageError, match="duplicate"):
        admin.unseal(rn.shares[0].read_text())
    assert admin.unseal(rn.shares[2].read_text())["sealed"] is False
    assert rn.client("auditor").record(str(records[0]["record"]))["body"] == "present"


def test_cli_shred_and_rotate_over_http(rn: RunningNode) -> None:
    records = _submit(rn, ALICE, 2)
    _register()
    runner = CliRunner()
    token = rn.tokens["admin"]
    rotated = runner.invoke(
        app, ["keys", "rotate", "--principal", ALICE, "--url", rn.url, "--token", token]
    )
    assert rotated.exit_code == 0, rotated.output
    assert "now uses key version 2" in rotated.output
    # DIR's serve.json gives the URL
    (rn.directory / "serve.json").write_text(json.dumps({"url": rn.url, "pid": os.getpid()}))
    shred = runner.invoke(
        app,
        ["keys", "shred", str(rn.directory), "--principal", ALICE, "--token", token, "--json"],
    )
    assert shred.exit_code == 0, shred.output
    answer = json.loads(shred.output)
    assert (answer[0]["versions"], answer[0]["records"]) == (2, 2)
    for r in records:
        with pytest.raises(ShreddedError):
            rn.client("auditor").record_body(str(r["record"]))
    auditor_token = rn.tokens["auditor"]
    refused = runner.invoke(
        app, ["keys", "shred", "--principal", ALICE, "--url", rn.url, "--token", auditor_token]
    )
    assert refused.exit_code == 1
    assert "forbidden" in refused.output


# -- accord keys init: re-splitting a stopped node's master key ----------------------------


def _stopped_node(tmp_path: Path, db_url: str | None = None) -> tuple[Path, list[Path], list[str]]:
    """A node directory with some records in it, stopped; its shares; the records."""
    database = None if db_url is None or db_url.endswith(".db") else db_url
    result = init_node(tmp_path / "node", "cornell", shares=3, threshold=2, database=database)
    node = Node.open(result.directory)
    node.start()
    try:
        node.unseal_with([p.read_text() for p in result.share_files[:2]])
        from accord.client import generate_source_key

        key = generate_source_key("cornell", "ehr")
        node.register_source("ehr", key.public_raw)
        signed = [key.sign(access_statement(patient=ALICE)) for _ in range(3)]
        node.process_submit([s.to_json() for s in signed])
        node.key_actions.rotate(ALICE)
        more = [key.sign(access_statement(patient=p)) for p in (ALICE, BOB)]
        node.process_submit([s.to_json() for s in more])
        signed += more
    finally:
        node.stop()
    return result.directory, result.share_files, [s.record_hash.hex() for s in signed]


def test_keys_init_resplits_and_old_shares_stop_working(tmp_path: Path) -> None:
    directory, old, records = _stopped_node(tmp_path)
    old_keystore = read_keystore(directory / KEYSTORE_FILE)
    _register()
    runner = CliRunner()
    out = tmp_path / "custodians"
    done = runner.invoke(
        app,
        [
            *("keys", "init", str(directory), "--shares", "5", "--threshold", "3"),
            *("--out", str(out), "--share", str(old[0]), "--share", str(old[2])),
        ],
    )
    assert done.exit_code == 0, done.output
    new = sorted(out.glob("*.json"))
    assert len(new) == 5
    assert all(oct(p.stat().st_mode)[-3:] == "600" for p in new)
    keystore = read_keystore(directory / KEYSTORE_FILE)
    assert (keystore.split.threshold, keystore.split.total) == (3, 5)
    assert keystore.keyset != old_keystore.keyset
    assert keystore.secrets == old_keystore.secrets  # same master key: secrets kept as they are

    node = Node.open(directory)
    node.start()
    try:
        with pytest.raises(BadShareError, match="foreign"):
            node.unseal_with([p.read_text() for p in old])
        with pytest.raises(UsageError, match="need 3 shares, have 2"):
            node.unseal_with([p.read_text() for p in new[:2]])
        assert node.unseal_with([p.read_text() for p in new[1:4]]).sealed is False
        for record in records:  # bodies written before the re-split still decrypt
            row = node.record_row(bytes.fromhex(record))
            assert row[2] is not None
            body = node.body(bytes.fromhex(record), row[2])
            assert SignedStatement.parse(body).statement.fields["patient"] in (ALICE, BOB)
    finally:
        node.stop()


def test_keys_init_refusals_change_nothing(tmp_path: Path) -> None:
    directory, old, _ = _stopped_node(tmp_path)
    before = (directory / KEYSTORE_FILE).read_bytes()
    out = tmp_path / "out"
    other = init_node(tmp_path / "other", "nyu", shares=2, threshold=2)
    good = ShareFile.parse(old[0].read_text())
    wrong = tmp_path / "wrong.json"
    wrong.write_text(
        ShareFile(good.keyset, 2, good.threshold, good.total, bytes(32), good.name).format()
    )

    def refused(shares: list[Path], k: int = 2, n: int = 3, to: Path = out) -> Exception:
        with pytest.raises((UsageError, BadShareError, NotFoundError)) as info:
            resplit_node(directory, shares, threshold=k, shares=n, out=to)
        return info.value

    assert "more than the shares" in str(refused(old[:2], k=4, n=3))
    assert "at least 2" in str(refused(old[:2], k=1, n=3))
    assert "at least 2" in str(refused(old[:2], k=0, n=3))
    assert "at least 2" in str(refused(old[:2], k=-1, n=3))
    assert "at most 255" in str(refused(old[:2], k=2, n=256))
    assert "need 2 shares, have 1" in str(refused(old[:1]))
    assert "duplicate" in str(refused([old[0], old[0]]))
    assert "foreign" in str(refused([old[0], other.share_files[0]]))
    assert "not a share of this node's key" in str(refused([old[0], wrong]))
    assert "--share" in str(refused([]))
    assert "own directory" in str(refused(old[:2], to=directory))
    (directory / "serve.json").write_text(json.dumps({"url": "http://x", "pid": os.getpid()}))
    assert "is running" in str(refused(old[:2]))
    (directory / "serve.json").unlink()
    with pytest.raises(NotFoundError, match="not a node directory"):
        resplit_node(tmp_path / "nowhere", old[:2], threshold=2, shares=3, out=out)
    assert (directory / KEYSTORE_FILE).read_bytes() == before
    assert not out.exists() or not any(out.iterdir())
    # the CLI reports a refusal as an error with a non-zero exit
    _register()
    cli = CliRunner().invoke(
        app,
        [
            *("keys", "init", str(directory), "--shares", "2", "--threshold", "3"),
            *("--out", str(out), "--share", str(old[0]), "--share", str(old[1])),
        ],
    )
    assert cli.exit_code == 2
    assert "more than the shares" in cli.output


def _reads_everything(directory: Path, shares: list[Path], records: list[str]) -> None:
    """The node in ``directory`` unseals with ``shares`` and decrypts every record."""
    node = Node.open(directory)
    node.start()
    try:
        assert node.unseal_with([p.read_text() for p in shares]).sealed is False
        assert node.keys is not None
        assert node.keys.log.verifier().format() == node.config.node.log_key  # same log key
        for record in records:
            row = node.record_row(bytes.fromhex(record))
            assert row[2] is not None
            body = node.body(bytes.fromhex(record), row[2])
            assert SignedStatement.parse(body).record_hash.hex() == record
    finally:
        node.stop()


def test_keys_init_new_master_key_rewraps_everything(tmp_path: Path, db_url: str) -> None:
    directory, old, records = _stopped_node(tmp_path, db_url)
    old_keystore = read_keystore(directory / KEYSTORE_FILE)
    old_master = recover_master(old_keystore, [ShareFile.parse(p.read_text()) for p in old[:2]])
    _register()
    out = tmp_path / "custodians"
    done = CliRunner().invoke(
        app,
        [
            *("keys", "init", str(directory), "--shares", "4", "--threshold", "2"),
            *("--out", str(out), "--share", str(old[1]), "--share", str(old[2])),
            "--new-master-key",
        ],
    )
    assert done.exit_code == 0, done.output
    assert "replaced" in done.output
    new = sorted(out.glob("*.json"))
    keystore = read_keystore(directory / KEYSTORE_FILE)
    assert keystore.names == old_keystore.names
    assert keystore.secrets != old_keystore.secrets  # re-wrapped under the new key
    assert not (directory / NEXT_KEYSTORE_FILE).exists()
    # the old master key (k old shares and a copy of the old keystore) opens nothing now
    with pytest.raises(VerificationError):
        check_master(keystore, old_master)
    node = Node.open(directory)
    try:
        rows = node.db.fetchall("SELECT principal, version, wrapped FROM data_keys")
    finally:
        node.stop()
    assert len(rows) == 4  # Alice v1, v2; Bob v1; the org's own records (source registration)
    old_kek = derive_kek(old_master, DATA_KEYS_KEK_LABEL)
    for principal, version, wrapped in rows:
        aad = bytes(principal) + int(version).to_bytes(4, "big")
        with pytest.raises(VerificationError):
            unwrap(old_kek, bytes(wrapped), aad, "data key")
    node = Node.open(directory)
    try:
        with pytest.raises(BadShareError, match="foreign"):
            node.unseal_with([p.read_text() for p in old[:2]])
    finally:
        node.stop()
    _reads_everything(directory, new[2:], records)


def test_an_interrupted_new_master_key_is_finished_or_undone(tmp_path: Path) -> None:
    directory, old, records = _stopped_node(tmp_path)
    # the data keys were re-wrapped (committed) but the new keystore not yet renamed over
    out = tmp_path / "new"
    rekey_node(directory, old[:2], threshold=2, shares=3, out=out, finish=False)
    assert (directory / NEXT_KEYSTORE_FILE).exists()
    new = sorted(out.glob("*.json"))
    _reads_everything(directory, new[:2], records)  # opening the node completed it
    assert not (directory / NEXT_KEYSTORE_FILE).exists()
    # a pending keystore whose re-wrap never committed is dropped; the current one stays
    stray = tmp_path / "stray"
    (stray / "node").mkdir(parents=True)
    other = init_node(stray / "node", "cornell")
    (directory / NEXT_KEYSTORE_FILE).write_bytes((other.directory / KEYSTORE_FILE).read_bytes())
    _reads_everything(directory, new[1:], records)
    assert not (directory / NEXT_KEYSTORE_FILE).exists()
