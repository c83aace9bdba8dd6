"""Each rule fires on a case that should trigger it and stays silent on a justified one."""

from __future__ import annotations

import pytest

from accord.compliance import Directory, PatientInfo, Person, RuleConfig, WorkingHours, evaluate
from accord.compliance.alerts import alert_id
from accord.errors import UsageError
from tests.unit.compliance.builders import (
    NOON,
    PATIENT,
    REF,
    Log,
    access,
    care,
    consent,
    disclosure,
)
from tests.unit.compliance.history import DAY, HOUR, record_ref

TZ = "America/New_York"


def _config(**rules: dict[str, object]) -> RuleConfig:
    return RuleConfig(org="nyu", timezone=TZ, rules=rules)


def _log(
    *records: object, config: RuleConfig | None = None, directory: Directory | None = None
) -> Log:
    log = Log(directory=directory, config=config)
    for r in records:
        log.add(r)  # type: ignore[arg-type]
    return log


# -- no-relationship -----------------------------------------------------------------


def test_no_relationship_fires_without_care_or_consent() -> None:
    log = _log(access(name="Dr. Ames"))
    assert log.rules() == ["no-relationship"]
    alert = log.fired[0]
    assert alert.severity == "high"
    assert alert.evidence == (log.entries[-1].hash,)
    assert alert.accessor == "dr-a"
    assert alert.org == "nyu"
    assert alert.time == NOON
    assert alert.patient == log.facts.pseudonym(PATIENT)
    assert alert.explanation == (
        f"Dr. Ames (NYU Langone Health) read the record of patient {alert.patient[:12]} at "
        "2024-01-11 12:00 EST with purpose TREAT; no care relationship, encounter or consent "
        "covers NYU Langone Health or Dr. Ames at that time"
    )
    assert "encounter" in alert.justify


@pytest.mark.parametrize(
    ("name", "evidence"),
    [
        ("care at the accessor's org, another clinician", care("dr-z", "nyu")),
        ("care with the accessor at another org", care("dr-a", "mskcc")),
        (
            "care ended two years ago (3-year window)",
            care("dr-a", "nyu", NOON - 800 * DAY, NOON - 730 * DAY),
        ),
        ("care starting in 5 days (7-day lead)", care("dr-a", "nyu", NOON + 5 * DAY)),
        ("consent to the org", consent(("org", "nyu"))),
        ("consent to the person", consent(("person", "dr-a"))),
        ("consent to the role", consent(("role", "ATTPHYS"))),
        ("consent for an ancestor purpose", consent(("org", "nyu"), ("TREAT",))),
    ],
)
def test_no_relationship_silent_when_justified(name: str, evidence: object) -> None:
    log = _log(evidence, access())
    assert log.rules() == [], name


@pytest.mark.parametrize(
    ("name", "evidence", "purpose"),
    [
        (
            "care ended four years ago",
            care("dr-a", "nyu", NOON - 1500 * DAY, NOON - 1461 * DAY),
            "TREAT",
        ),
        ("care starting in 10 days", care("dr-a", "nyu", NOON + 10 * DAY), "TREAT"),
        ("care at another org, another clinician", care("dr-z", "mskcc"), "TREAT"),
        ("consent for another purpose", consent(("org", "nyu"), ("HPAYMT",)), "TREAT"),
        ("consent to another org", consent(("org", "mskcc")), "TREAT"),
        ("consent not started yet", consent(start=NOON + DAY, end=NOON + 9 * DAY), "TREAT"),
        ("deny consent", consent(decision="deny", purposes=("HPAYMT",)), "TREAT"),
        ("consent for a child purpose only", consent(purposes=("ETREAT",)), "TREAT"),
    ],
)
def test_no_relationship_fires_when_nothing_covers(
    name: str, evidence: object, purpose: str
) -> None:
    log = _log(evidence, access(purpose=purpose))
    assert log.rules() == ["no-relationship"], name


def test_no_relationship_child_purpose_is_covered_by_parent_consent() -> None:
    log = _log(consent(purposes=("TREAT",)), access(purpose="ETREAT"))
    assert log.rules() == []


