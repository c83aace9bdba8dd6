"""Hostile input to every accord.quorum parser raises only AccordError; round trips hold;
no single-bit change to a certificate or a node request ever verifies."""

from __future__ import annotations

import contextlib
from typing import Any

import pytest
import tomli_w
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from accord.encoding import canonical, parse_json
from accord.errors import AccordError, AuthError, MalformedError
from accord.quorum import (
    BYZANTINE,
    Certificate,
    Consortium,
    Member,
    PrincipalTrustSet,
    Receipt,
    ReceiptBatch,
    ReplayGuard,
    RequestAuth,
    SignedBatch,
    SignedReceipt,
    TrustSet,
    authenticate_request,
    check_vkey,
    public_key,
    record_of_leaf,
    sign_request,
    verify_certificate,
)
from accord.quorum.vkeys import SIGTYPE_ED25519
from tests.unit.quorum.fixtures import P1, RECORD, consortium, log_key, member, signed

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

C = consortium()
CERT = Certificate(
    RECORD, "cornell", (PrincipalTrustSet.of(P1, C.trust),), (signed("cornell"), signed("nyu"))
)
CERT_TEXT = CERT.format().encode()
TOML_TEXT = C.format()

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def _only_accord_errors(fn: Any, *args: Any) -> None:
    with contextlib.suppress(AccordError):
        fn(*args)


# -- random bytes and text to every parser ------------------------------------------------


@FAST
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    _only_accord_errors(Consortium.parse, data)
    _only_accord_errors(Certificate.parse, data)
    _only_accord_errors(record_of_leaf, data)
    _only_accord_errors(lambda d: SignedReceipt.from_json(parse_json(d)), data)
    _only_accord_errors(lambda d: SignedBatch.from_json(parse_json(d)), data)


@FAST
@given(st.text(max_size=300))
def test_random_text(text: str) -> None:
    _only_accord_errors(Consortium.parse, text)
    _only_accord_errors(Certificate.parse, text)
    _only_accord_errors(public_key, text)
    _only_accord_errors(check_vkey, text, SIGTYPE_ED25519)
    _only_accord_errors(
        RequestAuth.from_headers,
        {"Accord-Org": text, "Accord-Ts": text, "Accord-Nonce": text, "Accord-Sig": text},
    )


@FAST
@given(json_values)
def test_random_json(value: Any) -> None:
    for parse in (
        Certificate.from_json,
        SignedReceipt.from_json,
        Receipt.from_json,
        ReceiptBatch.from_json,
        SignedBatch.from_json,
        PrincipalTrustSet.from_json,
    ):
        _only_accord_errors(parse, value)


@FAST
@given(
    st.dictionaries(
        st.sampled_from(["Accord-Org", "accord-ts", "ACCORD-NONCE", "Accord-Sig", "X"]),
        st.text(max_size=100),
        max_size=5,
    )
)
def test_random_headers_raise_auth_errors(headers: dict[str, str]) -> None:
    with pytest.raises(AuthError):
        authenticate_request(headers, C, method="POST", path="/v1/x", body=b"", now=0, guard=None)


# -- random TOML and random changes to a valid file -----------------------------------------

toml_scalars = (
    st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False)
    | st.text(max_size=30)
)
toml_keys = st.sampled_from(
    [
        "version",
        "id",
        "witness",
        "k",
        "trust",
        "model",
        "f",
        "members",
        "org",
        "name",
        "url",
        "origin",
        "log_key",
        "witness_key",
        "address",
        "x",
    ]
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(toml_keys, inner, max_size=4),
    max_leaves=15,
)


@FAST
@given(st.dictionaries(toml_keys, toml_values, max_size=6))
def test_random_toml_documents(data: dict[str, Any]) -> None:
    _only_accord_errors(Consortium.parse, tomli_w.dumps(data))


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for k, v in value.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _paths(v, (*prefix, i))
    return out


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for step in path[:-1]:
        value = value[step]
    value[path[-1]] = new


BASE = C.to_json()
BASE_PATHS = _paths(BASE)


