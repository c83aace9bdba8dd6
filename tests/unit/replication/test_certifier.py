"""The certifier over a real SQLite database: receipts in, certificates out, final forever."""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest

from accord.errors import ConflictError
from accord.node.schema import NODE_STEPS
from accord.quorum import (
    Certificate,
    Receipt,
    SignedBatch,
    SignedReceipt,
    member_trust_sets,
    sign_batch,
    verify_certificate,
)
from accord.replication import (
    FINAL,
    RECORD,
    REPLICATION_STEPS,
    Certifier,
    Outbox,
    Placement,
    Tracked,
)
from accord.store.database import Database
from accord.store.projection import PROJECTION_STEPS
from tests.unit.quorum.fixtures import P1, P2, consortium, log_key, origin

C = consortium()  # cornell, nyu, mskcc: a majority of 2
LOOKUP = member_trust_sets(C)
PLACEMENT = Placement.of({P1: C.trust})
NOW = [1_000_000]


def _clock() -> int:
    NOW[0] += 1
    return NOW[0]


def _record(n: int) -> bytes:
    return hashlib.sha256(b"record %d" % n).digest()


def _db(tmp_path: Path, name: str = "cornell") -> Database:
    db = Database.open(str(tmp_path / f"{name}.db"))
    db.migrate("node", NODE_STEPS)
    db.migrate("projection", PROJECTION_STEPS)
    db.migrate("replication", REPLICATION_STEPS)
    return db


def _hold(db: Database, record: bytes, index: int, org: str = "cornell") -> None:
    """A record row and its projection row, as the planner writes them (pending)."""
    with db.transaction() as tx:
        tx.execute(
            "INSERT INTO records (hash, log_index, schema, org, src, log_ts, event_ts,"
            " principal, status) VALUES (?, ?, 'ehr.access', ?, ?, ?, 1, NULL, 'pending')",
            (record, index, org, f"{org}/ehr", 1000 + index),
        )
        tx.execute(
            "INSERT INTO record_status VALUES (?, 'ehr.access', ?, 1, ?, ?, 'pending')",
            (record.hex(), org, 1000 + index, index),
        )


def _status(db: Database, record: bytes) -> tuple[str, str]:
    a = db.fetchone("SELECT status FROM records WHERE hash = ?", (record,))
    b = db.fetchone("SELECT status FROM record_status WHERE record = ?", (record.hex(),))
    assert a is not None
    assert b is not None
    return str(a[0]), str(b[0])


def _receipts(
    org: str, records: list[bytes], principals: tuple[str, ...] = (P1,)
) -> list[SignedReceipt]:
    rs = [Receipt(r, org, origin(org), 7 + i, 1000 + i, principals) for i, r in enumerate(records)]
    return sign_batch(rs, org, origin(org), _clock(), log_key(org)).signed_receipts()


def _tracked(tmp_path: Path, n: int = 3) -> tuple[Database, Certifier, Outbox, list[bytes]]:
    db = _db(tmp_path)
    records = [_record(i) for i in range(n)]
    for i, r in enumerate(records):
        _hold(db, r, i)
    certifier = _certifier(db)
    with db.transaction() as tx:
        certifier.track(tx, [Tracked(r, i, 1000 + i, PLACEMENT) for i, r in enumerate(records)])
    return db, certifier, Outbox(db, _clock), records


def _sign_own(receipts: list[Receipt]) -> SignedBatch:
    return sign_batch(receipts, "cornell", origin("cornell"), _clock(), log_key("cornell"))


def _certifier(db: Database, org: str = "cornell") -> Certifier:
    return Certifier(db, C, org, LOOKUP, _clock, sign=_sign_own if org == "cornell" else None)


def test_a_record_becomes_final_at_the_threshold_and_stays_final(tmp_path: Path) -> None:
    db, _, outbox, records = _tracked(tmp_path)
    for org in ("nyu", "mskcc"):
        assert outbox.due(org, RECORD, 10) == records  # every other holder
    assert outbox.due("cornell", RECORD, 10) == []  # its own receipt is signed when needed
    assert {_status(db, r) for r in records} == {("pending", "pending")}

    restarted = _certifier(db)  # state rebuilt from the database
    nyu = restarted.accept("nyu", _receipts("nyu", records[:2]))
    assert nyu.finalized == records[:2]  # cornell's own receipt + nyu's
    for i, r in enumerate(records[:2]):
        assert _status(db, r) == ("final", "final")
        text = restarted.certificate(r)
        assert text is not None
        cert = Certificate.parse(text)
        verify_certificate(cert, C, LOOKUP, principals=[P1])
        assert cert.signers == {"cornell", "nyu"}
        own = next(s.receipt for s in cert.receipts if s.org == "cornell")
        assert (own.index, own.log_ts, own.principals) == (i, 1000 + i, (P1,))
    assert _status(db, records[2]) == ("pending", "pending")
    assert restarted.certificate(records[2]) is None
    assert restarted.placements(records) == {records[2]: (2, PLACEMENT)}
    assert outbox.due("nyu", FINAL, 10) == records[:2]  # nyu answered: it gets the certificate
    assert outbox.due("mskcc", FINAL, 10) == []  # mskcc has not answered the record yet
    assert outbox.due("mskcc", RECORD, 10) == records

    before = [restarted.certificate(r) for r in records[:2]]
    late = restarted.accept("mskcc", _receipts("mskcc", records))
    assert late.answered == records
    assert late.finalized == [records[2]]  # cornell + mskcc
    assert [restarted.certificate(r) for r in records[:2]] == before  # final never changes
    assert outbox.due("mskcc", FINAL, 10) == records  # records[2] became final just now
    assert db.fetchone("SELECT COUNT(*) FROM repl_pending") == (0,)
    assert db.fetchone("SELECT COUNT(*) FROM repl_receipts") == (0,)


