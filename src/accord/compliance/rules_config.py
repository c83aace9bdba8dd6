"""The rule catalogue and an org's rule configuration file (docs/compliance.md sections 2 and 4).

Each rule is a declarative entry: id, title, default severity, what fires it
(``access``: evaluated as each access record arrives; ``sweep``: time-dependent,
evaluated by the periodic sweep with ``now``), what it checks, what would
justify an alert, and typed parameters with defaults and bounds. An org
configures them in one TOML file::

    version = 1
    org = "mount-auburn"
    timezone = "America/New_York"
    working_hours = ["mon-fri 07:00-19:00"]

    [rules.volume]
    factor = 4.0

    [rules.after-hours]
    enabled = false

Every key is optional except ``version`` and ``org``; anything unknown is
refused with ``MalformedError("rule config", ...)`` naming the key. Missing
rules and parameters take their defaults, and ``RuleConfig.format()`` writes
them all, so ``RuleConfig.parse(c.format()) == c``.
"""

from __future__ import annotations

import json
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

from accord.compliance.schedule import LocalClock, WorkingHours
from accord.errors import MalformedError, TooLargeError, UsageError
from accord.records.values import check_id, check_org, fail

__all__ = [
    "DEFAULT_WORKING_HOURS",
    "RULES",
    "SEVERITIES",
    "Param",
    "RuleConfig",
    "RuleSettings",
    "RuleSpec",
    "rule_spec",
]

_WHAT: Final = "rule config"
SEVERITIES: Final = ("low", "medium", "high")
_MAX_BYTES: Final = 1 << 20
ParamValue = int | float | bool | tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Param:
    """A rule parameter: ``kind`` is int, float, bool or ids (a list of ids)."""

    name: str
    kind: str
    default: ParamValue
    doc: str
    low: float = 0
    high: float = 1e9


@dataclass(frozen=True, slots=True)
class RuleSpec:
    id: str
    title: str
    severity: str
    trigger: str
    checks: str
    justify: str
    params: tuple[Param, ...] = ()


def _p(
    name: str, kind: str, default: ParamValue, doc: str, low: float = 0, high: float = 1e9
) -> Param:
    return Param(name, kind, default, doc, low, high)


#: The catalogue, in evaluation order (healthcare.md section 9; the issue's part 2).
RULES: Final[tuple[RuleSpec, ...]] = (
    RuleSpec(
        "no-relationship",
        "Access without a treatment relationship or consent",
        "high",
        "access",
        "No ehr.care record (care relationship, care-team membership or encounter) of the "
        "patient at the accessor's org or with the accessor overlaps the access time "
        "(widened by the window), and no permit consent covers the accessor (org, person or "
        "role) and the purpose at that time.",
        "An encounter, referral or care-team assignment not yet recorded; a consent on paper.",
        (
            _p("care_days_before", "int", 7, "care starting this many days after counts", 0, 3650),
            _p(
                "care_days_after",
                "int",
                1095,
                "care that ended this many days before counts (1095: CPT's three-year "
                "established-patient rule)",
                0,
                36500,
            ),
        ),
    ),
    RuleSpec(
        "break-glass",
        "Break-the-glass access",
        "medium",
        "access",
        "Every emergency override (break_glass true, purpose BTG) is reviewed.",
        "A documented emergency: the reason given at the time, or a treatment relationship.",
    ),
    RuleSpec(
        "consent-ended",
        "Access after a consent expired or was revoked",
        "high",
        "access",
        "A permit consent for this accessor and purpose had expired or been revoked at the "
        "access time, and the access named it as its authorization or nothing else covers it.",
        "A new consent or a treatment relationship not yet recorded.",
    ),
    RuleSpec(
        "consent-denied",
        "Access the patient refused",
        "high",
        "access",
        "A deny consent of the patient covers this accessor and purpose at the access time.",
        "An emergency that overrides the restriction, documented.",
    ),
    RuleSpec(
        "purpose-drift",
        "Use beyond the purpose of the disclosure",
        "medium",
        "access",
        "The record reached the accessor's org through disclosures, and none of their "
        "purposes covers (is-a) the purpose of this access.",
        "A new disclosure or authorization for the new purpose.",
    ),
    RuleSpec(
        "unmatched-disclosure",
        "Disclosure half without its other half",
        "high",
        "sweep",
        "An export with no import, or an import with no export, of the same transfer "
        "(transfer_id, discloser, recipient, patient) logged within the grace period.",
        "A transfer that failed and was recorded as such, or a late half.",
        (_p("grace_hours", "int", 24, "hours the other half may take to be logged", 1, 8760),),
    ),
    RuleSpec(
        "same-surname",
        "Accessor and patient share a surname",
        "medium",
        "access",
        "The accessor (in the directory) and the patient have the same surname.",
        "The accessor treats the patient; a common surname.",
    ),
    RuleSpec(
        "same-address",
        "Accessor and patient share an address",
        "high",
        "access",
        "The accessor and the patient have the same address in the directory.",
        "The accessor treats the patient; a shared building.",
    ),
    RuleSpec(
        "self-access",
        "Access to one's own record",
        "medium",
        "access",
        "The patient is the accessor (the directory lists the patient id as theirs).",
        "Policy allows self-service access through this channel.",
    ),
    RuleSpec(
        "coworker",
        "Access to a co-worker's record",
        "medium",
        "access",
        "The patient is an employee of the org (the directory lists the patient id).",
        "The accessor treats the co-worker.",
    ),
    RuleSpec(
        "vip",
        "Access to a VIP patient's record",
        "medium",
        "access",
        "The patient is on the directory's VIP list or this rule's list.",
        "The accessor treats the patient.",
        (_p("patients", "ids", (), "extra VIP patient ids"),),
    ),
    RuleSpec(
        "after-hours",
        "Access outside working hours",
        "low",
        "access",
        "An accessor of this org accessed outside their working hours (the directory's, "
        "else the org's), in the org's time zone.",
        "An on-call shift, overtime or a schedule change.",
    ),
    RuleSpec(
        "terminated-account",
        "Access by a terminated account",
        "high",
        "access",
        "The accessor's employment had ended (end date passed, or status terminated), or "
        "they were on leave.",
        "A late-recorded date, or a sanctioned return.",
        (_p("include_leave", "bool", True, "also alert for people on leave"),),
    ),
    RuleSpec(
        "volume",
        "Access volume far above the accessor's baseline",
        "medium",
        "access",
        "The accessor's accesses on one local day exceed factor x their daily mean over the "
        "previous baseline_days and reach min_count (fires once, on the crossing access).",
        "A mass-casualty event, a chart-review project, a new role.",
        (
            _p("baseline_days", "int", 28, "days of history in the baseline", 1, 366),
            _p("factor", "float", 3.0, "how far above the baseline", 1.0, 1e6),
            _p("min_count", "int", 50, "never alert below this daily count", 1, 1e9),
        ),
    ),
)
_BY_ID: Final = MappingProxyType({r.id: r for r in RULES})
DEFAULT_WORKING_HOURS: Final = WorkingHours.parse(["mon-fri 07:00-19:00"])