@FAST
@given(st.sampled_from(BASE_PATHS), toml_values)
def test_changing_one_field_of_a_valid_file(path: tuple[Any, ...], new: Any) -> None:
    data = parse_json(canonical(BASE))
    _replace(data, path, new)
    try:
        text = tomli_w.dumps(data)
    except (TypeError, ValueError):
        assume(False)  # tomli_w cannot write this shape (e.g. a table inside an array of values)
        return
    try:
        parsed = Consortium.parse(text)
    except MalformedError:
        return
    assert Consortium.parse(parsed.format()) == parsed


@FAST
@given(st.integers(min_value=0, max_value=len(TOML_TEXT) - 1), st.characters())
def test_changing_one_character_of_a_valid_file(i: int, c: str) -> None:
    text = TOML_TEXT[:i] + c + TOML_TEXT[i + 1 :]
    try:
        parsed = Consortium.parse(text)
    except MalformedError:
        return
    assert Consortium.parse(parsed.format()) == parsed


# -- round trip of random valid consortia ----------------------------------------------------

org_ids = st.from_regex(r"[a-z0-9][a-z0-9-]{0,20}", fullmatch=True)
display = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40
).filter(lambda s: s == s.strip() and s.isprintable())
addresses = st.lists(display, min_size=1, max_size=3).map("\n".join)


@st.composite
def consortia(draw: st.DrawFn) -> Consortium:
    orgs = draw(st.lists(org_ids, min_size=1, max_size=7, unique=True))
    members = []
    for i, org in enumerate(orgs):
        m = member(org, 1000 + i)
        members.append(
            Member(
                org=org,
                name=draw(display),
                url=draw(st.sampled_from(["http", "https"]))
                + f"://{org}.example:{1000 + i}"
                + draw(st.sampled_from(["", "/", "/accord"])),
                origin=m.origin,
                log_key=m.log_key,
                witness_key=m.witness_key,
                address=draw(st.none() | addresses),
            )
        )
    chosen = draw(st.lists(st.sampled_from(orgs), min_size=1, unique=True))
    if draw(st.booleans()):
        trust = TrustSet(tuple(chosen))
    else:
        trust = TrustSet(tuple(chosen), BYZANTINE, draw(st.integers(0, (len(chosen) - 1) // 3)))
    k = draw(st.integers(0, len(orgs) - 1))
    return Consortium(draw(org_ids), tuple(members), k, trust)


@FAST
@given(consortia())
def test_random_consortia_round_trip(c: Consortium) -> None:
    text = c.format()
    again = Consortium.parse(text)
    assert again == c
    assert again.digest == c.digest
    assert again.format() == text


# -- no single-bit change verifies ----------------------------------------------------------


def _verifies(data: bytes) -> bool:
    """Verify as a skeptic who knows only the consortium file (receipts sign the principals,
    so a flip in a principal's name is caught without knowing the record)."""
    try:
        verify_certificate(Certificate.parse(data), C)
    except AccordError:
        return False
    return True


def test_the_unchanged_certificate_verifies() -> None:
    assert _verifies(CERT_TEXT)


def test_no_single_bit_flip_of_a_certificate_verifies() -> None:
    """All of them (about 9,400 flips, under two seconds)."""
    for bit in range(len(CERT_TEXT) * 8):
        data = bytearray(CERT_TEXT)
        data[bit // 8] ^= 1 << (bit % 8)
        assert not _verifies(bytes(data)), f"bit {bit} flipped still verifies"


BODY = b'{"records": []}'
HEADERS = sign_request(
    log_key("nyu"), org="nyu", ts=10**12, nonce="ab" * 16, method="POST", path="/v1/r", body=BODY
)


@FAST
@given(st.sampled_from(sorted(HEADERS)), st.data())
def test_no_single_bit_flip_of_a_request_verifies(name: str, data: st.DataObject) -> None:
    raw = bytearray(HEADERS[name].encode())
    bit = data.draw(st.integers(0, len(raw) * 8 - 1))
    raw[bit // 8] ^= 1 << (bit % 8)
    try:
        value = raw.decode()
    except UnicodeDecodeError:
        return
    with pytest.raises(AuthError):
        authenticate_request(
            {**HEADERS, name: value},
            C,
            method="POST",
            path="/v1/r",
            body=BODY,
            now=10**12,
            guard=ReplayGuard(),
        )
