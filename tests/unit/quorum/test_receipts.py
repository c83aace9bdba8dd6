"""Receipt batches: signing, verification, and every tampering refused."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import pytest

from accord.encoding import canonical, parse_json
from accord.errors import (
    BadProofError,
    BadSignatureError,
    MalformedError,
    RootMismatchError,
    UsageError,
    VerificationError,
)
from accord.merkle import leaf_hash, root_hash
from accord.quorum import Receipt, ReceiptBatch, SignedReceipt, sign_receipts, verify_signed_receipt
from accord.quorum.receipts import DOMAIN
from tests.unit.quorum.fixtures import P1, P2, RECORD, log_key, origin, receipt

NYU = log_key("nyu").public_key()
TS = 1_710_000_000_900


def _batch(n: int) -> list[SignedReceipt]:
    receipts = [receipt("nyu", bytes([i]) * 32, index=100 + i, log_ts=5000 + i) for i in range(n)]
    return sign_receipts(receipts, "nyu", origin("nyu"), TS, log_key("nyu"))


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17])
def test_every_receipt_of_a_batch_verifies(n: int) -> None:
    batch = _batch(n)
    assert len(batch) == n
    for i, signed in enumerate(batch):
        assert signed.position == i
        assert signed.batch == batch[0].batch  # one batch, one signature
        assert signed.sig == batch[0].sig
        assert verify_signed_receipt(signed, NYU) == signed.receipt
        assert signed.receipt.index == 100 + i


def test_batch_matches_formats_md_section_6() -> None:
    signed = _batch(3)
    receipts = [s.receipt for s in signed]
    batch = signed[0].batch
    leaves = [leaf_hash(canonical(r.to_json())) for r in receipts]
    assert batch.root == root_hash(leaves)
    assert batch.to_json() == {
        "v": 1,
        "org": "nyu",
        "origin": "accord.example/demo/nyu",
        "ts": TS,
        "count": 3,
        "root": root_hash(leaves).hex(),
    }
    assert receipts[0].to_json() == {
        "record": (b"\x00" * 32).hex(),
        "org": "nyu",
        "origin": "accord.example/demo/nyu",
        "index": 100,
        "log_ts": 5000,
        "principals": [P1],
    }
    # The signature covers the domain prefix and the canonical batch, nothing else.
    NYU.verify(signed[0].sig, DOMAIN.encode() + canonical(batch.to_json()))


def _flip(data: bytes, bit: int = 0) -> bytes:
    return bytes([data[0] ^ (1 << bit)]) + data[1:]


SIGNED = _batch(5)[2]
R, B = SIGNED.receipt, SIGNED.batch
OTHER = _batch(5)[3]

# (mutation, tampered signed receipt, error it must raise)
TAMPERED: list[tuple[str, Callable[[], SignedReceipt], type[VerificationError]]] = [
    (
        "receipt record",
        lambda: dataclasses.replace(SIGNED, receipt=dataclasses.replace(R, record=RECORD)),
        RootMismatchError,
    ),
    (
        "receipt index",
        lambda: dataclasses.replace(SIGNED, receipt=dataclasses.replace(R, index=R.index + 1)),
        RootMismatchError,
    ),
    (
        "receipt log_ts",
        lambda: dataclasses.replace(SIGNED, receipt=dataclasses.replace(R, log_ts=0)),
        RootMismatchError,
    ),
    (
        "receipt principals relabelled",
        lambda: dataclasses.replace(SIGNED, receipt=dataclasses.replace(R, principals=(P2,))),
        RootMismatchError,
    ),
    (
        "receipt principal added",
        lambda: dataclasses.replace(SIGNED, receipt=dataclasses.replace(R, principals=(P1, P2))),
        RootMismatchError,
    ),
    (
        "receipt org",
        lambda: dataclasses.replace(SIGNED, receipt=dataclasses.replace(R, org="mskcc")),
        VerificationError,
    ),
    (
        "receipt origin",
        lambda: dataclasses.replace(SIGNED, receipt=dataclasses.replace(R, origin="x/y")),
        VerificationError,
    ),
    (
        "batch ts",
        lambda: dataclasses.replace(SIGNED, batch=dataclasses.replace(B, ts=B.ts + 1)),
        BadSignatureError,
    ),
    (
        "batch count",
        lambda: dataclasses.replace(SIGNED, batch=dataclasses.replace(B, count=6)),
        BadSignatureError,
    ),
    (
        "batch root",
        lambda: dataclasses.replace(SIGNED, batch=dataclasses.replace(B, root=_flip(B.root))),
        BadSignatureError,
    ),
    (
        "batch org and receipt org",
        lambda: dataclasses.replace(
            SIGNED,
            receipt=dataclasses.replace(R, org="mskcc"),
            batch=dataclasses.replace(B, org="mskcc"),
        ),
        BadSignatureError,
    ),
    (
        "signature bit",
        lambda: dataclasses.replace(SIGNED, sig=_flip(SIGNED.sig, 3)),
        BadSignatureError,
    ),
    (
        "signature last byte",
        lambda: dataclasses.replace(SIGNED, sig=SIGNED.sig[:-1] + bytes([SIGNED.sig[-1] ^ 1])),
        BadSignatureError,
    ),
    ("position", lambda: dataclasses.replace(SIGNED, position=3), RootMismatchError),
    ("position beyond count", lambda: dataclasses.replace(SIGNED, position=5), BadProofError),
    (
        "proof hash",
        lambda: dataclasses.replace(SIGNED, proof=(_flip(SIGNED.proof[0]), *SIGNED.proof[1:])),
        RootMismatchError,
    ),
    (
        "proof truncated",
        lambda: dataclasses.replace(SIGNED, proof=SIGNED.proof[:-1]),
        BadProofError,
    ),
    (
        "proof extended",
        lambda: dataclasses.replace(SIGNED, proof=(*SIGNED.proof, SIGNED.proof[0])),
        BadProofError,
    ),
    (
        "proof of another position",
        lambda: dataclasses.replace(SIGNED, proof=OTHER.proof),
        RootMismatchError,
    ),
    (
        "receipt of another position",
        lambda: dataclasses.replace(SIGNED, receipt=OTHER.receipt),
        RootMismatchError,
    ),
]


@pytest.mark.parametrize(("mutation", "tamper", "error"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_tampered_receipts_are_refused(
    mutation: str, tamper: Callable[[], SignedReceipt], error: type[VerificationError]
) -> None:
    assert verify_signed_receipt(SIGNED, NYU) == R  # the untampered one verifies
    with pytest.raises(error):
        verify_signed_receipt(tamper(), NYU)


def test_another_members_key_is_refused() -> None:
    with pytest.raises(BadSignatureError, match="receipt batch signature of nyu"):
        verify_signed_receipt(SIGNED, log_key("cornell").public_key())


def test_json_round_trip() -> None:
    for s in _batch(3):
        text = canonical(s.to_json())
        assert SignedReceipt.from_json(parse_json(text)) == s
    assert Receipt.from_json(R.to_json()) == R
    assert ReceiptBatch.from_json(B.to_json()) == B


def _json() -> dict[str, object]:
    return SIGNED.to_json()


def _with(**changes: object) -> dict[str, object]:
    d = _json()
    d.update(changes)
    return d


def _receipt_with(**changes: object) -> dict[str, object]:
    return _with(receipt={**R.to_json(), **changes})


def _batch_with(**changes: object) -> dict[str, object]:
    return _with(batch={**B.to_json(), **changes})


def _without(key: str) -> dict[str, object]:
    d = _json()
    del d[key]
    return d


MALFORMED: list[tuple[str, object]] = [
    ("not an object", []),
    ("missing sig", _without("sig")),
    ("missing proof", _without("proof")),
    ("extra key", _with(extra=1)),
    ("sig not base64", _with(sig="!!")),
    ("sig too short", _with(sig="AAAA")),
    ("sig a number", _with(sig=5)),
    ("position negative", _with(position=-1)),
    ("position a bool", _with(position=True)),
    ("position a float", _with(position=1.0)),
    ("proof not a list", _with(proof="ab")),
    ("proof hash short", _with(proof=["ab"])),
    ("proof hash upper case", _with(proof=[SIGNED.proof[0].hex().upper()])),
    ("proof too long", _with(proof=[SIGNED.proof[0].hex()] * 65)),
    ("receipt record short", _receipt_with(record="ab")),
    ("receipt record not a string", _receipt_with(record=1)),
    ("receipt org bad", _receipt_with(org="NYU")),
    ("receipt origin with space", _receipt_with(origin="a b")),
    ("receipt index negative", _receipt_with(index=-1)),
    ("receipt index too large", _receipt_with(index=2**53)),
    ("receipt log_ts a string", _receipt_with(log_ts="5")),
    ("receipt extra key", _receipt_with(extra=1)),
    (
        "receipt missing principals",
        {**_json(), "receipt": {k: v for k, v in R.to_json().items() if k != "principals"}},
    ),
    ("receipt principals empty", _receipt_with(principals=[])),
    ("receipt principals not a list", _receipt_with(principals=P1)),
    ("receipt principal not hex", _receipt_with(principals=["patient-0001"])),
    ("receipt principal upper case", _receipt_with(principals=[P1.upper().replace("1", "A")])),
    ("receipt principal short", _receipt_with(principals=[P1[:30]])),
    ("receipt principal a number", _receipt_with(principals=[11])),
    ("receipt principals unsorted", _receipt_with(principals=[P2, P1])),
    ("receipt principals repeated", _receipt_with(principals=[P1, P1])),
    ("receipt principals too many", _receipt_with(principals=[f"{i:032x}" for i in range(65)])),
    ("batch v 2", _batch_with(v=2)),
    ("batch count 0", _batch_with(count=0)),
    ("batch count too large", _batch_with(count=(1 << 16) + 1)),
    ("batch ts negative", _batch_with(ts=-5)),
    ("batch root short", _batch_with(root="00")),
    (
        "batch missing origin",
        {**_json(), "batch": {k: v for k, v in B.to_json().items() if k != "origin"}},
    ),
]


@pytest.mark.parametrize(("mutation", "data"), MALFORMED, ids=[m for m, _ in MALFORMED])
def test_malformed_signed_receipts_are_refused(mutation: str, data: object) -> None:
    with pytest.raises(MalformedError):
        SignedReceipt.from_json(data)


def test_sign_receipts_preconditions() -> None:
    with pytest.raises(UsageError, match="1 to"):
        sign_receipts([], "nyu", origin("nyu"), TS, log_key("nyu"))
    with pytest.raises(UsageError, match="must be nyu's"):
        sign_receipts([receipt("cornell")], "nyu", origin("nyu"), TS, log_key("nyu"))
    with pytest.raises(UsageError, match="must be nyu's"):
        sign_receipts([receipt("nyu")], "nyu", "elsewhere/nyu", TS, log_key("nyu"))


def test_receipt_values_are_checked() -> None:
    with pytest.raises(MalformedError, match="32-byte"):
        Receipt(b"\x00" * 31, "nyu", origin("nyu"), 0, 0, (P1,))
    with pytest.raises(MalformedError, match="index"):
        Receipt(RECORD, "nyu", origin("nyu"), True, 0, (P1,))
    with pytest.raises(MalformedError, match="principals must be 1 to"):
        Receipt(RECORD, "nyu", origin("nyu"), 0, 0, ())
    with pytest.raises(MalformedError, match="principals must be 1 to"):
        Receipt(RECORD, "nyu", origin("nyu"), 0, 0, [P1])  # type: ignore[arg-type]
    with pytest.raises(MalformedError, match="sorted and distinct"):
        Receipt(RECORD, "nyu", origin("nyu"), 0, 0, (P2, P1))
