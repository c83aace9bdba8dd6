"""The log side: request bodies, reading answers, the pusher retrying on 409, cosignature checks."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accord.errors import (
    AccordError,
    BadSignatureError,
    ConflictError,
    ForbiddenError,
    MalformedError,
    NetworkError,
    NotFoundError,
    UnknownKeyError,
    UsageError,
    VerificationError,
)
from accord.note import Cosigner, Note, Signer, verify_cosigned_checkpoint
from accord.witness import (
    CONTENT_TYPE_SIZE,
    AddCheckpointRequest,
    Cosigned,
    MemoryWitnessStore,
    Pusher,
    Retry,
    build_request,
    handle_response,
    push_all,
)
from tests.unit.witness.fixtures import LOG_KEY, NOW, W1, W2, W3, FakeLog, run_witness

LOG = FakeLog(40)
CP13 = LOG.checkpoint(13)
W1V = W1.verifier()


def _ok(*lines: str) -> tuple[int, str, bytes]:
    return 200, "text/plain; charset=utf-8", "".join(lines).encode()


def test_build_request() -> None:
    body = build_request(8, LOG.proof(8, 13), LOG.note(13))
    request = AddCheckpointRequest.parse(body)
    assert (request.old_size, request.proof, request.note) == (
        8,
        tuple(LOG.proof(8, 13)),
        LOG.note(13),
    )
    assert (
        build_request(0, [], LOG.note(13).format()) == b"old 0\n\n" + LOG.note(13).format().encode()
    )
    with pytest.raises(MalformedError):
        build_request(-1, [], LOG.note(13))


# -- handle_response ---------------------------------------------------------------------


def test_200_verified_cosignature() -> None:
    line = W1.cosign(CP13, NOW)
    outcome = handle_response(*_ok(line.format()), CP13, W1V)
    assert outcome == Cosigned(line, NOW)


def test_200_ignores_other_keys_and_keeps_the_latest() -> None:
    lines = [
        W2.cosign(CP13, NOW + 5).format(),
        W1.cosign(CP13, NOW).format(),
        W1.cosign(CP13, NOW + 1).format(),
    ]
    outcome = handle_response(*_ok(*lines), CP13, W1V)
    assert isinstance(outcome, Cosigned)
    assert outcome.timestamp == NOW + 1


REFUSED_200: list[tuple[str, str, type[AccordError]]] = [
    (
        "cosignature on another checkpoint",
        W1.cosign(LOG.checkpoint(12), NOW).format(),
        BadSignatureError,
    ),
    ("another witness's only", W2.cosign(CP13, NOW).format(), UnknownKeyError),
    (
        "one good one bad line by the key",
        W1.cosign(CP13, NOW).format() + W1.cosign(LOG.checkpoint(8), NOW).format(),
        BadSignatureError,
    ),
    ("timestamp zero", W1.cosign(CP13, 0).format(), VerificationError),
    ("empty body", "", MalformedError),
    ("not signature lines", "ok\n", MalformedError),
    ("no final newline", W1.cosign(CP13, NOW).format()[:-1], MalformedError),
]


@pytest.mark.parametrize(("name", "body", "error"), REFUSED_200, ids=[r[0] for r in REFUSED_200])
def test_200_answers_that_are_refused(name: str, body: str, error: type[AccordError]) -> None:
    with pytest.raises(error):
        handle_response(200, "text/plain", body.encode(), CP13, W1V)


def test_a_log_signature_line_is_not_a_cosignature() -> None:
    # A note signature (type 0x01) under the witness's name has another key ID: ignored.
    impostor = Signer.from_private_bytes(W1.name, b"\x01" * 32)
    with pytest.raises(UnknownKeyError):
        handle_response(*_ok(impostor.sign(CP13.format()).format()), CP13, W1V)


@pytest.mark.parametrize(
    ("content_type", "body", "size"),
    [
        ("text/x.tlog.size", b"8\n", 8),
        ("text/x.tlog.size; charset=utf-8", b"0\n", 0),
        ("Text/X.TLOG.SIZE", b"13\n", 13),
    ],
)
def test_409_with_a_size_is_retry(content_type: str, body: bytes, size: int) -> None:
    assert handle_response(409, content_type, body, CP13, W1V) == Retry(size)


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b"8\n"),
        ("text/x.tlog.size", b""),
        ("text/x.tlog.size", b"8"),
        ("text/x.tlog.size", b"08\n"),
        ("text/x.tlog.size", b"-1\n"),
        ("text/x.tlog.size", b"8\n\n"),
        ("text/x.tlog.size", b"99999999999999999999\n"),
        ("text/x.tlog.size", b"9223372036854775808\n"),
    ],
)
def test_409_without_a_size_is_a_conflict(content_type: str, body: bytes) -> None:
    with pytest.raises(ConflictError):
        handle_response(409, content_type, body, CP13, W1V)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, UsageError),
        (413, UsageError),
        (403, ForbiddenError),
        (404, NotFoundError),
        (422, VerificationError),
        (500, NetworkError),
        (503, NetworkError),
        (302, NetworkError),
    ],
)
def test_refusals(status: int, error: type[AccordError]) -> None:
    with pytest.raises(error) as info:
        handle_response(status, "application/json", b'{"error": "\x00 no"}', CP13, W1V)
    assert W1V.key_ref in info.value.message
    if error is NetworkError:
        assert info.value.retryable


def test_handle_response_preconditions() -> None:
    with pytest.raises(UsageError):
        handle_response(200, "", b"", CP13, LOG.note(1).signatures[0])  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        handle_response(200, "", b"", CP13, Signer.generate("x").verifier())


# -- the pusher against a real witness core ----------------------------------------------------


class Witness:
    """A witness served in process: the transport callable posts to process_add_checkpoint."""

    def __init__(self, cosigner: Cosigner = W1) -> None:
        self.store = MemoryWitnessStore()
        self.cosigner = cosigner
        self.requests: list[AddCheckpointRequest] = []
        self.now = NOW

    def __call__(self, body: bytes) -> tuple[int, str, bytes]:
        self.requests.append(AddCheckpointRequest.parse(body))
        self.now += 1
        result = run_witness(self.store, body, cosigner=self.cosigner, now=self.now)
        return result.status, result.content_type, result.body

    @property
    def olds(self) -> list[int]:
        return [r.old_size for r in self.requests]


def test_pusher_discovers_the_witness_size_and_retries_with_a_proof() -> None:
    witness = Witness()
    witness.store.set_state(LOG.state(8, W1))
    pusher = Pusher(W1V, witness, LOG.proof)
    cosigned = pusher.push(LOG.note(13))
    assert witness.olds == [0, 8]
    assert witness.requests[1].proof == tuple(LOG.proof(8, 13))
    assert cosigned.timestamp == witness.now
    assert pusher.size == 13
    # Next time it starts from 13 directly.
    pusher.push(LOG.note(20).format())
    assert witness.olds == [0, 8, 13]
    assert pusher.size == 20


def test_pusher_first_contact_and_stale_size() -> None:
    witness = Witness()
    pusher = Pusher(W1V, witness, LOG.proof, size=5)  # believes 5; the witness knows nothing
    pusher.push(LOG.note(8))
    assert witness.olds == [5, 0]
    assert pusher.size == 8


def test_pusher_refuses_to_go_back() -> None:
    witness = Witness()
    witness.store.set_state(LOG.state(20, W1))
    pusher = Pusher(W1V, witness, LOG.proof)
    with pytest.raises(ConflictError) as info:
        pusher.push(LOG.note(13))
    assert info.value.size == 20
    assert witness.olds == [0]
    assert pusher.size == 20


def test_pusher_gives_up_after_max_attempts() -> None:
    sizes = iter([3, 5, 7, 9])

    def always_moving(body: bytes) -> tuple[int, str, bytes]:
        return 409, CONTENT_TYPE_SIZE, f"{next(sizes)}\n".encode()

    pusher = Pusher(W1V, always_moving, LOG.proof, max_attempts=3)
    with pytest.raises(ConflictError, match="3 attempts"):
        pusher.push(LOG.note(13))


def test_pusher_stops_when_409_repeats_the_size_sent() -> None:
    def stuck(body: bytes) -> tuple[int, str, bytes]:
        return 409, CONTENT_TYPE_SIZE, b"8\n"

    pusher = Pusher(W1V, stuck, LOG.proof, size=8)
    with pytest.raises(ConflictError, match="size sent"):
        pusher.push(LOG.note(13))


def test_pusher_keeps_nothing_that_does_not_verify() -> None:
    def lying(body: bytes) -> tuple[int, str, bytes]:
        return _ok(W1.cosign(LOG.checkpoint(12), NOW).format())

    pusher = Pusher(W1V, lying, LOG.proof, size=8)
    with pytest.raises(BadSignatureError):
        pusher.push(LOG.note(13))
    assert pusher.size == 8


def test_pusher_against_a_witness_with_another_key() -> None:
    witness = Witness(cosigner=W2)
    pusher = Pusher(W1V, witness, LOG.proof)
    with pytest.raises(UnknownKeyError):
        pusher.push(LOG.note(5))
    assert pusher.size == 0


@pytest.mark.parametrize(
    "make",
    [
        lambda t, p: Pusher(LOG.note(1).signatures[0], t, p),  # type: ignore[arg-type]
        lambda t, p: Pusher(W1V, t, p, size=-1),
        lambda t, p: Pusher(W1V, t, p, max_attempts=0),
    ],
)
def test_pusher_preconditions(make: Callable[..., Pusher]) -> None:
    with pytest.raises(UsageError):
        make(Witness(), LOG.proof)


def test_push_all_collects_every_cosignature() -> None:
    good1, good2, refusing = Witness(W1), Witness(W2), Witness(W3)
    refusing.store.set_state(FakeLog(13, branch="b").state(13, W3))  # it holds a fork
    pushers = [
        Pusher(W1V, good1, LOG.proof),
        Pusher(W2.verifier(), good2, LOG.proof),
        Pusher(W3.verifier(), refusing, LOG.proof),
    ]
    note, errors = push_all(LOG.note(13), pushers)
    assert set(errors) == {W3.verifier().key_ref}
    assert isinstance(errors[W3.verifier().key_ref], VerificationError)
    assert [s.name for s in note.signatures] == [LOG.note(13).signatures[0].name, W1.name, W2.name]
    cp, stamps = verify_cosigned_checkpoint(note, LOG_KEY.verifier(), [W1V, W2.verifier()], 2)
    assert cp == CP13
    assert set(stamps) == {W1.name, W2.name}
    # Nothing collected: the note comes back as it was.
    bare, errors = push_all(LOG.note(13).format(), [Pusher(W3.verifier(), refusing, LOG.proof)])
    assert bare == LOG.note(13)
    assert isinstance(bare, Note)
