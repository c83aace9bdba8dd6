"""Witnesses recompute each log's verifiable index before they cosign (real nodes, real HTTP):
an honest log is cosigned; a log that commits a wrong index root gets no cosignature, and the
mismatch is kept as evidence anyone can re-check against the log's own leaves."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from accord.errors import VerificationError
from accord.node.witness_index import check_index_evidence
from accord.witness import INDEX_MISMATCH, parse_evidence_list, verify_evidence
from tests.integration.nodes import running_consortium
from tests.integration.witness_helpers import cosigned_by, log_verifier, submit, wait_for

FAST = {"checkpoint_interval_ms": 50, "witness_retry_ms": 50, "witness_retry_max_ms": 200}


def test_honest_logs_are_cosigned_after_the_index_check(tmp_path: Path) -> None:
    with running_consortium(tmp_path, **FAST) as c:
        cornell = c["cornell"]
        size = submit(cornell, 5)
        for other in ("nyu", "mskcc"):
            wait_for(lambda o=c[other]: cosigned_by(cornell, o, size), f"{other} to cosign")
            check = c[other].node.witnessing.extra_check
            assert check is not None
            assert check._replayers[cornell.node.origin].size >= size  # it replayed the log


def test_a_wrong_index_root_is_refused_with_evidence(tmp_path: Path) -> None:
    with running_consortium(tmp_path, **FAST) as c:
        cornell, nyu = c["cornell"], c["nyu"]
        size = submit(cornell, 2)
        wait_for(lambda: cosigned_by(cornell, nyu, size), "nyu to cosign the honest prefix")
        # cornell turns dishonest: its next commit leaf carries a made-up index root.
        index = cornell.node.index
        honest_stage = index.stage

        def lying_stage(first: int, log_ts: int, headers: object) -> bytes:
            honest_stage(first, log_ts, headers)  # type: ignore[arg-type]
            return bytes(32)

        index.stage = lying_stage  # type: ignore[method-assign]
        lied = submit(cornell, 1)
        for witness in (nyu, c["mskcc"]):

            def evidence(w=witness):  # type: ignore[no-untyped-def]
                body = httpx.get(f"{w.url}/v1/witness/evidence", timeout=10).content
                found = [e for e in parse_evidence_list(body) if e.kind == INDEX_MISMATCH]
                return found or None

            (ev,) = wait_for(evidence, f"{witness.node.org}'s index-mismatch evidence")
            assert ev.origin == cornell.node.origin
            assert not cosigned_by(cornell, witness, lied)

            def get(path: str) -> object:
                return httpx.get(f"{cornell.url}{path}", timeout=10).json()

            verify_evidence(ev, log_verifier(cornell), check_index=check_index_evidence(get))
            with pytest.raises(VerificationError):
                verify_evidence(ev, log_verifier(cornell))  # inconclusive without the leaves
