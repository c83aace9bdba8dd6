"""Refusals of `accord log` (the real command in a subprocess): a tampered proof, the wrong
key, the wrong size, a forged checkpoint and unparsable inputs are refused by `verify` with a
readable diagnosis and a non-zero exit; bad appends, proofs and keys change nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accord.merkle import leaf_hash
from accord.note import Signer
from tests.e2e.test_log_cli import (
    ENTRIES,
    HandLog,
    _checkpoint,
    _init,
    accord,
    new_hand_log,
    ok,
    ok_json,
    refused,
)


@pytest.fixture
def hand_log(db_url: str, tmp_path: Path) -> HandLog:
    return new_hand_log(db_url, tmp_path)


@pytest.fixture
def sqlite_log(tmp_path: Path) -> HandLog:
    """`verify` is offline: which database held the log does not matter to it."""
    url = str(tmp_path / "hand.db")
    return HandLog(url, Path(url + ".key"), (), (), "accord.example/hand")


def _flip(hex_hash: str) -> str:
    return ("1" if hex_hash[0] == "0" else "0") + hex_hash[1:]


def test_refusals_of_verify(sqlite_log: HandLog, tmp_path: Path) -> None:
    log = sqlite_log
    vkey = _init(log)
    ok("log", "append", log.url, *[e.decode() for e in ENTRIES])
    cp_path = tmp_path / "cp.txt"
    _checkpoint(log, cp_path)
    doc = ok_json("log", "prove", log.url, "inclusion", "5")
    proof = tmp_path / "p.json"
    proof.write_text(json.dumps(doc))
    verify = ("log", "verify", str(proof), "--checkpoint", str(cp_path))
    ok(*verify, "--vkey", vkey)

    # A tampered proof hash: the recomputed root is not the signed one.
    tampered = tmp_path / "tampered.json"
    tampered.write_text(json.dumps({**doc, "proof": [_flip(doc["proof"][0]), *doc["proof"][1:]]}))
    err = refused(1, "log", "verify", str(tampered), "--checkpoint", str(cp_path), "--vkey", vkey)
    assert "root_mismatch" in err
    assert "does not lead to the root" in err
    result = accord(
        "log", "verify", str(tampered), "--checkpoint", str(cp_path), "--vkey", vkey, "--json"
    )
    assert result.returncode == 1
    assert json.loads(result.stdout)["verified"] is False
    assert json.loads(result.stdout)["error"]["code"] == "root_mismatch"

    # A tampered leaf (another entry's hash at index 5).
    other_leaf = tmp_path / "leaf.json"
    other_leaf.write_text(json.dumps({**doc, "leaf_hash": leaf_hash(b"alpha").hex()}))
    err = refused(1, "log", "verify", str(other_leaf), "--checkpoint", str(cp_path), "--vkey", vkey)
    assert "root_mismatch" in err

    # The wrong entry given for the proof.
    err = refused(1, *verify, "--vkey", vkey, "--entry", "alpha")
    assert "does not have the proof's leaf hash" in err

    # The wrong key: same log name, another key (and a key of another log).
    impostor = Signer.generate(log.origin).verifier().format()
    err = refused(1, *verify, "--vkey", impostor)
    assert "unknown_key" in err
    assert "no verifiable signatures" in err
    stranger = Signer.generate("accord.example/other").verifier().format()
    assert "unknown_key" in refused(1, *verify, "--vkey", stranger)

    # The wrong size: a proof at size 4 against the checkpoint at size 7.
    small = tmp_path / "small.json"
    small.write_text(ok("log", "prove", log.url, "inclusion", "2", "--size", "4", "--json"))
    err = refused(1, "log", "verify", str(small), "--checkpoint", str(cp_path), "--vkey", vkey)
    assert "size 4" in err
    assert "size 7" in err

    # A tampered checkpoint: its size line changed under the signature.
    note = cp_path.read_text()
    forged = tmp_path / "forged.txt"
    forged.write_text(note.replace("\n7\n", "\n6\n", 1))
    err = refused(1, "log", "verify", str(small), "--checkpoint", str(forged), "--vkey", vkey)
    assert "bad_signature" in err

    # Inputs that do not parse: exit 2.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({**doc, "proof": "nope"}))
    assert "malformed proof" in refused(2, *verify[:2], str(bad), *verify[3:], "--vkey", vkey)
    assert "malformed verifier key" in refused(2, *verify, "--vkey", "not-a-key")
    err = refused(
        1,
        "log",
        "verify",
        str(tmp_path / "none.json"),
        "--checkpoint",
        str(cp_path),
        "--vkey",
        vkey,
    )
    assert "does not exist" in err


def test_refusals_of_the_log(hand_log: HandLog, tmp_path: Path) -> None:
    log = hand_log
    _init(log)
    ok("log", "append", log.url, "a", "b", "c")
    key_text = log.key.read_text()

    # init again: refused, the key file untouched.
    err = refused(2, "log", "init", log.url, *log.init_args, *log.key_args)
    assert "already exists" in err
    assert log.key.read_text() == key_text
    other_key = tmp_path / "other.key"
    err = refused(2, "log", "init", log.url, *log.init_args, "--key", str(other_key))
    assert "already holds the log" in err
    assert not other_key.exists()

    # Bad appends and proofs change nothing.
    assert "at least one entry" in refused(2, "log", "append", log.url, stdin="")
    assert "not in a tree of size 3" in refused(2, "log", "prove", log.url, "inclusion", "9")
    assert "not within" in refused(2, "log", "prove", log.url, "range", "2", "1")
    assert "no consistency proof" in refused(2, "log", "prove", log.url, "consistency", "0")
    assert "beyond the log's size" in refused(
        2, "log", "checkpoint", log.url, *log.key_args, "--size", "4"
    )
    assert ok_json("log", "append", log.url, "d")["first"] == 3

    # A key that is not this log's.
    stranger = tmp_path / "stranger.key"
    stranger.write_text(Signer.generate("accord.example/other").format() + "\n")
    err = refused(2, "log", "checkpoint", log.url, "--key", str(stranger))
    assert "not of" in err
    assert log.origin in err
    err = refused(1, "log", "checkpoint", log.url, "--key", str(tmp_path / "missing.key"))
    assert "does not exist" in err
