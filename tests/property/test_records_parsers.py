"""Property tests for accord.records: hostile input, canonical fast paths, no forged bit flips."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.encoding import canonical
from accord.errors import AccordError, BadSignatureError, MalformedError
from accord.records import (
    Header,
    IndexCommit,
    SignedStatement,
    Statement,
    build_header,
    index_pairs,
    key_ids,
    mapfn,
    parse_leaf,
    sign_statement,
)
from tests.unit.records.examples import EXAMPLES, SOURCE_KEY, mutate

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
K = bytes(range(32))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)

PARSERS = [SignedStatement.parse, Statement.parse, parse_leaf, Header.parse, IndexCommit.parse]


def _only_accord_errors(call: Any, arg: Any) -> None:
    with contextlib.suppress(AccordError):
        call(arg)


@SETTINGS
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_accord_errors(data: bytes) -> None:
    for parse in PARSERS:
        _only_accord_errors(parse, data)


@SETTINGS
@given(json_values)
def test_random_json_raises_only_accord_errors(value: Any) -> None:
    text = json.dumps(value)
    for parse in PARSERS:
        _only_accord_errors(parse, text)
    _only_accord_errors(Statement.from_json, value)
    _only_accord_errors(SignedStatement.from_json, value)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((*prefix, i))
            out.extend(_paths(v, (*prefix, i)))
    return out


@SETTINGS
@given(st.sampled_from(sorted(EXAMPLES)), st.data(), json_values)
def test_random_value_at_any_field_raises_only_accord_errors(
    schema: str, data: st.DataObject, new: Any
) -> None:
    value = EXAMPLES[schema]()
    path = data.draw(st.sampled_from(_paths(value)))
    try:
        st_ = Statement.from_json(mutate(value, path, new))
    except AccordError:
        return
    # accepted: it must still be self-consistent
    assert Statement.parse(st_.format()) == st_
    assert st_.canonical_bytes == canonical(st_.to_json())


ids = st.text(alphabet=st.characters(blacklist_categories=["Cc", "Cs"]), min_size=1, max_size=40)


@SETTINGS
@given(ids, ids, ids, ids, st.integers(min_value=0, max_value=2**53 - 200_000), st.booleans())
def test_fast_canonical_equals_rfc8785(
    patient: str, accessor: str, org_ref: str, name: str, ts: int, late: bool
) -> None:
    value = EXAMPLES["ehr.access"]()
    value["event_ts"] = ts
    value["principals"][0]["id"] = patient
    value["fields"].update(patient=patient, accessor_org=org_ref)
    value["fields"]["accessor"].update(id=accessor, name=name)
    statement = Statement.from_json(value)
    assert statement.canonical_bytes == canonical(value)
    log_ts = ts + (120_000 if late else 0)
    keys = mapfn(statement, log_ts, 60_000, K)
    assert keys == key_ids(K, index_pairs(statement, log_ts, 60_000))
    header = build_header(
        sign_statement(statement, SOURCE_KEY), log_ts=log_ts, index_key=K, lateness_ms=60_000
    )
    assert header.leaf == canonical(header.to_json())
    assert parse_leaf(header.leaf) == header


BODY = sign_statement(Statement.from_json(EXAMPLES["ehr.disclosure"]()), SOURCE_KEY).body


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=0, max_value=len(BODY) * 8 - 1))
def test_no_single_bit_flip_verifies(bit: int) -> None:
    data = bytearray(BODY)
    data[bit // 8] ^= 1 << (bit % 8)
    try:
        signed = SignedStatement.parse(bytes(data))
    except AccordError:
        return
    if signed.body == BODY:  # a flip that canonicalises away (e.g. inside whitespace)
        return
    try:
        signed.verify(SOURCE_KEY.public_key())
    except BadSignatureError:
        return
    raise AssertionError(f"bit {bit} flipped and the statement still verifies")


wide_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**54), max_value=2**54)
    | st.text(alphabet=st.characters(), max_size=12),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.text(alphabet=st.characters(), max_size=6), children, max_size=4)
    ),
    max_leaves=16,
)


@SETTINGS
@given(wide_json)
def test_plain_values_dump_as_rfc8785(value: Any) -> None:
    from accord.records.statement import _dumps, _plain

    if _plain(value):
        assert _dumps(value).encode("utf-8") == canonical(value)


@SETTINGS
@given(wide_json)
def test_fhir_resource_statement_canonical_either_path(extra: Any) -> None:
    resource = {"resourceType": "AuditEvent", "extra": extra}
    value = mutate(
        EXAMPLES["ehr.access"](), ("fields", "fhir"), {"version": "R5", "resource": resource}
    )
    try:
        statement = Statement.from_json(value)
    except AccordError:
        return  # e.g. integers beyond 2**53 or lone surrogates: not JSON-canonicalisable
    assert statement.canonical_bytes == canonical(value)


@pytest.mark.parametrize("leaf", [1, 1.5], ids=["plain", "generic"])
def test_deeply_nested_resource_is_refused_cleanly(leaf: Any) -> None:
    deep: Any = leaf
    for _ in range(5000):
        deep = [deep]
    resource = {"resourceType": "AuditEvent", "x": deep}
    value = mutate(
        EXAMPLES["ehr.access"](), ("fields", "fhir"), {"version": "R5", "resource": resource}
    )
    with pytest.raises(MalformedError, match="nested too deeply"):
        Statement.from_json(value)
