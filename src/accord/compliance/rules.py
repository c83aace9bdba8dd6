"""Appropriateness rules: evaluate each arriving record, sweep for time-dependent ones, re-run.

The rules are the catalogue of :mod:`accord.compliance.rules_config`
(healthcare.md section 9; docs/compliance.md section 2). Three entry points:

- :func:`evaluate` (``entry``, ``facts``, ``config``): the alerts one arriving
  record raises. Precondition: ``facts`` already holds ``entry`` and every
  record before it in log order, and nothing after it (the node evaluates each
  record against its projection as of the record's log position).
- :func:`sweep` (``facts``, ``config``, ``now``, ``since``): the time-dependent
  rule (unmatched disclosure halves; the other half has the same transfer id,
  discloser, recipient and patient). A half logged at ``log_ts`` is judged once,
  by the sweep whose window ``(since - grace, now - grace]`` holds ``log_ts``,
  and only on halves logged by ``log_ts + grace``: so the verdict does not
  depend on when the sweep runs. Precondition: ``now`` is at most the
  ``log_ts`` any record appended later can get.
- :func:`rerun` (``records``, ``config``, ``now``, ``facts``): replays history
  through a fresh :class:`MemoryFacts` (add, then evaluate, record by record),
  then one sweep: the same alerts as evaluating the records as they arrived
  plus any set of sweeps up to ``now``.

An alert's content depends only on what the rule saw, so the same history gives
equal alerts (equal ids, texts and evidence) however it is replayed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final, cast

from accord.compliance.alerts import Alert, make_alert
from accord.compliance.directory import PatientInfo, Person, normalize_address, normalize_name
from accord.compliance.facts import Entry, Facts
from accord.compliance.memory_facts import MemoryFacts
from accord.compliance.rules_config import RuleConfig, rule_spec
from accord.compliance.schedule import DAY_MS
from accord.errors import UsageError
from accord.records.codes import ACT_REASON_PARENT, ancestors
from accord.records.schemas import Access, Consent, Disclosure

__all__ = ["evaluate", "rerun", "sweep"]

_ANCESTORS: Final = {code: frozenset(ancestors(code)) for code in ACT_REASON_PARENT}
_PAST: Final = {"R": "read", "C": "created", "U": "updated", "D": "deleted", "E": "searched"}
_BASE: Final = {"R": "read", "C": "create", "U": "update", "D": "delete", "E": "search"}
_HOUR_MS: Final = 3_600_000


def _covers(purposes: Iterable[str], purpose: str) -> bool:
    """True if ``purpose`` is-a one of ``purposes`` (healthcare.md section 4)."""
    chain = _ANCESTORS[purpose]
    return any(p in chain for p in purposes)


@lru_cache(maxsize=65_536)
def _name_key(text: str) -> str:
    return normalize_name(text)


@lru_cache(maxsize=65_536)
def _address_key(text: str) -> str:
    return normalize_address(text)


@dataclass(frozen=True, slots=True)
class _Plan:
    """The parameters of one RuleConfig, in the units the rules use."""

    care_before: int
    care_after: int
    grace: int
    include_leave: bool
    vip: frozenset[str]
    baseline_days: int
    factor: float
    min_count: int


_PLANS: dict[int, tuple[RuleConfig, _Plan]] = {}


def _plan(cfg: RuleConfig) -> _Plan:
    hit = _PLANS.get(id(cfg))
    if hit is not None and hit[0] is cfg:
        return hit[1]
    plan = _Plan(
        care_before=cfg.value("no-relationship", "care_days_before") * DAY_MS,
        care_after=cfg.value("no-relationship", "care_days_after") * DAY_MS,
        grace=cfg.value("unmatched-disclosure", "grace_hours") * _HOUR_MS,
        include_leave=cfg.value("terminated-account", "include_leave"),
        vip=frozenset(cfg.value("vip", "patients")),
        baseline_days=cfg.value("volume", "baseline_days"),
        factor=cfg.value("volume", "factor"),
        min_count=cfg.value("volume", "min_count"),
    )
    if len(_PLANS) > 64:
        _PLANS.clear()
    _PLANS[id(cfg)] = (cfg, plan)
    return plan


class _Access:
    """One access being judged: the facts it needs, fetched once, and its description."""

    __slots__ = ("a", "cfg", "e", "facts", "info", "out", "person")

    def __init__(self, e: Entry, a: Access, facts: Facts, cfg: RuleConfig) -> None:
        self.e, self.a, self.facts, self.cfg = e, a, facts, cfg
        directory = facts.directory
        own = a.accessor_org == directory.org
        self.person: Person | None = directory.person(a.accessor.id) if own else None
        self.info: PatientInfo | None = directory.patient(a.patient)
        self.out: list[Alert] = []

    # -- describing ----------------------------------------------------------------

    def name(self) -> str:
        """The accessor's display name: the directory's, the statement's, else the id."""
        a = self.a
        return (self.person.name if self.person else None) or a.accessor.name or a.accessor.id

    def who(self) -> str:
        return f"{self.name()} ({self.facts.party(self.a.accessor_org).name})"

    def whose(self) -> str:
        if self.info is not None and self.info.name:
            return f"{self.info.name}'s record"
        return f"the record of patient {self.facts.pseudonym(self.a.patient)[:12]}"

    def when(self, ts: int | None = None) -> str:
        return self.cfg.clock.format(self.e.event_ts if ts is None else ts)

    def did(self) -> str:
        a = self.a
        if a.outcome == "success":
            verb = _PAST[a.action]
        else:
            verb = f"tried to {_BASE[a.action]} ({a.outcome})"
        return f"{self.who()} {verb} {self.whose()} at {self.when()} with purpose {a.purpose}"

    def alert(self, rule: str, because: str, consulted: Sequence[bytes] = ()) -> None:
        a = self.a
        self.out.append(
            make_alert(
                rule,
                self.cfg.severity(rule),
                patient=self.facts.pseudonym(a.patient),
                accessor=a.accessor.id,
                org=a.accessor_org,
                time=self.e.event_ts,
                explanation=f"{self.did()}; {because}",
                evidence=(self.e.hash, *consulted),
                justify=rule_spec(rule).justify,
            )
        )


