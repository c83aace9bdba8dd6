"""Crypto-shredding end to end with the real pieces: a sealed node directory on disk, a
log of headers in the Merkle core, encrypted bodies. After a shred the shredded bodies are
gone for good, every other body still opens, and the log and its proofs (which hold only
hashes) verify exactly as before."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from accord.encoding import canonical
from accord.errors import ShreddedError
from accord.keys import (
    KEYSTORE_FILE,
    DataKeys,
    MemoryDataKeyStorage,
    Vault,
    create_keystore,
    read_keystore,
    read_share_file,
    write_keystore,
    write_share_files,
)
from accord.merkle import MemoryTree, leaf_hash, verify_consistency, verify_inclusion

PATIENTS = [hashlib.sha256(b"pseudonym %d" % i).digest() for i in range(3)]


def test_shred_one_patient_and_the_log_still_verifies(tmp_path: Path) -> None:
    # keys init: a keystore in the node directory, one share file per custodian
    keystore, shares = create_keystore(
        {"log_key": b"L" * 32, "index_key": b"I" * 32}, name="cornell", threshold=2, shares=3
    )
    write_keystore(tmp_path / KEYSTORE_FILE, keystore)
    share_paths = write_share_files(tmp_path / "custodians", shares)

    # the node starts sealed and two custodians unseal it
    vault = Vault(read_keystore(tmp_path / KEYSTORE_FILE))
    for path in share_paths[1:]:
        vault.submit_share(path.read_text())
    assert not vault.sealed
    keys = DataKeys(MemoryDataKeyStorage(), vault.master_kek, cache_size=64)
    vault.on_seal(keys.forget)

    # ingest: each record's header (holding the body hash) is a leaf; its body encrypted
    tree = MemoryTree()
    stored: list[tuple[bytes, bytes, bytes, bytes]] = []  # patient, record hash, blob, body
    for i in range(12):
        patient = PATIENTS[i % 3]
        if i == 7:  # patient 1 gets a second data key half way
            keys.rotate(patient)
        body = canonical({"statement": {"n": i, "patient": patient.hex()}, "sig": "x"})
        record_hash = hashlib.sha256(body).digest()
        header = canonical({"v": 1, "type": "ehr.access", "body_hash": record_hash.hex()})
        tree.append(leaf_hash(header))
        stored.append((patient, record_hash, keys.encrypt(patient, record_hash, body), body))
    root_before = tree.root()
    proofs = [tree.inclusion_proof(i) for i in range(tree.size)]

    assert keys.shred(PATIENTS[1]) == 2  # versions 1 and 2

    for patient, record_hash, blob, body in stored:
        if patient == PATIENTS[1]:
            with pytest.raises(ShreddedError):
                keys.decrypt(patient, record_hash, blob)
        else:
            assert keys.decrypt(patient, record_hash, blob) == body
    assert tree.root() == root_before
    for i, (_, record_hash, _, _) in enumerate(stored):
        header = canonical({"v": 1, "type": "ehr.access", "body_hash": record_hash.hex()})
        verify_inclusion(i, tree.size, leaf_hash(header), proofs[i], root_before)
    verify_consistency(5, tree.size, tree.consistency_proof(5), tree.root(5), root_before)

    # seal and unseal with a different pair of custodians: still shredded, others readable
    vault.seal()
    vault.unseal_with([read_share_file(share_paths[0]), read_share_file(share_paths[2])])
    patient, record_hash, blob, body = stored[0]
    assert keys.decrypt(patient, record_hash, blob) == body
    patient, record_hash, blob, _ = stored[1]
    with pytest.raises(ShreddedError):
        keys.decrypt(patient, record_hash, blob)
