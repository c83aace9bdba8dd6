"""The rule catalogue and the per-org rule configuration file."""

from __future__ import annotations

import pytest

from accord.compliance import RULES, RuleConfig, WorkingHours
from accord.compliance.rules_config import SEVERITIES, rule_spec
from accord.errors import MalformedError, TooLargeError, UsageError

EXAMPLE = """
version = 1
org = "mount-auburn"
timezone = "America/New_York"
working_hours = ["mon-fri 07:00-19:00", "sat 08:00-12:00"]

[rules.volume]
factor = 4
min_count = 80

[rules.after-hours]
enabled = false

[rules.vip]
severity = "high"
patients = ["Patient/a", "Patient/b"]

[rules.unmatched-disclosure]
grace_hours = 48
"""


def test_catalogue() -> None:
    ids = [r.id for r in RULES]
    assert ids == [
        "no-relationship",
        "break-glass",
        "consent-ended",
        "consent-denied",
        "purpose-drift",
        "unmatched-disclosure",
        "same-surname",
        "same-address",
        "self-access",
        "coworker",
        "vip",
        "after-hours",
        "terminated-account",
        "volume",
    ]
    for r in RULES:
        assert r.severity in SEVERITIES
        assert r.trigger in ("access", "sweep")
        assert r.title
        assert r.checks
        assert r.justify
        for p in r.params:
            assert p.kind in ("int", "float", "bool", "ids")
    assert rule_spec("vip").title == "Access to a VIP patient's record"
    with pytest.raises(UsageError):
        rule_spec("nope")


def test_example_and_defaults() -> None:
    c = RuleConfig.parse(EXAMPLE)
    assert c.org == "mount-auburn"
    assert c.timezone == "America/New_York"
    assert c.working_hours == WorkingHours.parse(["mon-fri 07:00-19:00", "sat 08:00-12:00"])
    assert c.value("volume", "factor") == 4.0
    assert isinstance(c.value("volume", "factor"), float)
    assert c.value("volume", "min_count") == 80
    assert c.value("volume", "baseline_days") == 28  # default
    assert c.value("vip", "patients") == ("Patient/a", "Patient/b")
    assert c.severity("vip") == "high"
    assert c.severity("volume") == "medium"
    assert c.value("unmatched-disclosure", "grace_hours") == 48
    assert c.value("no-relationship", "care_days_after") == 1095
    assert "after-hours" not in c.enabled
    assert "volume" in c.enabled
    assert len(c.enabled) == len(RULES) - 1


def test_format_round_trip() -> None:
    c = RuleConfig.parse(EXAMPLE)
    text = c.format()
    assert RuleConfig.parse(text) == c
    assert RuleConfig.parse(text).format() == text
    assert '[rules.no-relationship]\nenabled = true\nseverity = "high"' in text
    assert RuleConfig.parse('version = 1\norg = "nyu"\n') == RuleConfig(org="nyu")
    assert RuleConfig.from_json(c.to_json()) == c


def test_equal_values_from_different_texts() -> None:
    a = RuleConfig.parse('version = 1\norg = "nyu"\n[rules.volume]\nfactor = 3\n')
    b = RuleConfig(org="nyu")
    assert a == b  # 3 and 3.0, an explicit default and an absent one


def _cfg(body: str) -> str:
    return 'version = 1\norg = "nyu"\n' + body


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("not-toml", "org = = 1", "not TOML"),
        ("no-version", 'org = "nyu"', "version: must be 1"),
        ("version-string", 'version = "1"\norg = "nyu"', "version: must be 1"),
        ("no-org", "version = 1", "org: is required"),
        ("bad-org", 'version = 1\norg = "N Y U"', "org: must be an org id"),
        ("unknown-top", _cfg("colour = 1"), "colour: unknown field"),
        ("bad-zone", _cfg('timezone = "Nowhere/Land"'), "timezone"),
        ("bad-hours", _cfg('working_hours = ["9-5"]'), "working_hours"),
        ("unknown-rule", _cfg("[rules.psychic]\nenabled = true"), "rules.psychic: unknown rule"),
        ("rules-not-table", _cfg("rules = 5"), "rules: must be a table"),
        ("rule-not-table", _cfg("[rules]\nvip = 5"), "rules.vip: must be a table"),
        ("unknown-param", _cfg("[rules.vip]\nfactor = 2"), "rules.vip.factor: unknown field"),
        ("enabled-string", _cfg('[rules.vip]\nenabled = "yes"'), "rules.vip.enabled"),
        ("bad-severity", _cfg('[rules.vip]\nseverity = "urgent"'), "rules.vip.severity"),
        ("int-as-float", _cfg("[rules.volume]\nmin_count = 5.0"), "must be an integer"),
        ("int-as-bool", _cfg("[rules.volume]\nmin_count = true"), "must be an integer"),
        ("int-too-low", _cfg("[rules.volume]\nmin_count = 0"), "must be in [1, 1e+09]"),
        ("float-too-low", _cfg("[rules.volume]\nfactor = 0.5"), "rules.volume.factor: must be in"),
        ("float-inf", _cfg("[rules.volume]\nfactor = inf"), "must be a number"),
        ("float-string", _cfg('[rules.volume]\nfactor = "3"'), "must be a number"),
        ("days-too-many", _cfg("[rules.volume]\nbaseline_days = 400"), "baseline_days"),
        ("grace-zero", _cfg("[rules.unmatched-disclosure]\ngrace_hours = 0"), "grace_hours"),
        ("bool-int", _cfg("[rules.terminated-account]\ninclude_leave = 1"), "true or false"),
        ("ids-string", _cfg('[rules.vip]\npatients = "a"'), "must be a list of ids"),
        ("ids-repeat", _cfg('[rules.vip]\npatients = ["a", "a"]'), "must not repeat"),
        ("ids-empty", _cfg('[rules.vip]\npatients = [""]'), "rules.vip.patients[0]"),
        ("ids-number", _cfg("[rules.vip]\npatients = [1]"), "rules.vip.patients[0]"),
    ],
)
def test_bad_configs(name: str, text: str, message: str) -> None:
    with pytest.raises(MalformedError) as info:
        RuleConfig.parse(text)
    assert info.value.what == "rule config", name
    assert message in info.value.message, info.value.message


def test_size_and_encoding() -> None:
    with pytest.raises(TooLargeError):
        RuleConfig.parse(b"#" * (1 << 20) + b"!")
    with pytest.raises(MalformedError, match="not UTF-8"):
        RuleConfig.parse(b"\xff")
    with pytest.raises(MalformedError):
        RuleConfig.from_json([])


def test_programmatic_construction_is_checked_too() -> None:
    with pytest.raises(MalformedError, match="unknown rule"):
        RuleConfig(org="nyu", rules={"nope": {}})
    with pytest.raises(MalformedError, match="factor"):
        RuleConfig(org="nyu", rules={"volume": {"factor": -1}})
    c = RuleConfig(org="nyu", rules={"volume": RuleConfig(org="nyu").rules["volume"]})
    assert c == RuleConfig(org="nyu")