def evaluate(entry: Entry, facts: Facts, config: RuleConfig) -> list[Alert]:
    """The alerts ``entry`` raises on arrival (only accesses raise any; see the module doc)."""
    view = entry.view
    if type(view) is not Access:
        return []
    if facts.directory.org != config.org:
        raise UsageError(
            f"the directory is {facts.directory.org!r}'s, the rule config {config.org!r}'s"
        )
    return _access_rules(_Access(entry, view, facts, config), _plan(config))


def _access_rules(x: _Access, plan: _Plan) -> list[Alert]:
    on = x.cfg.enabled
    a, t = x.a, x.e.event_ts
    if "no-relationship" in on or "consent-ended" in on or "consent-denied" in on:
        _relationship(x, plan, on)
    elif "break-glass" in on and a.break_glass:
        _break_glass(x)
    if "purpose-drift" in on:
        _purpose_drift(x)
    person, info = x.person, x.info
    if person is not None and info is not None:
        if (
            "same-surname" in on
            and person.surname
            and info.surname
            and _name_key(person.surname) == _name_key(info.surname)
        ):
            x.alert(
                "same-surname",
                f"the accessor and the patient share the surname {info.surname!r} "
                "(directory); family members' records need a treatment reason",
            )
        if (
            "same-address" in on
            and person.address
            and info.address
            and _address_key(person.address) == _address_key(info.address)
        ):
            x.alert(
                "same-address",
                "the accessor and the patient live at the same address (directory)",
            )
    directory = x.facts.directory
    employee = directory.employee_of(a.patient)
    if employee is not None and a.accessor_org == directory.org:
        if employee.id == a.accessor.id:
            if "self-access" in on:
                x.alert("self-access", "the patient is the accessor (directory)")
        elif "coworker" in on:
            x.alert(
                "coworker",
                f"the patient is a co-worker ({employee.department or 'staff'}, directory)",
            )
    if "vip" in on and (directory.is_vip(a.patient) or a.patient in plan.vip):
        x.alert("vip", "the patient is on the VIP list")
    if a.accessor_org == directory.org:
        if "after-hours" in on:
            hours = person.hours if person is not None and person.hours else None
            hours = hours or x.cfg.working_hours
            day, minute = x.cfg.clock.weekday_minute(t)
            if not hours.contains(day, minute):
                x.alert(
                    "after-hours",
                    f"outside working hours ({'; '.join(hours.format())}, {x.cfg.timezone})",
                )
        if "terminated-account" in on and person is not None:
            _terminated(x, person, plan)
    if "volume" in on:
        _volume(x, plan)
    return x.out