@dataclass(frozen=True, slots=True)
class RuleSettings:
    """One rule as an org configured it."""

    enabled: bool
    severity: str
    params: Mapping[str, ParamValue]


def _default_settings(spec: RuleSpec) -> RuleSettings:
    return RuleSettings(
        True, spec.severity, MappingProxyType({p.name: p.default for p in spec.params})
    )


def _value(p: Param, value: Any, path: str) -> ParamValue:
    if p.kind == "bool":
        if type(value) is not bool:
            fail(path, "must be true or false", _WHAT)
        return value
    if p.kind == "ids":
        if not isinstance(value, list | tuple) or len(value) > 100_000:
            fail(path, "must be a list of ids", _WHAT)
        for i, v in enumerate(value):
            check_id(v, f"{path}[{i}]", _WHAT)
        if len(set(value)) != len(value):
            fail(path, "must not repeat an id", _WHAT)
        return tuple(value)
    if p.kind == "int" and type(value) is not int:
        fail(path, "must be an integer", _WHAT)
    if p.kind == "float":
        if type(value) not in (int, float) or not math.isfinite(value):
            fail(path, "must be a number", _WHAT)
        value = float(value)
    if not p.low <= value <= p.high:
        fail(path, f"must be in [{p.low:g}, {p.high:g}], got {value}", _WHAT)
    return value  # type: ignore[no-any-return]


def _settings(spec: RuleSpec, raw: Any, path: str) -> RuleSettings:
    if isinstance(raw, RuleSettings):
        raw = {"enabled": raw.enabled, "severity": raw.severity, **raw.params}
    if not isinstance(raw, Mapping):
        fail(path, "must be a table", _WHAT)
    names = {p.name for p in spec.params}
    for key in raw:
        if key not in ("enabled", "severity") and key not in names:
            fail(f"{path}.{key}", "unknown field", _WHAT)
    enabled = raw.get("enabled", True)
    if type(enabled) is not bool:
        fail(f"{path}.enabled", "must be true or false", _WHAT)
    severity = raw.get("severity", spec.severity)
    if severity not in SEVERITIES:
        fail(f"{path}.severity", f"must be one of {', '.join(SEVERITIES)}", _WHAT)
    params = {
        p.name: _value(p, raw[p.name], f"{path}.{p.name}") if p.name in raw else p.default
        for p in spec.params
    }
    return RuleSettings(enabled, severity, MappingProxyType(params))


