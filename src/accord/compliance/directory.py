"""The org directory: one org's people and what it knows about its patients (docs/compliance.md 3).

The privacy rules of healthcare.md section 9 that compare an accessor with a
patient (family or household, co-worker, VIP, self-access, terminated account,
off-shift) need facts only the org's own HR and registration systems hold. The
org exports them to one TOML (or JSON) file that it keeps to itself; it never
goes on the ledger. ``Directory.parse(text)`` reads it strictly (unknown or
missing keys, wrong types, duplicate ids: ``MalformedError("directory", ...)``
naming the field) and ``Directory.format()`` writes TOML that parses back to an
equal value.

Dates: ``end`` (employment end) is a TOML offset date-time (the instant the
account ended) or a local date (the last day employed: the account ends at the
next local midnight in ``timezone``); in JSON, the same as an RFC 3339 string.
``format()`` writes the instant in UTC. Addresses may have several lines
(``\\n``); they are compared case-, punctuation- and spacing-insensitively.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from types import MappingProxyType
from typing import Any, Final

from accord.compliance.schedule import WorkingHours, load_zone
from accord.encoding import parse_json
from accord.errors import MalformedError, TooLargeError
from accord.records.values import check_id, check_name, check_object, check_org, fail

__all__ = [
    "EMPLOYMENT_STATUSES",
    "MAX_DIRECTORY_BYTES",
    "MAX_END",
    "Directory",
    "PatientInfo",
    "Person",
    "normalize_address",
    "normalize_name",
]

_WHAT: Final = "directory"
#: 10000-01-01T00:00:00Z in ms: employment end dates are before it (RFC 3339 years).
MAX_END: Final = 253_402_300_800_000
MAX_DIRECTORY_BYTES: Final = 32 << 20
EMPLOYMENT_STATUSES: Final = ("active", "leave", "terminated")
_MAX_ADDRESS: Final = 1000
_MAX_IDS: Final = 64
_PUNCT: Final = re.compile(r"[^\w\s]")
_SPACE: Final = re.compile(r"\s+")
_PERSON_KEYS: Final = (
    "id",
    "name",
    "surname",
    "address",
    "department",
    "status",
    "end",
    "hours",
    "patient_ids",
)
_PATIENT_KEYS: Final = ("id", "name", "surname", "address")


def normalize_name(text: str) -> str:
    """Case-folded, single-spaced: how surnames are compared."""
    return _SPACE.sub(" ", text.casefold()).strip()


def normalize_address(text: str) -> str:
    """Case-folded, punctuation removed, whitespace (newlines too) collapsed."""
    return _SPACE.sub(" ", _PUNCT.sub(" ", text.casefold())).strip()


def _address(value: Any, path: str) -> str:
    if type(value) is not str or not 1 <= len(value) <= _MAX_ADDRESS:
        fail(path, f"must be a string of 1..{_MAX_ADDRESS} characters", _WHAT)
    for line in value.split("\n"):
        check_name(line, path, _WHAT)
    return value


@dataclass(frozen=True, slots=True)
class Person:
    """Someone who works for the org (a possible accessor)."""

    id: str
    name: str | None = None
    surname: str | None = None
    address: str | None = None
    department: str | None = None
    status: str = "active"
    end: int | None = None
    hours: WorkingHours | None = None
    patient_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.status not in EMPLOYMENT_STATUSES:
            fail("status", f"must be one of {', '.join(EMPLOYMENT_STATUSES)}", _WHAT)
        if self.end is not None and (type(self.end) is not int or not 0 <= self.end < MAX_END):
            fail("end", "must be a time in ms from 1970 to the end of 9999", _WHAT)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        for key in ("name", "surname", "address", "department"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["status"] = self.status
        if self.end is not None:
            out["end"] = _instant_text(self.end)
        if self.hours is not None:
            out["hours"] = list(self.hours.format())
        if self.patient_ids:
            out["patient_ids"] = list(self.patient_ids)
        return out


@dataclass(frozen=True, slots=True)
class PatientInfo:
    """What the org knows about a patient: for family, household and neighbour checks."""

    id: str
    name: str | None = None
    surname: str | None = None
    address: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id}
        for key in ("name", "surname", "address"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return out


@dataclass(frozen=True, slots=True)
class Directory:
    """One org's directory. Lookups are by id; ``employee_of(patient)`` finds a co-worker."""

    org: str
    timezone: str = "UTC"
    people: tuple[Person, ...] = ()
    patients: tuple[PatientInfo, ...] = ()
    vip: tuple[str, ...] = ()
    _people: Mapping[str, Person] = field(init=False, repr=False, compare=False)
    _patients: Mapping[str, PatientInfo] = field(init=False, repr=False, compare=False)
    _employees: Mapping[str, Person] = field(init=False, repr=False, compare=False)
    _vip: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_org(self.org, "org", _WHAT)
        load_zone(self.timezone, _WHAT)
        people: dict[str, Person] = {}
        employees: dict[str, Person] = {}
        for i, p in enumerate(self.people):
            if p.id in people:
                fail(f"people[{i}].id", f"duplicate person id {p.id!r:.80}", _WHAT)
            people[p.id] = p
            for pid in p.patient_ids:
                if pid in employees:
                    fail(f"people[{i}].patient_ids", f"patient {pid!r:.80} named twice", _WHAT)
                employees[pid] = p
        patients: dict[str, PatientInfo] = {}
        for i, q in enumerate(self.patients):
            if q.id in patients:
                fail(f"patients[{i}].id", f"duplicate patient id {q.id!r:.80}", _WHAT)
            patients[q.id] = q
        if len(set(self.vip)) != len(self.vip):
            fail("vip", "must not repeat a patient id", _WHAT)
        object.__setattr__(self, "_people", MappingProxyType(people))
        object.__setattr__(self, "_patients", MappingProxyType(patients))
        object.__setattr__(self, "_employees", MappingProxyType(employees))
        object.__setattr__(self, "_vip", frozenset(self.vip))

    def person(self, person_id: str) -> Person | None:
        return self._people.get(person_id)

    def patient(self, patient_id: str) -> PatientInfo | None:
        return self._patients.get(patient_id)

    def employee_of(self, patient_id: str) -> Person | None:
        """The person whose own patient id is ``patient_id`` (a co-worker or oneself)."""
        return self._employees.get(patient_id)

    def is_vip(self, patient_id: str) -> bool:
        return patient_id in self._vip

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "org": self.org,
            "timezone": self.timezone,
            "vip": list(self.vip),
            "people": [p.to_json() for p in self.people],
            "patients": [q.to_json() for q in self.patients],
        }

    def format(self) -> str:
        """TOML text; ``Directory.parse(d.format()) == d``."""
        lines = [
            "# Accord org directory (docs/compliance.md section 3): keep it private",
            "version = 1",
            f"org = {_toml(self.org)}",
            f"timezone = {_toml(self.timezone)}",
            f"vip = {_toml(list(self.vip))}",
        ]
        for section, items in (("people", self.people), ("patients", self.patients)):
            for item in items:
                lines += ["", f"[[{section}]]"]
                lines += [f"{k} = {_toml(v)}" for k, v in item.to_json().items()]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str | bytes) -> Directory:
        """TOML, or JSON when the text starts with ``{``; MalformedError("directory", ...)."""
        if isinstance(text, bytes | bytearray):
            if len(text) > MAX_DIRECTORY_BYTES:
                raise TooLargeError(_WHAT, f"larger than {MAX_DIRECTORY_BYTES} bytes")
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedError(_WHAT, "not UTF-8") from None
        if not isinstance(text, str):
            raise MalformedError(_WHAT, "expected text")
        if len(text) > MAX_DIRECTORY_BYTES:
            raise TooLargeError(_WHAT, f"larger than {MAX_DIRECTORY_BYTES} characters")
        if text.lstrip().startswith("{"):
            data = parse_json(text, _WHAT)
        else:
            try:
                data = tomllib.loads(text)
            except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
                raise MalformedError(_WHAT, f"not TOML: {exc}") from None
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: Any) -> Directory:
        check_object(data, "", ("version", "org"), ("timezone", "vip", "people", "patients"), _WHAT)
        if type(data["version"]) is not int or data["version"] != 1:
            fail("version", "must be 1", _WHAT)
        tz = data.get("timezone", "UTC")
        zone = load_zone(tz, _WHAT)
        vip = tuple(_ids(data.get("vip", []), "vip", 1_000_000))
        people = tuple(
            _person(p, f"people[{i}]", zone) for i, p in enumerate(_tables(data, "people"))
        )
        patients = tuple(
            _patient(p, f"patients[{i}]") for i, p in enumerate(_tables(data, "patients"))
        )
        return cls(org=data["org"], timezone=tz, people=people, patients=patients, vip=vip)


