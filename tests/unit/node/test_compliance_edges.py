"""The small pure pieces at the node's compliance edge: query times, FHIR search dates and
versions, and the verified-label seam."""

from __future__ import annotations

import pytest

from accord.errors import MalformedError, UsageError
from accord.node.compliance_reports import (
    NODE_ANSWER,
    NODE_LOG,
    RecordVerification,
    parse_time,
    verified_label,
)
from accord.node.routes_fhir import date_window, fhir_version

JAN_2021 = 1_609_459_200_000  # 2021-01-01T00:00:00Z
DAY = 86_400_000


def test_parse_time_takes_ms_dates_and_instants() -> None:
    assert parse_time("1609459200000", "from", "UTC") == JAN_2021
    assert parse_time("2021-01-01", "from", "UTC") == JAN_2021
    assert parse_time("2021-01-01T00:00:00Z", "from", "America/New_York") == JAN_2021
    assert parse_time("2021-01-01", "from", "America/New_York") == JAN_2021 + 5 * 3_600_000


@pytest.mark.parametrize("text", ["yesterday", "2021-13-01", "-5", "99999999999999999"])
def test_parse_time_refuses_nonsense(text: str) -> None:
    with pytest.raises(UsageError):
        parse_time(text, "from", "UTC")


@pytest.mark.parametrize(
    ("values", "window"),
    [
        ([], (0, 2**53 - 1)),
        (["ge2021-01-01"], (JAN_2021, 2**53 - 1)),
        (["ge2021-01-01", "lt2021-01-03"], (JAN_2021, JAN_2021 + 2 * DAY)),
        (["2021-01-01"], (JAN_2021, JAN_2021 + DAY)),
        (["eq2021"], (JAN_2021, JAN_2021 + 365 * DAY)),
        (["gt2021-01-01", "le2021-01-02"], (JAN_2021 + DAY, JAN_2021 + 2 * DAY)),
    ],
)
def test_fhir_date_windows(values: list[str], window: tuple[int, int]) -> None:
    assert date_window(values) == window


@pytest.mark.parametrize(
    ("values", "error"),
    [(["sa2021-01-01"], UsageError), (["ge2021-1-1"], MalformedError), (["xx"], UsageError)],
)
def test_fhir_bad_dates(values: list[str], error: type[Exception]) -> None:
    with pytest.raises(error):
        date_window(values)


def test_fhir_version_parameter() -> None:
    assert fhir_version(None) is None
    assert fhir_version("application/fhir+json") is None
    assert fhir_version("application/fhir+json; fhirVersion=4.0") == "R4"
    assert fhir_version("application/fhir+json;fhirversion=5.0") == "R5"
    assert fhir_version('application/fhir+json; fhirVersion="4.0.1"') == "R4"
    with pytest.raises(UsageError, match="not supported"):
        fhir_version("application/fhir+json; fhirVersion=3.0")


def test_verified_labels_come_from_one_seam() -> None:
    assert verified_label("final") == NODE_LOG
    assert verified_label("final", certificate=True) == "certificate"
    assert verified_label("pending") == NODE_ANSWER
    assert verified_label(None) == NODE_ANSWER
    asked: list[bytes] = []
    statuses = {b"a" * 32: "final", b"b" * 32: "pending"}

    def status_of(h: bytes) -> str | None:
        asked.append(h)
        return statuses.get(h)

    label = RecordVerification(status_of, has_certificate=lambda h: h == b"a" * 32)
    assert label(b"a" * 32) == "certificate"
    assert label(b"b" * 32) == NODE_ANSWER
    assert label(b"c" * 32) == NODE_ANSWER
    assert label(b"a" * 32) == "certificate"
    assert asked == [b"a" * 32, b"b" * 32, b"c" * 32]  # memoised per report