def test_without_its_own_receipt_a_node_needs_two_others(tmp_path: Path) -> None:
    """A node that does not sign its own receipts (or is outside the set) waits for two
    members; the first receipt is kept in the database across a restart."""
    db = _db(tmp_path)
    records = [_record(0)]
    _hold(db, records[0], 0)
    certifier = Certifier(db, C, "cornell", LOOKUP, _clock)
    with db.transaction() as tx:
        certifier.track(tx, [Tracked(records[0], 0, 1000, PLACEMENT)])
    assert certifier.accept("nyu", _receipts("nyu", records)).finalized == []
    assert db.fetchone("SELECT COUNT(*) FROM repl_receipts") == (1,)
    restarted = Certifier(db, C, "cornell", LOOKUP, _clock)
    assert restarted.accept("mskcc", _receipts("mskcc", records)).finalized == records
    cert = Certificate.parse(restarted.certificate(records[0]) or "")
    assert cert.signers == {"nyu", "mskcc"}


@pytest.mark.parametrize(
    ("mutation", "make"),
    [
        ("another principal", lambda rs: _receipts("nyu", rs, (P2,))),
        ("one principal more", lambda rs: _receipts("nyu", rs, (P1, P2))),
        (
            "signed by another member's key",
            lambda rs: sign_batch(
                [Receipt(r, "nyu", origin("nyu"), 1, 1, (P1,)) for r in rs],
                "nyu",
                origin("nyu"),
                1,
                log_key("mskcc"),
            ).signed_receipts(),
        ),
        (
            "a receipt moved to another record",
            lambda rs: [
                dataclasses.replace(s, receipt=dataclasses.replace(s.receipt, record=_record(99)))
                for s in _receipts("nyu", rs)
            ],
        ),
    ],
)
def test_bad_receipts_are_refused_and_the_record_waits(
    tmp_path: Path, mutation: str, make: object
) -> None:
    db, certifier, outbox, records = _tracked(tmp_path, 1)
    bad = make(records)  # type: ignore[operator]
    result = certifier.accept("nyu", bad)
    assert result.finalized == []
    if mutation != "a receipt moved to another record":
        assert list(result.refused) == records
        assert outbox.due("nyu", RECORD, 10) == records  # sent again later
    assert _status(db, records[0]) == ("pending", "pending")
    good = certifier.accept("nyu", _receipts("nyu", records))
    assert good.finalized == records


def test_holders_verify_certificates_before_keeping_them(tmp_path: Path) -> None:
    _, certifier, _, records = _tracked(tmp_path, 2)
    certifier.accept("nyu", _receipts("nyu", records))
    certs = [Certificate.parse(certifier.certificate(r) or "") for r in records]

    holder_db = _db(tmp_path, "mskcc")
    _hold(holder_db, records[0], 5)
    holder = _certifier(holder_db, "mskcc")
    lowered = dataclasses.replace(
        certs[0], trust_sets=(dataclasses.replace(certs[0].trust_sets[0], threshold=1),)
    )
    stored, refused = holder.store_certificates(
        "cornell", [(0, lowered), (1, certs[1]), (2, dataclasses.replace(certs[0], org="nyu"))]
    )
    assert stored == 0
    assert [(r.index, r.code) for r in refused] == [
        (0, "verification_failed"),
        (1, "not_found"),
        (2, "forbidden"),
    ]
    assert _status(holder_db, records[0]) == ("pending", "pending")
    assert holder.store_certificates("cornell", [(0, certs[0])]) == (1, [])
    assert _status(holder_db, records[0]) == ("final", "final")
    assert holder.store_certificates("cornell", [(0, certs[0])]) == (1, [])  # idempotent
    assert holder.certificate(records[0]) == certs[0].format()


def test_tracking_a_record_twice_is_a_conflict(tmp_path: Path) -> None:
    db, certifier, _, records = _tracked(tmp_path, 1)
    with pytest.raises(ConflictError), db.transaction() as tx:
        certifier.track(tx, [Tracked(records[0], 0, 1000, PLACEMENT)])
