"""Shared FHIR test data: the scenario files (read in place) and the org directory."""

from __future__ import annotations

import copy
from typing import Any

from tests.conftest import load_vectors

PCP = "Organization/6ad683e2-8401-3bfe-9d9b-4fa263d2d92f"
MOUNT_AUBURN = "Organization/69176529-fd1f-3b3f-abce-a0a3626769eb"
STURDY = "Organization/5e765f2b-e908-3888-9fc7-df2cb87beb58"
DIRECTORY = {PCP: "pcp91959", MOUNT_AUBURN: "mount-auburn", STURDY: "sturdy"}
PATIENT = "Patient/d4519c92-d241-b2b2-7360-291d60be699e"
FISHER = "Practitioner/8d782c6e-9fe8-397c-8c90-3a0b673ea432"
CORMIER = "Practitioner/7003f1cc-8f5a-352e-8e7b-6b6c7c20df10"

READ_R5 = "r5-auditevent-patientread-treat.json"
BTG_R5 = "r5-auditevent-breakglass.json"
EXPORT_R4 = "r4-auditevent-disclosure-source.json"
IMPORT_R4 = "r4-auditevent-disclosure-recipient.json"
CONSENT_R4 = "r4-consent-permit-treat.json"
CONSENT_R5 = "r5-consent-permit-treat.json"
PROVENANCE_R4 = "r4-provenance-transfer-received.json"
AUDIT_EVENTS = [READ_R5, BTG_R5, EXPORT_R4, IMPORT_R4]
SCENARIO_FILES = [*AUDIT_EVENTS, CONSENT_R4, CONSENT_R5, PROVENANCE_R4]

#: Which org's gateway logs each AuditEvent (the source.observer).
LOGGED_BY = {
    READ_R5: "pcp91959",
    BTG_R5: "pcp91959",
    EXPORT_R4: "pcp91959",
    IMPORT_R4: "mount-auburn",
}

SYNTHEA = {
    "Cris921": "synthea-r4/Cris921_Rath779_d4519c92-d241-b2b2-7360-291d60be699e.json",
    "Hipolito984": "synthea-r4/Hipolito984_Schulist381_6b9c211c-2c38-3955-43a0-4d285c714fab.json",
    "Roland928": "synthea-r4/Roland928_Nienow652_13b1a0f2-dceb-37a2-f32b-f0ca6e3b9925.json",
}
HOSPITALS = "synthea-r4/hospitalInformation1603148702656.json"

_CACHE: dict[str, Any] = {}


def scenario(name: str) -> dict[str, Any]:
    """A fresh copy of one scenario resource."""
    if name not in _CACHE:
        _CACHE[name] = load_vectors(f"fhir/scenario/{name}")
    return copy.deepcopy(_CACHE[name])


def synthea(name: str) -> dict[str, Any]:
    path = SYNTHEA.get(name, name)
    if path not in _CACHE:
        _CACHE[path] = load_vectors(f"fhir/{path}")
    return copy.deepcopy(_CACHE[path])
