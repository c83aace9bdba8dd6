"""The size of a typical patient's bundle in the compact encoding (docs/bundles.md 6).

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

from accord.index.bundle import Bundle, QuerySpec, Term
from accord.verify import verify_bundle
from tests.unit.verify.ledger import INDEX_KEY, NOW_MS, NOW_S, Ledger, access, consortium

PATIENTS = 800
PER_PATIENT = 5
#: at 100,000 records (bench/bench_bundles.py): commit proof and map proof depths
BENCH_COMMIT_PROOF = 11
BENCH_MAP_DEPTH = 17


@cache
def typical() -> tuple[Ledger, Bundle]:
    led = Ledger()
    t = NOW_MS - 20 * 86_400_000
    n = 0
    for _ in range(PER_PATIENT * PATIENTS // 500):
        sts = []
        for _i in range(500):
            n += 1
            sts.append(
                access(f"MPI-{n % PATIENTS}", f"dr-{n % 80}", t + n * 1000, f"s{n}", n % 2000)
            )
        led.batch(sts, t + n * 1000 + 5000)
    query = QuerySpec((Term("patient", ("MPI-7",)),))
    return led, led.bundle(query, note=led.note(("nyu", "mskcc")))


def _projected_extra(bundle: Bundle) -> int:
    """Characters the same bundle would add at the benchmark's scale."""
    extra = max(0, BENCH_COMMIT_PROOF - len(bundle.commit_proof))
    extra += max(0, BENCH_MAP_DEPTH - len(bundle.proofs[0].map_proof.siblings))
    return math.ceil(extra * 32 * 4 / 3)


def test_typical_bundle_is_compact_and_verifies() -> None:
    _, bundle = typical()
    answer = verify_bundle(bundle.format(), consortium(2), INDEX_KEY, now_s=NOW_S)
    assert len(answer.records) == PER_PATIENT
    value = bundle.to_json()
    # binary values are base64: no hex hash anywhere outside the signed checkpoint note
    assert len(base64.b64decode(value["commit"]["proof"])) == 32 * len(bundle.commit_proof)
    extra = _projected_extra(bundle)
    without_records = bundle.proof_size(headers=False)
    without_bodies = bundle.proof_size(headers=True)
    # proofs and checkpoint (no records): under 3 KB, also at the benchmark's scale
    assert without_records + extra < 3000, (without_records, extra)
    # with the five record headers (about 370 bytes each): the 3 KB target for
    # the bundle without bodies is NOT met by the encoding alone (docs/bundles.md 6);
    # this bound guards the measured size against regressions
    assert without_bodies + extra < 4800, (without_bodies, extra)
    assert without_bodies - without_records < 380 * PER_PATIENT
