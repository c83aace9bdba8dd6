"""The org directory file: strict parse, exact round trip, lookups, dates."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from accord.compliance import Directory, PatientInfo, Person, WorkingHours
from accord.compliance.directory import normalize_address, normalize_name
from accord.errors import MalformedError, TooLargeError

EXAMPLE = """
# Mount Auburn's directory
version = 1
org = "mount-auburn"
timezone = "America/New_York"
vip = ["Patient/vip-1"]

[[people]]
id = "Practitioner/8d782c6e-9fe8-397c-8c90-3a0b673ea432"
name = "Dr. Janette321 Fisher429"
surname = "Fisher429"
address = "12 Brattle Street\\nCambridge, MA 02138"
department = "Internal medicine"
hours = ["mon-fri 07:00-19:00", "sat 08:00-12:00"]

[[people]]
id = "Practitioner/night"
name = "N. Owl"
hours = "daily 19:00-07:00"
patient_ids = ["Patient/owl"]

[[people]]
id = "Practitioner/gone"
status = "terminated"
end = 2021-02-28

[[people]]
id = "Practitioner/gone-at-noon"
end = 2021-02-28T12:00:00-05:00

[[patients]]
id = "Patient/d4519c92-d241-b2b2-7360-291d60be699e"
name = "Cris921 Rath779"
surname = "Rath779"
address = "384 Armstrong Vale\\nCambridge, MA 02141"
"""


def _ms(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def test_example_parses() -> None:
    d = Directory.parse(EXAMPLE)
    assert d.org == "mount-auburn"
    assert d.timezone == "America/New_York"
    fisher = d.person("Practitioner/8d782c6e-9fe8-397c-8c90-3a0b673ea432")
    assert fisher is not None
    assert fisher.surname == "Fisher429"
    assert fisher.status == "active"
    assert fisher.end is None
    assert fisher.hours == WorkingHours.parse(["mon-fri 07:00-19:00", "sat 08:00-12:00"])
    owl = d.person("Practitioner/night")
    assert owl is not None
    assert owl.hours == WorkingHours.parse("daily 19:00-07:00")
    assert d.employee_of("Patient/owl") is owl
    assert d.employee_of("Patient/d4519c92-d241-b2b2-7360-291d60be699e") is None
    # a date is the last day employed: the account ends at the next local midnight
    gone = d.person("Practitioner/gone")
    assert gone is not None
    assert gone.end == _ms(2021, 3, 1, 5)
    assert gone.status == "terminated"
    noon = d.person("Practitioner/gone-at-noon")
    assert noon is not None
    assert noon.end == _ms(2021, 2, 28, 17)
    info = d.patient("Patient/d4519c92-d241-b2b2-7360-291d60be699e")
    assert info == PatientInfo(
        "Patient/d4519c92-d241-b2b2-7360-291d60be699e",
        "Cris921 Rath779",
        "Rath779",
        "384 Armstrong Vale\nCambridge, MA 02141",
    )
    assert d.is_vip("Patient/vip-1")
    assert not d.is_vip("Patient/owl")
    assert d.person("nobody") is None
    assert d.patient("nobody") is None


def test_format_parses_back_equal_and_json_too() -> None:
    d = Directory.parse(EXAMPLE)
    text = d.format()
    assert Directory.parse(text) == d
    assert Directory.parse(text).format() == text
    assert Directory.parse(json.dumps(d.to_json())) == d
    assert 'end = "2021-03-01T05:00:00.000Z"' in text


def test_minimal_and_defaults() -> None:
    d = Directory.parse('version = 1\norg = "nyu"\n')
    assert d == Directory(org="nyu")
    assert d.timezone == "UTC"
    assert d.people == ()
    assert d.vip == ()
    assert Directory.parse(d.format()) == d


def test_json_dates() -> None:
    value = {"version": 1, "org": "nyu", "people": [{"id": "a", "end": "2024-01-31"}]}
    d = Directory.parse(json.dumps(value))
    assert d.people[0].end == _ms(2024, 2, 1)
    value["people"][0]["end"] = "2024-01-31T10:00:00Z"  # type: ignore[index]
    assert Directory.parse(json.dumps(value)).people[0].end == _ms(2024, 1, 31, 10)


def test_normalisation() -> None:
    assert normalize_name("  van  der BERG ") == "van der berg"
    assert normalize_address("1 Elm St.,\nBrooklyn,  NY") == normalize_address(
        "1 ELM ST BROOKLYN NY"
    )


def _doc(**change: Any) -> str:
    base: dict[str, Any] = {
        "version": 1,
        "org": "nyu",
        "people": [{"id": "dr-a", "name": "A"}],
        "patients": [{"id": "MPI-1"}],
    }
    for path, value in change.items():
        keys = path.split("__")
        target: Any = base
        for k in keys[:-1]:
            target = target[int(k)] if k.isdigit() else target[k]
        last = keys[-1]
        if value is KeyError:
            del target[int(last) if last.isdigit() else last]
        elif last.isdigit():
            target[int(last)] = value
        else:
            target[last] = value
    return json.dumps(base)


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("not-toml", "org = ", "not TOML"),
        ("not-json", "{org", "malformed directory"),
        ("no-version", _doc(version=KeyError), "version: is required"),
        ("version-2", _doc(version=2), "version: must be 1"),
        ("no-org", _doc(org=KeyError), "org: is required"),
        ("bad-org", _doc(org="NYU"), "org: must be an org id"),
        ("unknown-key", _doc(extra=1), "extra: unknown field"),
        ("bad-zone", _doc(timezone="Mars/Base"), "timezone"),
        ("people-not-list", _doc(people={"id": "x"}), "people: must be a list"),
        ("person-unknown-key", _doc(people__0__phone="555"), "people[0].phone: unknown field"),
        ("person-no-id", _doc(people__0__id=KeyError), "people[0].id: is required"),
        ("person-bad-status", _doc(people__0__status="fired"), "people[0].status: must be one of"),
        ("person-bad-end", _doc(people__0__end="yesterday"), "people[0].end"),
        ("person-naive-end", _doc(people__0__end="2024-01-01T10:00:00"), "needs an offset"),
        ("person-end-number", _doc(people__0__end=5), "people[0].end"),
        ("person-end-1969", _doc(people__0__end="1969-12-31T00:00:00Z"), "from 1970"),
        ("person-bad-hours", _doc(people__0__hours=["9 to 5"]), "people[0].hours"),
        ("person-name-control", _doc(people__0__name="A\u0007"), "people[0].name"),
        ("person-name-empty", _doc(people__0__name=""), "people[0].name"),
        ("person-address-long", _doc(people__0__address="x" * 1001), "people[0].address"),
        ("person-patient-ids-str", _doc(people__0__patient_ids="MPI-1"), "patient_ids"),
        ("duplicate-person", _doc(people=[{"id": "a"}, {"id": "a"}]), "people[1].id: duplicate"),
        ("duplicate-patient", _doc(patients=[{"id": "p"}, {"id": "p"}]), "duplicate patient"),
        (
            "patient-two-employees",
            _doc(people=[{"id": "a", "patient_ids": ["p"]}, {"id": "b", "patient_ids": ["p"]}]),
            "named twice",
        ),
        ("patient-unknown-key", _doc(patients__0__dob="2000-01-01"), "patients[0].dob"),
        ("vip-not-list", _doc(vip="MPI-1"), "vip: must be a list"),
        ("vip-repeated", _doc(vip=["a", "a"]), "vip: must not repeat"),
        ("vip-empty-id", _doc(vip=[""]), "vip[0]"),
    ],
)
def test_bad_directories(name: str, text: str, message: str) -> None:
    with pytest.raises(MalformedError) as info:
        Directory.parse(text)
    assert info.value.what == "directory", name
    assert message in info.value.message, info.value.message


def test_size_and_encoding() -> None:
    with pytest.raises(TooLargeError):
        Directory.parse(b"#" * (32 << 20) + b"!")
    with pytest.raises(MalformedError, match="not UTF-8"):
        Directory.parse(b'version = 1\norg = "\xff"')
    with pytest.raises(MalformedError):
        Directory.parse(None)  # type: ignore[arg-type]


def test_constructed_values_are_checked() -> None:
    with pytest.raises(MalformedError):
        Person(id="a", status="gone")
    with pytest.raises(MalformedError):
        Person(id="a", end=253_402_300_800_000)
    assert Person(id="a", end=253_402_300_799_999).to_json()["end"] == "9999-12-31T23:59:59.999Z"
    with pytest.raises(MalformedError):
        Directory(org="nyu", people=(Person("a"), Person("a")))
    with pytest.raises(MalformedError):
        Directory(org="nyu", timezone="Nowhere/Land")