def _break_glass(x: _Access) -> None:
    x.alert("break-glass", "break-the-glass emergency access: every override is reviewed")


def _relationship(x: _Access, plan: _Plan, on: frozenset[str]) -> None:
    """no-relationship, break-glass (kept in catalogue order), consent-ended, consent-denied."""
    a, facts, t = x.a, x.facts, x.e.event_ts
    care = facts.care(
        a.patient, a.accessor_org, a.accessor.id, t - plan.care_after, t + plan.care_before
    )
    consents = facts.consents(a.patient)
    permits: list[Entry] = []
    ended: list[tuple[Entry, str, Entry | None]] = []
    denies: list[Entry] = []
    if consents:
        revoked: dict[bytes, Entry] = {}
        for e in consents:
            ref = cast(Consent, e.view).revokes
            if ref is not None and e.event_ts <= t and ref not in revoked:
                revoked[ref] = e
        for e in consents:
            c = cast(Consent, e.view)
            g = c.grantee
            if not (
                (g.kind == "org" and g.id == a.accessor_org)
                or (g.kind == "person" and g.id == a.accessor.id)
                or (g.kind == "role" and g.id == a.accessor.role)
            ) or not _covers(c.purposes, a.purpose):
                continue
            revoker = revoked.get(e.hash)
            current = c.period.start <= t <= cast(int, c.period.end) and revoker is None
            if c.decision == "deny":
                if current:
                    denies.append(e)
            elif current:
                permits.append(e)
            elif revoker is not None:
                ended.append((e, f"revoked at {x.when(revoker.event_ts)}", revoker))
            elif t > cast(int, c.period.end):
                ended.append((e, f"expired at {x.when(cast(int, c.period.end))}", None))
    if "no-relationship" in on and not care and not permits:
        x.alert(
            "no-relationship",
            f"no care relationship, encounter or consent covers "
            f"{x.facts.party(a.accessor_org).name} or {x.name()} "
            "at that time",
            [a.authorization.ref] if a.authorization is not None else [],
        )
    if "break-glass" in on and a.break_glass:
        _break_glass(x)
    if "consent-ended" in on and ended:
        declared = a.authorization.ref if a.authorization is not None else None
        relevant = [item for item in ended if item[0].hash == declared]
        if not relevant and not care and not permits:
            relevant = ended
        if relevant:
            why = "; ".join(f"the consent it relied on was {text}" for _, text, _ in relevant)
            consulted: list[bytes] = []
            for e, _, revoker in relevant:
                consulted.append(e.hash)
                if revoker is not None:
                    consulted.append(revoker.hash)
            x.alert("consent-ended", why, consulted)
    if "consent-denied" in on and denies:
        x.alert(
            "consent-denied",
            f"the patient refused this access ({len(denies)} deny consent(s) in force)",
            [e.hash for e in denies],
        )


def _purpose_drift(x: _Access) -> None:
    a, t = x.a, x.e.event_ts
    brought = [e for e in x.facts.disclosures_to(a.accessor_org, a.record_ref) if e.event_ts <= t]
    if not brought:
        return
    purposes = {cast(Disclosure, e.view).purpose for e in brought}
    if _covers(purposes, a.purpose):
        return
    x.alert(
        "purpose-drift",
        f"the record came to {x.facts.party(a.accessor_org).name} by disclosure for "
        f"{', '.join(sorted(purposes))}, which does not cover {a.purpose}",
        [e.hash for e in brought],
    )


def _terminated(x: _Access, person: Person, plan: _Plan) -> None:
    t = x.e.event_ts
    if person.end is not None and t >= person.end:
        x.alert("terminated-account", f"the accessor's employment ended at {x.when(person.end)}")
    elif person.end is None and person.status == "terminated":
        x.alert("terminated-account", "the accessor's account is terminated (directory)")
    elif plan.include_leave and person.status == "leave":
        x.alert("terminated-account", "the accessor is on leave (directory)")


