"""Hostile input to every accord.compliance parser raises only MalformedError; round trips hold
for generated values; working hours agree with a minute-by-minute reference."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.compliance import (
    Alert,
    Directory,
    PatientInfo,
    Person,
    RuleConfig,
    WorkingHours,
    parse_report,
)
from accord.compliance.directory import MAX_END
from accord.compliance.schedule import Shift
from accord.errors import MalformedError

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

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
DIRECTORY = Directory(
    org="nyu",
    people=(Person(id="a", name="A", hours=WorkingHours.parse("mon-fri 07:00-19:00")),),
    patients=(PatientInfo("p", surname="S"),),
    vip=("p",),
).format()
CONFIG = RuleConfig(org="nyu", rules={"vip": {"patients": ["p"]}}).format()


def _only_malformed(parse: Any, data: Any) -> None:
    with contextlib.suppress(MalformedError):
        parse(data)


@FAST
@given(st.binary(max_size=300) | st.text(max_size=300))
def test_random_input(data: bytes | str) -> None:
    _only_malformed(Directory.parse, data)
    _only_malformed(RuleConfig.parse, data)
    _only_malformed(parse_report, data)
    _only_malformed(WorkingHours.parse, data)


@FAST
@given(json_values)
def test_random_json_values(value: Any) -> None:
    _only_malformed(Alert.from_json, value)
    _only_malformed(RuleConfig.from_json, value)
    _only_malformed(Directory.from_json, value)
    _only_malformed(parse_report, json.dumps(value))


@FAST
@given(st.data())
def test_mutated_files(data: st.DataObject) -> None:
    for text in (DIRECTORY, CONFIG):
        i = data.draw(st.integers(0, len(text) - 1))
        j = data.draw(st.integers(i, min(len(text), i + 8)))
        piece = data.draw(st.text(max_size=8))
        mutated = text[:i] + piece + text[j:]
        _only_malformed(Directory.parse, mutated)
        _only_malformed(RuleConfig.parse, mutated)


names = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x7f"),
    min_size=1,
    max_size=12,
)


@FAST
@given(
    st.lists(
        st.builds(
            Person,
            id=names,
            name=st.none() | names,
            surname=st.none() | names,
            address=st.none() | st.lists(names, min_size=1, max_size=3).map("\n".join),
            department=st.none() | names,
            status=st.sampled_from(("active", "leave", "terminated")),
            end=st.none() | st.integers(0, MAX_END - 1),
        ),
        max_size=4,
        unique_by=lambda p: p.id,
    ),
    st.lists(names, max_size=4, unique=True),
)
def test_directory_round_trip(people: list[Person], vip: list[str]) -> None:
    d = Directory(org="nyu", people=tuple(people), vip=tuple(vip))
    assert Directory.parse(d.format()) == d
    assert Directory.parse(json.dumps(d.to_json())) == d


shifts = (
    st.tuples(
        st.frozensets(st.integers(0, 6), min_size=1), st.integers(0, 1439), st.integers(1, 1440)
    )
    .filter(lambda t: t[1] != t[2])
    .map(lambda t: Shift(*t))
)


@FAST
@given(shifts, st.integers(0, 6), st.integers(0, 1439))
def test_shift_against_a_minute_by_minute_reference(shift: Shift, day: int, minute: int) -> None:
    assert Shift.parse(shift.format()) == shift
    covered = set()  # (weekday, minute) pairs the shift covers, walked minute by minute
    for d in shift.days:
        length = (shift.end - shift.start) % 1440 or 1440
        for k in range(length):
            m = shift.start + k
            covered.add(((d + m // 1440) % 7, m % 1440))
    assert shift.contains(day, minute) == ((day, minute) in covered)
