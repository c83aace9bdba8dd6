"""The log side of C2SP tlog-witness ``add-checkpoint``, sans I/O.

- :func:`build_request` writes the request body.
- :func:`handle_response` reads the witness's answer: a verified
  :class:`Cosigned` on 200, a :class:`Retry` with the witness's size on 409
  (``text/x.tlog.size``), and an AccordError for anything else.
- :class:`Pusher` keeps, per witness, the size that witness last cosigned
  for this log and runs the exchange, retrying on 409 with a consistency proof
  from the size the witness reports. The HTTP POST is a callable.
- :func:`push_all` pushes one checkpoint to every witness and returns the note
  with every cosignature collected (what ``GET /v1/checkpoint`` serves).

Nothing a witness returns is kept before it verifies: a cosignature line by
the witness's key that fails, or none at all, is refused (tlog-witness: "The
client MUST ignore any cosignatures from unknown keys").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Final, TypeAlias

from accord.errors import (
    AccordError,
    ConflictError,
    ForbiddenError,
    MalformedError,
    NetworkError,
    NotFoundError,
    UnknownKeyError,
    UsageError,
    VerificationError,
)
from accord.note import (
    MAX_TREE_SIZE,
    Checkpoint,
    Note,
    Signature,
    SigType,
    Verifier,
    parse_signature_lines,
    verify_cosignature,
)
from accord.witness.request import AddCheckpointRequest

__all__ = [
    "Cosigned",
    "LogProofs",
    "Pusher",
    "Retry",
    "Transport",
    "build_request",
    "handle_response",
    "push_all",
]

#: POST a request body to the witness's add-checkpoint URL -> (status, content type, body).
Transport: TypeAlias = Callable[[bytes], tuple[int, str, bytes]]
#: The log's own consistency proof from size1 to size2 (0 < size1 < size2).
LogProofs: TypeAlias = Callable[[int, int], Sequence[bytes]]

_SIZE_BODY = re.compile(rb"(0|[1-9][0-9]{0,18})\n")
_WHAT: Final = "witness response"


@dataclass(frozen=True, slots=True)
class Cosigned:
    """A witness's verified cosignature line on the checkpoint, and its timestamp."""

    signature: Signature
    timestamp: int


@dataclass(frozen=True, slots=True)
class Retry:
    """409: the witness's latest cosigned size for this log; retry from it."""

    size: int


def build_request(old_size: int, proof: Sequence[bytes], note: Note | str) -> bytes:
    """The add-checkpoint body: ``old <N>``, the proof lines, an empty line, the note.

    MalformedError("add-checkpoint request") for a bad size, proof or note.
    """
    return AddCheckpointRequest.make(old_size, proof, note).to_bytes()


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _said(body: bytes) -> str:
    """A short, printable excerpt of a refusal body for error messages."""
    text = body[:200].decode("utf-8", "replace")
    return "".join(c if c.isprintable() else " " for c in text).strip()


def handle_response(
    status: int, content_type: str, body: bytes, checkpoint: Checkpoint, witness: Verifier
) -> Cosigned | Retry:
    """Read a witness's answer to add-checkpoint for ``checkpoint``.

    200: the body's signature lines; the ones by ``witness`` (name and key ID)
    must all verify as cosignatures on ``checkpoint`` (BadSignatureError),
    at least one must exist (UnknownKeyError), lines by other keys are
    ignored, and a timestamp of 0 is refused (it claims nothing). Returns the
    line with the latest timestamp.
    409 with ``text/x.tlog.size`` and ``<size>\\n``: :class:`Retry`. A 409
    without it (transparency-dev/witness answers a fork so) is ConflictError.
    Others: 400/413 UsageError, 403 ForbiddenError, 404 NotFoundError,
    422 VerificationError, anything else NetworkError (retryable).
    Precondition: ``witness`` is a cosignature/v1 key (UsageError).
    """
    if not isinstance(witness, Verifier) or witness.sig_type != SigType.COSIGNATURE_V1:
        raise UsageError("the witness key must be a cosignature/v1 verifier (type 0x04)")
    if not isinstance(body, bytes):
        raise UsageError("the response body must be bytes")
    ref = witness.key_ref
    if status == 200:
        try:
            lines = parse_signature_lines(body)
        except MalformedError as exc:
            raise MalformedError(_WHAT, f"{ref} answered 200 with {exc.message}") from None
        mine = [s for s in lines if (s.name, s.key_id) == (witness.name, witness.key_id)]
        if not mine:
            raise UnknownKeyError(f"{ref} answered 200 without a cosignature by its key", key=ref)
        verified = []
        for sig in mine:
            timestamp = verify_cosignature(checkpoint, sig, witness)
            if timestamp == 0:
                raise VerificationError(f"{ref} cosigned with timestamp 0", key=ref)
            verified.append(Cosigned(sig, timestamp))
        return max(verified, key=lambda c: c.timestamp)
    if status == 409:
        match = _SIZE_BODY.fullmatch(body)
        if _media_type(content_type) == "text/x.tlog.size" and match is not None:
            size = int(match.group(1))
            if size <= MAX_TREE_SIZE:
                return Retry(size)
        raise ConflictError(f"{ref} refused with 409 and no size: {_said(body)!r}", key=ref)
    said = _said(body)
    if status in (400, 413):
        raise UsageError(f"{ref} found the request malformed ({status}): {said!r}", key=ref)
    if status == 403:
        raise ForbiddenError(f"{ref} did not accept the log's signature: {said!r}", key=ref)
    if status == 404:
        raise NotFoundError(f"{ref} does not follow this log: {said!r}", key=ref)
    if status == 422:
        raise VerificationError(f"{ref} refused the checkpoint: {said!r}", key=ref)
    raise NetworkError(f"{ref} answered status {status}: {said!r}", key=ref, status=status)