def _volume(x: _Access, plan: _Plan) -> None:
    a, t = x.a, x.e.event_ts
    clock = x.cfg.clock
    day = clock.local_day(t)
    start, end = clock.day_start(day), clock.day_start(day + 1)
    count = x.facts.access_count(a.accessor_org, a.accessor.id, start, end)
    if count < plan.min_count:
        return
    first = clock.day_start(day - plan.baseline_days)
    history = x.facts.access_count(a.accessor_org, a.accessor.id, first, start)
    limit = plan.factor * history / plan.baseline_days
    if count <= limit or (count - 1 >= plan.min_count and count - 1 > limit):
        return  # not above, or already above before this access (fired then)
    x.alert(
        "volume",
        f"{count} accesses on {clock.format(t, '%Y-%m-%d')}, above {plan.factor:g} x the "
        f"daily mean of {history / plan.baseline_days:.1f} over the previous "
        f"{plan.baseline_days} days",
    )


# -- the sweep ----------------------------------------------------------------------


def sweep(facts: Facts, config: RuleConfig, now: int, since: int | None = None) -> list[Alert]:
    """Unmatched disclosure halves judged in this window (see the module doc).

    ``since`` is the ``now`` of the previous sweep (None: the first sweep, from
    the start of the log). Alerts come in log order of the lonely halves.
    """
    if type(now) is not int or (since is not None and (type(since) is not int or since > now)):
        raise UsageError("sweep needs integer times with since <= now")
    if "unmatched-disclosure" not in config.enabled:
        return []
    grace = _plan(config).grace
    lo = -1 if since is None else since - grace
    out: list[Alert] = []
    for h in facts.halves_logged(lo, now - grace):
        d = cast(Disclosure, h.view)
        deadline = h.log_ts + grace
        matched = False
        for o in facts.halves(d.transfer_id):
            v = cast(Disclosure, o.view)
            if (
                v.half != d.half
                and v.discloser_org == d.discloser_org
                and v.recipient_org == d.recipient_org
                and v.patient == d.patient
                and o.log_ts <= deadline
            ):
                matched = True
                break
        if not matched:
            out.append(_unmatched(h, d, facts, config, deadline))
    return out


def _unmatched(h: Entry, d: Disclosure, facts: Facts, config: RuleConfig, deadline: int) -> Alert:
    discloser = facts.party(d.discloser_org).name
    recipient = facts.party(d.recipient_org).name
    when = config.clock.format(h.event_ts)
    if d.half == "export":
        text = (
            f"{discloser} logged the export of transfer {d.transfer_id} to {recipient} "
            f"at {when} ({d.purpose}: {d.description}); {recipient} logged no import by "
            f"{config.clock.format(deadline)}"
        )
    else:
        text = (
            f"{recipient} logged the import of transfer {d.transfer_id} from {discloser} "
            f"at {when} ({d.purpose}: {d.description}); {discloser} logged no export by "
            f"{config.clock.format(deadline)}"
        )
    return make_alert(
        "unmatched-disclosure",
        config.severity("unmatched-disclosure"),
        patient=facts.pseudonym(d.patient),
        accessor=None,
        org=h.org,
        time=h.event_ts,
        explanation=text,
        evidence=(h.hash,),
        justify=rule_spec("unmatched-disclosure").justify,
    )


# -- re-running history -------------------------------------------------------------


def rerun(
    records: Iterable[Entry], config: RuleConfig, now: int, facts: MemoryFacts
) -> list[Alert]:
    """Replay ``records`` (log order) through the empty ``facts``, then sweep up to ``now``.

    ``facts`` is left holding the records (for reports). Records already held
    (same hash) are skipped, as the log holds one record per hash.
    """
    if len(facts):
        raise UsageError("rerun needs an empty MemoryFacts (it replays from the start)")
    out: list[Alert] = []
    for entry in records:
        if facts.add(entry):
            out.extend(evaluate(entry, facts, config))
    out.extend(sweep(facts, config, now))
    return out