def test_no_relationship_window_is_configurable() -> None:
    old = care("dr-a", "nyu", NOON - 800 * DAY, NOON - 730 * DAY)
    assert _log(old, access()).rules() == []
    tight = _config(**{"no-relationship": {"care_days_after": 30}})
    assert _log(old, access(), config=tight).rules() == ["no-relationship"]


def test_care_logged_after_the_access_does_not_retract_its_alert() -> None:
    log = _log(access())
    assert log.rules() == ["no-relationship"]
    log.add(care("dr-a", "nyu", NOON - DAY), log_ts=NOON + HOUR)  # late evidence
    assert log.rules() == []
    assert [a.rule for a in log.alerts] == ["no-relationship"]


def test_declared_authorization_is_evidence() -> None:
    ref = bytes.fromhex(record_ref("some care record"))
    log = _log(access(authorization=("care", ref)))
    assert log.fired[0].evidence == (log.entries[-1].hash, ref)


# -- break-glass ---------------------------------------------------------------------------


def test_break_glass_fires_every_time() -> None:
    log = _log(care("dr-a", "nyu"), access(purpose="BTG", break_glass=True))
    assert log.rules() == ["break-glass"]
    assert "break-the-glass" in log.fired[0].explanation
    assert log.fired[0].severity == "medium"


def test_break_glass_silent_on_a_normal_access_and_when_disabled() -> None:
    assert _log(care("dr-a", "nyu"), access()).rules() == []
    off = _config(**{"break-glass": {"enabled": False}})
    log = _log(care(), access(purpose="BTG", break_glass=True), config=off)
    assert log.rules() == []


def test_break_glass_alone_when_relationship_rules_are_off() -> None:
    off = _config(
        **{
            "no-relationship": {"enabled": False},
            "consent-ended": {"enabled": False},
            "consent-denied": {"enabled": False},
        }
    )
    log = _log(access(purpose="BTG", break_glass=True), config=off)
    assert log.rules() == ["break-glass"]


def test_break_glass_without_relationship_raises_both_in_catalogue_order() -> None:
    log = _log(access(purpose="BTG", break_glass=True))
    assert log.rules() == ["no-relationship", "break-glass"]


# -- consent-ended ---------------------------------------------------------------------------


def test_consent_expired() -> None:
    log = _log(consent(start=NOON - 20 * DAY, end=NOON - DAY), access())
    assert log.rules() == ["no-relationship", "consent-ended"]
    ended = log.fired[1]
    assert ended.evidence == (log.entries[1].hash, log.entries[0].hash)
    assert "expired at 2024-01-10 12:00 EST" in ended.explanation


def test_consent_revoked_before_the_access() -> None:
    log = Log()
    granted = log.add(consent())
    revoker = log.add(
        consent(revokes=granted.hash, decision="deny", purposes=("HRESCH",), ts=NOON - DAY)
    )
    log.add(access())
    assert log.rules() == ["no-relationship", "consent-ended"]
    assert log.fired[1].evidence == (log.entries[-1].hash, granted.hash, revoker.hash)
    assert "revoked at 2024-01-10 12:00 EST" in log.fired[1].explanation


def test_consent_revoked_after_the_access_still_covers_it() -> None:
    log = Log()
    granted = log.add(consent())
    log.add(consent(revokes=granted.hash, ts=NOON + DAY, purposes=("HRESCH",)), log_ts=NOON - HOUR)
    log.add(access())
    assert log.rules() == []


def test_consent_ended_silent_when_care_covers() -> None:
    log = _log(consent(start=NOON - 20 * DAY, end=NOON - DAY), care("dr-a"), access())
    assert log.rules() == []


def test_consent_ended_fires_when_the_access_relied_on_it() -> None:
    log = Log()
    old = log.add(consent(start=NOON - 20 * DAY, end=NOON - DAY))
    log.add(care("dr-a"))
    log.add(access(authorization=("consent", old.hash)))
    assert log.rules() == ["consent-ended"]


def test_consent_ended_silent_when_another_consent_covers() -> None:
    log = _log(
        consent(start=NOON - 20 * DAY, end=NOON - DAY),
        consent(("person", "dr-a"), start=NOON - DAY, end=NOON + DAY),
        access(),
    )
    assert log.rules() == []


