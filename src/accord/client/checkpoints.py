"""Fetch a member's checkpoint and verify it before trusting it: the log's signature and
``k`` cosignatures from the consortium's other members (docs/witness.md section 3).

:func:`verify_checkpoint` is the check: the member is found by the checkpoint's
origin in the consortium file (or named), its log key must have signed the
note, and at least ``k`` distinct other members' witness keys must have valid
cosignatures on it (:func:`accord.note.verify_cosigned_checkpoint`). A lying
witness cannot help or hurt: a cosignature line under a witness's name and key
ID that does not verify (made with another key, or over another checkpoint)
is not counted and is reported in ``refused``; the rest still count, and
fewer than ``k`` good ones is QuorumNotMetError. Lines by keys the consortium
does not name are ignored (tlog-cosignature). :func:`fetch_checkpoint` gets
the note from a node over HTTP first.
"""

from __future__ import annotations

from dataclasses import dataclass

from accord.client.http import NodeClient
from accord.errors import (
    QuorumNotMetError,
    UnknownKeyError,
    UsageError,
    VerificationError,
)
from accord.note import (
    Checkpoint,
    Note,
    Signature,
    Verifier,
    verify_cosignature,
    verify_cosigned_checkpoint,
)
from accord.quorum import Consortium, Member

__all__ = ["VerifiedCheckpoint", "fetch_checkpoint", "verify_checkpoint"]


@dataclass(frozen=True, slots=True)
class VerifiedCheckpoint:
    """A checkpoint whose log signature and ``k`` cosignatures verified.

    ``witnesses`` maps each counted witness's key name to its cosignature
    timestamp; ``refused`` lists the key references (``name+keyid``) of
    cosignature lines by consortium witnesses that did not verify.
    """

    org: str
    checkpoint: Checkpoint
    note: Note
    k: int
    witnesses: dict[str, int]
    refused: tuple[str, ...]

    def to_json(self) -> dict[str, object]:
        return {
            "org": self.org,
            "origin": self.checkpoint.origin,
            "size": self.checkpoint.size,
            "root": self.checkpoint.root_hash.hex(),
            "k": self.k,
            "witnesses": dict(sorted(self.witnesses.items())),
            "refused": list(self.refused),
        }


def _member(consortium: Consortium, checkpoint: Checkpoint, org: str | None) -> Member:
    if org is not None:
        member = consortium.member(org)
        if member.origin != checkpoint.origin:
            raise VerificationError(
                f"the checkpoint's origin is {checkpoint.origin!r}, not {org}'s log "
                f"{member.origin!r}",
                origin=checkpoint.origin,
            )
        return member
    for member in consortium.members:
        if member.origin == checkpoint.origin:
            return member
    raise UnknownKeyError(
        f"no member of {consortium.id!r} has the log {checkpoint.origin!r}",
        origin=checkpoint.origin,
    )


def verify_checkpoint(
    note: str | bytes | Note,
    consortium: Consortium,
    *,
    org: str | None = None,
    k: int | None = None,
) -> VerifiedCheckpoint:
    """Verify a member's checkpoint note against the consortium file.

    ``org`` names the member whose log it must be (default: the member with the
    checkpoint's origin); ``k`` the cosignatures required (default: the file's
    ``witness.k``; UsageError unless 0 <= k <= the other members). Raises
    MalformedError for a bad note, VerificationError if it is another member's
    log, UnknownKeyError if the log key did not sign it, BadSignatureError if
    the log's signature fails, QuorumNotMetError with fewer than ``k`` valid
    cosignatures from distinct other members.
    """
    if not isinstance(consortium, Consortium):
        raise UsageError("verify_checkpoint needs a Consortium")
    parsed = note if isinstance(note, Note) else Note.parse(note)
    checkpoint = Checkpoint.parse(parsed.text)
    member = _member(consortium, checkpoint, org)
    log = Verifier.parse(member.log_key)
    witnesses = tuple(Verifier.parse(m.witness_key) for m in consortium.witnesses_for(member.org))
    need = consortium.witness_k if k is None else k
    if type(need) is not int or not 0 <= need <= len(witnesses):
        raise UsageError(f"k must be from 0 to {len(witnesses)}, the other members' witnesses")

    by_key = {(w.name, w.key_id): w for w in witnesses}
    kept: list[Signature] = []
    refused: list[str] = []
    for sig in parsed.signatures:
        witness = by_key.get((sig.name, sig.key_id))
        if witness is not None:
            try:
                if verify_cosignature(checkpoint, sig, witness) == 0:
                    raise VerificationError("a cosignature with timestamp 0 claims nothing")
            except VerificationError:
                refused.append(sig.key_ref)
                continue
        kept.append(sig)
    if not kept:
        raise UnknownKeyError(
            f"the checkpoint is not signed by the log key {log.key_ref}", key=log.key_ref
        )
    try:
        cp, timestamps = verify_cosigned_checkpoint(
            Note(parsed.text, tuple(kept)), log, witnesses, need
        )
    except QuorumNotMetError as exc:
        if not refused:
            raise
        raise QuorumNotMetError(
            f"{exc.message}; {len(refused)} cosignature line(s) did not verify and were not "
            "counted",
            **{**exc.details, "refused": refused},
        ) from None
    return VerifiedCheckpoint(member.org, cp, parsed, need, timestamps, tuple(refused))


def fetch_checkpoint(
    url: str,
    consortium: Consortium,
    *,
    org: str | None = None,
    k: int | None = None,
    latest: bool = False,
    timeout: float = 30.0,
) -> VerifiedCheckpoint:
    """GET a node's checkpoint (``/v1/checkpoint``, or ``/v1/checkpoint/latest``) and verify it.

    NetworkError if the node cannot be reached; the node's error answers as
    their AccordError; then as :func:`verify_checkpoint`.
    """
    path = "/v1/checkpoint/latest" if latest else "/v1/checkpoint"
    with NodeClient(url, timeout=timeout) as client:
        text = client.request("GET", path).text
    return verify_checkpoint(text, consortium, org=org, k=k)