def _tables(data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key, [])
    if type(value) is not list:
        fail(key, "must be a list of tables", _WHAT)
    return value


def _ids(value: Any, path: str, limit: int) -> list[str]:
    if type(value) is not list or len(value) > limit:
        fail(path, f"must be a list of at most {limit} ids", _WHAT)
    return [check_id(v, f"{path}[{i}]", _WHAT) for i, v in enumerate(value)]


def _opt(d: dict[str, Any], key: str, path: str) -> str | None:
    if key not in d:
        return None
    if key == "address":
        return _address(d[key], f"{path}.{key}")
    return check_name(d[key], f"{path}.{key}", _WHAT)


def _end(value: Any, path: str, zone: Any) -> int:
    if isinstance(value, str):
        try:
            value = (
                date.fromisoformat(value)
                if len(value) == 10
                else datetime.fromisoformat(value.replace("Z", "+00:00"))
            )
        except ValueError:
            fail(path, "must be a date (YYYY-MM-DD) or an RFC 3339 date-time", _WHAT)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            fail(path, "a date-time needs an offset (e.g. Z or -05:00)", _WHAT)
        ms = (value - _EPOCH) // _MS
    elif isinstance(value, date):  # the last day employed: ends at the next local midnight
        ms = (datetime.combine(value + timedelta(days=1), time(0), tzinfo=zone) - _EPOCH) // _MS
    else:
        fail(path, "must be a date or an offset date-time", _WHAT)
    if not 0 <= ms < MAX_END:
        fail(path, "must be from 1970 to the end of 9999", _WHAT)
    return ms


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MS: Final = timedelta(milliseconds=1)


