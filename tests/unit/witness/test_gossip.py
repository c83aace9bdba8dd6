"""Gossip: a log showing two histories to two witnesses is caught; honest growth is not flagged.

The witnesses' state is each store in turn (fixture ``new_store``): memory, SQLite, PostgreSQL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import pytest

from accord.encoding import canonical
from accord.errors import MalformedError, NetworkError, TooLargeError, UsageError, VerificationError
from accord.merkle import EMPTY_ROOT
from accord.note import Checkpoint, Cosigner, Note, sign_note
from accord.witness import (
    GOSSIP_FORK,
    GossipMessage,
    GossipOutcome,
    Pusher,
    WitnessState,
    process_gossip,
    verify_evidence,
)
from accord.witness.gossip import MAX_GOSSIP_NOTES, MAX_GOSSIP_SIZE
from tests.unit.witness.fixtures import (
    LOG_KEY,
    NOW,
    ORIGIN,
    OTHER_KEY,
    W1,
    W2,
    W3,
    FakeLog,
    run_witness,
)

LOG = LOG_KEY.verifier()
HONEST = FakeLog(40)
FORKED = FakeLog(40, branch="b", prefix=3)


class Log:
    """The log's proof endpoint as the gossiping witness sees it."""

    def __init__(self, answer: Any) -> None:
        self.answer = answer
        self.calls: list[tuple[str, int, int]] = []

    def __call__(self, origin: str, size1: int, size2: int) -> Sequence[bytes] | None:
        self.calls.append((origin, size1, size2))
        if isinstance(self.answer, Exception):
            raise self.answer
        if callable(self.answer):
            result: Sequence[bytes] | None = self.answer(size1, size2)
            return result
        return self.answer  # type: ignore[no-any-return]


def _gossip(
    store: Any, notes: Sequence[Note | str], log: Log | None = None, **kw: Any
) -> tuple[GossipOutcome, ...]:
    args: dict[str, Any] = {
        "logs": {ORIGIN: LOG},
        "witnesses": [W2.verifier(), W3.verifier()],
        "consistency_proof": log if log is not None else Log(HONEST.proof),
        "now_seconds": NOW,
        "read_state": store.read_state,
        "on_conflict": store.on_conflict,
        "is_halted": store.is_halted,
        **kw,
    }
    return process_gossip(notes, **args)


def _holding(make: Callable[[], Any], log: FakeLog, size: int, witness: Cosigner = W1) -> Any:
    """A fresh store of the test's kind holding ``log``'s checkpoint at ``size``."""
    store = make()
    store.set_state(log.state(size, witness))
    return store


# -- split views -------------------------------------------------------------------------


def test_same_size_split_is_evidence(new_store: Callable[[], Any]) -> None:
    store = _holding(new_store, HONEST, 8)
    log = Log(None)
    (outcome,) = _gossip(store, [FORKED.cosigned(8, W2)], log, peer="nyu")
    assert outcome.status == "evidence"
    assert (outcome.origin, outcome.size) == (ORIGIN, 8)
    ev = outcome.evidence
    assert ev is not None
    assert (ev.kind, ev.held, ev.shown) == (
        GOSSIP_FORK,
        HONEST.cosigned(8, W1),
        FORKED.cosigned(8, W2),
    )
    assert ev.detail("peer") == "nyu"
    assert ev.detected_at == NOW * 1000
    assert log.calls == []  # no need to ask the log
    verify_evidence(ev, LOG)
    assert store.evidence() == (ev,)
    assert store.is_halted(ORIGIN)


def test_different_sizes_and_a_log_that_cannot_prove(new_store: Callable[[], Any]) -> None:
    store = _holding(new_store, HONEST, 8)
    log = Log(None)
    (outcome,) = _gossip(store, [FORKED.cosigned(13, W2)], log)
    assert outcome.status == "evidence"
    assert log.calls == [(ORIGIN, 8, 13)]
    ev = outcome.evidence
    assert ev is not None
    assert ev.proof == ()
    # Offline it is a challenge; anyone who asks the log gets the same non-answer.
    with pytest.raises(VerificationError):
        verify_evidence(ev, LOG)
    verify_evidence(ev, LOG, consistency_proof=Log(None))
    verify_evidence(ev, LOG, consistency_proof=Log(FORKED.proof))