# -- consent-denied --------------------------------------------------------------------------


def test_consent_denied_fires_even_with_care() -> None:
    log = _log(care("dr-a"), consent(("person", "dr-a"), decision="deny"), access())
    assert log.rules() == ["consent-denied"]
    assert log.fired[0].evidence[1] == log.entries[1].hash


@pytest.mark.parametrize(
    "deny",
    [
        consent(("person", "dr-a"), ("HPAYMT",), decision="deny"),
        consent(("person", "dr-b"), decision="deny"),
        consent(("person", "dr-a"), decision="deny", start=NOON - 9 * DAY, end=NOON - DAY),
    ],
    ids=["other-purpose", "other-person", "expired-deny"],
)
def test_consent_denied_silent_when_the_deny_does_not_apply(deny: object) -> None:
    assert _log(care("dr-a"), deny, access()).rules() == []


def test_revoked_deny_no_longer_applies() -> None:
    log = Log()
    log.add(care("dr-a"))
    deny = log.add(consent(("person", "dr-a"), decision="deny"))
    log.add(consent(("person", "dr-a"), revokes=deny.hash, ts=NOON - DAY))
    log.add(access())
    assert log.rules() == []


# -- purpose-drift ---------------------------------------------------------------------------


def test_purpose_drift_fires_when_no_disclosure_covers_the_purpose() -> None:
    log = Log()
    log.add(care("dr-a"))
    exp = log.add(disclosure("export"))
    imp = log.add(disclosure("import", ts=NOON - DAY + HOUR))
    log.add(access(purpose="HPAYMT"))
    assert log.rules() == ["purpose-drift"]
    assert log.fired[0].evidence == (log.entries[-1].hash, exp.hash, imp.hash)
    assert "by disclosure for TREAT, which does not cover HPAYMT" in log.fired[0].explanation


@pytest.mark.parametrize(
    ("name", "purpose", "ref", "when"),
    [
        ("same purpose", "TREAT", REF, NOON),
        ("a child purpose", "BTG", REF, NOON),
        ("another record", "HPAYMT", record_ref("other"), NOON),
        ("access before the disclosure", "HPAYMT", REF, NOON - 2 * DAY),
    ],
)
def test_purpose_drift_silent(name: str, purpose: str, ref: str, when: int) -> None:
    log = Log(config=_config(**{"break-glass": {"enabled": False}}))
    log.add(care("dr-a", start=NOON - 30 * DAY))
    log.add(disclosure("import", ts=NOON - DAY))
    log.add(access(purpose=purpose, ref=ref, ts=when, break_glass=purpose == "BTG"), log_ts=NOON)
    assert log.rules() == [], name


def test_purpose_drift_silent_when_a_second_disclosure_covers() -> None:
    log = _log(
        care("dr-a"),
        disclosure("import"),
        disclosure("import", "t2", purpose="HPAYMT", ts=NOON - HOUR),
        access(purpose="HPAYMT"),
    )
    assert log.rules() == []


def test_purpose_drift_only_for_the_recipient_org() -> None:
    log = _log(care("dr-a", "mskcc"), disclosure("import"), access(org="mskcc", purpose="HPAYMT"))
    assert log.rules() == []


# -- directory rules -------------------------------------------------------------------------


def _staff(**kw: object) -> Person:
    return Person(id="dr-a", name="Dr. Ames", **kw)  # type: ignore[arg-type]


def _dir(
    *people: Person, patients: tuple[PatientInfo, ...] = (), vip: tuple[str, ...] = ()
) -> Directory:
    return Directory(org="nyu", timezone=TZ, people=people, patients=patients, vip=vip)


def test_same_surname() -> None:
    d = _dir(_staff(surname="Smith"), patients=(PatientInfo(PATIENT, surname=" SMITH "),))
    log = _log(care("dr-a"), access(), directory=d)
    assert log.rules() == ["same-surname"]
    assert "surname ' SMITH '" in log.fired[0].explanation
    other = _dir(_staff(surname="Smithe"), patients=(PatientInfo(PATIENT, surname="Smith"),))
    assert _log(care("dr-a"), access(), directory=other).rules() == []
    # the same person id at another org is not this org's employee
    assert _log(care("dr-a", "mskcc"), access(org="mskcc"), directory=d).rules() == []


