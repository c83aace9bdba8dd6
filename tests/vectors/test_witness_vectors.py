"""C2SP tlog-witness add-checkpoint scenarios (shared testdata tlog/witness_add_checkpoint.json).

Each case: the witness state before, the exact request body, then the status,
body, content type and state after that the current text (C2SP main at
5ba5ee83, the ``expect_status_head`` column) requires. The v1.0.0 column
differs in exactly the two places docs/witness.md names. The vectors' states
carry size and root only; the stored note is the request body of another case
that signs that checkpoint (a witness always keeps the note it cosigned). Each case runs
on every store: the reference MemoryWitnessStore and the node's SQL store on SQLite and
PostgreSQL (tests/integration/test_witnessing.py runs them again over real HTTP).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accord.encoding import b64encode
from accord.errors import AccordError
from accord.note import Checkpoint, Cosigner, Verifier, parse_signature_lines, verify_cosignature
from accord.witness import (
    CONTENT_TYPE_SIZE,
    FORK,
    AddCheckpointRequest,
    MemoryWitnessStore,
    WitnessState,
    process_add_checkpoint,
    verify_evidence,
)
from tests.conftest import load_vectors
from tests.unit.witness.stores import ALL_STORES, witness_stores

DATA = load_vectors("tlog/witness_add_checkpoint.json")
CASES = DATA["cases"]
ORIGIN = DATA["trusted_log"]["origin"]
LOG = Verifier.parse(DATA["trusted_log"]["vkey"])
WITNESS = Cosigner.from_private_bytes(
    DATA["witness"]["name"], bytes.fromhex(DATA["witness"]["seed_hex"])
)
NOW = 1_760_000_000

#: Where the current text and v1.0.0 differ: case id -> (v1.0.0 status, current status).
V1_0_0_DIFFERENCES = {
    "same-size-different-root": (409, 422),  # fork: 409 in v1.0.0, 422 in the current text
    "size-zero-non-empty-root": (200, 422),  # size 0 must carry SHA-256(""): rule added later
}


def _requests() -> dict[tuple[int, str], AddCheckpointRequest]:
    """Every parseable request body of the file, by (size, base64 root) of its checkpoint."""
    out = {}
    for case in CASES:
        try:
            request = AddCheckpointRequest.parse(case["request_body"])
        except AccordError:
            continue  # the malformed case has no checkpoint to offer
        cp = request.checkpoint
        if cp.origin == ORIGIN and case["id"] not in (
            "bad-log-signature",
            "only-unknown-signature",
        ):
            out.setdefault((cp.size, b64encode(cp.root_hash)), request)
    return out


REQUESTS = _requests()


@pytest.fixture(params=ALL_STORES)
def new_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[[], Any]]:
    """Fresh witness stores: memory, SQLite, PostgreSQL (tests/unit/witness/stores.py)."""
    with witness_stores(request.param, tmp_path) as make:
        yield make


def _store(before: dict[str, Any] | None, make: Callable[[], Any] = MemoryWitnessStore) -> Any:
    store = make()
    if before is not None:
        assert before["origin"] == ORIGIN
        request = REQUESTS[(before["size"], before["root_b64"])]
        store.set_state(WitnessState.from_note(request.note))
    return store


def _state(store: Any) -> dict[str, Any] | None:
    state = store.read_state(ORIGIN)
    if state is None:
        return None
    return {"origin": state.origin, "size": state.size, "root_b64": b64encode(state.root_hash)}


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_add_checkpoint_vector(case: dict[str, Any], new_store: Callable[[], Any]) -> None:
    store = _store(case["witness_state_before"], new_store)
    before = _state(store)
    result = process_add_checkpoint(
        case["request_body"].encode("utf-8"),
        logs={ORIGIN: LOG},
        cosigner=WITNESS,
        now_seconds=NOW,
        **store.seams(),
    )
    assert result.status == case["expect_status_head"], result.error
    if "expect_body" in case:
        assert result.body == case["expect_body"].encode("ascii")
    if "expect_content_type" in case:
        assert result.content_type == case["expect_content_type"]
    if result.status == 409:
        assert result.content_type == CONTENT_TYPE_SIZE
    if "state_after" in case:
        assert _state(store) == case["state_after"]
    else:  # unknown origin: nothing changes, for any origin
        assert _state(store) == before
        assert store.read_state(case["request_body"].split("\n")[2]) is None

    if result.status == 200:
        request = AddCheckpointRequest.parse(case["request_body"])
        (line,) = parse_signature_lines(result.body)
        assert verify_cosignature(request.checkpoint, line, WITNESS.verifier()) == NOW
        # The stored note is the submitted one with this cosignature appended.
        state = store.read_state(ORIGIN)
        assert state is not None
        assert state.note == request.note.with_signatures(line)
    else:
        assert result.error is not None

    if case["id"] == "same-size-different-root":
        assert result.evidence is not None
        assert result.evidence.kind == FORK
        assert store.evidence(ORIGIN) == (result.evidence,)
        verify_evidence(result.evidence, LOG)
        assert store.is_halted(ORIGIN)
    else:
        assert result.evidence is None
        assert store.evidence() == ()


def test_v1_0_0_column_differs_only_where_documented() -> None:
    differences = {
        c["id"]: (c["expect_status_v1_0_0"], c["expect_status_head"])
        for c in CASES
        if c["expect_status_v1_0_0"] != c["expect_status_head"]
    }
    assert differences == V1_0_0_DIFFERENCES


def test_every_row_of_the_check_table_is_covered() -> None:
    statuses = {c["expect_status_head"] for c in CASES}
    assert statuses == {200, 400, 403, 404, 409, 422}
    assert len(CASES) == 18


def test_request_bodies_round_trip() -> None:
    for case in CASES:
        if case["id"] == "no-blank-line":
            continue
        body = case["request_body"]
        assert AddCheckpointRequest.parse(body).format() == body


def test_states_are_reconstructed_from_signed_notes() -> None:
    for case in CASES:
        before = case["witness_state_before"]
        if before is not None:
            state = _store(before).read_state(ORIGIN)
            assert state is not None
            assert Checkpoint.parse(state.note.text).size == before["size"]
