"""Signed statements: sign/verify, body and record hash, strict parsing."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest

from accord.encoding import DOMAINS, canonical
from accord.errors import BadSignatureError, MalformedError, TooLargeError
from accord.records import STATEMENT_DOMAIN, SignedStatement, Statement, sign_statement
from accord.records.values import MAX_INPUT_BYTES
from tests.unit.records.examples import EXAMPLES, OTHER_KEY, SOURCE_KEY


def _signed(schema: str = "ehr.access") -> SignedStatement:
    return sign_statement(Statement.from_json(EXAMPLES[schema]()), SOURCE_KEY)


def test_domain_is_registered() -> None:
    assert STATEMENT_DOMAIN in DOMAINS


@pytest.mark.parametrize("schema", sorted(EXAMPLES))
def test_sign_verify(schema: str) -> None:
    signed = _signed(schema)
    signed.verify(SOURCE_KEY.public_key())
    with pytest.raises(BadSignatureError, match="cornell/ehr"):
        signed.verify(OTHER_KEY.public_key())


def test_signature_covers_domain_and_canonical_statement() -> None:
    signed = _signed()
    value = EXAMPLES["ehr.access"]()
    message = b"accord/statement/v1\n" + canonical(value)
    SOURCE_KEY.public_key().verify(signed.sig, message)  # raises if not
    assert signed.statement.canonical_bytes == canonical(value)


def test_body_and_record_hash() -> None:
    signed = _signed()
    sig = base64.b64encode(signed.sig).decode()
    expected_body = canonical({"statement": EXAMPLES["ehr.access"](), "sig": sig})
    assert signed.body == expected_body
    assert signed.record_hash == hashlib.sha256(expected_body).digest()
    assert signed.record_hash_hex == signed.record_hash.hex()
    assert signed.to_json() == {"statement": EXAMPLES["ehr.access"](), "sig": sig}


def test_tampered_statement_does_not_verify() -> None:
    signed = _signed()
    value = signed.to_json()
    value["statement"]["fields"]["action"] = "D"
    tampered = SignedStatement.from_json(value)
    with pytest.raises(BadSignatureError):
        tampered.verify(SOURCE_KEY.public_key())


def test_one_flipped_signature_bit_does_not_verify() -> None:
    signed = _signed()
    for bit in (0, 100, 511):
        sig = bytearray(signed.sig)
        sig[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(BadSignatureError):
            SignedStatement(signed.statement, bytes(sig)).verify(SOURCE_KEY.public_key())


def test_parse_format_round_trip_and_spacing() -> None:
    signed = _signed()
    assert SignedStatement.parse(signed.format()) == signed
    assert SignedStatement.parse(signed.body) == signed
    pretty = json.dumps(signed.to_json(), indent=2, sort_keys=False)
    again = SignedStatement.parse(pretty)
    assert again.body == signed.body  # same record whatever the spacing
    assert again.record_hash == signed.record_hash


def test_signing_is_deterministic() -> None:
    assert _signed().body == _signed().body


BAD_INPUTS = [
    ("truncated", lambda b: b[:-1], "statement"),
    ("not-json", lambda b: b"hello", "statement"),
    ("not-utf8", lambda b: b"\xff" + b, "statement"),
    ("array", lambda b: b"[]", "statement"),
    ("duplicate-key", lambda b: b'{"sig":"a","sig":"b","statement":{}}', "statement"),
    ("nan", lambda b: b.replace(b'"event_ts":1710000000000', b'"event_ts":NaN'), "statement"),
    ("huge-int", lambda b: b.replace(b"1710000000000", b"9" * 5000), "statement"),
    ("extra-key", lambda b: b[:-1] + b',"x":1}', "statement"),
    ("sig-missing", lambda b: b.replace(b'"sig"', b'"sog"'), "statement"),
    (
        "sig-short",
        lambda b: b'{"sig":"AAAA","statement":' + b.split(b'"statement":', 1)[1],
        "statement",
    ),
    (
        "sig-unpadded",
        lambda b: b.replace(b'==","statement"', b'","statement"'),
        "statement",
    ),
]


@pytest.mark.parametrize(("name", "mutation", "what"), BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_refused(name: str, mutation: object, what: str) -> None:
    body = _signed().body
    data = mutation(body)  # type: ignore[operator]
    assert data != body
    with pytest.raises(MalformedError) as info:
        SignedStatement.parse(data)
    assert info.value.what == what


def test_input_over_limit_is_too_large() -> None:
    with pytest.raises(TooLargeError):
        SignedStatement.parse(b" " * (MAX_INPUT_BYTES + 1))


def test_equality_and_hash_follow_bytes() -> None:
    a, b = _signed(), _signed()
    assert a == b
    assert hash(a) == hash(b)
    assert a.statement == b.statement
    assert hash(a.statement) == hash(b.statement)
    assert a != _signed("ehr.care")


def test_construction_checks_types() -> None:
    signed = _signed()
    with pytest.raises(MalformedError, match="sig"):
        SignedStatement(signed.statement, signed.sig[:63])
    with pytest.raises(MalformedError, match="principals"):
        Statement(
            schema="ehr.access",
            id="x",
            org="cornell",
            source="ehr",
            event_ts=0,
            principals=[],  # type: ignore[arg-type]
            fields={},
        )
