"""The size of a typical patient's bundle in the compact encoding (docs/bundles.md 6).

A record with a body carries no header (the verifier rebuilds it), so the bundle without
bodies is the proofs and checkpoint plus a few bytes of framing per record; a shredded
record carries its header. Measured for records that are not late and for records logged
more than the lateness after their event time (``late``: 8 key ids per header instead of 4).

A generated ledger of 4,000 access records over 800 patients (5 records each, as the
benchmark's typical patient), 80 accessors and 2,000 record references, checkpoint
cosigned by two witnesses (as in bench/bench_bundles.py). Its commit proof and map proofs
are shorter than at the benchmark's 100,000 records; the test also projects the size to
that scale (about 43 base64 characters per extra hash) so that the bound is the one the
benchmark measures."""

from __future__ import annotations

import base64
import math
from functools import cache

import pytest

from accord.encoding import canonical
from accord.index.bundle import Bundle, QuerySpec, Term, needed_postings
from accord.records import Header
from accord.verify import verify_bundle
from tests.unit.verify.ledger import INDEX_KEY, NOW_MS, NOW_S, Ledger, access, consortium

PATIENTS = 800
PER_PATIENT = 5
#: at 100,000 records (bench/bench_bundles.py): commit proof and map proof depths
BENCH_COMMIT_PROOF = 11
BENCH_MAP_DEPTH = 17
DAY = 86_400_000


@cache
def typical(late: bool) -> tuple[Ledger, Bundle]:
    """The ledger and MPI-7's whole-history bundle; ``late``: every record logged 8 days
    after its event (MapFn adds its ``late`` keys), else 5 s after."""
    led = Ledger()
    t = NOW_MS - 20 * DAY
    delay = 8 * DAY if late else 5000
    n = 0
    for _ in range(PER_PATIENT * PATIENTS // 500):
        sts = []
        for _i in range(500):
            n += 1
            sts.append(
                access(f"MPI-{n % PATIENTS}", f"dr-{n % 80}", t + n * 1000, f"s{n}", n % 2000)
            )
        led.batch(sts, t + n * 1000 + delay)
    query = QuerySpec((Term("patient", ("MPI-7",)),))
    return led, led.bundle(query, note=led.note(("nyu", "mskcc")))


def _projected_extra(bundle: Bundle) -> int:
    """Characters the same bundle would add at the benchmark's scale."""
    extra = max(0, BENCH_COMMIT_PROOF - len(bundle.commit_proof))
    extra += max(0, BENCH_MAP_DEPTH - len(bundle.proofs[0].map_proof.siblings))
    return math.ceil(extra * 32 * 4 / 3)


@pytest.mark.parametrize("late", [False, True], ids=["not-late", "late"])
def test_typical_bundle_without_bodies_is_under_3_kb_and_verifies(late: bool) -> None:
    led, bundle = typical(late)
    answer = verify_bundle(bundle.format(), consortium(2), INDEX_KEY, now_s=NOW_S)
    assert len(answer.records) == PER_PATIENT
    # late records' headers carry MapFn's late keys too (8 key ids, else 4)
    seqs = [r.seq for r in answer.records]
    assert {len(Header.parse(led.entries[s]).keys) for s in seqs} == {8 if late else 4}
    value = bundle.to_json()
    # binary values are base64: no hex hash anywhere outside the signed checkpoint note
    assert len(base64.b64decode(value["commit"]["proof"])) == 32 * len(bundle.commit_proof)
    # a record with a body carries no header
    assert all(set(r) == {"body"} for r in value["records"])
    extra = _projected_extra(bundle)
    without_records = bundle.proof_size(records=False)
    without_bodies = bundle.proof_size(records=True)
    # the target: the typical bundle without bodies is under 3 KB, also projected
    # to the benchmark's proof lengths
    assert without_bodies + extra < 3000, (without_bodies, extra)
    # each record adds only its framing ({"body":""} and a comma) once bodies are excluded
    assert without_bodies - without_records <= 12 * PER_PATIENT
    # and the whole bundle is that plus the bodies' JSON strings
    bodies = sum(len(canonical(r.body)) - 2 for r in bundle.records)
    assert len(bundle.format().encode()) == without_bodies + bodies


@pytest.mark.parametrize("late", [False, True], ids=["not-late", "late"])
def test_a_shredded_record_carries_its_header(late: bool) -> None:
    led, bundle = typical(late)
    seq = needed_postings(bundle.query, bundle.policy, bundle.proofs[0], None)[0].seq
    led.shredded.add(seq)
    try:
        shredded = led.bundle(bundle.query, note=bundle.checkpoint)
    finally:
        led.shredded.discard(seq)
    answer = verify_bundle(shredded.format(), consortium(2), INDEX_KEY, now_s=NOW_S)
    assert [r.header_only for r in answer.records] == [True] + [False] * (PER_PATIENT - 1)
    header = shredded.to_json()["records"][0]
    assert set(header) == {"header"}
    # the header: 4 key ids (8 when late) in base64, about 350 (520) bytes
    grown = shredded.proof_size() - bundle.proof_size()
    assert (300 if not late else 480) < grown < (400 if not late else 560), grown