def _instant_text(ms: int) -> str:
    """RFC 3339 in UTC with milliseconds: exact for every ms (no float on the way)."""
    when = _EPOCH + timedelta(milliseconds=ms)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _person(p: Any, path: str, zone: Any) -> Person:
    check_object(p, path, ("id",), _PERSON_KEYS[1:], _WHAT)
    status = p.get("status", "active")
    if status not in EMPLOYMENT_STATUSES:
        fail(f"{path}.status", f"must be one of {', '.join(EMPLOYMENT_STATUSES)}", _WHAT)
    hours = None
    if "hours" in p:
        try:
            hours = WorkingHours.parse(p["hours"])
        except MalformedError as exc:
            fail(f"{path}.hours", exc.message, _WHAT)
    return Person(
        id=check_id(p["id"], f"{path}.id", _WHAT),
        name=_opt(p, "name", path),
        surname=_opt(p, "surname", path),
        address=_opt(p, "address", path),
        department=_opt(p, "department", path),
        status=status,
        end=_end(p["end"], f"{path}.end", zone) if "end" in p else None,
        hours=hours,
        patient_ids=tuple(_ids(p.get("patient_ids", []), f"{path}.patient_ids", _MAX_IDS)),
    )


def _patient(p: Any, path: str) -> PatientInfo:
    check_object(p, path, ("id",), _PATIENT_KEYS[1:], _WHAT)
    return PatientInfo(
        id=check_id(p["id"], f"{path}.id", _WHAT),
        name=_opt(p, "name", path),
        surname=_opt(p, "surname", path),
        address=_opt(p, "address", path),
    )


def _toml(value: Any) -> str:
    """A TOML value for strings and lists of strings (JSON string escapes are valid TOML)."""
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value, ensure_ascii=False)
