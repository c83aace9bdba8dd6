"""Cosigned checkpoints: a log-signed checkpoint note carrying witnesses' cosignatures.

This is what clients and witnesses check before they trust a tree head
(DESIGN.md section 3, step 4; shared/reference/tlog.md sections 5.2 and 5.3):
the log's Ed25519 signature on the checkpoint text, then a quorum of
cosignature/v1 lines from distinct configured witnesses.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import cast

from accord.errors import QuorumNotMetError, UnknownKeyError, UsageError
from accord.note.checkpoint import Checkpoint
from accord.note.keys import SigType, Verifier
from accord.note.signed_note import Note, Signature, open_note

__all__ = ["verify_cosignature", "verify_cosigned_checkpoint"]


def verify_cosignature(checkpoint: Checkpoint, signature: Signature, verifier: Verifier) -> int:
    """Verify one witness's cosignature line on ``checkpoint``; return its timestamp.

    tlog-cosignature v1.0.1, type 0x04. ``verifier`` must be a cosignature/v1
    key (UsageError otherwise). UnknownKeyError if the line's name or key ID
    is not the verifier's; BadSignatureError if it does not verify.
    """
    if not isinstance(verifier, Verifier) or verifier.sig_type != SigType.COSIGNATURE_V1:
        raise UsageError("a cosignature is verified with a cosignature/v1 key (type 0x04)")
    if (signature.name, signature.key_id) != (verifier.name, verifier.key_id):
        raise UnknownKeyError(
            f"cosignature by {signature.key_ref} is not by {verifier.key_ref}",
            key=signature.key_ref,
        )
    # A type 0x04 key always yields the timestamp (None is only for type 0x01).
    return cast(int, verifier.verify(checkpoint.format().encode("utf-8"), signature.signature))


def verify_cosigned_checkpoint(
    note_text: str | bytes | Note,
    log_verifier: Verifier,
    witness_verifiers: Iterable[Verifier],
    k: int,
) -> tuple[Checkpoint, dict[str, int]]:
    """Verify a checkpoint note signed by the log and cosigned by at least ``k`` witnesses.

    Preconditions (UsageError otherwise): ``log_verifier`` is a type 0x01 key;
    every witness verifier is a type 0x04 (cosignature/v1) key; 0 <= k <= the
    number of distinct witness names.

    Returns the checkpoint and, for each witness whose cosignature verified,
    its name and timestamp (the latest, if it cosigned more than once). Other
    signatures (unknown keys) are ignored. Raises, in this order:
    MalformedError for a bad note or checkpoint text; BadSignatureError if a
    signature by the log or a given witness fails (signed-note: a known key's
    bad signature rejects the note); UnknownKeyError unless the log's
    signature verified; QuorumNotMetError with fewer than ``k`` witnesses.
    The checkpoint's origin is not compared with the log key's name (the
    caller picks the key for the origin; sum.golang.org shows they may differ).
    """
    if not isinstance(log_verifier, Verifier) or log_verifier.sig_type != SigType.ED25519:
        raise UsageError("the log key must be an Ed25519 note verifier (type 0x01)")
    witnesses = tuple(witness_verifiers)
    for w in witnesses:
        if not isinstance(w, Verifier) or w.sig_type != SigType.COSIGNATURE_V1:
            raise UsageError("witness keys must be cosignature/v1 verifiers (type 0x04)")
    names = {w.name for w in witnesses}
    if type(k) is not int or not 0 <= k <= len(names):
        raise UsageError(f"k must be between 0 and the {len(names)} configured witnesses")

    note = note_text if isinstance(note_text, Note) else Note.parse(note_text)
    checkpoint = Checkpoint.parse(note.text)
    opened = open_note(note, (log_verifier, *witnesses))
    if not any(v.verifier == log_verifier for v in opened.verified):
        raise UnknownKeyError(
            f"checkpoint is not signed by the log key {log_verifier.key_ref}",
            key=log_verifier.key_ref,
        )
    timestamps: dict[str, int] = {}
    for v in opened.verified:
        if v.verifier.sig_type == SigType.COSIGNATURE_V1 and v.timestamp is not None:
            name = v.verifier.name
            timestamps[name] = max(v.timestamp, timestamps.get(name, v.timestamp))
    if len(timestamps) < k:
        raise QuorumNotMetError(
            f"{len(timestamps)} of the {k} required witnesses cosigned the checkpoint",
            have=len(timestamps),
            need=k,
            witnesses=sorted(timestamps),
        )
    return checkpoint, timestamps
