"""Alerts: what an appropriateness rule raises (docs/compliance.md section 2).

An alert explains itself (``explanation``: who did what to whose record, when,
and what was looked for and not found), links its evidence (the record hashes
of the triggering record first, then every record consulted: the consent that
expired, the disclosures whose purpose the access exceeded...), and says what
would justify it. Its ``id`` is stable:

    id = SHA-256("accord/alert/v1\\n" || canonical({"rule": rule, "evidence": [hex, ...]}))

so the same rule over the same evidence gives the same alert on every run, at
every org, and a review decision (``accord.decision``) can name it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

from accord.encoding import domain_hash
from accord.errors import MalformedError
from accord.records.values import (
    MAX_TEXT_CHARS,
    check_hash_hex,
    check_int,
    check_object,
    check_text,
    fail,
)

__all__ = ["ALERT_DOMAIN", "Alert", "alert_id", "make_alert"]

ALERT_DOMAIN: Final = "accord/alert/v1\n"
_WHAT: Final = "alert"
_KEYS: Final = (
    "id",
    "rule",
    "severity",
    "patient",
    "accessor",
    "org",
    "time",
    "explanation",
    "evidence",
    "justify",
)


@lru_cache(maxsize=4_096)
def alert_id(rule: str, evidence: tuple[bytes, ...]) -> bytes:
    """The stable id of the alert ``rule`` raises over ``evidence`` (in its order).

    Remembered for recent arguments: :func:`make_alert` computes it and
    ``Alert.__post_init__`` checks it again, the same hash twice per alert.
    """
    return domain_hash(ALERT_DOMAIN, {"rule": rule, "evidence": [h.hex() for h in evidence]})


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert. ``patient`` is the patient's pseudonym; ``accessor`` the person id (None
    for disclosure alerts); ``org`` where it happened; ``time`` the triggering event (ms)."""

    id: bytes
    rule: str
    severity: str
    patient: str
    accessor: str | None
    org: str
    time: int
    explanation: str
    evidence: tuple[bytes, ...]
    justify: str

    def __post_init__(self) -> None:
        if (
            type(self.evidence) is not tuple
            or not self.evidence
            or not all(type(h) is bytes and len(h) == 32 for h in self.evidence)
        ):
            raise MalformedError(_WHAT, "evidence must be one or more 32-byte record hashes")
        if self.id != alert_id(self.rule, self.evidence):
            raise MalformedError(_WHAT, "id is not the hash of the rule and its evidence")

    @property
    def id_hex(self) -> str:
        return self.id.hex()

    @property
    def trigger(self) -> bytes:
        """The record that raised the alert (the first evidence)."""
        return self.evidence[0]

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id.hex(),
            "rule": self.rule,
            "severity": self.severity,
            "patient": self.patient,
            "accessor": self.accessor,
            "org": self.org,
            "time": self.time,
            "explanation": self.explanation,
            "evidence": [h.hex() for h in self.evidence],
            "justify": self.justify,
        }

    @classmethod
    def from_json(cls, value: Any) -> Alert:
        """Strict inverse of :meth:`to_json`; MalformedError("alert", ...) otherwise."""
        check_object(value, "", _KEYS, (), _WHAT)
        for key in ("rule", "severity", "patient", "org", "explanation", "justify"):
            check_text(value[key], key, _WHAT)
        if value["accessor"] is not None:
            check_text(value["accessor"], "accessor", _WHAT)
        evidence = value["evidence"]
        if type(evidence) is not list or not evidence:
            fail("evidence", "must be a non-empty list of record hashes", _WHAT)
        return cls(
            id=check_hash_hex(value["id"], "id", _WHAT),
            rule=value["rule"],
            severity=value["severity"],
            patient=value["patient"],
            accessor=value["accessor"],
            org=value["org"],
            time=check_int(value["time"], "time", 0, 2**53, _WHAT),
            explanation=value["explanation"],
            evidence=tuple(
                check_hash_hex(h, f"evidence[{i}]", _WHAT) for i, h in enumerate(evidence)
            ),
            justify=value["justify"],
        )


def make_alert(
    rule: str,
    severity: str,
    *,
    patient: str,
    accessor: str | None,
    org: str,
    time: int,
    explanation: str,
    evidence: tuple[bytes, ...],
    justify: str,
) -> Alert:
    """An alert with its id computed; ``evidence`` de-duplicated, first occurrence kept.

    Texts are cut to MAX_TEXT_CHARS (1024) characters.
    """
    evidence = tuple(dict.fromkeys(evidence))
    if len(explanation) > MAX_TEXT_CHARS:
        explanation = explanation[: MAX_TEXT_CHARS - 1] + "\u2026"
    return Alert(
        alert_id(rule, evidence),
        rule,
        severity,
        patient,
        accessor,
        org,
        time,
        explanation,
        evidence,
        justify,
    )
