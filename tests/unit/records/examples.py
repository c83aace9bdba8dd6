"""Valid example statements, one per schema, and a helper to mutate them as data."""

from __future__ import annotations

import copy
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.encoding import b64encode

REF = "ab" * 32
CARE_REF = "cd" * 32
#: A fixed Ed25519 key (RFC 8032 test 1 seed) so signatures are reproducible.
SOURCE_KEY = Ed25519PrivateKey.from_private_bytes(
    bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
)
OTHER_KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))


def _envelope(schema: str, fields: dict[str, Any], principal: dict[str, str]) -> dict[str, Any]:
    return {
        "v": 1,
        "schema": schema,
        "id": f"{schema}-0001",
        "org": "cornell",
        "source": "ehr",
        "event_ts": 1_710_000_000_000,
        "principals": [principal],
        "fields": fields,
    }


PATIENT = {"kind": "patient", "id": "MPI-0001"}


def access() -> dict[str, Any]:
    return _envelope(
        "ehr.access",
        {
            "accessor": {"id": "dr-marshall", "role": "ATTPHYS", "name": "Dr. Marshall"},
            "accessor_org": "nyu",
            "patient": "MPI-0001",
            "record_ref": REF,
            "action": "R",
            "purpose": "TREAT",
            "outcome": "success",
            "break_glass": False,
            "authorization": {"kind": "care", "ref": CARE_REF},
        },
        dict(PATIENT),
    )


def disclosure() -> dict[str, Any]:
    return _envelope(
        "ehr.disclosure",
        {
            "half": "export",
            "transfer_id": "xfer-77",
            "discloser_org": "cornell",
            "recipient_org": "nyu",
            "patient": "MPI-0001",
            "record_refs": [REF, CARE_REF],
            "purpose": "TREAT",
            "description": "discharge summary and imaging report",
        },
        dict(PATIENT),
    )


def consent() -> dict[str, Any]:
    return _envelope(
        "ehr.consent",
        {
            "patient": "MPI-0001",
            "grantee": {"kind": "org", "id": "nyu"},
            "purposes": ["TREAT", "HPAYMT"],
            "period": {"start": 1_700_000_000_000, "end": 1_800_000_000_000},
            "decision": "permit",
        },
        dict(PATIENT),
    )


def care() -> dict[str, Any]:
    return _envelope(
        "ehr.care",
        {
            "patient": "MPI-0001",
            "clinician": {"id": "dr-marshall", "role": "PPRF"},
            "org": "nyu",
            "period": {"start": 1_700_000_000_000},
            "encounter_ref": "Encounter/123",
        },
        dict(PATIENT),
    )


def source() -> dict[str, Any]:
    raw = SOURCE_KEY.public_key().public_bytes_raw()
    return _envelope(
        "accord.source",
        {"name": "ehr", "public_key": b64encode(raw), "action": "register"},
        {"kind": "org", "id": "cornell"},
    )


ALERT = "ef" * 32


def decision() -> dict[str, Any]:
    return _envelope(
        "accord.decision",
        {
            "alert": ALERT,
            "patient": "MPI-0001",
            "status": "justified",
            "reason": "covering for the attending on call; treatment relationship confirmed",
            "reviewer": {"id": "po-lee", "name": "R. Lee, privacy officer"},
        },
        dict(PATIENT),
    )


EXAMPLES = {
    "ehr.access": access,
    "ehr.disclosure": disclosure,
    "ehr.consent": consent,
    "ehr.care": care,
    "accord.source": source,
    "accord.decision": decision,
}

DELETE = object()


def mutate(value: dict[str, Any], path: tuple[str | int, ...], new: Any) -> dict[str, Any]:
    """A deep copy of ``value`` with ``path`` set to ``new`` (or removed if ``new is DELETE``)."""
    out = copy.deepcopy(value)
    target: Any = out
    for step in path[:-1]:
        target = target[step]
    if new is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return out
