"""Every single mutation of a bundle is refused; the unmodified bundle verifies and its
answer equals a brute-force scan of the log (docs/bundles.md section 5). Bundles come from
an in-memory ledger built with the node's own proving code (tests/unit/verify/ledger.py)."""

from __future__ import annotations

import json
import re
from functools import cache
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.errors import NotFoundError, VerificationError
from accord.index.bundle import QuerySpec, parse_bundle
from accord.verify import verify_bundle
from tests.unit.verify.ledger import (
    DAY,
    INDEX_KEY,
    NOW_MS,
    NOW_S,
    Ledger,
    brute_force,
    consortium,
    sample_ledger,
)
from tests.unit.verify.mutations import mutations

CONSORTIUM = consortium(1)
#: mutations of a record's body, and the refusals that may answer them
_BODY = re.compile(r"^(flip|truncate) records/\d+/body")
_BODY_REASON = re.compile(
    r"record \d+: (the header rebuilt from its body .* event hash|its body is not a valid "
    r"signed statement|its body is not canonical)"
)
T0 = NOW_MS - 3 * DAY

QUERIES: list[dict[str, Any]] = [
    {"kind": "patient", "patient": "MPI-1"},
    {"kind": "patient", "patient": "MPI-2", "from": T0 + 20 * 60_000, "to": T0 + 50 * 60_000},
    {"kind": "patient", "patient": "MPI-2", "from": NOW_MS - 12 * DAY, "to": T0},
    {"kind": "patient", "patient": "MPI-nobody", "from": T0},
    {"kind": "patient", "patient": "MPI-3", "from": T0 + 30 * 60_000, "to": T0 + 30 * 60_000 + 1},
    {"kind": "accessor", "accessor_org": "cornell", "accessor": "dr-a", "page": 1, "page_size": 4},
    {"kind": "patient", "patient": "MPI-0", "from": T0 + 9 * 60_000, "page": 0, "page_size": 3},
    {"kind": "disclosures", "discloser": "cornell", "recipient": "nyu"},
    {"kind": "patient", "patient": "MPI-3", "to": T0 + DAY},
    {"kind": "record", "record": f"{3:064x}", "to": T0 + 40 * 60_000},
    {
        "kind": "patient",
        "patient": "MPI-1",
        "and": [{"kind": "accessor", "accessor_org": "cornell", "accessor": "nurse-c"}],
    },
]


@cache
def ledger() -> Ledger:
    led = sample_ledger()
    led.shredded.add(
        next(s for s, stmt in led.statements() if stmt["fields"]["patient"] == "MPI-3")
    )
    return led


def _spec(q: dict[str, Any]) -> QuerySpec:
    return QuerySpec.from_json(q)


def _verify(text: str, q: dict[str, Any]) -> Any:
    return verify_bundle(text, CONSORTIUM, INDEX_KEY, now_s=NOW_S, max_age_s=3600, query=_spec(q))


@cache
def _bundles() -> list[dict[str, Any]]:
    return [ledger().bundle(_spec(q)).to_json() for q in QUERIES]


@pytest.mark.parametrize("n", range(len(QUERIES)))
def test_unmodified_bundle_verifies_and_equals_brute_force(n: int) -> None:
    q = QUERIES[n]
    text = json.dumps(_bundles()[n])
    answer = _verify(text, q)
    seqs = [r.seq for r in answer.records]
    if q.get("page") is None:
        assert answer.complete
        assert seqs == brute_force(ledger(), q, answer.covers_size)
    else:
        assert set(seqs) <= set(brute_force(ledger(), q, answer.covers_size))


def test_the_sample_covers_the_interesting_cases() -> None:
    answers = [_verify(json.dumps(b), q) for b, q in zip(_bundles(), QUERIES, strict=True)]
    assert any(a.records and all(r.late for r in a.records) for a in answers)  # late only
    assert any(not a.records and a.driver_size for a in answers)  # empty window, key present
    assert any(not a.driver_size for a in answers)  # absent key (non-membership)
    assert any(any(r.header_only for r in a.records) for a in answers)  # shredded body
    assert any(len(a.sizes) == 2 for a in answers)  # a conjunction


@pytest.mark.parametrize("n", range(len(QUERIES)))
def test_every_single_mutation_is_refused(n: int) -> None:
    bundle = _bundles()[n]
    others = [b for i, b in enumerate(_bundles()) if i != n]
    survivors = []
    wrong_reason = []
    count = 0
    for label, mutated in mutations(bundle, others):
        count += 1
        try:
            _verify(json.dumps(mutated), QUERIES[n])
        except VerificationError as exc:
            if _BODY.search(label) and not _BODY_REASON.search(exc.message):
                wrong_reason.append((label, exc.message))
            continue
        survivors.append(label)
    assert count > 50
    assert survivors == []
    # a mutated body (a record carries no header beside it) is refused by the record's
    # own checks: mostly the leaf hash of the header rebuilt from it
    assert wrong_reason == []


def test_body_mutations_are_refused_by_the_leaf_hash_check() -> None:
    """A body edited into another valid, canonical statement (no JSON or canonical-form
    error to catch it) is refused because its rebuilt header is not the posting's entry."""
    bundle = _bundles()[0]
    assert all(set(r) == {"body"} for r in bundle["records"])
    for i, r in enumerate(bundle["records"]):
        value = json.loads(json.dumps(bundle))
        edited = r["body"].replace('"MPI-1"', '"MPI-8"')
        assert edited != r["body"]
        value["records"][i] = {"body": edited}
        with pytest.raises(VerificationError, match="does not hash to the posting's event hash"):
            _verify(json.dumps(value), QUERIES[0])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    patient=st.sampled_from(["MPI-0", "MPI-1", "MPI-2", "MPI-3", "MPI-9"]),
    start=st.none() | st.integers(NOW_MS - 13 * DAY, NOW_MS),
    width=st.integers(0, 3 * DAY),
    open_end=st.booleans(),
    page=st.none() | st.tuples(st.integers(0, 3), st.integers(1, 6)),
    data=st.data(),
)
def test_random_queries_verify_and_random_mutations_are_refused(
    patient: str,
    start: int | None,
    width: int,
    open_end: bool,
    page: tuple[int, int] | None,
    data: st.DataObject,
) -> None:
    q: dict[str, Any] = {"kind": "patient", "patient": patient}
    if start is not None:
        q["from"] = start
        if not open_end:
            q["to"] = start + width
    if page is not None:
        q["page"], q["page_size"] = page
    try:
        bundle = ledger().bundle(_spec(q))
    except NotFoundError:  # a page past the end of a windowed answer
        assert page is not None
        assert start is not None
        return
    answer = _verify(bundle.format(), q)
    expect = brute_force(ledger(), q, answer.covers_size)
    seqs = [r.seq for r in answer.records]
    if page is None:
        assert seqs == expect
    else:
        assert set(seqs) <= set(expect)
    muts = list(mutations(bundle.to_json(), _bundles()))
    _, mutated = data.draw(st.sampled_from(muts), label="mutation")
    with pytest.raises(VerificationError):
        _verify(json.dumps(mutated), q)
    assert parse_bundle(bundle.format()) == bundle
