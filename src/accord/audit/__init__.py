"""``accord audit``, the skeptic (docs/audit.md): pure checks over what the members serve
(:mod:`accord.audit.checks`), findings and verdicts (:mod:`accord.audit.findings`), and the
fetcher that runs them (:func:`accord.audit.runner.run_audit`)."""

from accord.audit.findings import (
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_WRONG,
    OK,
    UNREACHABLE,
    WRONG,
    AuditReport,
    Finding,
    OrgAudit,
)
from accord.audit.runner import run_audit

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
    "run_audit",
]
