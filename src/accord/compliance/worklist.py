"""The privacy officer's worklist: alerts with their review status (docs/compliance.md section 5).

A review is itself a record on the ledger: an ``accord.decision`` statement
(fields ``alert``, ``patient``, ``status`` justified | violation, ``reason``,
``reviewer``; principal the patient), signed by a source of the org like any
statement, so the review is audited like the accesses it reviews. The worklist
is never stored: :func:`replay` derives it from the alerts and the decision
records, in log order. Every alert starts ``open``; a decision moves it to
``justified`` or ``violation``; a later decision (a second review) replaces the
status and both stay in the alert's history. Decisions about alerts not in the
list (raised under another configuration, or by another org) are kept apart as
``orphans``.

:func:`decision_statement` builds the statement a reviewer's tool signs, after
checking the transition (open -> justified | violation; a decided alert may be
re-decided the other way, never to the same status) and that the patient given
is the alert's (by pseudonym).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Final, cast

from accord.compliance.alerts import Alert
from accord.compliance.facts import Entry
from accord.errors import NotFoundError, UsageError
from accord.records.codes import DECISION_STATUSES
from accord.records.schemas import Decision, Principal, Reviewer
from accord.records.statement import Statement

__all__ = [
    "OPEN",
    "STATUSES",
    "Review",
    "WorkItem",
    "Worklist",
    "check_transition",
    "decision_statement",
    "replay",
]

OPEN: Final = "open"
STATUSES: Final = (OPEN, "justified", "violation")


@dataclass(frozen=True, slots=True)
class Review:
    """One decision record: who decided what about which alert, when, and why."""

    record: bytes
    org: str
    alert: bytes
    status: str
    reason: str
    reviewer: Reviewer
    time: int

    @classmethod
    def of(cls, entry: Entry) -> Review:
        d = cast(Decision, entry.view)
        return cls(entry.hash, entry.org, d.alert, d.status, d.reason, d.reviewer, entry.event_ts)


@dataclass(frozen=True, slots=True)
class WorkItem:
    alert: Alert
    status: str
    reviews: tuple[Review, ...] = ()

    @property
    def last(self) -> Review | None:
        return self.reviews[-1] if self.reviews else None


@dataclass(frozen=True, slots=True)
class Worklist:
    """Items in alert order (time, then id); ``orphans`` are decisions for unknown alerts."""

    items: tuple[WorkItem, ...]
    orphans: tuple[Review, ...] = ()

    def get(self, alert_id: bytes) -> WorkItem:
        for item in self.items:
            if item.alert.id == alert_id:
                return item
        raise NotFoundError(f"no alert {alert_id.hex()} in the worklist")

    def with_status(self, status: str) -> tuple[WorkItem, ...]:
        if status not in STATUSES:
            raise UsageError(f"unknown status {status!r}; known: {', '.join(STATUSES)}")
        return tuple(i for i in self.items if i.status == status)

    def counts(self) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for item in self.items:
            out[item.status] += 1
        return out


def replay(
    alerts: Iterable[Alert], decisions: Iterable[Entry], *, org: str | None = None
) -> Worklist:
    """The worklist from ``alerts`` (any order, repeats collapse) and ``decisions`` (log
    order; entries of other schemas are skipped; with ``org``, only that org's decisions)."""
    by_id: dict[bytes, Alert] = {}
    for alert in alerts:
        by_id.setdefault(alert.id, alert)
    history: dict[bytes, list[Review]] = {}
    orphans: list[Review] = []
    seen: set[bytes] = set()
    for entry in decisions:
        if type(entry.view) is not Decision or entry.hash in seen:
            continue
        seen.add(entry.hash)
        if org is not None and entry.org != org:
            continue
        review = Review.of(entry)
        if review.alert in by_id:
            history.setdefault(review.alert, []).append(review)
        else:
            orphans.append(review)
    items = []
    for alert in sorted(by_id.values(), key=lambda a: (a.time, a.id)):
        reviews = tuple(history.get(alert.id, ()))
        items.append(WorkItem(alert, reviews[-1].status if reviews else OPEN, reviews))
    return Worklist(tuple(items), tuple(orphans))


def check_transition(current: str, new: str) -> None:
    """UsageError unless ``current`` -> ``new`` is allowed (see the module doc)."""
    if current not in STATUSES:
        raise UsageError(f"unknown status {current!r}")
    if new not in DECISION_STATUSES:
        raise UsageError(f"a decision is justified or violation, not {new!r}")
    if new == current:
        raise UsageError(f"the alert is already {current}")


def decision_statement(
    item: WorkItem,
    *,
    patient: str,
    status: str,
    reason: str,
    reviewer: Reviewer,
    org: str,
    source: str,
    event_ts: int,
    pseudonym: Callable[[str], str],
    statement_id: str | None = None,
) -> Statement:
    """The ``accord.decision`` statement recording a review of ``item``, for the org's
    source to sign. ``patient`` is the patient's id; ``pseudonym(patient)`` must equal the
    alert's patient. Invalid fields raise MalformedError("statement", ...)."""
    check_transition(item.status, status)
    if pseudonym(patient) != item.alert.patient:
        raise UsageError("the patient given is not the alert's patient")
    reviewer_json = {"id": reviewer.id}
    if reviewer.name is not None:
        reviewer_json["name"] = reviewer.name
    return Statement(
        schema="accord.decision",
        id=statement_id or f"decision-{item.alert.id.hex()[:32]}-{event_ts}",
        org=org,
        source=source,
        event_ts=event_ts,
        principals=(Principal("patient", patient),),
        fields={
            "alert": item.alert.id.hex(),
            "patient": patient,
            "status": status,
            "reason": reason,
            "reviewer": reviewer_json,
        },
    )