def test_same_address_normalised() -> None:
    d = _dir(
        _staff(address="1 Elm Street\nBrooklyn"),
        patients=(PatientInfo(PATIENT, address="1 ELM STREET, Brooklyn"),),
    )
    assert _log(care("dr-a"), access(), directory=d).rules() == ["same-address"]
    d2 = _dir(
        _staff(address="2 Elm Street"), patients=(PatientInfo(PATIENT, address="1 Elm Street"),)
    )
    assert _log(care("dr-a"), access(), directory=d2).rules() == []


def test_self_access_and_coworker() -> None:
    d = _dir(_staff(patient_ids=(PATIENT,)), Person(id="dr-b", department="radiology"))
    assert _log(care("dr-a"), access(), directory=d).rules() == ["self-access"]
    log = _log(care("dr-b"), access("dr-b"), directory=d)
    assert log.rules() == ["coworker"]
    assert "co-worker (staff" in log.fired[0].explanation
    d2 = _dir(_staff(), Person(id="dr-b", department="radiology", patient_ids=(PATIENT,)))
    assert "radiology" in _log(care("dr-a"), access(), directory=d2).fired[0].explanation
    assert _log(care(patient="MPI-2"), access(patient="MPI-2"), directory=d).rules() == []


def test_vip_from_directory_or_config() -> None:
    assert _log(care("dr-a"), access(), directory=_dir(vip=(PATIENT,))).rules() == ["vip"]
    cfg = _config(vip={"patients": [PATIENT]})
    assert _log(care("dr-a"), access(), config=cfg).rules() == ["vip"]
    assert _log(care("dr-a"), access()).rules() == []
    # any accessor, not only this org's
    log = _log(care("dr-x", "mskcc"), access("dr-x", "mskcc"), config=cfg)
    assert log.rules() == ["vip"]


@pytest.mark.parametrize(
    ("name", "ts", "person", "org", "fires"),
    [
        ("noon on a Thursday", NOON, None, "nyu", False),
        ("23:00 on a Thursday", NOON + 11 * HOUR, None, "nyu", True),
        ("06:59", NOON + 18 * HOUR + 59 * 60_000, None, "nyu", True),
        ("07:00", NOON + 19 * HOUR, None, "nyu", False),
        ("Saturday noon", NOON + 2 * DAY, None, "nyu", True),
        ("night shift at 23:00", NOON + 11 * HOUR, "daily 19:00-07:00", "nyu", False),
        ("night shift at noon", NOON, "daily 19:00-07:00", "nyu", True),
        ("another org's accessor at 23:00", NOON + 11 * HOUR, None, "mskcc", False),
    ],
)
def test_after_hours(name: str, ts: int, person: str | None, org: str, fires: bool) -> None:
    hours = WorkingHours.parse(person) if person else None
    d = _dir(_staff(hours=hours))
    log = _log(care("dr-a", org, NOON - 9 * DAY), access(org=org, ts=ts), directory=d)
    assert log.rules() == (["after-hours"] if fires else []), name
    if fires:
        expected = person or "mon-fri 07:00-19:00"
        assert f"outside working hours ({expected}, America/New_York)" in log.fired[0].explanation


def test_after_hours_follows_daylight_saving() -> None:
    summer = NOON + 180 * DAY  # 2024-07-09 17:00Z = 13:00 EDT (a Tuesday)
    early = summer + 11 * HOUR  # 04:00Z: 00:00 EDT, would be 23:00 EST
    d = _dir(_staff())
    assert _log(care("dr-a", start=summer - DAY), access(ts=summer), directory=d).rules() == []
    log = _log(care("dr-a", start=summer - DAY), access(ts=early), directory=d)
    assert log.rules() == ["after-hours"]
    assert "2024-07-10 00:00 EDT" in log.fired[0].explanation


