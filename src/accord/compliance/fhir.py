"""The FHIR mapping in one place (healthcare.md; IHE BALP; the issue's FHIR part).

``POST /fhir/AuditEvent``: :func:`auditevent_to_statements` (or the single
:func:`auditevent_to_statement`) turns an R4 or R5 AuditEvent into statements for
the node's FHIR gateway source to sign; on a MalformedError answer 400 with
:func:`operation_outcome` and append nothing. ``GET /fhir/AuditEvent``:
:func:`statement_to_auditevent` per record and :func:`searchset_bundle`.
Evidence: :func:`consent_to_statement` and :func:`encounter_to_care`.
"""

from accord.compliance.fhir_evidence import (
    bundle_references,
    consent_to_statement,
    encounter_to_care,
    encounters_in_bundle,
)
from accord.compliance.fhir_in import (
    auditevent_to_statement,
    auditevent_to_statements,
    record_ref,
)
from accord.compliance.fhir_models import NOT_SUPPORTED, detect_version, load_resource
from accord.compliance.fhir_out import (
    RECORD_REF_SYSTEM,
    operation_outcome,
    searchset_bundle,
    statement_to_auditevent,
)

__all__ = [
    "NOT_SUPPORTED",
    "RECORD_REF_SYSTEM",
    "auditevent_to_statement",
    "auditevent_to_statements",
    "bundle_references",
    "consent_to_statement",
    "detect_version",
    "encounter_to_care",
    "encounters_in_bundle",
    "load_resource",
    "operation_outcome",
    "record_ref",
    "searchset_bundle",
    "statement_to_auditevent",
]
