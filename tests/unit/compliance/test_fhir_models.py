"""FHIR plumbing: times, versions, references, codings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accord.compliance.fhir_models import (
    codings,
    detect_version,
    fhir_time_ms,
    load_resource,
    ms_to_instant,
    reference_of,
    split_history,
)
from accord.errors import MalformedError, TooLargeError, UsageError


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp()) * 1000  # type: ignore[misc]


TIMES = [
    ("2021", False, _ms(2021, 1, 1)),
    ("2021", True, _ms(2022, 1, 1) - 1),
    ("2021-02", True, _ms(2021, 3, 1) - 1),
    ("2020-02", True, _ms(2020, 3, 1) - 1),  # leap year
    ("2021-03-02", False, _ms(2021, 3, 2)),
    ("2021-03-02", True, _ms(2021, 3, 3) - 1),
    ("2021-03-02T10:15:00Z", False, _ms(2021, 3, 2, 10, 15)),
    ("2021-03-02T10:15:00Z", True, _ms(2021, 3, 2, 10, 15) + 999),
    ("2021-03-02T10:15:00.5Z", False, _ms(2021, 3, 2, 10, 15) + 500),
    ("2021-03-02T10:15:00.123456789+00:00", True, _ms(2021, 3, 2, 10, 15) + 123),
    ("2011-02-02T05:57:27-08:00", False, _ms(2011, 2, 2, 13, 57, 27)),
    ("1970-01-01T00:00:00Z", False, 0),
]


@pytest.mark.parametrize(("text", "end", "expected"), TIMES)
def test_fhir_time_ms(text: str, end: bool, expected: int) -> None:
    assert fhir_time_ms(text, "t", "X", end=end) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "21",
        "2021-3-02",
        "2021-03-02T10:15Z",
        "2021-03-02T10:15:00",
        "2021-13-01",
        "2021-02-30",
        "1969-12-31",
        "2021-03-02T25:00:00Z",
        20210302,
    ],
)
def test_bad_times(text: object) -> None:
    with pytest.raises(MalformedError) as info:
        fhir_time_ms(text, "recorded", "AuditEvent")
    assert info.value.what == "AuditEvent"


def test_ms_to_instant() -> None:
    assert ms_to_instant(_ms(2021, 3, 2, 10, 15) + 7) == "2021-03-02T10:15:00.007Z"
    assert fhir_time_ms(ms_to_instant(1_614_680_100_123), "t", "X") == 1_614_680_100_123


def test_detect_version_needs_a_known_version() -> None:
    with pytest.raises(UsageError):
        detect_version({"resourceType": "AuditEvent", "code": {}}, "STU3", "AuditEvent")
    assert detect_version({"resourceType": "AuditEvent", "type": {}}, None, "AuditEvent") == "R4"
    assert detect_version({"resourceType": "Consent", "provision": []}, None, "Consent") == "R5"
    assert detect_version({"resourceType": "Consent", "provision": {}}, None, "Consent") == "R4"


def test_reference_of() -> None:
    assert reference_of({"reference": "urn:uuid:abc"}, expect="Patient") == "Patient/abc"
    assert (
        reference_of(
            {"reference": "urn:uuid:abc"},
            expect="Patient",
            references={"urn:uuid:abc": "Group/abc"},
        )
        == "Group/abc"
    )
    assert (
        reference_of({"reference": "https://h.example/fhir/Patient/p1"}, expect=None)
        == "Patient/p1"
    )
    assert (
        reference_of({"reference": "https://h.example/fhir/Patient/p1/_history/2"}, expect=None)
        == "Patient/p1/_history/2"
    )
    assert reference_of({"display": "x"}, expect="Patient") is None
    assert reference_of("Patient/p1", expect=None) is None
    assert split_history("Patient/p1/_history/2") == ("Patient/p1", "2")


def test_codings() -> None:
    concept = {"coding": [{"system": "s", "code": "a"}, {"code": "b"}, {"system": "s"}]}
    assert codings(concept) == [("s", "a"), ("", "b")]
    assert codings([{"system": "t", "code": "c"}, concept]) == [("t", "c"), ("s", "a"), ("", "b")]
    assert codings(None) == []


def test_load_resource() -> None:
    assert load_resource('{"resourceType": "X"}', "X") == {"resourceType": "X"}
    with pytest.raises(MalformedError, match="malformed X"):
        load_resource('{"resourceType": ', "X")
    with pytest.raises(MalformedError, match="JSON object"):
        load_resource(b"[1]", "X")
    with pytest.raises(TooLargeError):
        load_resource(b" " * 300_000, "X")
