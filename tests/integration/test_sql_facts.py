"""The node's SQL Facts against the Facts contract, on SQLite and PostgreSQL, and as of a log index.

The same contract (tests/integration/facts_contract.py) runs on MemoryFacts, the
reference. The SQL side is the real migration and batch writer of
accord.node.compliance_tables over a real database; the loader here is a dict
(the node's loader decrypts bodies, tested through real nodes elsewhere).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from accord.compliance import Entry, MemoryFacts, RuleConfig, evaluate
from accord.node.compliance_tables import COMPLIANCE_STEPS, write_rows
from accord.node.sql_facts import EntryCache, PseudonymCache, SqlFacts
from accord.records.pseudonym import pseudonym
from accord.store.database import Database
from tests.integration.facts_contract import check_contract
from tests.unit.compliance.history import DAY, KEY, PARTIES, directory, entry, generate, statement

SEEDS = (0, 1, 2)


def _with_decisions(entries: list[Entry]) -> list[Entry]:
    """The history plus two accord.decision records at its end (log order kept)."""
    last = entries[-1].log_ts
    out = list(entries)
    for i, e in enumerate(x for x in entries if x.schema == "ehr.access"):
        if i == 2:
            break
        fields = {
            "alert": f"{i:02x}" * 32,
            "status": "justified",
            "reason": "covering for a colleague",
            "reviewer": {"id": "po-1", "name": "Pat Officer"},
        }
        st = statement("accord.decision", "nyu", e.event_ts, e.patient or "", fields, f"dec-{i}")
        out.append(entry(st, last + DAY))
    return out


def _p(kind: str, value: str) -> str:
    return pseudonym(KEY, kind, value)


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database.open(db_url)
    db.migrate("compliance", COMPLIANCE_STEPS)
    try:
        yield db
    finally:
        db.close()


def _sql_facts(
    db: Database, entries: Sequence[Entry], asof: int | None = None
) -> tuple[SqlFacts, list[int]]:
    by_index = dict(enumerate(entries))
    fetched: list[int] = []

    def fetch(indexes: Sequence[int]) -> dict[int, Entry]:
        fetched.extend(indexes)
        return {i: by_index[i] for i in indexes}

    with db.transaction() as tx:
        write_rows(tx, list(by_index.items()), _p)
    cache = EntryCache(fetch, size=64)
    facts = SqlFacts(
        db.fetchall,
        cache.load,
        directory=directory([], ["a", "b", "c", "d"]),
        pseudonym=PseudonymCache(_p),
        parties=PARTIES,
        asof=asof,
    )
    return facts, fetched


@pytest.mark.parametrize("seed", SEEDS)
def test_memory_facts_keep_the_contract(seed: int) -> None:
    h = generate(seed)
    entries = _with_decisions(h.entries)
    facts = MemoryFacts.from_records(
        entries, directory(h.staff, h.patients), pseudonym_key=KEY, parties=PARTIES
    )
    assert check_contract(facts, entries, seed) > 400


@pytest.mark.parametrize("seed", SEEDS)
def test_sql_facts_keep_the_contract(database: Database, seed: int) -> None:
    entries = _with_decisions(generate(seed).entries)
    facts, fetched = _sql_facts(database, entries)
    assert check_contract(facts, entries, seed) > 400
    assert fetched, "the loader was used"
    assert facts.party("nyu") == PARTIES["nyu"]
    assert facts.party("elsewhere").name == "elsewhere"
    assert facts.pseudonym("MPI-1") == _p("patient", "MPI-1")


def test_sql_facts_answer_as_of_a_log_index(database: Database) -> None:
    entries = _with_decisions(generate(5).entries)
    facts, _ = _sql_facts(database, entries)
    for asof in (0, 7, len(entries) // 3, len(entries) // 2, len(entries) - 3):
        facts.asof = asof
        check_contract(facts, entries[: asof + 1], asof, rounds=15)


def test_rules_through_sql_facts_equal_rules_through_memory_facts(database: Database) -> None:
    """Arrival evaluation as of each record's index equals MemoryFacts' add-then-evaluate."""
    h = generate(3, accesses=250)
    entries = h.entries
    d = directory(h.staff, h.patients)
    config = RuleConfig(org="nyu", timezone="America/New_York")
    mem = MemoryFacts(d, pseudonym_key=KEY, parties=PARTIES)
    expected = []
    for e in entries:
        mem.add(e)
        expected.extend(evaluate(e, mem, config))
    by_index = dict(enumerate(entries))
    with database.transaction() as tx:
        write_rows(tx, list(by_index.items()), _p)
    got = []
    with database.transaction(readonly=True) as tx:
        facts = SqlFacts(
            tx.fetchall,
            lambda idx: [by_index[i] for i in idx],
            directory=d,
            pseudonym=_p,
            parties=PARTIES,
        )
        for i, e in by_index.items():
            facts.asof = i
            got.extend(evaluate(e, facts, config))
    assert len(expected) > 50
    assert got == expected


def test_entry_cache_is_bounded_and_skips_unreadable() -> None:
    calls: list[list[int]] = []
    h = generate(1)

    def fetch(indexes: Sequence[int]) -> dict[int, Entry]:
        calls.append(list(indexes))
        return {i: h.entries[i] for i in indexes if i % 5}  # every fifth is "shredded"

    cache = EntryCache(fetch, size=4)
    assert cache.load([1, 2, 5]) == [h.entries[1], h.entries[2]]
    assert cache.load([2, 1]) == [h.entries[2], h.entries[1]]
    assert calls == [[1, 2, 5]]
    cache.load([6, 7, 8, 9])
    assert cache.load([1]) == [h.entries[1]]
    assert calls[-1] == [1]  # evicted: the cache holds at most four
    cache.forget()
    cache.load([6])
    assert calls[-1] == [6]
