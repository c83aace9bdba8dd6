"""Compliance: HIPAA reports, appropriateness rules, alerts, the worklist and the FHIR mapping.

The core here is independent of HTTP and of the database: rules and reports
read records through the :class:`Facts` seam (``facts.py``), implemented in
memory by :class:`MemoryFacts` and by the node over its SQL projection.

    facts = MemoryFacts(directory, pseudonym_key=key, parties=parties)
    for entry in log:                      # Entry.of(record_hash, statement, log_ts)
        facts.add(entry)
        alerts += evaluate(entry, facts, config)
    alerts += sweep(facts, config, now)    # periodic: unmatched disclosure halves
    worklist = replay(alerts, facts.decisions())
    report = accounting(facts, patient, start, end, now=now, verified=label)
    html = to_html(report)

docs/compliance.md describes the rules, files and report formats. The FHIR
mapping is in :mod:`accord.compliance.fhir`.
"""

from accord.compliance.alerts import Alert, alert_id
from accord.compliance.directory import Directory, PatientInfo, Person
from accord.compliance.facts import Entry, Facts, Party, parties_from_consortium
from accord.compliance.memory_facts import MemoryFacts
from accord.compliance.pairing import Transfer, pair_halves
from accord.compliance.render import parse_report, to_csv, to_html, to_json
from accord.compliance.report_types import (
    AccessReport,
    AccessRow,
    AccountingEntry,
    AccountingReport,
    ExchangeReport,
    ExchangeRow,
    Report,
)
from accord.compliance.reports import access_report, accounting, exchange_log
from accord.compliance.rules import evaluate, rerun, sweep
from accord.compliance.rules_config import RULES, RuleConfig, RuleSettings, RuleSpec
from accord.compliance.schedule import WorkingHours
from accord.compliance.worklist import (
    Review,
    WorkItem,
    Worklist,
    check_transition,
    decision_statement,
    replay,
)

__all__ = [
    "RULES",
    "AccessReport",
    "AccessRow",
    "AccountingEntry",
    "AccountingReport",
    "Alert",
    "Directory",
    "Entry",
    "ExchangeReport",
    "ExchangeRow",
    "Facts",
    "MemoryFacts",
    "Party",
    "PatientInfo",
    "Person",
    "Report",
    "Review",
    "RuleConfig",
    "RuleSettings",
    "RuleSpec",
    "Transfer",
    "WorkItem",
    "WorkingHours",
    "Worklist",
    "access_report",
    "accounting",
    "alert_id",
    "check_transition",
    "decision_statement",
    "evaluate",
    "exchange_log",
    "pair_halves",
    "parse_report",
    "parties_from_consortium",
    "replay",
    "rerun",
    "sweep",
    "to_csv",
    "to_html",
    "to_json",
]