@dataclass(frozen=True, slots=True)
class RuleConfig:
    """An org's rule configuration; ``rules`` is completed with defaults on construction."""

    org: str
    timezone: str = "UTC"
    working_hours: WorkingHours = DEFAULT_WORKING_HOURS
    rules: Mapping[str, RuleSettings] = field(default_factory=dict)
    clock: LocalClock = field(init=False, repr=False, compare=False)
    enabled: frozenset[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        check_org(self.org, "org", _WHAT)
        if type(self.working_hours) is not WorkingHours:
            fail("working_hours", "must be WorkingHours", _WHAT)
        for rule_id in self.rules:
            if rule_id not in _BY_ID:
                fail(f"rules.{rule_id}", f"unknown rule; known: {', '.join(_BY_ID)}", _WHAT)
        rules = {
            spec.id: _settings(spec, self.rules[spec.id], f"rules.{spec.id}")
            if spec.id in self.rules
            else _default_settings(spec)
            for spec in RULES
        }
        object.__setattr__(self, "rules", MappingProxyType(rules))
        object.__setattr__(self, "clock", LocalClock.of(self.timezone, _WHAT))
        object.__setattr__(self, "enabled", frozenset(r for r, s in rules.items() if s.enabled))

    def value(self, rule: str, param: str) -> Any:
        """The configured value of one parameter."""
        return self.rules[rule].params[param]

    def severity(self, rule: str) -> str:
        return self.rules[rule].severity

    def to_json(self) -> dict[str, Any]:
        return {
            "version": 1,
            "org": self.org,
            "timezone": self.timezone,
            "working_hours": list(self.working_hours.format()),
            "rules": {
                rule_id: {
                    "enabled": s.enabled,
                    "severity": s.severity,
                    **{k: list(v) if isinstance(v, tuple) else v for k, v in s.params.items()},
                }
                for rule_id, s in self.rules.items()
            },
        }

    def format(self) -> str:
        """TOML text with every rule and parameter written out."""
        data = self.to_json()
        lines = [
            "# Accord rule configuration (docs/compliance.md section 4)",
            "version = 1",
            f"org = {_toml(self.org)}",
            f"timezone = {_toml(self.timezone)}",
            f"working_hours = {_toml(data['working_hours'])}",
        ]
        for rule_id, table in data["rules"].items():
            lines += ["", f"[rules.{rule_id}]"]
            lines += [f"{key} = {_toml(value)}" for key, value in table.items()]
        return "\n".join(lines) + "\n"

    @classmethod
    def parse(cls, text: str | bytes) -> RuleConfig:
        """Parse the TOML file strictly; MalformedError("rule config", ...) otherwise."""
        if isinstance(text, bytes | bytearray):
            if len(text) > _MAX_BYTES:
                raise TooLargeError(_WHAT, f"larger than {_MAX_BYTES} bytes")
            try:
                text = bytes(text).decode("utf-8")
            except UnicodeDecodeError:
                raise MalformedError(_WHAT, "not UTF-8") from None
        if not isinstance(text, str):
            raise MalformedError(_WHAT, "expected text")
        if len(text) > _MAX_BYTES:
            raise TooLargeError(_WHAT, f"larger than {_MAX_BYTES} characters")
        try:
            data = tomllib.loads(text)
        except (tomllib.TOMLDecodeError, RecursionError, ValueError) as exc:
            raise MalformedError(_WHAT, f"not TOML: {exc}") from None
        return cls.from_json(data)

    @classmethod
    def from_json(cls, data: Any) -> RuleConfig:
        if not isinstance(data, dict):
            raise MalformedError(_WHAT, "must be a table")
        for key in data:
            if key not in ("version", "org", "timezone", "working_hours", "rules"):
                fail(str(key), "unknown field", _WHAT)
        if data.get("version") != 1 or type(data.get("version")) is not int:
            fail("version", "must be 1", _WHAT)
        if "org" not in data:
            fail("org", "is required", _WHAT)
        hours = DEFAULT_WORKING_HOURS
        if "working_hours" in data:
            try:
                hours = WorkingHours.parse(data["working_hours"])
            except MalformedError as exc:
                fail("working_hours", exc.message, _WHAT)
        rules = data.get("rules", {})
        if not isinstance(rules, dict):
            fail("rules", "must be a table of [rules.<id>] tables", _WHAT)
        return cls(
            org=data["org"],
            timezone=data.get("timezone", "UTC"),
            working_hours=hours,
            rules=rules,
        )


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, int):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def rule_spec(rule_id: str) -> RuleSpec:
    """The catalogue entry of ``rule_id``; UsageError if there is none."""
    spec = _BY_ID.get(rule_id)
    if spec is None:
        raise UsageError(f"unknown rule {rule_id!r:.80}; known: {', '.join(_BY_ID)}")
    return spec