@pytest.mark.parametrize(
    ("name", "person", "ts", "fires", "text"),
    [
        ("ended before", {"end": NOON - DAY}, NOON, True, "employment ended at 2024-01-10 12:00"),
        ("ends after", {"end": NOON + DAY}, NOON, False, ""),
        ("ends exactly now", {"end": NOON}, NOON, True, "employment ended"),
        ("terminated, no date", {"status": "terminated"}, NOON, True, "account is terminated"),
        ("on leave", {"status": "leave"}, NOON, True, "on leave"),
        ("active", {}, NOON, False, ""),
    ],
)
def test_terminated_account(
    name: str, person: dict[str, object], ts: int, fires: bool, text: str
) -> None:
    log = _log(care("dr-a"), access(ts=ts), directory=_dir(_staff(**person)))
    assert log.rules() == (["terminated-account"] if fires else []), name
    if fires:
        assert text in log.fired[0].explanation


def test_leave_can_be_excluded() -> None:
    cfg = _config(**{"terminated-account": {"include_leave": False}})
    log = _log(care("dr-a"), access(), directory=_dir(_staff(status="leave")), config=cfg)
    assert log.rules() == []


# -- volume -------------------------------------------------------------------------------


def _day_of(log: Log, day: int, count: int, who: str = "dr-a") -> list[list[str]]:
    fired = []
    for i in range(count):
        log.add(
            access(who, ts=NOON + day * DAY + i * 1000, ref=record_ref(day, i), sid=f"v-{day}-{i}")
        )
        fired.append([r for r in log.rules() if r == "volume"])
    return fired


def test_volume_fires_once_on_the_crossing_access() -> None:
    log = Log(config=_config(**{"no-relationship": {"enabled": False}}))
    for day in range(28):
        _day_of(log, day, 2)
    fired = _day_of(log, 28, 60)
    assert [i for i, f in enumerate(fired) if f] == [49]  # the 50th access (min_count)
    alert = next(a for a in log.alerts if a.rule == "volume")
    assert (
        "50 accesses on 2024-02-08, above 3 x the daily mean of 2.0 over the previous 28 days"
        in (alert.explanation)
    )


def test_volume_silent_at_the_usual_level_and_factor_applies() -> None:
    cfg = _config(**{"no-relationship": {"enabled": False}, "volume": {"baseline_days": 3}})
    log = Log(config=cfg)
    for day in range(3):
        _day_of(log, day, 60)
    assert not any(_day_of(log, 3, 170))  # 170 <= 3 x 60
    fired = _day_of(log, 4, 300)  # baseline: days 1-3, (60 + 60 + 170) / 3 a day; limit 290
    assert [i for i, f in enumerate(fired) if f] == [290]  # the 291st access


def test_volume_counts_per_accessor() -> None:
    log = Log(config=_config(**{"no-relationship": {"enabled": False}}))
    for i in range(60):
        log.add(access(f"dr-{i % 2}", ts=NOON + i * 1000, ref=record_ref(i), sid=f"s{i}"))
    assert not any(a.rule == "volume" for a in log.alerts)  # 30 each: below min_count


# -- unmatched-disclosure (the sweep) ----------------------------------------------------


GRACE = 24 * HOUR


def test_export_without_import_after_the_grace_period() -> None:
    log = Log()
    exp = log.add(disclosure("export", ts=NOON))
    assert log.sweep(NOON + GRACE - 1) == []
    out = log.sweep(NOON + GRACE, since=NOON + GRACE - 1)
    assert [a.rule for a in out] == ["unmatched-disclosure"]
    assert out[0].evidence == (exp.hash,)
    assert out[0].accessor is None
    assert out[0].org == "cornell"
    assert out[0].explanation == (
        "Weill Cornell Medicine logged the export of transfer t1 to NYU Langone Health at "
        "2024-01-11 12:00 EST (TREAT: discharge summary); NYU Langone Health logged no import "
        "by 2024-01-12 12:00 EST"
    )
    assert log.sweep(NOON + 5 * GRACE, since=NOON + GRACE) == []  # judged once


