"""Compliance: HIPAA reports, appropriateness rules, alerts, the worklist and the FHIR mapping.

The core here is independent of HTTP and of the database: rules and reports
read records through the :class:`Facts` seam (``facts.py``), implemented in
memory by :class:`MemoryFacts` and by the node over its SQL projection.

    facts = MemoryFacts(directory, pseudonym_key=key, parties=parties)
    for entry in log:                      # Entry.of(record_hash, statement, log_ts)
        facts.add(entry)
        alerts += evaluate(entry, facts, config)
    alerts += sweep(facts, config, now)    # periodic: unmatched disclosure halves

docs/compliance.md describes the rules, files and report formats. The FHIR
mapping is in :mod:`accord.compliance.fhir`.
"""

from accord.compliance.alerts import Alert, alert_id
from accord.compliance.directory import Directory, PatientInfo, Person
from accord.compliance.facts import Entry, Facts, Party, parties_from_consortium
from accord.compliance.memory_facts import MemoryFacts
from accord.compliance.rules import evaluate, rerun, sweep
from accord.compliance.rules_config import RULES, RuleConfig, RuleSettings, RuleSpec
from accord.compliance.schedule import WorkingHours

__all__ = [
    "RULES",
    "Alert",
    "Directory",
    "Entry",
    "Facts",
    "MemoryFacts",
    "Party",
    "PatientInfo",
    "Person",
    "RuleConfig",
    "RuleSettings",
    "RuleSpec",
    "WorkingHours",
    "alert_id",
    "evaluate",
    "parties_from_consortium",
    "rerun",
    "sweep",
]
