"""Proof bundles from a real node (POST /v1/query) verify, and their answers equal a brute
force scan of the log (GET /v1/entries and each record's statement): every query kind,
event-time windows with late records, empty answers, pagination, a conjunction, a
shredded body; on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from accord.client import NodeClient
from accord.errors import ForbiddenError, NotFoundError, UsageError, VerificationError
from accord.index.bundle import parse_bundle
from accord.node.founding import ConsortiumKeys
from accord.quorum import Consortium
from accord.records import SignedStatement, Statement
from accord.verify import VerifiedAnswer, omit_record, verify_bundle, verify_pages
from tests.integration.nodes import Consortium3, running_consortium
from tests.unit.compliance.builders import access, disclosure
from tests.unit.verify.ledger import matches

DAY = 86_400_000
MIN = 60_000
PATIENTS = ("MPI-1", "MPI-2", "MPI-3", "MPI-4")
DOCTORS = ("dr-a", "dr-b", "nurse-c")


def history(now: int) -> list[Statement]:
    """Cornell's statements: accesses by three people to four patients over two days, a
    few late ones (10 days old), disclosures to nyu and mskcc."""
    out: list[Statement] = []
    base = now - 2 * DAY
    for i in range(48):
        out.append(
            access(
                DOCTORS[i % 3],
                "cornell",
                base + i * 30 * MIN,
                patient=PATIENTS[i % 4] if i % 7 else PATIENTS[0],
                ref=f"{i % 5:064x}",
                sid=f"acc-{i}",
            )
        )
    for i in range(3):  # late: older than the 7-day lateness when logged
        out.append(
            access(
                "dr-b", "cornell", now - 10 * DAY + i * MIN, patient=PATIENTS[i], sid=f"late-{i}"
            )
        )
    for i in range(6):
        out.append(
            disclosure(
                "export",
                f"t-{i}",
                "cornell",
                ("nyu", "mskcc")[i % 2],
                base + i * 3 * 60 * MIN,
                refs=(f"{i % 5:064x}",),
                patient=PATIENTS[i % 4],
            )
        )
    return out


class Scan:
    """The brute force: every record of the log below a size, with its statement."""

    def __init__(self, auditor: NodeClient) -> None:
        self.auditor = auditor
        self.rows: list[tuple[int, str, dict[str, Any] | None]] = []

    def upto(self, size: int) -> list[tuple[int, str, dict[str, Any] | None]]:
        import json

        while len(self.rows) < size:
            start = len(self.rows)
            for off, text in enumerate(self.auditor.entries(start, min(size, start + 500))):
                leaf = json.loads(text)
                if leaf["type"] == "index-commit":
                    self.rows.append((start + off, "", None))
                    continue
                rec = self.auditor.record(leaf["body_hash"])
                st = rec.get("statement", {}).get("statement")
                self.rows.append((start + off, leaf["body_hash"], st))
        return self.rows[:size]

    def answer(self, q: dict[str, Any], size: int) -> list[str]:
        return [h for _, h, st in self.upto(size) if st is not None and matches(q, st)]


def _submit_and_wait(c: Consortium3, statements: list[Statement]) -> int:
    rn = c["cornell"]
    signed: list[SignedStatement] = [rn.sign(st) for st in statements]
    result = rn.client("source").submit(signed)
    last = max(r["log_index"] for r in result["results"])
    c.settle()
    # wait until a checkpoint covering the batch is cosigned and queryable
    auditor = rn.client("auditor")
    deadline = time.monotonic() + 30
    while True:
        try:
            b = parse_bundle(auditor.query({"kind": "patient", "patient": "MPI-1"}))
            size = int(b.checkpoint.split("\n")[1])
            if size > last + 1:
                return size
        except NotFoundError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("no cosigned checkpoint covers the history")
        time.sleep(0.1)


def _check(
    auditor: NodeClient, scan: Scan, consortium: Consortium, key: bytes, q: dict[str, Any]
) -> VerifiedAnswer:
    text = auditor.query(q)
    answer = verify_bundle(text, consortium, key, max_age_s=600)
    assert answer.complete
    got = [r.record for r in answer.records]
    assert got == scan.answer(q, answer.covers_size), q
    return answer


def _run(c: Consortium3) -> None:
    consortium = Consortium.parse(c.consortium_file.read_text())
    key = ConsortiumKeys.load(c.directory / "consortium-keys.json").index_key
    now = int(time.time() * 1000)
    _submit_and_wait(c, history(now))
    auditor = c["cornell"].client("auditor")
    scan = Scan(auditor)
    base = now - 2 * DAY
    queries: list[dict[str, Any]] = []
    for p in (*PATIENTS, "MPI-nobody"):
        queries.append({"kind": "patient", "patient": p})
        queries.append({"kind": "patient", "patient": p, "from": base, "to": base + 6 * 60 * MIN})
        queries.append({"kind": "patient", "patient": p, "from": now - 11 * DAY, "to": base})
        queries.append({"kind": "patient", "patient": p, "from": base + 20 * 60 * MIN})
    for d in (*DOCTORS, "dr-none"):
        queries.append({"kind": "accessor", "accessor_org": "cornell", "accessor": d})
        queries.append(
            {"kind": "accessor", "accessor_org": "cornell", "accessor": d, "to": base + DAY}
        )
    for dst in ("nyu", "mskcc", "ext"):
        queries.append({"kind": "disclosures", "discloser": "cornell", "recipient": dst})
    for r in (0, 3, 9):
        queries.append({"kind": "record", "record": f"{r:064x}", "from": base - DAY})
    # empty window between two postings (adjacent boundary postings)
    queries.append(
        {"kind": "patient", "patient": "MPI-2", "from": base + 1, "to": base + 2, "page": None}
    )
    # conjunctions: the shorter posting list is filtered
    queries.append(
        {
            "kind": "patient",
            "patient": "MPI-1",
            "and": [{"kind": "accessor", "accessor_org": "cornell", "accessor": "dr-b"}],
        }
    )
    queries.append(
        {
            "kind": "accessor",
            "accessor_org": "cornell",
            "accessor": "dr-a",
            "and": [{"kind": "patient", "patient": "MPI-3"}],
            "from": base,
        }
    )
    nonempty = 0
    for q in queries:
        q = {k: v for k, v in q.items() if v is not None}
        answer = _check(auditor, scan, consortium, key, q)
        nonempty += bool(answer.records)
    assert nonempty >= len(queries) // 2
    late = _check(auditor, scan, consortium, key, queries[2])
    assert any(r.late for r in late.records)

    # pagination: every page verifies against the same root; together they are the answer
    for q in (
        {"kind": "patient", "patient": "MPI-1", "page_size": 3},
        {"kind": "patient", "patient": "MPI-1", "from": base + 60 * MIN, "page_size": 2},
    ):
        pages = []
        for k in range(50):
            try:
                text = auditor.query({**q, "page": k})
            except NotFoundError:
                break
            pages.append(text)
            if verify_bundle(text, consortium, key).run[1]:
                break
        assert len(pages) > 2
        single = [verify_bundle(t, consortium, key) for t in pages]
        assert not any(a.complete for a in single)
        merged = verify_pages(pages, consortium, key)
        plain = {k: v for k, v in q.items() if k != "page_size"}
        assert [r.record for r in merged.records] == scan.answer(plain, merged.covers_size)
        with pytest.raises(VerificationError):
            verify_pages(pages[:1] + pages[2:], consortium, key)

    # a lying node leaves a record out: refused
    text = auditor.query({"kind": "patient", "patient": "MPI-1"})
    bundle = parse_bundle(text)
    # a record with a body carries no header (the verifier rebuilds it)
    assert all(r.header is None and r.body is not None for r in bundle.records)
    # no window: the records are those of the driver's postings, in order
    postings = bundle.proofs[bundle.driver].postings
    assert len(postings) == len(bundle.records)
    victim = postings[len(postings) // 2].event_hash
    with pytest.raises(VerificationError):
        verify_bundle(omit_record(bundle, victim), consortium, key)

    # bad parameters: 400 in the usual error shape
    for bad in (
        {"kind": "nobody"},
        {"kind": "patient"},
        {"kind": "patient", "patient": "x", "from": "yesterday"},
        {"kind": "patient", "patient": "x", "page": 0, "page_size": 5000},
        {"kind": "patient", "patient": "x", "extra": 1},
    ):
        with pytest.raises(UsageError):
            auditor.query(bad)

    # ISO 8601 times, and an answer at a named checkpoint size
    from datetime import UTC, datetime

    iso = datetime.fromtimestamp(base / 1000, UTC).isoformat()
    at_iso = verify_bundle(
        auditor.query({"kind": "patient", "patient": "MPI-1", "from": iso}), consortium, key
    )
    assert at_iso.query.start == base
    size = at_iso.size
    named = verify_bundle(
        auditor.query({"kind": "patient", "patient": "MPI-1", "size": size}), consortium, key
    )
    assert named.size == size
    with pytest.raises(NotFoundError):
        auditor.query({"kind": "patient", "patient": "MPI-1", "size": 1})
    with pytest.raises(UsageError):
        auditor.query({"kind": "patient", "patient": "MPI-1", "size": "big"})
    with pytest.raises(ForbiddenError):
        c["cornell"].client("source").query({"kind": "patient", "patient": "MPI-1"})

    # a shredded patient: header-only records, still verified
    rn = c["cornell"]
    principal = rn.node.principal_of(rn.sign(history(now)[3]))
    rn.node.datakeys.shred(principal)
    shredded = auditor.query({"kind": "patient", "patient": "MPI-4"})
    # a record whose body is absent carries its header instead
    assert all(r.body is None and r.header for r in parse_bundle(shredded).records)
    answer = verify_bundle(shredded, consortium, key)
    assert answer.records
    assert all(r.header_only for r in answer.records)
    assert answer.notes


def test_bundles_on_sqlite(tmp_path: Path) -> None:
    with running_consortium(tmp_path, ("cornell", "nyu", "mskcc"), witness_k=1) as c:
        _run(c)


@pytest.mark.postgres
def test_bundles_on_postgresql(tmp_path: Path) -> None:
    from tests.conftest import drop_schema, postgres_url

    url = postgres_url()
    try:
        with running_consortium(tmp_path, databases={"cornell": url}, witness_k=1) as c:
            _run(c)
    finally:
        drop_schema(url)