def test_import_within_the_grace_period_matches() -> None:
    log = Log()
    log.add(disclosure("export", ts=NOON))
    log.add(disclosure("import", ts=NOON + HOUR))
    assert log.sweep(NOON + 10 * GRACE) == []


def test_import_logged_after_the_deadline_does_not_match() -> None:
    log = Log()
    log.add(disclosure("export", ts=NOON))
    log.add(disclosure("import", ts=NOON + HOUR), log_ts=NOON + GRACE + 1)
    out = log.sweep(NOON + 10 * GRACE)
    assert [a.evidence[0] for a in out] == [log.entries[0].hash]  # the import was in time: its
    # export was logged before it


def test_import_without_export() -> None:
    log = Log()
    imp = log.add(disclosure("import", ts=NOON))
    out = log.sweep(NOON + GRACE)
    assert [a.evidence for a in out] == [(imp.hash,)]
    assert "NYU Langone Health logged the import of transfer t1 from Weill Cornell" in (
        out[0].explanation
    )
    assert "logged no export" in out[0].explanation


@pytest.mark.parametrize(
    ("name", "other"),
    [
        ("another patient", {"patient": "MPI-2"}),
        ("another recipient", {"dst": "mskcc"}),
        ("another transfer", {"transfer": "t2"}),
    ],
)
def test_halves_of_different_transfers_do_not_match(name: str, other: dict[str, str]) -> None:
    log = Log()
    log.add(disclosure("export", ts=NOON))
    log.add(disclosure("import", ts=NOON + HOUR, **other))  # type: ignore[arg-type]
    assert len(log.sweep(NOON + 10 * GRACE)) == 2, name


def test_grace_period_is_configurable_and_rule_can_be_off() -> None:
    log = Log(config=_config(**{"unmatched-disclosure": {"grace_hours": 1}}))
    log.add(disclosure("export", ts=NOON))
    assert len(log.sweep(NOON + HOUR)) == 1
    off = Log(config=_config(**{"unmatched-disclosure": {"enabled": False}}))
    off.add(disclosure("export", ts=NOON))
    assert off.sweep(NOON + 10 * GRACE) == []


def test_sweep_arguments() -> None:
    log = Log()
    with pytest.raises(UsageError):
        log.sweep(NOON, since=NOON + 1)
    with pytest.raises(UsageError):
        log.sweep(1.5)  # type: ignore[arg-type]


# -- general ---------------------------------------------------------------------------------


def test_only_accesses_raise_alerts_on_arrival() -> None:
    log = _log(care(), consent(decision="deny"), disclosure("export"))
    assert log.alerts == []


def test_directory_and_config_must_be_the_same_org() -> None:
    log = Log(directory=Directory(org="mskcc"))
    with pytest.raises(UsageError, match="directory is 'mskcc'"):
        log.add(access())


def test_alert_ids_are_stable_across_runs() -> None:
    a = _log(access(purpose="BTG", break_glass=True)).alerts
    b = _log(access(purpose="BTG", break_glass=True)).alerts
    assert a == b
    assert [x.id for x in a] == [alert_id(x.rule, x.evidence) for x in a]
    assert len({x.id for x in a}) == 2  # one per rule


def test_failed_access_is_described_as_an_attempt() -> None:
    log = _log(access(outcome="minor-failure", action="U"))
    assert "tried to update (minor-failure)" in log.fired[0].explanation


def test_names_from_the_directory() -> None:
    d = _dir(_staff(), patients=(PatientInfo(PATIENT, name="Sally Smith"),))
    log = _log(access(name="A. Ames (EHR)"), directory=d)
    assert log.fired[0].explanation.startswith(
        "Dr. Ames (NYU Langone Health) read Sally Smith's record at"
    )
    assert log.fired[0].explanation.endswith("covers NYU Langone Health or Dr. Ames at that time")
    log = _log(access(), directory=_dir())
    assert log.fired[0].explanation.endswith("covers NYU Langone Health or dr-a at that time")


def test_evaluate_on_a_statement_entry_directly() -> None:
    log = Log()
    e = log.add(access())
    again = evaluate(e, log.facts, log.config)
    assert again == log.fired
    assert [a.rule for a in again] == ["no-relationship"]
