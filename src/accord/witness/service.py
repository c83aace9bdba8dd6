"""The witness side of C2SP tlog-witness ``add-checkpoint``, sans I/O.

:func:`process_add_checkpoint` takes the raw request body and plain values
(the logs this witness follows, its cosigning key, the time) and storage as
narrow callables (:mod:`accord.witness.state`), and returns a :class:`Result`:
status, body and content type. The HTTP handler only moves bytes.

Checks, in this order (shared/reference/tlog.md section 6.2, **current text**
column; docs/witness.md says why):

====  ========================================================================
400   malformed body (MalformedError; 413 for a body over the size limit)
404   origin not configured
403   no signature by the origin's log key verifies, or one by it fails
400   old size larger than the checkpoint size
409   old size differs from the stored size (0 if none): body ``<size>\\n``,
      Content-Type ``text/x.tlog.size``
422   the origin is halted: evidence of equivocation is held for it
422   old size 0 with proof lines
422   size 0 with a root other than SHA-256("")
422   same size, different root (a fork; v1.0.0 said 409)
422   consistency proof missing or invalid
422   the extra check refused (with evidence)
409   the compare-and-swap lost: the state moved; body is the size now stored
200   stored, then cosigned: ``— <witness name> <base64>\\n``
====  ========================================================================

Evidence (:mod:`accord.witness.evidence`) is recorded through ``on_conflict``,
which also halts the origin, whenever the log's signed checkpoint has the
stored size and another root (whatever the old size said), when the offered
proof leads to the new root from a different prefix (``inconsistent``), and
when the extra check returns evidence. A proof that merely fails is not
evidence: anyone holding two public checkpoints can send a bad proof.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, TypeAlias

from accord.encoding import canonical
from accord.errors import (
    AccordError,
    ConflictError,
    ForbiddenError,
    MalformedError,
    NotFoundError,
    UsageError,
    VerificationError,
)
from accord.merkle import EMPTY_ROOT, verify_consistency
from accord.note import MAX_TIMESTAMP, Checkpoint, Cosigner, Note, SigType, Verifier, open_note
from accord.witness.divergence import divergent_prefix
from accord.witness.evidence import FORK, INCONSISTENT, INDEX_MISMATCH, Evidence
from accord.witness.request import AddCheckpointRequest
from accord.witness.state import CasState, IsHalted, OnConflict, ReadState, WitnessState

__all__ = [
    "CONTENT_TYPE_COSIGNATURE",
    "CONTENT_TYPE_ERROR",
    "CONTENT_TYPE_SIZE",
    "Advance",
    "ExtraCheck",
    "Result",
    "process_add_checkpoint",
]

#: Content type of a 409 answer (tlog-witness): the stored size in decimal and LF.
CONTENT_TYPE_SIZE: Final = "text/x.tlog.size"
#: Content type of a 200 answer: note signature lines.
CONTENT_TYPE_COSIGNATURE: Final = "text/plain; charset=utf-8"
#: Content type of other refusals: Accord's one JSON error shape.
CONTENT_TYPE_ERROR: Final = "application/json"


@dataclass(frozen=True, slots=True)
class Result:
    """What the witness answers: HTTP status, body, content type.

    ``error`` is the refusal (for logs and metrics), ``evidence`` the evidence
    recorded while handling this request, if any.
    """

    status: int
    body: bytes
    content_type: str
    error: AccordError | None = None
    evidence: Evidence | None = None


@dataclass(frozen=True, slots=True)
class Advance:
    """A checkpoint that passed every protocol check and is about to be stored.

    This is what an extra check sees (e.g. the verifiable-index check, which
    recomputes the index over leaves ``[previous.size, checkpoint.size)``).
    ``previous`` is None at first contact.
    """

    origin: str
    previous: WitnessState | None
    checkpoint: Checkpoint
    note: Note
    proof: tuple[bytes, ...]
    now_seconds: int

    def refuse(self, details: Mapping[str, str], kind: str = INDEX_MISMATCH) -> Evidence:
        """Evidence refusing this advance: held = the previous note, shown = the new one."""
        return Evidence(
            origin=self.origin,
            kind=kind,
            held=None if self.previous is None else self.previous.note,
            shown=self.note,
            proof=self.proof,
            details=tuple(sorted(details.items())),
            detected_at=self.now_seconds * 1000,
        )


#: An extra check run after the protocol checks, before the state is stored.
#: Return None to accept, an Evidence to refuse (recorded, origin halted, 422),
#: or raise an AccordError to refuse without evidence (its own status).
ExtraCheck: TypeAlias = Callable[[Advance], Evidence | None]


def _error(exc: AccordError, evidence: Evidence | None = None) -> Result:
    """The answer for a refusal: 409 with the size body, else the JSON error shape."""
    if isinstance(exc, ConflictError) and exc.size is not None:
        return Result(409, f"{exc.size}\n".encode("ascii"), CONTENT_TYPE_SIZE, exc, evidence)
    try:
        body = canonical(exc.to_dict())
    except AccordError:
        body = canonical({"error": {"code": exc.code, "message": exc.message, "details": {}}})
    return Result(exc.status, body, CONTENT_TYPE_ERROR, exc, evidence)


def _stale(size: int, evidence: Evidence | None = None) -> Result:
    return _error(ConflictError(f"the latest cosigned size is {size}", size=size), evidence)


def process_add_checkpoint(
    body: bytes,
    *,
    logs: Mapping[str, Verifier],
    read_state: ReadState,
    cas_state: CasState,
    cosigner: Cosigner,
    now_seconds: int,
    on_conflict: OnConflict,
    is_halted: IsHalted,
    extra_check: ExtraCheck | None = None,
) -> Result:
    """Handle one ``POST <prefix>/add-checkpoint`` body (C2SP tlog-witness, current text).

    Preconditions (UsageError otherwise): ``logs`` maps each origin this witness
    follows to the log's Ed25519 key (type 0x01); ``cosigner`` is this witness's
    cosignature/v1 key; ``now_seconds`` is the POSIX time, 1 <= t <= 2**63 - 1
    (the cosignature's timestamp, never 0). Storage callables follow
    :mod:`accord.witness.state`. An AccordError from a callable (StoreError,
    NetworkError from an extra check, ...) becomes the answer with its status;
    nothing is stored unless ``cas_state`` returned True.
    """
    if type(now_seconds) is not int or not 0 < now_seconds <= MAX_TIMESTAMP:
        raise UsageError("now_seconds must be a POSIX time in [1, 2**63 - 1]")
    if not isinstance(cosigner, Cosigner):
        raise UsageError("cosigner must be an accord.note.Cosigner")
    for origin, key in logs.items():
        if not isinstance(key, Verifier) or key.sig_type != SigType.ED25519:
            raise UsageError(f"the key for {origin!r} must be an Ed25519 note verifier")
    try:
        return _process(
            body,
            logs=logs,
            read_state=read_state,
            cas_state=cas_state,
            cosigner=cosigner,
            now=now_seconds,
            on_conflict=on_conflict,
            is_halted=is_halted,
            extra_check=extra_check,
        )
    except AccordError as exc:
        return _error(exc)


def _process(
    body: bytes,
    *,
    logs: Mapping[str, Verifier],
    read_state: ReadState,
    cas_state: CasState,
    cosigner: Cosigner,
    now: int,
    on_conflict: OnConflict,
    is_halted: IsHalted,
    extra_check: ExtraCheck | None,
) -> Result:
    try:
        request = AddCheckpointRequest.parse(body)
    except MalformedError as exc:
        return _error(exc)
    cp, note, old = request.checkpoint, request.note, request.old_size
    origin = cp.origin

    log = logs.get(origin)
    if log is None:
        return _error(NotFoundError(f"this witness does not follow the log {origin!r}"))
    try:
        open_note(note, [log])
    except VerificationError as exc:
        return _error(ForbiddenError(f"no valid signature by the log key {log.key_ref}: {exc}"))
    if old > cp.size:
        return _error(UsageError(f"old size {old} is larger than the checkpoint size {cp.size}"))

    state = read_state(origin)
    halted = is_halted(origin)
    stored = 0 if state is None else state.size

    # A validly signed checkpoint of the stored size with another root is a
    # fork, whatever the old size says: keep it before answering anything.
    fork = False
    evidence = None
    if state is not None and cp.size == state.size and cp.root_hash != state.root_hash:
        fork = True
    if fork and not halted and state is not None:
        evidence = Evidence(
            origin=origin,
            kind=FORK,
            held=state.note,
            shown=note,
            details=(("reason", "same size, different root"),),
            detected_at=now * 1000,
        )
        on_conflict(evidence)
        halted = True

    if old != stored:
        return _stale(stored, evidence)
    if fork:
        return _error(
            VerificationError(f"fork: the log signed two roots for size {cp.size}"), evidence
        )
    if halted:
        return _error(
            VerificationError(
                f"evidence of equivocation is held for {origin!r}: this witness no longer "
                "cosigns it until an operator clears the evidence",
                halted=True,
            )
        )
    if old == 0 and request.proof:
        return _error(VerificationError("old size 0 takes no consistency proof"))
    if cp.size == 0 and cp.root_hash != EMPTY_ROOT:
        return _error(VerificationError("a checkpoint of size 0 must have the empty-tree root"))
    if cp.size == old:
        if request.proof:
            return _error(VerificationError("a proof between equal sizes must be empty"))
    elif old > 0 and state is not None:  # old == stored > 0, so a state exists
        try:
            verify_consistency(old, cp.size, request.proof, state.root_hash, cp.root_hash)
        except VerificationError as exc:
            prefix = divergent_prefix(state.checkpoint, cp, request.proof)
            if prefix is None:
                return _error(exc)
            evidence = Evidence(
                origin=origin,
                kind=INCONSISTENT,
                held=state.note,
                shown=note,
                proof=request.proof,
                details=(("prefix_root", prefix.hex()),),
                detected_at=now * 1000,
            )
            on_conflict(evidence)
            message = f"the log's proof shows another history below size {old}"
            return _error(VerificationError(message), evidence)

    if extra_check is not None:
        advance = Advance(origin, state, cp, note, request.proof, now)
        refusal = extra_check(advance)
        if refusal is not None:
            if not isinstance(refusal, Evidence) or refusal.origin != origin:
                # The witness's own fault, not the client's: 500.
                raise AccordError("the extra check must return None or Evidence for this origin")
            on_conflict(refusal)
            message = f"the {refusal.kind} check refused the checkpoint"
            return _error(VerificationError(message), refusal)

    cosignature = cosigner.cosign(cp, now)
    stored_note = note.with_signatures(cosignature)
    old_state = None if state is None else state.size
    if not cas_state(origin, old_state, cp.size, cp.root_hash, stored_note.format()):
        return _lost_race(origin, cp, note, read_state, on_conflict, is_halted, now)
    return Result(200, cosignature.format().encode("utf-8"), CONTENT_TYPE_COSIGNATURE)


def _lost_race(
    origin: str,
    cp: Checkpoint,
    note: Note,
    read_state: ReadState,
    on_conflict: OnConflict,
    is_halted: IsHalted,
    now: int,
) -> Result:
    """Another request moved the state first: 409 with the size now stored.

    If the winner stored the same size with another root, the two requests
    were a fork and the evidence is kept.
    """
    current = read_state(origin)
    evidence = None
    if (
        current is not None
        and current.size == cp.size
        and current.root_hash != cp.root_hash
        and not is_halted(origin)
    ):
        evidence = Evidence(
            origin=origin,
            kind=FORK,
            held=current.note,
            shown=note,
            details=(("reason", "same size, different root (concurrent requests)"),),
            detected_at=now * 1000,
        )
        on_conflict(evidence)
    return _stale(0 if current is None else current.size, evidence)
