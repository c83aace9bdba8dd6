"""Nothing sensitive in the clear on disk (issue 7, item 3).

A scenario runs on a real node: FHIR AuditEvents and a Consent about Synthea's patient
Cris921 Rath779 through the FHIR gateway (the resources are kept whole in the record
bodies), EHR statements about the demo story's patient Sally Smith (MPI-4471-SMITH),
alerts raised, a data key rotated, another patient shredded. Every key is collected while
the node runs (the master key, every keystore secret: the log and witness signing key
seeds, index, pseudonym, gateway and privacy-office keys; the HKDF key-encryption keys;
every data key, the shredded ones included; the token secrets). Then every file under the
node directory (SQLite database, -wal, -shm, node.toml, keystore, shares, ...) is scanned,
while running and after the node stops, for the patients' names and identifiers (UTF-8,
UTF-16 LE/BE, hex) and the keys (raw, hex, base64): none is found. On PostgreSQL the
database is scanned through text dumps of every table of its schema.

A control run with ``[keys] encrypt_bodies = false`` (the benchmark switch) shows that
the scan does find the names in the database when bodies are stored in the clear.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from accord.demo.story import PATIENT as SMITH_ID
from accord.demo.story import PATIENT_NAME as SMITH_NAME
from accord.keys import read_keystore, read_share_file, recover_master
from accord.keys.files import KEYSTORE_FILE
from accord.keys.wrapping import derive_kek
from accord.node.config import load_config, save_config
from accord.node.initdir import init_node
from accord.node.service import Node
from tests.integration.compliance_nodes import wait_evaluated
from tests.integration.nodes import RunningNode, access_statement, serving
from tests.unit.compliance.fhir_data import (
    BTG_R5,
    CONSENT_R4,
    DIRECTORY,
    EXPORT_R4,
    READ_R5,
    scenario,
)

CRIS_ID = "d4519c92-d241-b2b2-7360-291d60be699e"
CRIS_NAME = "Cris921 Rath779"
SHREDDED_ID = "MPI-9907-DOE"
SHREDDED_NAME = "Johanna Doe"  # only ever in the shredded patient's bodies

#: What must never be on disk in the clear: names and identifiers of the patients.
PEOPLE = {
    "smith id": SMITH_ID,
    "smith name": SMITH_NAME,
    "smith surname": "Sally",
    "cris id": CRIS_ID,
    "cris name": CRIS_NAME,
    "cris given": "Cris921",
    "cris family": "Rath779",
    "doe id": SHREDDED_ID,
    "doe name": SHREDDED_NAME,
}


def text_forms(text: str) -> list[bytes]:
    raw = text.encode("utf-8")
    return [
        raw,
        text.encode("utf-16-le"),
        text.encode("utf-16-be"),
        raw.hex().encode(),
        raw.hex().upper().encode(),
    ]


def key_forms(key: bytes) -> list[bytes]:
    return [
        key,
        key.hex().encode(),
        key.hex().upper().encode(),
        base64.b64encode(key).rstrip(b"="),
        base64.urlsafe_b64encode(key).rstrip(b"="),
    ]


def needles(secrets: dict[str, bytes]) -> dict[str, list[bytes]]:
    out = {f"patient {label}": text_forms(value) for label, value in PEOPLE.items()}
    out.update({f"key {label}": key_forms(value) for label, value in secrets.items()})
    return out


def scan(blobs: dict[str, bytes], wanted: dict[str, list[bytes]]) -> list[str]:
    """Every (what, where) found: an empty list means nothing sensitive in the clear."""
    hits = []
    for where, data in blobs.items():
        for what, forms in wanted.items():
            if any(form in data for form in forms):
                hits.append(f"{what} in {where}")
    return hits


def files_under(directory: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(directory)): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def postgres_dump(url: str) -> dict[str, bytes]:
    """A text dump of every table of the node's schema: each value as the database's text
    form (bytea as \\x hex), and bytea values also raw."""
    import psycopg

    out: dict[str, bytes] = {}
    with psycopg.connect(url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables"
                " WHERE table_schema = current_schema() ORDER BY table_name"
            ).fetchall()
        ]
        assert "record_bodies" in tables
        for table in tables:
            text = conn.execute(f'SELECT t::text FROM "{table}" t').fetchall()  # noqa: S608
            raw = conn.execute(f'SELECT * FROM "{table}"').fetchall()  # noqa: S608
            parts = [row[0].encode("utf-8") for row in text]
            parts += [bytes(v) for row in raw for v in row if isinstance(v, bytes | memoryview)]
            out[f"postgres table {table}"] = b"\n".join(parts)
    return out


@contextmanager
def scenario_node(tmp_path: Path, db_url: str, *, encrypt: bool = True) -> Iterator[RunningNode]:
    """A started, unsealed node of org pcp91959 with the FHIR directory of the Synthea data."""
    directory = tmp_path / "pcp91959"
    database = None if db_url.endswith(".db") else db_url
    result = init_node(directory, "pcp91959", database=database)
    config = load_config(directory)
    save_config(
        directory,
        config.model_copy(
            update={
                "fhir": config.fhir.model_copy(update={"directory": DIRECTORY}),
                "keys": config.keys.model_copy(update={"encrypt_bodies": encrypt}),
            }
        ),
    )
    with serving(Node.open(directory), directory, result.share_files, "pcp91959") as running:
        yield running


def post_fhir(rn: RunningNode, kind: str, resource: Any) -> None:
    answer = httpx.post(
        f"{rn.url}/fhir/{kind}",
        content=json.dumps(resource).encode(),
        headers={
            "Content-Type": "application/fhir+json",
            "Authorization": f"Bearer {rn.tokens['source']}",
        },
        timeout=30,
    )
    assert answer.status_code == 201, answer.text


def run_scenario(rn: RunningNode) -> None:
    for name in (READ_R5, BTG_R5, EXPORT_R4):
        post_fhir(rn, "AuditEvent", scenario(name))
    post_fhir(rn, "Consent", scenario(CONSENT_R4))
    # the shredded patient's name travels in a FHIR resource too
    doe = scenario(READ_R5)
    doe["id"] = uuid.uuid4().hex
    text = json.dumps(doe).replace(CRIS_NAME, SHREDDED_NAME).replace(CRIS_ID, SHREDDED_ID)
    post_fhir(rn, "AuditEvent", json.loads(text))
    ehr = rn.client("source")
    ehr.submit([rn.sign(access_statement("pcp91959", patient=SMITH_ID)) for _ in range(5)])
    admin = rn.client("admin")
    admin.rotate(SMITH_ID)
    ehr.submit(
        [rn.sign(access_statement("pcp91959", patient=SMITH_ID, purpose="BTG")) for _ in range(3)]
    )
    ehr.submit([rn.sign(access_statement("pcp91959", patient=SHREDDED_ID)) for _ in range(2)])
    wait_evaluated(rn.client("auditor"))
    assert rn.client("auditor").json("GET", "/v1/alerts")["alerts"]  # alerts were stored
    rn.node.sign_checkpoint()


def every_key(rn: RunningNode) -> dict[str, bytes]:
    """Every secret the node holds, read while it runs (and the data keys before a shred)."""
    node = rn.node
    keystore = read_keystore(rn.directory / KEYSTORE_FILE)
    master = recover_master(keystore, [read_share_file(p) for p in rn.shares[:2]])
    out: dict[str, bytes] = {
        "master": master,
        "keystore secrets KEK": derive_kek(master, "accord/keys/v1/keystore-secrets"),
        "keystore check KEK": derive_kek(master, "accord/keys/v1/keystore-check"),
        "data keys KEK": node.vault.master_kek(),
    }
    for name in keystore.names:
        out[f"secret {name}"] = node.vault.secret(name)
    rows = node.db.fetchall("SELECT principal, version FROM data_keys")
    assert len(rows) >= 4  # Cris, Smith (two versions), Doe, the org principal
    for principal, version in rows:
        key = node.datakeys.get(bytes(principal), int(version))
        out[f"data key {bytes(principal).hex()[:8]} v{version}"] = key.key
    for role, token in rn.tokens.items():
        out[f"token {role}"] = token.encode()
        out[f"token secret {role}"] = token.split("_", 2)[2].encode()  # acc_<id>_<secret>
    assert all(len(value) >= 32 for value in out.values())  # no needle found by chance
    return out


def test_nothing_sensitive_in_the_clear_on_disk(tmp_path: Path, db_url: str) -> None:
    with scenario_node(tmp_path, db_url) as rn:
        run_scenario(rn)
        keys = every_key(rn)
        shredded = rn.client("admin").shred(SHREDDED_ID)
        assert shredded["versions"] == 1
        wanted = needles(keys)
        running = files_under(rn.directory)
        assert "keystore.json" in running
        if db_url.endswith(".db"):
            assert any(name.endswith("-wal") for name in running)  # scanned while live
        else:
            running.update(postgres_dump(db_url))
        assert scan(running, wanted) == []
    stopped = files_under(rn.directory)
    if db_url.endswith(".db"):
        assert "accord.db" in stopped
    else:
        stopped.update(postgres_dump(db_url))
    assert scan(stopped, wanted) == []


def test_the_scan_finds_what_is_stored_in_the_clear(tmp_path: Path, db_url: str) -> None:
    """Control: with bodies in the clear (benchmark switch), the same scan finds them."""
    with scenario_node(tmp_path, db_url, encrypt=False) as rn:
        post_fhir(rn, "AuditEvent", scenario(READ_R5))
    found = files_under(rn.directory)
    if not db_url.endswith(".db"):
        found.update(postgres_dump(db_url))
    hits = scan(found, needles({}))
    assert any(hit.startswith("patient cris name in ") for hit in hits), hits
    assert not any("node.toml" in hit or "keystore" in hit for hit in hits)
    # and each encoding is recognised
    sample = {"utf-16": "x".encode("utf-16-le") + CRIS_NAME.encode("utf-16-le")}
    sample["hex"] = CRIS_ID.encode().hex().encode()
    assert scan(sample, {"cris": text_forms(CRIS_NAME) + text_forms(CRIS_ID)}) == [
        "cris in utf-16",
        "cris in hex",
    ]
