"""Whole receipt batches (compact wire form) and the memo of verified batch signatures."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, cast

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from accord.encoding import canonical, parse_json
from accord.errors import (
    BadSignatureError,
    MalformedError,
    RootMismatchError,
    UsageError,
    VerificationError,
)
from accord.quorum import (
    SignedBatch,
    VerifiedBatches,
    sign_batch,
    sign_receipts,
    verify_signed_receipt,
)
from tests.unit.quorum.fixtures import P1, P2, log_key, origin, receipt

NYU = log_key("nyu").public_key()
TS = 1_710_000_000_900


def _receipts(n: int) -> list[Any]:
    return [receipt("nyu", bytes([i]) * 32, index=10 + i, log_ts=77 + i) for i in range(n)]


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_a_batch_gives_the_same_receipts_as_sign_receipts(n: int) -> None:
    rs = _receipts(n)
    whole = sign_batch(rs, "nyu", origin("nyu"), TS, log_key("nyu"))
    each = sign_receipts(rs, "nyu", origin("nyu"), TS, log_key("nyu"))
    assert whole.verify(NYU) == each
    for s in whole.signed_receipts():
        assert verify_signed_receipt(s, NYU) == s.receipt


def test_json_round_trip_and_shape() -> None:
    whole = sign_batch(_receipts(3), "nyu", origin("nyu"), TS, log_key("nyu"))
    d = whole.to_json()
    assert set(d) == {"batch", "sig", "receipts"}
    assert [r["index"] for r in d["receipts"]] == [10, 11, 12]
    assert SignedBatch.from_json(parse_json(canonical(d))) == whole


WHOLE = sign_batch(_receipts(4), "nyu", origin("nyu"), TS, log_key("nyu"))

TAMPERED: list[tuple[str, Callable[[], SignedBatch], type[VerificationError]]] = [
    (
        "receipts swapped",
        lambda: dataclasses.replace(
            WHOLE, receipts=(WHOLE.receipts[1], WHOLE.receipts[0], *WHOLE.receipts[2:])
        ),
        RootMismatchError,
    ),
    (
        "a receipt's index",
        lambda: dataclasses.replace(
            WHOLE, receipts=(dataclasses.replace(WHOLE.receipts[0], index=0), *WHOLE.receipts[1:])
        ),
        RootMismatchError,
    ),
    (
        "a receipt's principals",
        lambda: dataclasses.replace(
            WHOLE,
            receipts=(
                dataclasses.replace(WHOLE.receipts[0], principals=(P1, P2)),
                *WHOLE.receipts[1:],
            ),
        ),
        RootMismatchError,
    ),
    (
        "a receipt of another org",
        lambda: dataclasses.replace(
            WHOLE,
            receipts=(
                dataclasses.replace(WHOLE.receipts[0], org="mskcc", origin=origin("mskcc")),
                *WHOLE.receipts[1:],
            ),
        ),
        VerificationError,
    ),
    ("signature", lambda: dataclasses.replace(WHOLE, sig=bytes(64)), BadSignatureError),
    (
        "batch ts",
        lambda: dataclasses.replace(WHOLE, batch=dataclasses.replace(WHOLE.batch, ts=1)),
        BadSignatureError,
    ),
]


@pytest.mark.parametrize(("mutation", "tamper", "error"), TAMPERED, ids=[t[0] for t in TAMPERED])
def test_tampered_batches_are_refused(
    mutation: str, tamper: Callable[[], SignedBatch], error: type[VerificationError]
) -> None:
    assert len(WHOLE.verify(NYU)) == 4
    with pytest.raises(error):
        tamper().verify(NYU)


def test_another_members_key_is_refused() -> None:
    with pytest.raises(BadSignatureError):
        WHOLE.verify(log_key("cornell").public_key())


def _with(**changes: object) -> dict[str, object]:
    return {**WHOLE.to_json(), **changes}


MALFORMED: list[tuple[str, object]] = [
    ("not an object", [1]),
    ("extra key", _with(extra=1)),
    ("missing sig", {k: v for k, v in WHOLE.to_json().items() if k != "sig"}),
    ("sig not base64", _with(sig="!!")),
    ("sig short", _with(sig="AAAA")),
    ("no receipts", _with(receipts=[])),
    ("receipts not a list", _with(receipts={})),
    ("count differs", _with(receipts=WHOLE.to_json()["receipts"][:3])),
    ("receipt malformed", _with(receipts=[{"record": "00"}] * 4)),
]


@pytest.mark.parametrize(("mutation", "data"), MALFORMED, ids=[m for m, _ in MALFORMED])
def test_malformed_batches_are_refused(mutation: str, data: object) -> None:
    with pytest.raises(MalformedError):
        SignedBatch.from_json(data)


def test_sign_batch_preconditions() -> None:
    with pytest.raises(UsageError, match="1 to"):
        sign_batch([], "nyu", origin("nyu"), TS, log_key("nyu"))
    with pytest.raises(UsageError, match="must be nyu's"):
        sign_batch([receipt("cornell")], "nyu", origin("nyu"), TS, log_key("nyu"))


class CountingKey:
    """NYU's public key, counting Ed25519 verifications."""

    def __init__(self) -> None:
        self.calls = 0

    def verify(self, sig: bytes, message: bytes) -> None:
        self.calls += 1
        NYU.verify(sig, message)

    def public_bytes_raw(self) -> bytes:
        return NYU.public_bytes_raw()


def test_verified_batches_check_each_signature_once() -> None:
    counting = CountingKey()
    key = cast(Ed25519PublicKey, counting)
    memo = VerifiedBatches()
    signed = WHOLE.verify(key, memo)
    assert counting.calls == 1
    for s in signed:
        verify_signed_receipt(s, key, verified=memo)
    assert counting.calls == 1  # every receipt of the batch: no further Ed25519 verification
    assert len(memo) == 1
    for s in signed:
        verify_signed_receipt(s, key)
    assert counting.calls == 5  # without the memo, one each


def test_verified_batches_never_pass_a_different_signature() -> None:
    memo = VerifiedBatches()
    signed = WHOLE.verify(NYU, memo)[0]
    with pytest.raises(BadSignatureError):
        verify_signed_receipt(dataclasses.replace(signed, sig=bytes(64)), NYU, verified=memo)
    other_ts = dataclasses.replace(signed, batch=dataclasses.replace(signed.batch, ts=1))
    with pytest.raises(BadSignatureError):
        verify_signed_receipt(other_ts, NYU, verified=memo)
    with pytest.raises(BadSignatureError):  # same batch and signature, another key
        verify_signed_receipt(signed, log_key("mskcc").public_key(), verified=memo)
    assert len(memo) == 1  # failures are not remembered


def test_verified_batches_are_bounded() -> None:
    memo = VerifiedBatches(max_entries=2)
    batches = [
        sign_batch(_receipts(1), "nyu", origin("nyu"), TS + i, log_key("nyu")) for i in range(3)
    ]
    for b in batches:
        b.verify(NYU, memo)
    assert len(memo) == 2
    counting = CountingKey()
    key = cast(Ed25519PublicKey, counting)
    batches[2].verify(key, memo)
    assert counting.calls == 0  # still remembered
    batches[0].verify(key, memo)
    assert counting.calls == 1  # forgotten, so verified again
    with pytest.raises(UsageError):
        VerifiedBatches(max_entries=0)
