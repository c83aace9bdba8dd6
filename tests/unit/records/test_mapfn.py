"""MapFn v1 (formats.md section 4): families per schema, the late rule, fixed key-id vectors."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path
from typing import Any

import pytest

from accord.errors import UsageError
from accord.records import MAPFN_ID, Statement, index_pairs, is_late, key_id, key_ids, mapfn
from accord.records.mapfn import MAPFN_TABLE
from tests.unit.records.examples import CARE_REF, EXAMPLES, REF, mutate

K = bytes(range(32))
EVENT_TS = 1_710_000_000_000
L = 60_000
ON_TIME = EVENT_TS + L  # event_ts == log_ts - L: not late
LATE = EVENT_TS + L + 1  # event_ts == log_ts - L - 1: late


def _st(schema: str) -> Statement:
    return Statement.from_json(EXAMPLES[schema]())


EXPECTED_PAIRS: dict[str, list[tuple[str, Any]]] = {
    "ehr.access": [
        ("patient", "MPI-0001"),
        ("record", REF),
        ("accessor", ["nyu", "dr-marshall"]),
        ("accessor_org", "nyu"),
    ],
    "ehr.disclosure": [
        ("patient", "MPI-0001"),
        ("record", REF),
        ("record", CARE_REF),
        ("discloser", "cornell"),
        ("recipient", "nyu"),
        ("disclosure", ["cornell", "nyu"]),
    ],
    "ehr.consent": [("patient", "MPI-0001")],
    "ehr.care": [("patient", "MPI-0001")],
    "accord.source": [],
    "accord.decision": [("patient", "MPI-0001")],
}


@pytest.mark.parametrize("schema", sorted(EXAMPLES))
def test_families_per_schema(schema: str) -> None:
    assert index_pairs(_st(schema), ON_TIME, L) == EXPECTED_PAIRS[schema]


@pytest.mark.parametrize("schema", sorted(EXAMPLES))
def test_late_pairs_exactly_when_late(schema: str) -> None:
    st = _st(schema)
    base = EXPECTED_PAIRS[schema]
    assert index_pairs(st, ON_TIME, L) == base
    assert index_pairs(st, LATE, L) == base + [("late", [f, v]) for f, v in base]
    assert index_pairs(st, EVENT_TS, 0) == base  # log_ts == event_ts, zero lateness
    assert index_pairs(st, EVENT_TS - 5, L) == base  # event in the future: not late
    late_keys = mapfn(st, LATE, L, K)
    assert len(late_keys) == 2 * len(set(mapfn(st, ON_TIME, L, K)))
    assert set(mapfn(st, ON_TIME, L, K)) <= set(late_keys)


def test_is_late_boundary() -> None:
    assert not is_late(100, 160, 60)
    assert is_late(99, 160, 60)
    assert not is_late(200, 100, 0)


def test_keys_sorted_unique_and_match_generic_path() -> None:
    for schema in EXAMPLES:
        for log_ts in (ON_TIME, LATE):
            st = _st(schema)
            keys = mapfn(st, log_ts, L, K)
            assert list(keys) == sorted(set(keys))
            assert keys == key_ids(K, index_pairs(st, log_ts, L))


def _hand(family: bytes, value_json: bytes) -> str:
    return hmac.new(K, b"idx/v1" + family + b"\x00" + value_json, hashlib.sha256).hexdigest()


# (family, value, the canonical value bytes written by hand, the key id pinned once)
VECTORS = [
    (
        "patient",
        "MPI-0001",
        b'"MPI-0001"',
        "d8084514bf557a516f3ddb48e5b1a3362d57f0a1f895581a56e129a5fb726daf",
    ),
    (
        "accessor",
        ["nyu", "dr-marshall"],
        b'["nyu","dr-marshall"]',
        "fc51cd23d68e0329b3a6c53ba387a2042acb3c7a8bfc792bbfaf90618ad5819b",
    ),
    (
        "late",
        ["patient", "MPI-0001"],
        b'["patient","MPI-0001"]',
        "9d6fd84c4dcb5ecbe14336950bac706f0fe7704e3c5e3aab812f8ed7059573cb",
    ),
    (
        "disclosure",
        ["cornell", "nyu"],
        b'["cornell","nyu"]',
        "bd276be598e4a883c01019744d20a82dce9b5bdb97eb86d44037d59b4a791a5c",
    ),
    (
        "patient",
        'José "Q"',
        '"José \\"Q\\""'.encode(),
        "c595104ada8c2746b55c2c8308a84184e6971fbbe4e670df0a62df1fd344145e",
    ),
]


@pytest.mark.parametrize(("family", "value", "value_json", "pinned"), VECTORS)
def test_key_id_vectors(family: str, value: Any, value_json: bytes, pinned: str) -> None:
    assert _hand(family.encode(), value_json) == pinned
    assert key_id(K, family, value).hex() == pinned


def test_mapfn_of_example_uses_those_key_ids() -> None:
    keys = mapfn(_st("ehr.access"), LATE, L, K)
    for _family, _value, _json, pinned in VECTORS[:3]:  # patient, accessor, late patient
        assert bytes.fromhex(pinned) in keys
    on_time = mapfn(_st("ehr.access"), ON_TIME, L, K)
    assert bytes.fromhex(VECTORS[2][3]) not in on_time


def test_unicode_patient_fast_path_equals_generic() -> None:
    value = mutate(EXAMPLES["ehr.access"](), ("fields", "patient"), 'José "Q"')
    value["principals"][0]["id"] = 'José "Q"'
    st = Statement.from_json(value)
    keys = mapfn(st, ON_TIME, L, K)
    assert bytes.fromhex(VECTORS[4][3]) in keys
    assert keys == key_ids(K, index_pairs(st, ON_TIME, L))


def test_mapfn_id_is_the_hash_of_the_doc_table() -> None:
    doc = Path(__file__).resolve().parents[3] / "docs" / "formats.md"
    text = doc.read_text(encoding="utf-8")
    section = text.split("## 4. Index keys", 1)[1].split("\n## 5.", 1)[0]
    table = "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))
    assert table == MAPFN_TABLE
    assert hashlib.sha256(b"accord-mapfn/v1\n" + table.encode()).digest() == MAPFN_ID
    assert MAPFN_ID.hex() == "67792d8d94b6158d5fd25982d4d7ffe4e303dc08986a97b69c03444b3268e394"


def test_bad_arguments() -> None:
    st = _st("ehr.access")
    with pytest.raises(UsageError, match="32 bytes"):
        mapfn(st, ON_TIME, L, b"short")
    with pytest.raises(UsageError, match="lateness"):
        mapfn(st, ON_TIME, -1, K)
    with pytest.raises(UsageError, match="unknown index key family"):
        key_id(K, "nope", "x")
