"""Evidence: strict JSON both ways, and a verifier that trusts only the log key.

Genuine evidence (forks, a fork's revealing proof, a failed consistency
challenge) verifies; forged evidence (a note not signed by the log, notes that
are in fact consistent, the same checkpoint twice) is refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from accord.encoding import canonical
from accord.errors import (
    BadSignatureError,
    MalformedError,
    TooLargeError,
    UnknownKeyError,
    UsageError,
    VerificationError,
)
from accord.merkle import EMPTY_ROOT
from accord.note import Checkpoint, Note, Signer, sign_note
from accord.witness import (
    FORK,
    GOSSIP_FORK,
    INCONSISTENT,
    INDEX_MISMATCH,
    Evidence,
    format_evidence_list,
    parse_evidence_list,
    verify_evidence,
)
from accord.witness.evidence import MAX_EVIDENCE_SIZE
from tests.unit.witness.fixtures import LOG_KEY, ORIGIN, OTHER_KEY, W1, W2, FakeLog

LOG = LOG_KEY.verifier()
HONEST = FakeLog(20)
FORKED = FakeLog(20, branch="b", prefix=3)
T = 1_700_000_000_000


def _ev(
    kind: str, held: Note | None, shown: Note, proof: Sequence[bytes] = (), **kw: Any
) -> Evidence:
    return Evidence(ORIGIN, kind, held, shown, tuple(proof), detected_at=T, **kw)


def _asks(answer: Sequence[bytes] | None) -> Any:
    calls: list[tuple[str, int, int]] = []

    def consistency_proof(origin: str, size1: int, size2: int) -> Sequence[bytes] | None:
        calls.append((origin, size1, size2))
        return answer

    consistency_proof.calls = calls  # type: ignore[attr-defined]
    return consistency_proof


# -- genuine evidence ---------------------------------------------------------------


def test_fork_verifies_from_the_notes_alone() -> None:
    ev = _ev(FORK, HONEST.cosigned(8, W1), FORKED.note(8))
    verify_evidence(ev, LOG)
    # Held and shown in either order; a gossip fork of one size too.
    verify_evidence(_ev(FORK, FORKED.note(8), HONEST.note(8)), LOG)
    verify_evidence(_ev(GOSSIP_FORK, HONEST.cosigned(8, W1), FORKED.cosigned(8, W2)), LOG)


def test_inconsistent_with_a_revealing_proof_verifies_offline() -> None:
    ev = _ev(INCONSISTENT, HONEST.note(6), FORKED.note(13), FORKED.proof(6, 13))
    verify_evidence(ev, LOG)


def test_gossip_fork_without_proof_is_a_challenge() -> None:
    ev = _ev(GOSSIP_FORK, HONEST.cosigned(8, W1), FORKED.cosigned(13, W2))
    with pytest.raises(VerificationError) as info:
        verify_evidence(ev, LOG)
    assert info.value.details["inconclusive"] is True
    # The log, asked by the checker, cannot give a proof, or gives one that fails.
    ask = _asks(None)
    verify_evidence(ev, LOG, consistency_proof=ask)
    assert ask.calls == [(ORIGIN, 8, 13)]
    verify_evidence(ev, LOG, consistency_proof=_asks(FORKED.proof(8, 13)))
    verify_evidence(ev, LOG, consistency_proof=_asks([b"\x00" * 32]))


def test_gossip_fork_with_the_larger_held() -> None:
    ev = _ev(GOSSIP_FORK, FORKED.cosigned(13, W1), HONEST.cosigned(8, W2))
    ask = _asks(None)
    verify_evidence(ev, LOG, consistency_proof=ask)
    assert ask.calls == [(ORIGIN, 8, 13)]


def test_index_mismatch_needs_the_index_checker() -> None:
    ev = _ev(INDEX_MISMATCH, None, HONEST.note(8), details={"reason": "index root differs"})
    with pytest.raises(VerificationError) as info:
        verify_evidence(ev, LOG)
    assert info.value.details["inconclusive"] is True
    seen: list[Evidence] = []
    verify_evidence(ev, LOG, check_index=seen.append)
    assert seen == [ev]

    def refutes(_: Evidence) -> None:
        raise VerificationError("the index is fine")

    with pytest.raises(VerificationError, match="index is fine"):
        verify_evidence(ev, LOG, check_index=refutes)
    # Its notes must still be the log's.
    forged = _ev(INDEX_MISMATCH, None, HONEST.note(8, signer=OTHER_KEY))
    with pytest.raises(UnknownKeyError):
        verify_evidence(forged, LOG, check_index=seen.append)


# -- forged evidence -----------------------------------------------------------------


def _transplanted(cp: Checkpoint, donor: Note) -> Note:
    """``cp`` under the signature lines of another note (a forgery a witness could try)."""
    return Note(cp.format(), donor.signatures)


def _stranger_note(cp: Checkpoint) -> Note:
    return sign_note(cp.format(), Signer.from_private_bytes("someone.else", b"\x09" * 32))


FORGED = [
    # (name, evidence, error) - what a lying witness might serve.
    (
        "shown note signed by another key of the same name",
        _ev(FORK, HONEST.note(8), FORKED.note(8, signer=OTHER_KEY)),
        UnknownKeyError,
    ),
    (
        "held note signed by another key of the same name",
        _ev(FORK, HONEST.note(8, signer=OTHER_KEY), FORKED.note(8)),
        UnknownKeyError,
    ),
    (
        "shown note carrying the log's signature of another checkpoint",
        _ev(FORK, HONEST.note(8), _transplanted(FORKED.checkpoint(8), HONEST.note(8))),
        BadSignatureError,
    ),
    (
        "held note carrying the log's signature of another checkpoint",
        _ev(FORK, _transplanted(HONEST.checkpoint(8), FORKED.note(8)), FORKED.note(8)),
        BadSignatureError,
    ),
    (
        "shown note signed by a stranger only",
        _ev(FORK, HONEST.note(8), _stranger_note(FORKED.checkpoint(8))),
        UnknownKeyError,
    ),
    (
        "same checkpoint twice",
        _ev(FORK, HONEST.cosigned(8, W1), HONEST.cosigned(8, W2)),
        VerificationError,
    ),
    (
        "fork of two sizes",
        _ev(FORK, HONEST.note(8), FORKED.note(13)),
        VerificationError,
    ),
    (
        "inconsistent but consistent: the honest proof",
        _ev(INCONSISTENT, HONEST.note(5), HONEST.note(13), HONEST.proof(5, 13)),
        VerificationError,
    ),
    (
        "inconsistent with a garbage proof",
        _ev(INCONSISTENT, HONEST.note(5), HONEST.note(13), [b"\x00" * 32] * 4),
        VerificationError,
    ),
    (
        "inconsistent with no proof",
        _ev(INCONSISTENT, HONEST.note(5), HONEST.note(13)),
        VerificationError,
    ),
    (
        "gossip fork of honest growth, with its proof",
        _ev(GOSSIP_FORK, HONEST.cosigned(6, W1), HONEST.cosigned(13, W2), HONEST.proof(6, 13)),
        VerificationError,
    ),
    (
        "the empty tree against anything",
        _ev(
            GOSSIP_FORK,
            sign_note(Checkpoint(ORIGIN, 0, EMPTY_ROOT).format(), LOG_KEY),
            FORKED.note(13),
        ),
        VerificationError,
    ),
    (
        "a revealing proof from another log's tree, relabelled",
        _ev(INCONSISTENT, HONEST.note(6), HONEST.note(13), FORKED.proof(6, 13)),
        VerificationError,
    ),
]


@pytest.mark.parametrize(("name", "evidence", "error"), FORGED, ids=[f[0] for f in FORGED])
def test_forged_evidence_is_refused(
    name: str, evidence: Evidence, error: type[VerificationError]
) -> None:
    with pytest.raises(error):
        verify_evidence(evidence, LOG)


def test_challenge_refuted_when_the_log_proves_consistency() -> None:
    ev = _ev(GOSSIP_FORK, HONEST.cosigned(8, W1), HONEST.cosigned(13, W2))
    with pytest.raises(VerificationError, match="refuted"):
        verify_evidence(ev, LOG, consistency_proof=_asks(HONEST.proof(8, 13)))


def test_verify_preconditions() -> None:
    ev = _ev(FORK, HONEST.note(8), FORKED.note(8))
    with pytest.raises(UsageError):
        verify_evidence(ev, W1.verifier())
    with pytest.raises(UsageError):
        verify_evidence("evidence", LOG)  # type: ignore[arg-type]


# -- JSON ------------------------------------------------------------------------------

SAMPLE = _ev(
    INCONSISTENT,
    HONEST.cosigned(6, W1),
    FORKED.note(13),
    FORKED.proof(6, 13),
    details={"prefix_root": "ab" * 32, "reason": "proof"},
)


def test_json_round_trip() -> None:
    text = SAMPLE.format()
    assert Evidence.parse(text) == SAMPLE
    assert Evidence.parse(text.encode()) == SAMPLE
    obj = json.loads(text)
    assert obj["v"] == 1
    assert obj["kind"] == "inconsistent"
    assert obj["held"] == SAMPLE.held.format()  # type: ignore[union-attr]
    assert obj["proof"] == [h.hex() for h in FORKED.proof(6, 13)]
    assert obj["details"] == {"prefix_root": "ab" * 32, "reason": "proof"}
    assert obj["detected_at"] == T
    none_held = _ev(INDEX_MISMATCH, None, HONEST.note(3))
    assert json.loads(none_held.format())["held"] is None
    assert Evidence.parse(none_held.format()) == none_held


def _mutate(**changes: Any) -> str:
    obj = json.loads(SAMPLE.format())
    for key, value in changes.items():
        if value is _DROP:
            del obj[key]
        else:
            obj[key] = value
    return canonical(obj).decode()


_DROP = object()

MALFORMED_JSON = [
    ("not JSON", "{"),
    ("a list", "[]"),
    ("pretty printed", json.dumps(json.loads(SAMPLE.format()), indent=1)),
    ("keys out of order", json.dumps(json.loads(SAMPLE.format()))),
    ("duplicate key", SAMPLE.format()[:-1] + ',"v":1}'),
    ("missing kind", _mutate(kind=_DROP)),
    ("extra key", _mutate(extra=1)),
    ("v 2", _mutate(v=2)),
    ("v true", _mutate(v=True)),
    ("unknown kind", _mutate(kind="spoon")),
    ("origin of another log", _mutate(origin="example.com/other")),
    ("held missing for a fork", _mutate(kind="fork", held=None)),
    ("held not a note", _mutate(held="hello")),
    ("shown is a number", _mutate(shown=5)),
    ("shown not a checkpoint", _mutate(shown="hi\n\n— k QUFBQUFBQUFB\n")),
    ("proof hash uppercase", _mutate(proof=["AB" * 32])),
    ("proof hash short", _mutate(proof=["ab" * 31])),
    ("proof not a list", _mutate(proof="ab" * 32)),
    ("proof too long", _mutate(proof=["ab" * 32] * 64)),
    ("details a list", _mutate(details=[])),
    ("detail not text", _mutate(details={"a": 1})),
    ("detail empty", _mutate(details={"a": ""})),
    ("detected_at negative", _mutate(detected_at=-1)),
    ("detected_at a float", _mutate(detected_at=1.5)),
    ("detected_at a string", _mutate(detected_at="1")),
]


@pytest.mark.parametrize(("mutation", "text"), MALFORMED_JSON, ids=[m for m, _ in MALFORMED_JSON])
def test_malformed_evidence_json(mutation: str, text: str) -> None:
    with pytest.raises(MalformedError) as info:
        Evidence.parse(text)
    assert info.value.what == "evidence", mutation


def test_evidence_size_limit() -> None:
    with pytest.raises(TooLargeError):
        Evidence.parse(" " * (MAX_EVIDENCE_SIZE + 1))


def test_constructor_validates() -> None:
    note8 = HONEST.note(8)
    with pytest.raises(MalformedError):
        Evidence(ORIGIN, "fork", None, note8)
    with pytest.raises(MalformedError):
        Evidence("other.origin", "fork", note8, note8)
    with pytest.raises(MalformedError):
        Evidence(ORIGIN, "fork", note8, note8, details=(("b", "1"), ("a", "2")))
    with pytest.raises(MalformedError):
        Evidence(ORIGIN, "fork", note8, note8, proof=(b"x",))
    ev = Evidence(ORIGIN, "fork", note8, note8, details={"b": "1", "a": "2"})  # type: ignore[arg-type]
    assert ev.details == (("a", "2"), ("b", "1"))
    assert ev.detail("a") == "2"
    assert ev.held_checkpoint == ev.shown_checkpoint == HONEST.checkpoint(8)


def test_evidence_list_round_trip() -> None:
    items = (SAMPLE, _ev(FORK, HONEST.note(8), FORKED.note(8)))
    text = format_evidence_list(items)
    assert json.loads(text) == {"v": 1, "evidence": [e.to_json() for e in items]}
    assert parse_evidence_list(text) == items
    assert parse_evidence_list(format_evidence_list(())) == ()
    with pytest.raises(UsageError):
        format_evidence_list(["x"])  # type: ignore[list-item]


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        '{"evidence":[]}',
        '{"evidence":[],"v":2}',
        '{"evidence":{},"v":1}',
        '{"evidence":[1],"v":1}',
        '{"v":1,"evidence":[]}',
        '{"evidence":[],"extra":0,"v":1}',
    ],
)
def test_malformed_evidence_lists(text: str) -> None:
    with pytest.raises(MalformedError):
        parse_evidence_list(text)