class Pusher:
    """Pushes this log's checkpoints to one witness (not thread-safe: one per pusher thread).

    ``size`` is the size the witness last cosigned for this log as far as we
    know (0: unknown; the first push then discovers it with ``old 0``).
    ``transport`` POSTs a body; ``proofs(size1, size2)`` is the log's own
    consistency proof. At most ``max_attempts`` requests per push.
    """

    __slots__ = ("_max_attempts", "_proofs", "_size", "_transport", "witness")

    def __init__(
        self,
        witness: Verifier,
        transport: Transport,
        proofs: LogProofs,
        *,
        size: int = 0,
        max_attempts: int = 3,
    ) -> None:
        if not isinstance(witness, Verifier) or witness.sig_type != SigType.COSIGNATURE_V1:
            raise UsageError("the witness key must be a cosignature/v1 verifier (type 0x04)")
        if type(size) is not int or not 0 <= size <= MAX_TREE_SIZE:
            raise UsageError("size must be a tree size")
        if type(max_attempts) is not int or max_attempts < 1:
            raise UsageError("max_attempts must be at least 1")
        self.witness = witness
        self._transport = transport
        self._proofs = proofs
        self._size = size
        self._max_attempts = max_attempts

    @property
    def size(self) -> int:
        """The size this witness last cosigned, as far as this pusher knows."""
        return self._size

    def push(self, note: Note | str) -> Cosigned:
        """Get the witness's cosignature on ``note`` (a log-signed checkpoint note).

        Sends ``old <size>`` with the log's consistency proof; on 409 adopts
        the size the witness reports and tries again. Raises ConflictError
        if the witness reports a size beyond this checkpoint (the witness has
        cosigned a larger tree of this log than the one pushed: an older
        checkpoint was pushed, or the log lost its tail) or keeps answering
        409 with the size just sent; other errors as :func:`handle_response`.
        """
        if isinstance(note, str):
            note = Note.parse(note)
        checkpoint = Checkpoint.parse(note.text)
        ref = self.witness.key_ref
        old = self._size
        for _ in range(self._max_attempts):
            if old > checkpoint.size:
                raise ConflictError(
                    f"{ref} has cosigned size {old}, beyond this checkpoint's size "
                    f"{checkpoint.size}",
                    size=old,
                    key=ref,
                )
            proof: Sequence[bytes] = ()
            if 0 < old < checkpoint.size:
                proof = self._proofs(old, checkpoint.size)
            status, content_type, body = self._transport(build_request(old, proof, note))
            outcome = handle_response(status, content_type, body, checkpoint, self.witness)
            if isinstance(outcome, Cosigned):
                self._size = checkpoint.size
                return outcome
            if outcome.size == old:
                raise ConflictError(f"{ref} answered 409 with the size sent, {old}", size=old)
            old = self._size = outcome.size
        raise ConflictError(
            f"{ref}: no cosignature after {self._max_attempts} attempts", size=old, key=ref
        )


def push_all(note: Note | str, pushers: Iterable[Pusher]) -> tuple[Note, dict[str, AccordError]]:
    """Push ``note`` to every witness; return it with the cosignatures collected.

    The second value maps a witness's ``name+keyid`` to the error it ended
    with (its cosignature is then missing). Only AccordErrors are caught.
    """
    if isinstance(note, str):
        note = Note.parse(note)
    cosignatures: list[Signature] = []
    errors: dict[str, AccordError] = {}
    for pusher in pushers:
        try:
            cosignatures.append(pusher.push(note).signature)
        except AccordError as exc:
            errors[pusher.witness.key_ref] = exc
    return (note.with_signatures(*cosignatures) if cosignatures else note), errors
