"""One node as a real HTTP service, on SQLite and on PostgreSQL: submit, read, prove, refuse."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from accord.errors import (
    AuthError,
    BadSignatureError,
    ForbiddenError,
    MalformedError,
    SealedError,
    TooLargeError,
    UnknownKeyError,
    UsageError,
)
from accord.merkle import leaf_hash, verify_consistency, verify_inclusion
from accord.note import Checkpoint, verify_cosigned_checkpoint
from accord.records import SignedStatement
from tests.integration.nodes import RunningNode, access_statement, running_node


@pytest.fixture
def rn(tmp_path: Path, db_url: str) -> Iterator[RunningNode]:
    with running_node(tmp_path, db_url, max_batch=50, max_request_bytes=200_000) as node:
        yield node


def _checkpoint(rn: RunningNode) -> Checkpoint:
    rn.node.sign_checkpoint()
    note = rn.client(None).checkpoint()
    assert rn.node.keys is not None
    cp, _ = verify_cosigned_checkpoint(note, rn.node.keys.log.verifier(), [], 0)
    return cp


def test_submit_read_and_prove(rn: RunningNode) -> None:
    statements = [rn.sign(access_statement(patient=f"MPI-{i}")) for i in range(3)]
    result = rn.client("source").submit(statements)
    assert result["appended"] == 3
    assert result["duplicates"] == 0
    records = [r["record"] for r in result["results"]]
    assert records == [s.record_hash.hex() for s in statements]
    assert all(r["status"] == "final" for r in result["results"])

    got = rn.client("auditor").record(records[1])
    assert SignedStatement.from_json(got["statement"]) == statements[1]
    assert got["header"]["body_hash"] == records[1]

    cp = _checkpoint(rn)
    for r in result["results"]:
        proof = rn.client(None).inclusion(record=r["record"])
        assert proof["size"] == cp.size
        leaf = rn.client(None).entries(r["log_index"], r["log_index"] + 1)[0]
        assert leaf_hash(leaf.encode()).hex() == proof["leaf_hash"]
        verify_inclusion(
            r["log_index"],
            cp.size,
            leaf_hash(leaf.encode()),
            [bytes.fromhex(h) for h in proof["proof"]],
            cp.root_hash,
        )

    more = rn.client("source").submit([rn.sign(access_statement())])
    assert more["appended"] == 1
    cp2 = _checkpoint(rn)
    cons = rn.client(None).consistency(cp.size, cp2.size)
    verify_consistency(
        cp.size, cp2.size, [bytes.fromhex(h) for h in cons["proof"]], cp.root_hash, cp2.root_hash
    )


def test_same_statement_twice_is_one_record(rn: RunningNode) -> None:
    signed = rn.sign(access_statement())
    first = rn.client("source").submit([signed, signed])
    assert first["appended"] == 1
    assert first["duplicates"] == 1
    size = rn.node.log.size
    again = rn.client("source").submit([signed])
    assert again["duplicates"] == 1
    assert again["results"][0]["log_index"] == first["results"][0]["log_index"]
    assert rn.node.log.size == size


def _body(statements: list[SignedStatement]) -> bytes:
    return b'{"statements":[' + b",".join(s.body for s in statements) + b"]}"


def _tamper_sig(s: SignedStatement) -> bytes:
    sig = bytearray(s.sig)
    sig[0] ^= 1
    return _body([SignedStatement(s.statement, bytes(sig))])


def _json_of(s: SignedStatement) -> dict[str, Any]:
    return s.to_json()


def _post(rn: RunningNode, body: bytes, role: str | None = "source") -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    if role:
        headers["Authorization"] = f"Bearer {rn.tokens[role]}"
    return httpx.post(f"{rn.url}/v1/statements", content=body, headers=headers, timeout=30)


def _bad_cases(rn: RunningNode) -> list[tuple[str, bytes, int, str]]:
    good = rn.sign(access_statement())
    value = _json_of(good)
    unknown_schema = dict(value["statement"], schema="ehr.nonsense")
    bad_purpose = dict(
        value["statement"], fields=dict(value["statement"]["fields"], purpose="SHOPPING")
    )
    from tests.integration.nodes import generate_source_key

    stranger = generate_source_key("cornell", "ehr")
    future = rn.sign(access_statement(event_ts=int(time.time() * 1000) + 3_600_000))
    other_org = generate_source_key("nyu", "ehr").sign(access_statement(org="nyu"))
    unregistered = generate_source_key("cornell", "scanner").sign(
        access_statement(source="scanner")
    )
    import json

    return [
        ("malformed-json", b'{"statements": [', 400, "malformed"),
        ("not-an-object", b"[1, 2]", 400, "usage"),
        ("empty-list", b'{"statements": []}', 400, "usage"),
        (
            "unknown-schema",
            json.dumps({"statements": [{**value, "statement": unknown_schema}]}).encode(),
            400,
            "malformed",
        ),
        (
            "bad-purpose-code",
            json.dumps({"statements": [{**value, "statement": bad_purpose}]}).encode(),
            400,
            "malformed",
        ),
        ("bad-signature", _tamper_sig(good), 422, "bad_signature"),
        (
            "signed-by-unregistered-key",
            _body([stranger.sign(access_statement())]),
            422,
            "bad_signature",
        ),
        ("unknown-source", _body([unregistered]), 422, "unknown_key"),
        ("another-orgs-statement", _body([other_org]), 403, "forbidden"),
        ("event-time-in-the-future", _body([future]), 400, "usage"),
        (
            "oversized-batch",
            _body([rn.sign(access_statement()) for _ in range(51)]),
            413,
            "too_large",
        ),
        ("oversized-body", b'{"statements": ["' + b"x" * 300_000 + b'"]}', 413, "too_large"),
        ("one-bad-among-good", _body([rn.sign(access_statement()), future]), 400, "usage"),
    ]


def test_bad_input_is_refused_and_changes_nothing(rn: RunningNode) -> None:
    rn.node.sign_checkpoint()
    for name, body, status, code in _bad_cases(rn):
        size = rn.node.log.size
        response = _post(rn, body)
        assert response.status_code == status, (name, response.text)
        error = response.json()["error"]
        assert error["code"] == code, (name, error)
        assert error["message"], name
        assert rn.node.log.size == size, name
    count = rn.node.db.fetchone("SELECT COUNT(*) FROM access")
    assert count == (0,)


def test_mixed_batch_lists_every_bad_statement(rn: RunningNode) -> None:
    good = rn.sign(access_statement())
    bad = SignedStatement(good.statement, bytes(64))
    response = _post(rn, _body([rn.sign(access_statement()), bad, rn.sign(access_statement())]))
    assert response.status_code == 422
    details = response.json()["error"]["details"]
    assert details["refused"] == 1
    assert details["submitted"] == 3
    assert [item["index"] for item in details["items"]] == [1]


def test_tokens_and_roles(rn: RunningNode) -> None:
    body = _body([rn.sign(access_statement())])
    assert _post(rn, body, role=None).status_code == 401
    assert _post(rn, body, role="auditor").status_code == 403
    with pytest.raises(AuthError):
        rn.client(None).record("00" * 32)
    with pytest.raises(ForbiddenError):
        rn.client("source").record("00" * 32)
    bogus = httpx.get(f"{rn.url}/v1/records/{'00' * 32}", headers={"Authorization": "Bearer acc_x"})
    assert bogus.status_code == 401


def test_revoked_source_is_refused(rn: RunningNode) -> None:
    from tests.integration.nodes import generate_source_key

    device = generate_source_key("cornell", "device")
    rn.client("admin").add_source("device", device.public_raw)
    assert (
        rn.client("source").submit([device.sign(access_statement(source="device"))])["appended"]
        == 1
    )
    rn.client("admin").revoke_source("device")
    with pytest.raises(ForbiddenError, match="revoked"):
        rn.client("source").submit([device.sign(access_statement(source="device"))])
    sources = {
        s["name"]: s["status"] for s in rn.client("auditor").json("GET", "/v1/sources")["sources"]
    }
    assert sources == {"device": "revoked", "ehr": "active", "fhir-gateway": "active"}


def test_sealed_node_serves_public_data_and_refuses_the_rest(rn: RunningNode) -> None:
    result = rn.client("source").submit([rn.sign(access_statement())])
    record = result["results"][0]["record"]
    rn.node.sign_checkpoint()
    admin = rn.client("admin")
    admin.seal()
    assert rn.client(None).health()["sealed"] is True
    assert rn.client(None).checkpoint()
    with pytest.raises(SealedError):
        rn.client("source").submit([rn.sign(access_statement())])
    with pytest.raises(SealedError):
        rn.client("auditor").record(record)
    from accord.keys import create_keystore

    _, foreign = create_keystore({"x": b"y" * 32}, name="other", threshold=2, shares=2)
    from accord.errors import VerificationError

    with pytest.raises(VerificationError, match="foreign"):
        admin.unseal(foreign[0].format())
    share1, share2 = (p.read_text() for p in rn.shares[:2])
    assert admin.unseal(share1)["sealed"] is True
    with pytest.raises(UsageError, match="duplicate"):
        admin.unseal(share1)
    with pytest.raises(MalformedError):
        admin.unseal("not a share file")
    assert admin.unseal(share2)["sealed"] is False
    assert rn.client("auditor").record(record)["status"] == "final"


def test_sql_projection_and_refusals(rn: RunningNode) -> None:
    statements = [rn.sign(access_statement(patient="MPI-7")) for _ in range(3)]
    statements.append(rn.sign(access_statement(patient="MPI-8", purpose="BTG")))
    rn.client("source").submit(statements)
    auditor = rn.client("auditor")
    rows = auditor.sql(
        "SELECT record, purpose FROM access WHERE patient = pseudonym('patient', 'MPI-7') "
        "ORDER BY event_ts"
    )
    assert rows["columns"] == ["record", "purpose"]
    assert sorted(r[0] for r in rows["rows"]) == sorted(s.record_hash.hex() for s in statements[:3])
    btg = auditor.sql("SELECT COUNT(*) FROM access WHERE break_glass = 1")
    assert btg["rows"] == [[1]]
    assert "MPI-7" not in str(auditor.sql("SELECT * FROM access")["rows"])
    refused = [
        "INSERT INTO access (record) VALUES ('x')",
        "DELETE FROM access",
        "DROP TABLE access",
        "SELECT * FROM record_bodies",
        "SELECT * FROM data_keys",
        "SELECT * FROM records",
        "SELECT 1; SELECT 2",
        "ATTACH DATABASE '/tmp/x.db' AS x",
        "PRAGMA journal_mode = DELETE",
        "CREATE TABLE x (a INTEGER)",
        "",
    ]
    for query in refused:
        with pytest.raises(UsageError):
            auditor.sql(query)
    assert auditor.sql("SELECT 1;")["rows"] == [[1]]


def test_sql_limits(tmp_path: Path, db_url: str) -> None:
    with running_node(tmp_path, db_url, sql_max_rows=2, sql_timeout_ms=300) as rn:
        rn.client("source").submit([rn.sign(access_statement()) for _ in range(4)])
        result = rn.client("auditor").sql("SELECT record FROM access")
        assert result["row_count"] == 2
        assert result["truncated"] is True
        endless = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
        )
        with pytest.raises(UsageError, match="longer than"):
            rn.client("auditor").sql(endless)


def test_sql_connections_are_reused_and_see_new_commits(tmp_path: Path, db_url: str) -> None:
    """Read-only connections are pooled: after refusals, a stopped query and a cut answer,
    the next queries still see every commit made since, and the limits still hold."""
    with running_node(tmp_path, db_url, sql_max_rows=3, sql_timeout_ms=300) as rn:
        auditor = rn.client("auditor")
        count = "SELECT COUNT(*) FROM access WHERE patient = pseudonym('patient', 'MPI-1')"
        endless = (
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n"
        )
        for n in range(1, 4):
            rn.client("source").submit([rn.sign(access_statement(patient="MPI-1"))])
            assert auditor.sql(count)["rows"] == [[n]]
            assert auditor.sql("SELECT record FROM access")["truncated"] is (n > 3)
            with pytest.raises(UsageError, match="longer than"):
                auditor.sql(endless)
            with pytest.raises(UsageError):
                auditor.sql("DELETE FROM access")
            with pytest.raises(UsageError):
                auditor.sql("SELECT * FROM record_bodies")
        rn.client("source").submit([rn.sign(access_statement(patient="MPI-1")) for _ in range(2)])
        assert auditor.sql(count)["rows"] == [[5]]
        assert auditor.sql("SELECT record FROM access")["truncated"] is True


def test_sqlite_wal_is_reset_while_the_node_runs(tmp_path: Path) -> None:
    """The node empties its SQLite WAL now and then (readers that never all stop would
    otherwise keep it growing), and keeps serving reads and writes."""
    with running_node(tmp_path, str(tmp_path / "x.db"), checkpoint_interval_ms=20) as rn:
        wal = rn.directory / "accord.db-wal"
        for _ in range(5):
            rn.client("source").submit([rn.sign(access_statement()) for _ in range(50)])
        assert wal.stat().st_size > 0
        deadline = time.monotonic() + 10
        while wal.exists() and wal.stat().st_size > 0:
            assert time.monotonic() < deadline, "the WAL was never emptied"
            time.sleep(0.02)
        rn.client("source").submit([rn.sign(access_statement())])
        count = rn.client("auditor").sql("SELECT COUNT(*) FROM access")
        assert count["rows"] == [[251]]


def test_metrics_and_openapi(rn: RunningNode) -> None:
    rn.client("source").submit([rn.sign(access_statement())])
    metrics = httpx.get(f"{rn.url}/metrics").text
    assert "accord_records_appended_total" in metrics
    assert "accord_log_size" in metrics
    spec = httpx.get(f"{rn.url}/openapi.json").json()
    for path in ("/v1/statements", "/v1/records/{record}", "/v1/checkpoint", "/v1/sql"):
        assert path in spec["paths"]
    missing = httpx.get(f"{rn.url}/v1/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"


def test_refusals_are_counted_by_status(rn: RunningNode) -> None:
    for _ in range(2):
        assert httpx.get(f"{rn.url}/v1/nowhere").status_code == 404
    assert httpx.post(f"{rn.url}/v1/statements", content=b"{}").status_code == 401
    assert httpx.get(f"{rn.url}/v1/health").status_code == 200
    metrics = httpx.get(f"{rn.url}/metrics").text
    assert 'accord_requests_refused_total{status="404"} 2.0' in metrics
    assert 'accord_requests_refused_total{status="401"} 1.0' in metrics
    assert 'status="200"' not in metrics


def test_errors_map_to_client_classes(rn: RunningNode) -> None:
    from tests.integration.nodes import generate_source_key

    source = rn.client("source")
    too_many = [rn.sign(access_statement()) for _ in range(51)]
    with pytest.raises(TooLargeError):
        source.submit(too_many)
    forged = SignedStatement(rn.sign(access_statement()).statement, bytes(64))
    with pytest.raises(BadSignatureError):
        source.submit([forged])
    stranger = generate_source_key("cornell", "x").sign(access_statement(source="x"))
    with pytest.raises(UnknownKeyError):
        source.submit([stranger])