def test_the_log_answers_from_its_other_branch(new_store: Callable[[], Any]) -> None:
    # At a power of two the branch's proof just fails; elsewhere it reveals the other prefix.
    store = _holding(new_store, HONEST, 8)
    (outcome,) = _gossip(store, [FORKED.cosigned(13, W2)], Log(FORKED.proof))
    assert outcome.status == "evidence"
    assert outcome.reason == "the log's consistency proof does not verify"
    store = _holding(new_store, HONEST, 6)
    (outcome,) = _gossip(store, [FORKED.cosigned(13, W2)], Log(FORKED.proof))
    assert outcome.status == "evidence"
    assert outcome.reason == "the log's proof leads to another prefix"
    assert outcome.evidence is not None
    verify_evidence(outcome.evidence, LOG)  # self-contained


def test_gossiped_checkpoint_smaller_than_held(new_store: Callable[[], Any]) -> None:
    store = _holding(new_store, HONEST, 13)
    log = Log(HONEST.proof)
    (outcome,) = _gossip(store, [FORKED.cosigned(6, W2)], log)
    assert log.calls == [(ORIGIN, 6, 13)]
    assert outcome.status == "evidence"
    assert outcome.evidence is not None
    verify_evidence(outcome.evidence, LOG)


def test_two_witnesses_split_by_the_log_catch_it(new_store: Callable[[], Any]) -> None:
    """End to end: the log pushes one branch to each witness, then they gossip."""
    w1, w2 = new_store(), new_store()

    def transport(store: Any, cosigner: Cosigner) -> Any:
        return lambda body: _answer(run_witness(store, body, cosigner=cosigner))

    p1 = Pusher(W1.verifier(), transport(w1, W1), HONEST.proof)
    p2 = Pusher(W2.verifier(), transport(w2, W2), FORKED.proof)
    for size in (2, 5, 9):  # both branches agree up to 3 leaves, then differ
        p1.push(HONEST.note(size))
        p2.push(FORKED.note(size + 3 if size > 2 else size))
    assert w1.evidence() == w2.evidence() == ()
    # Each witness sends the other its latest cosigned checkpoints.
    to_w1 = GossipMessage.parse(GossipMessage(w2.latest_notes()).format()).checkpoints
    to_w2 = GossipMessage.parse(GossipMessage(w1.latest_notes()).format()).checkpoints
    (o1,) = _gossip(w1, to_w1, Log(HONEST.proof), witnesses=[W2.verifier()])
    (o2,) = _gossip(w2, to_w2, Log(FORKED.proof), witnesses=[W1.verifier()])
    assert o1.status == o2.status == "evidence"
    assert (o1.size, o2.size) == (12, 9)
    assert o1.reason == "the log's consistency proof does not verify"
    assert o2.reason == "the log's proof leads to another prefix"
    assert o1.evidence is not None
    assert o2.evidence is not None
    verify_evidence(o2.evidence, LOG)  # self-contained: the log's proof reveals its other prefix
    with pytest.raises(VerificationError):
        verify_evidence(o1.evidence, LOG)  # 9 -> 12 under root 12 of the other branch: ask the log
    verify_evidence(o1.evidence, LOG, consistency_proof=Log(HONEST.proof))
    verify_evidence(o1.evidence, LOG, consistency_proof=Log(None))
    assert w1.is_halted(ORIGIN)
    assert w2.is_halted(ORIGIN)


def _answer(result: Any) -> tuple[int, str, bytes]:
    return result.status, result.content_type, result.body


# -- no crying wolf ----------------------------------------------------------------------


@pytest.mark.parametrize(("held", "shown"), [(8, 13), (13, 8), (5, 40), (1, 2), (8, 8), (0, 5)])
def test_honest_growth_is_consistent(held: int, shown: int, new_store: Callable[[], Any]) -> None:
    store = new_store()
    if held:
        store.set_state(HONEST.state(held, W1))
    else:
        empty = sign_note(Checkpoint(ORIGIN, 0, EMPTY_ROOT).format(), LOG_KEY)
        store.set_state(WitnessState.from_note(empty))
    log = Log(HONEST.proof)
    (outcome,) = _gossip(store, [HONEST.cosigned(shown, W2)], log)
    assert outcome.status == "consistent", outcome.reason
    assert store.evidence() == ()
    assert len(log.calls) == (0 if held in (shown, 0) else 1)


def _size0_with(root: bytes) -> Note:
    cp = Checkpoint(ORIGIN, 0, root)
    return sign_note(cp.format(), LOG_KEY).with_signatures(W2.cosign(cp, NOW))


