"""What an audit found: findings, one verdict per org, the exit status (docs/audit.md).

A :class:`Finding` names the org it is about, how bad it is (``wrong``: the org's log,
checkpoints, receipts or data are not what they must be; ``unreachable``: it could not be
asked), the check that found it, a sentence, and the evidence: the signed notes, proofs,
leaf bytes or receipts involved, as text, so anyone can re-check them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

from accord.errors import UsageError

__all__ = [
    "EXIT_OK",
    "EXIT_UNREACHABLE",
    "EXIT_WRONG",
    "OK",
    "UNREACHABLE",
    "WRONG",
    "AuditReport",
    "Finding",
    "OrgAudit",
]

WRONG: Final = "wrong"
UNREACHABLE: Final = "unreachable"
OK: Final = "ok"
_SEVERITIES: Final = (WRONG, UNREACHABLE)

EXIT_OK: Final = 0
EXIT_WRONG: Final = 1
EXIT_UNREACHABLE: Final = 3


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing wrong (or one member that could not be asked).

    ``evidence`` maps short names to text (notes, hex hashes, leaf bytes, JSON).
    """

    org: str
    severity: str
    check: str
    message: str
    evidence: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.severity not in _SEVERITIES:
            raise UsageError(f"severity must be one of {_SEVERITIES}")
        if isinstance(self.evidence, dict):
            items = tuple((str(k), str(v)) for k, v in self.evidence.items())
            object.__setattr__(self, "evidence", items)

    @classmethod
    def wrong(cls, org: str, check: str, message: str, **evidence: object) -> Finding:
        return cls(org, WRONG, check, message, tuple((k, str(v)) for k, v in evidence.items()))

    def to_json(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "severity": self.severity,
            "check": self.check,
            "message": self.message,
            "evidence": dict(self.evidence),
        }


@dataclass(slots=True)
class OrgAudit:
    """What was checked for one org (its log, its node), for the report."""

    org: str
    checkpoint_size: int | None = None
    checkpoint_root: str | None = None
    cosigned_by: tuple[str, ...] = ()
    entries_checked: int = 0
    bodies_checked: int = 0
    index_commits_checked: int = 0
    certificates_checked: int = 0
    heads_compared: int = 0
    replayed: bool = False
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "org": self.org,
            "checkpoint_size": self.checkpoint_size,
            "checkpoint_root": self.checkpoint_root,
            "cosigned_by": list(self.cosigned_by),
            "entries_checked": self.entries_checked,
            "bodies_checked": self.bodies_checked,
            "index_commits_checked": self.index_commits_checked,
            "certificates_checked": self.certificates_checked,
            "heads_compared": self.heads_compared,
            "replayed": self.replayed,
            "notes": list(self.notes),
        }


@dataclass(slots=True)
class AuditReport:
    """Every org's summary and every finding; :meth:`verdict` per org, :meth:`exit_status`."""

    consortium: str
    orgs: dict[str, OrgAudit]
    findings: list[Finding] = field(default_factory=list)

    def add(self, finding: Finding | None) -> None:
        """Record ``finding`` (the same finding reached twice is kept once)."""
        if finding is not None and finding not in self.findings:
            self.findings.append(finding)

    def extend(self, findings: list[Finding]) -> None:
        for finding in findings:
            self.add(finding)

    def of(self, org: str) -> list[Finding]:
        return [f for f in self.findings if f.org == org]

    def verdict(self, org: str) -> str:
        """``wrong`` if anything is wrong about ``org``, else ``unreachable`` if it could not
        be asked, else ``ok``."""
        severities = {f.severity for f in self.of(org)}
        if WRONG in severities:
            return WRONG
        if UNREACHABLE in severities:
            return UNREACHABLE
        return OK

    def verdicts(self) -> dict[str, str]:
        return {org: self.verdict(org) for org in self.orgs}

    @property
    def ok(self) -> bool:
        return not self.findings

    def exit_status(self) -> int:
        """0 all OK; 1 anything wrong; 3 only unreachable members."""
        severities = {f.severity for f in self.findings}
        if WRONG in severities:
            return EXIT_WRONG
        if UNREACHABLE in severities:
            return EXIT_UNREACHABLE
        return EXIT_OK

    def to_json(self) -> dict[str, Any]:
        return {
            "consortium": self.consortium,
            "ok": self.ok,
            "exit_status": self.exit_status(),
            "verdicts": self.verdicts(),
            "orgs": [self.orgs[o].to_json() for o in self.orgs],
            "findings": [f.to_json() for f in self.findings],
        }
