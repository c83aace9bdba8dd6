"""`accord log init|append|checkpoint|prove|verify` as a user runs it: the real command in a
subprocess (``python -m accord``) on a SQLite file and on a PostgreSQL schema, proofs
verified offline against signed checkpoints, and refusals with a readable diagnosis."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from accord.merkle import MemoryTree, leaf_hash, root_hash
from accord.note import Checkpoint, Note, Signer, Verifier, open_note

ENTRIES = [b"alpha", b"beta", b"gamma", b"one", b"two", b"three", b"four"]


def accord(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "accord", *args],
        capture_output=True,
        text=True,
        input=stdin if stdin is not None else "",
        timeout=120,
        check=False,
    )


def ok(*args: str, stdin: str | None = None) -> str:
    result = accord(*args, stdin=stdin)
    assert result.returncode == 0, f"accord {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def ok_json(*args: str, stdin: str | None = None) -> Any:
    return json.loads(ok(*args, "--json", stdin=stdin))


def refused(code: int, *args: str, stdin: str | None = None) -> str:
    """Run a command that must fail with exit ``code``; its stderr (the diagnosis)."""
    result = accord(*args, stdin=stdin)
    assert result.returncode == code, (
        f"accord {' '.join(args)} exited {result.returncode}, not {code}:\n"
        f"{result.stdout}\n{result.stderr}"
    )
    assert result.stderr.startswith("error ("), result.stderr
    assert "Traceback" not in result.stderr
    return " ".join(result.stderr.split())  # the diagnosis is wrapped to the terminal's width


@dataclass
class HandLog:
    url: str
    key: Path
    key_args: tuple[str, ...]  # what every key-using command needs
    init_args: tuple[str, ...]
    origin: str


@pytest.fixture
def hand_log(db_url: str, tmp_path: Path) -> HandLog:
    return new_hand_log(db_url, tmp_path)


def new_hand_log(db_url: str, tmp_path: Path) -> HandLog:
    """A log to be created: SQLite with the default key file, or PostgreSQL with --key."""
    if db_url.startswith("postgresql://"):
        key = tmp_path / "pg-log.key"
        origin = "accord.example/pg-log"
        return HandLog(db_url, key, ("--key", str(key)), ("--origin", origin), origin)
    return HandLog(db_url, Path(db_url + ".key"), (), (), "accord.example/accord")


def _init(log: HandLog) -> str:
    report = ok_json("log", "init", log.url, *log.init_args, *log.key_args)
    assert report["origin"] == log.origin
    assert report["key_file"] == str(log.key)
    assert stat.S_IMODE(log.key.stat().st_mode) == 0o600
    signer = Signer.parse(log.key.read_text().strip())
    assert signer.verifier().format() == report["vkey"]
    return str(report["vkey"])


def _checkpoint(log: HandLog, path: Path, *extra: str) -> Checkpoint:
    note = ok("log", "checkpoint", log.url, *log.key_args, *extra)
    path.write_text(note)
    return Checkpoint.parse(Note.parse(note).text)


def test_a_session_by_hand(hand_log: HandLog, tmp_path: Path) -> None:
    log = hand_log
    vkey = _init(log)

    # Entries from arguments, from stdin lines (blank lines skipped), from a file.
    first = ok_json("log", "append", log.url, "alpha", "beta", "gamma")
    assert (first["first"], first["count"], first["size"]) == (0, 3, 3)
    assert first["root_hash"] == root_hash([leaf_hash(e) for e in ENTRIES[:3]]).hex()
    cp3 = _checkpoint(log, tmp_path / "cp3.txt")
    assert (cp3.origin, cp3.size) == (log.origin, 3)

    lines = ok("log", "append", log.url, stdin="one\ntwo\r\n\nthree\n")
    assert lines.strip() == "appended 3 entries at index 3; size 6"
    (tmp_path / "four.txt").write_bytes(b"four")
    assert ok_json("log", "append", log.url, "--file", str(tmp_path / "four.txt"))["first"] == 6

    # The signed checkpoint: the log's key over the root of exactly these entries.
    cp_path = tmp_path / "cp.txt"
    cp = _checkpoint(log, cp_path)
    assert cp.size == len(ENTRIES)
    assert cp.root_hash == root_hash([leaf_hash(e) for e in ENTRIES])
    opened = open_note(cp_path.read_text(), [Verifier.parse(vkey)])
    assert len(opened.verified) == 1
    as_json = ok_json("log", "checkpoint", log.url, *log.key_args)
    assert (as_json["size"], as_json["root_hash"], as_json["vkey"]) == (
        7,
        cp.root_hash.hex(),
        vkey,
    )

    # Inclusion: printed for people, and as a document verified offline.
    human = ok("log", "prove", log.url, "inclusion", "4")
    assert f"leaf hash: {leaf_hash(b'two').hex()}" in human
    assert f"root hash: {cp.root_hash.hex()}" in human
    doc = ok_json("log", "prove", log.url, "inclusion", "4")
    assert (doc["type"], doc["index"], doc["size"]) == ("inclusion", 4, 7)
    assert doc["leaf_hash"] == leaf_hash(b"two").hex()
    assert doc["proof"] == [h.hex() for h in MemoryTree.from_data(ENTRIES).inclusion_proof(4)]
    proof = tmp_path / "inclusion.json"
    proof.write_text(json.dumps(doc))
    verified = ok("log", "verify", str(proof), "--checkpoint", str(cp_path), "--vkey", vkey)
    assert verified.startswith(f"verified: entry 4 is in {log.origin} at size 7")
    report = ok_json(
        "log", "verify", str(proof), "--checkpoint", str(cp_path), "--vkey", vkey, "--entry", "two"
    )
    assert report["verified"] is True
    assert report["entries_checked"] == 1
    # From stdin too.
    text = proof.read_text()
    piped = ok("log", "verify", "-", "--checkpoint", str(cp_path), "--vkey", vkey, stdin=text)
    assert piped.startswith("verified:")

    # Range [2, 5), with the entries themselves checked.
    rng = tmp_path / "range.json"
    rng.write_text(ok("log", "prove", log.url, "range", "2", "5", "--json"))
    assert json.loads(rng.read_text())["leaf_hashes"] == [leaf_hash(e).hex() for e in ENTRIES[2:5]]
    entries = [a for e in ENTRIES[2:5] for a in ("--entry", e.decode())]
    out = ok("log", "verify", str(rng), "--checkpoint", str(cp_path), "--vkey", vkey, *entries)
    assert out.startswith(f"verified: entries [2, 5) are in {log.origin} at size 7")
    assert "the 3 entries given have the proven leaf hashes" in out

    # Consistency 3 -> 7, both roots from signed checkpoints.
    con = tmp_path / "consistency.json"
    con.write_text(ok("log", "prove", log.url, "consistency", "3", "--json"))
    con_doc = json.loads(con.read_text())
    assert (con_doc["size1"], con_doc["size2"], con_doc["root1"]) == (3, 7, cp3.root_hash.hex())
    args = ("log", "verify", str(con), "--checkpoint", str(cp_path), "--vkey", vkey)
    signed = ok_json(*args, "--old-checkpoint", str(tmp_path / "cp3.txt"))
    assert (signed["verified"], signed["size1"], signed["root1_signed"]) == (True, 3, True)
    claimed = ok(*args)
    assert "root1" in claimed
    assert "--old-checkpoint" in claimed

    # Proofs at an earlier size, against the checkpoint at that size.
    old = tmp_path / "old.json"
    old.write_text(ok("log", "prove", log.url, "inclusion", "1", "--size", "3", "--json"))
    ok("log", "verify", str(old), "--checkpoint", str(tmp_path / "cp3.txt"), "--vkey", vkey)
    expected = MemoryTree.from_data(ENTRIES).consistency_proof(3, 7)
    assert con_doc["proof"] == [h.hex() for h in expected]
    human = ok("log", "prove", log.url, "consistency", "3", "7")
    assert f"proof ({len(expected)} hashes):" in human
    assert all(h.hex() in human for h in expected)


def test_missing_log_and_bad_urls(tmp_path: Path) -> None:
    missing = tmp_path / "missing.db"
    for args in (
        ("append", str(missing), "x"),
        ("checkpoint", str(missing)),
        ("prove", str(missing), "inclusion", "0"),
    ):
        err = refused(1, "log", *args)
        assert "no log in" in err
        assert "accord log init" in err
    assert not missing.exists()  # looking did not create it

    err = refused(2, "log", "init", "mysql://db.example/log")
    assert "unsupported database URL scheme" in err
    assert "unsupported database URL scheme" in refused(2, "log", "append", "mysql://x/y", "z")
    assert "file path" in refused(2, "log", "append", ":memory:", "z")
    err = refused(2, "log", "init", "postgresql://postgres@127.0.0.1:1/test")
    assert "--origin" in err
    closed = "postgresql://postgres:s3cret@127.0.0.1:1/test"  # nothing listens on port 1
    err = refused(
        3, "log", "init", closed, "--origin", "accord.example/x", "--key", str(tmp_path / "k")
    )
    assert "error (store): postgresql" in err
    assert "s3cret" not in err  # a URL's password is never echoed
    assert not (tmp_path / "k").exists()
    err = refused(2, "log", "init", str(tmp_path / "no" / "such.db"))
    assert "cannot create key file" in err
    assert not (tmp_path / "no").exists()
    err = refused(2, "log", "init", str(tmp_path / "bad.db"), "--origin", "has space")
    assert "log origin" in err
    assert not (tmp_path / "bad.db").exists()
    assert not (tmp_path / "bad.db.key").exists()


@pytest.mark.postgres
def test_postgres_init_needs_key_file(tmp_path: Path) -> None:
    from tests.conftest import drop_schema, postgres_url

    url = postgres_url()
    try:
        err = refused(2, "log", "init", url, "--origin", "accord.example/pg")
        assert "--key FILE" in err
        err = refused(1, "log", "append", url, "x")  # nothing was created
        assert "no log in the PostgreSQL database" in err
    finally:
        drop_schema(url)