IGNORED = [
    ("unknown origin", FakeLog(5).cosigned(5, W2).format().replace(ORIGIN, "x.example/log", 1)),
    ("only the log's signature", HONEST.note(13)),
    ("cosigned only by this witness", HONEST.cosigned(13, W1)),
    (
        "a stranger key for the log",
        HONEST.note(13, signer=OTHER_KEY).with_signatures(W2.cosign(HONEST.checkpoint(13), NOW)),
    ),
    (
        "the log's signature transplanted",
        Note(FORKED.checkpoint(8).format(), HONEST.cosigned(8, W2).signatures),
    ),
    ("not a note", "hello"),
    ("not a checkpoint", sign_note("hello\n", LOG_KEY).format()),
    ("size 0 with a non-empty root", _size0_with(HONEST.tree.root(1))),
]


@pytest.mark.parametrize(("name", "note"), IGNORED, ids=[i[0] for i in IGNORED])
def test_unusable_notes_are_ignored(
    name: str, note: Note | str, new_store: Callable[[], Any]
) -> None:
    store = _holding(new_store, HONEST, 8)
    log = Log(None)
    (outcome,) = _gossip(store, [note], log)
    assert outcome.status == "ignored", name
    assert log.calls == []
    assert store.evidence() == ()


def test_no_state_halted_and_unresolved(new_store: Callable[[], Any]) -> None:
    (outcome,) = _gossip(new_store(), [FORKED.cosigned(13, W2)])
    assert outcome.status == "no-state"
    store = _holding(new_store, HONEST, 8)
    (outcome,) = _gossip(store, [FORKED.cosigned(13, W2)], Log(NetworkError("log unreachable")))
    assert outcome.status == "unresolved"
    assert "log unreachable" in outcome.reason
    assert store.evidence() == ()
    assert not store.is_halted(ORIGIN)
    _gossip(store, [FORKED.cosigned(8, W2)])
    (outcome,) = _gossip(store, [FORKED.cosigned(9, W3)])
    assert outcome.status == "halted"
    assert len(store.evidence()) == 1


def test_outcomes_follow_the_notes_in_order(new_store: Callable[[], Any]) -> None:
    store = _holding(new_store, HONEST, 8)
    outcomes = _gossip(store, [HONEST.cosigned(13, W2), "junk", HONEST.cosigned(8, W3)])
    assert [o.status for o in outcomes] == ["consistent", "ignored", "consistent"]


def test_preconditions(new_store: Callable[[], Any]) -> None:
    store = new_store()
    with pytest.raises(UsageError):
        _gossip(store, [], witnesses=[])
    with pytest.raises(UsageError):
        _gossip(store, [], witnesses=[LOG])
    with pytest.raises(UsageError):
        _gossip(store, [], now_seconds=0)


# -- the message -------------------------------------------------------------------------


def test_message_round_trip() -> None:
    message = GossipMessage((HONEST.cosigned(8, W1), FORKED.cosigned(13, W2)))
    text = message.format()
    assert json.loads(text) == {"v": 1, "checkpoints": [n.format() for n in message.checkpoints]}
    assert GossipMessage.parse(text) == message
    assert GossipMessage.parse(text.encode()) == message
    assert GossipMessage.parse(GossipMessage(()).format()) == GossipMessage(())


GOOD = {"v": 1, "checkpoints": [HONEST.cosigned(8, W1).format()]}
MALFORMED = [
    ("not JSON", "{"),
    ("a bare list", canonical([HONEST.cosigned(8, W1).format()]).decode()),
    ("not canonical", json.dumps(GOOD, indent=1)),
    ("v missing", canonical({"checkpoints": []}).decode()),
    ("v 2", canonical({"v": 2, "checkpoints": []}).decode()),
    ("extra key", canonical({**GOOD, "from": "nyu"}).decode()),
    ("entry not text", canonical({"v": 1, "checkpoints": [5]}).decode()),
    ("entry not a note", canonical({"v": 1, "checkpoints": ["hello"]}).decode()),
    ("checkpoints an object", canonical({"v": 1, "checkpoints": {}}).decode()),
    ("too many", canonical({"v": 1, "checkpoints": ["x"] * (MAX_GOSSIP_NOTES + 1)}).decode()),
]


@pytest.mark.parametrize(("mutation", "text"), MALFORMED, ids=[m for m, _ in MALFORMED])
def test_malformed_messages(mutation: str, text: str) -> None:
    with pytest.raises(MalformedError) as info:
        GossipMessage.parse(text)
    assert info.value.what == "gossip message", mutation


def test_message_size_limit() -> None:
    with pytest.raises(TooLargeError):
        GossipMessage.parse(b" " * (MAX_GOSSIP_SIZE + 1))
    with pytest.raises(MalformedError):
        GossipMessage(("note",))  # type: ignore[arg-type]
