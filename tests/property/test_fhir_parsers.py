"""Hostile input to the FHIR mapping: only AccordError ever escapes."""

from __future__ import annotations

import contextlib
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.compliance.fhir import (
    auditevent_to_statements,
    consent_to_statement,
    encounter_to_care,
    encounters_in_bundle,
)
from accord.errors import AccordError
from tests.property.test_records_parsers import _paths, json_values
from tests.unit.compliance.fhir_data import (
    AUDIT_EVENTS,
    CONSENT_R4,
    CONSENT_R5,
    DIRECTORY,
    scenario,
    synthea,
)
from tests.unit.records.examples import mutate

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ENCOUNTER = encounters_in_bundle(synthea("Cris921"))[-2]


def _auditevent(r: Any) -> Any:
    return auditevent_to_statements(r, org="pcp91959", source="gw", directory=DIRECTORY)


def _consent(r: Any) -> Any:
    return consent_to_statement(r, org="pcp91959", source="gw", directory=DIRECTORY)


def _encounter(r: Any) -> Any:
    return encounter_to_care(r, org="pcp91959", source="gw", directory=DIRECTORY)


MAPPERS = [_auditevent, _consent, _encounter]


@SETTINGS
@given(st.binary(max_size=200) | json_values.map(json.dumps))
def test_random_input(data: Any) -> None:
    for mapper in MAPPERS:
        with contextlib.suppress(AccordError):
            mapper(data)


BASES = [(name, _auditevent) for name in AUDIT_EVENTS] + [
    (CONSENT_R4, _consent),
    (CONSENT_R5, _consent),
    ("encounter", _encounter),
]


@SETTINGS
@given(st.sampled_from(BASES), st.data(), json_values)
def test_random_value_anywhere_in_a_valid_resource(
    base: tuple[str, Any], data: st.DataObject, new: Any
) -> None:
    name, mapper = base
    resource = ENCOUNTER if name == "encounter" else scenario(name)
    path = data.draw(st.sampled_from(_paths(resource)))
    changed = mutate(resource, path, new)
    try:
        mapper(changed)
    except AccordError:
        return
