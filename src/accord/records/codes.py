"""Allow-lists of the codes Accord statements carry (pure data and two small functions).

Purpose of use is an HL7 v3-ActReason code (THO 4.0.0); the hierarchy is the one
of ``shared/reference/healthcare.md`` section 4, so rules test descendants with
:func:`is_a`, never exact codes. The DICOM (DCM) event, sub-type and role codes
are the hand-kept list of healthcare.md section 3; the FHIR code tables are the
ones the AuditEvent mapping reads (section 2 and 3). fhir.resources does not
check codes (healthcare.md section 10), so every code that enters a statement is
checked here.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from accord.errors import MalformedError

__all__ = [
    "ACTIONS",
    "ACT_REASON",
    "ACT_REASON_PARENT",
    "AUDIT_EVENT_TYPE",
    "AUTHORIZATION_KINDS",
    "CONSENT_DECISIONS",
    "DCM",
    "DCM_CODES",
    "DECISION_STATUSES",
    "DISCLOSURE_HALVES",
    "GRANTEE_KINDS",
    "ISSUE_SEVERITY",
    "ISSUE_SEVERITY_TO_OUTCOME",
    "LIFECYCLE",
    "OBJECT_ROLE",
    "OUTCOMES",
    "OUTCOME_TO_ISSUE_SEVERITY",
    "OUTCOME_TO_R4",
    "PARTICIPATION_TYPE",
    "PRINCIPAL_KINDS",
    "R4_OUTCOME_TO_OUTCOME",
    "RESTFUL_INTERACTION",
    "RESTFUL_INTERACTIONS",
    "ROLE_CLASS",
    "SOURCE_ACTIONS",
    "TPO_ROOTS",
    "ancestors",
    "check_purpose",
    "descendants",
    "is_a",
    "is_tpo",
]

# -- code systems (exact URIs, healthcare.md section 3 and 4) ---------------------------

ACT_REASON: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
DCM: Final = "http://dicom.nema.org/resources/ontology/DCM"
AUDIT_EVENT_TYPE: Final = "http://terminology.hl7.org/CodeSystem/audit-event-type"
RESTFUL_INTERACTION: Final = "http://hl7.org/fhir/restful-interaction"
ISSUE_SEVERITY: Final = "http://hl7.org/fhir/issue-severity"
LIFECYCLE: Final = "http://terminology.hl7.org/CodeSystem/iso-21089-lifecycle"
OBJECT_ROLE: Final = "http://terminology.hl7.org/CodeSystem/object-role"
PARTICIPATION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ROLE_CLASS: Final = "http://terminology.hl7.org/CodeSystem/v3-RoleClass"

# -- PurposeOfUse: v3-ActReason, healthcare.md section 4 --------------------------------


def _tree(root: str, *children: str | tuple[str, tuple[str, ...]]) -> dict[str, str | None]:
    """Parent map of one subtree: a child is a code or (code, grandchildren)."""
    out: dict[str, str | None] = {root: None}
    for child in children:
        if isinstance(child, str):
            out[child] = root
        else:
            code, grand = child
            out[code] = root
            for g in grand:
                out[g] = code
    return out


#: code -> parent code (None for the roots), exactly healthcare.md section 4.
ACT_REASON_PARENT: Final = MappingProxyType(
    _tree(
        "TREAT",
        "CLINTRL",
        "COC",
        ("ETREAT", ("BTG", "ERTREAT")),
        "POPHLTH",
        "TREATDS",
    )
    | _tree("HPAYMT", "CLMATTCH", "COVAUTH", "COVERAGE", "REMITADV", "PMTDS")
    | _tree(
        "HOPERAT",
        "CAREMGT",
        "DONAT",
        "FRAUD",
        "GOV",
        "HACCRED",
        "HCOMPL",
        "HDECD",
        "HDIRECT",
        "HDM",
        "HLEGAL",
        "HOUTCOMS",
        "HPRGRP",
        "HQUALIMP",
        "HSYSADMIN",
        "MEMADMIN",
        "MILCDM",
        "PATADMIN",
        "PATSFTY",
        "PERFMSR",
        "RECORDMGT",
        ("SYSDEV", ("HTEST",)),
        "TRAIN",
        "MLTRAINING",
    )
    | _tree("HRESCH", "BIORCH", "CLINTRCH", "DSRCH", "POARCH", "TRANSRCH")
    | _tree("PATRQT", "FAMRQT", "PWATRNY", "SUPNWK")
    | _tree("PUBHLTH", "DISASTER", "THREAT")
    | _tree("HMARKT")
)

#: HIPAA treatment, payment and operations (45 CFR 164.506): these subtrees.
TPO_ROOTS: Final = ("TREAT", "HPAYMT", "HOPERAT")


def _ancestors_of(code: str) -> tuple[str, ...]:
    chain = [code]
    parent = ACT_REASON_PARENT[code]
    while parent is not None:
        chain.append(parent)
        parent = ACT_REASON_PARENT[parent]
    return tuple(chain)


_ANCESTORS: Final = {code: _ancestors_of(code) for code in ACT_REASON_PARENT}


def check_purpose(code: object, what: str = "purpose") -> str:
    """Return ``code`` if it is a known v3-ActReason purpose of use, else MalformedError."""
    if not isinstance(code, str) or code not in ACT_REASON_PARENT:
        raise MalformedError(what, f"unknown v3-ActReason purpose of use {code!r}")
    return code


def ancestors(code: str) -> tuple[str, ...]:
    """``code`` and its ancestors, nearest first (``BTG`` -> BTG, ETREAT, TREAT)."""
    check_purpose(code)
    return _ANCESTORS[code]


def descendants(code: str) -> frozenset[str]:
    """``code`` and every code below it in the hierarchy."""
    check_purpose(code)
    return frozenset(c for c, chain in _ANCESTORS.items() if code in chain)


def is_a(code: str, ancestor: str) -> bool:
    """True if ``code`` is ``ancestor`` or one of its descendants (reflexive).

    Both must be known codes (MalformedError otherwise): a rule testing an
    unknown code is a bug, not a "no".
    """
    check_purpose(ancestor)
    return ancestor in ancestors(code)


def is_tpo(code: str) -> bool:
    """True for treatment, payment or operations (HIPAA TPO): exempt from the accounting."""
    chain = ancestors(code)
    return chain[-1] in TPO_ROOTS


# -- statement field codes (docs/formats.md section 2) ------------------------------------

ACTIONS: Final = frozenset({"C", "R", "U", "D", "E"})
OUTCOMES: Final = ("success", "minor-failure", "serious-failure", "major-failure")
CONSENT_DECISIONS: Final = frozenset({"permit", "deny"})
GRANTEE_KINDS: Final = frozenset({"org", "person", "role"})
AUTHORIZATION_KINDS: Final = frozenset({"care", "consent"})
DISCLOSURE_HALVES: Final = frozenset({"export", "import"})
#: An alert review decision (accord.decision): the alert was justified, or a violation.
DECISION_STATUSES: Final = frozenset({"justified", "violation"})
SOURCE_ACTIONS: Final = frozenset({"register", "revoke"})
PRINCIPAL_KINDS: Final = frozenset({"patient", "org"})

# -- FHIR outcomes (healthcare.md section 2 and 3) -----------------------------------------

#: R4 ``audit-event-outcome``: 0 success, 4 minor, 8 serious, 12 major failure.
R4_OUTCOME_TO_OUTCOME: Final = MappingProxyType(
    {"0": "success", "4": "minor-failure", "8": "serious-failure", "12": "major-failure"}
)
OUTCOME_TO_R4: Final = MappingProxyType({v: k for k, v in R4_OUTCOME_TO_OUTCOME.items()})

#: R5 ``outcome.code`` from ``issue-severity``; information is a success with a note.
ISSUE_SEVERITY_TO_OUTCOME: Final = MappingProxyType(
    {
        "success": "success",
        "information": "success",
        "warning": "minor-failure",
        "error": "serious-failure",
        "fatal": "major-failure",
    }
)
OUTCOME_TO_ISSUE_SEVERITY: Final = MappingProxyType(
    {
        "success": "success",
        "minor-failure": "warning",
        "serious-failure": "error",
        "major-failure": "fatal",
    }
)

#: ``restful-interaction`` codes (healthcare.md section 3).
RESTFUL_INTERACTIONS: Final = frozenset(
    {
        "read",
        "vread",
        "update",
        "patch",
        "delete",
        "history",
        "history-instance",
        "history-type",
        "history-system",
        "create",
        "search",
        "search-type",
        "search-system",
        "capabilities",
        "transaction",
        "batch",
        "operation",
    }
)

#: DICOM PS3.16 CID 400 codes Accord knows (healthcare.md section 3), code -> display.
DCM_CODES: Final = MappingProxyType(
    {
        "110100": "Application Activity",
        "110101": "Audit Log Used",
        "110106": "Export",
        "110107": "Import",
        "110108": "Network Entry",
        "110109": "Order Record",
        "110110": "Patient Record",
        "110111": "Procedure Record",
        "110112": "Query",
        "110113": "Security Alert",
        "110114": "User Authentication",
        "110120": "Application Start",
        "110121": "Application Stop",
        "110122": "Login",
        "110123": "Logout",
        "110126": "Node Authentication",
        "110127": "Emergency Override Started",
        "110132": "Use of Restricted Function",
        "110133": "Audit Recording Stopped",
        "110134": "Audit Recording Started",
        "110138": "Emergency Override Stopped",
        "110150": "Application",
        "110151": "Application Launcher",
        "110152": "Destination Role ID",
        "110153": "Source Role ID",
        "110154": "Destination Media",
        "110155": "Source Media",
    }
)
