"""C2SP signed notes, checkpoints and cosignatures (pure).

Byte-exact implementations of signed-note v1.0.0, tlog-checkpoint v1.0.0 and
tlog-cosignature v1.0.1 (Ed25519, type 0x04), as pinned in
shared/reference/tlog.md section 5. Every text format has ``parse`` and
``format``, exact inverses, and a strict parser raising one
:class:`~accord.errors.MalformedError` per format ("note", "signature line",
"checkpoint", "verifier key", "signer key", "cosignature").

Keys (:mod:`accord.note.keys`, :mod:`accord.note.signers`):

- ``Signer.generate(name)``, ``Signer.parse(skey)``, ``Signer.from_private_bytes(name,
  seed)``; ``signer.format()`` (``PRIVATE+KEY+...``), ``signer.verifier()``,
  ``signer.sign(text) -> Signature``, ``signer.private_bytes()``. ``Cosigner``
  likewise (type 0x04) with ``cosigner.cosign(checkpoint, timestamp) -> Signature``.
  ``parse_signer_key(skey)`` returns either.
- ``Verifier(name, sig_type, public_key)``, ``Verifier.parse(vkey)``,
  ``verifier.format()``, ``.key_id`` (4 bytes), ``.key_ref`` (``name+hex``).
  Types 0x02, 0x05, 0x06 (ML-DSA-44) and unassigned ones raise
  :class:`~accord.errors.UnsupportedAlgorithmError` ("unsupported algorithm: ML-DSA-44").
- ``key_id(name, sig_type, public_key)``, ``check_key_name(name)``, ``SigType``.

Notes (:mod:`accord.note.signed_note`):

- ``Note(text, signatures)``, ``Note.parse(message)``, ``note.format()``,
  ``note.with_signatures(*sigs)``; ``Signature(name, key_id, signature)``,
  ``Signature.parse(line)``, ``parse_signature_lines(text)``.
- ``sign_note(text_or_note, *signers) -> Note``.
- ``open_note(message, verifiers) -> OpenedNote`` (``.verified`` with
  cosignature timestamps, ``.unverified``): unknown keys ignored, a known key's
  bad signature is BadSignatureError, no verified signature is UnknownKeyError.

Checkpoints and cosignatures (:mod:`accord.note.checkpoint`,
:mod:`accord.note.cosignature`, :mod:`accord.note.cosigned`):

- ``Checkpoint(origin, size, root_hash, extensions)``, ``Checkpoint.parse``, ``.format()``.
- ``cosigned_message(checkpoint_text, timestamp)``, ``Cosignature.from_bytes`` /
  ``.to_bytes()`` (the 76-byte payload), ``cosignature_timestamp(b64_or_bytes)``.
- ``verify_cosignature(checkpoint, signature, verifier) -> timestamp``: one
  witness's line (e.g. a witness's answer, before it is appended to the note).
- ``verify_cosigned_checkpoint(note_text, log_verifier, witness_verifiers, k)
  -> (Checkpoint, {witness name: timestamp})``: the log's signature and at
  least ``k`` valid cosignatures from distinct witnesses, else QuorumNotMetError.

Example::

    log = Signer.generate("example.com/log")
    witness = Cosigner.generate("witness.example/w1")
    cp = Checkpoint("example.com/log", 0, EMPTY_ROOT)
    note = sign_note(cp.format(), log)
    note = note.with_signatures(witness.cosign(cp, timestamp=1700000000))
    verify_cosigned_checkpoint(note.format(), log.verifier(), [witness.verifier()], 1)
"""

from accord.note.checkpoint import MAX_TREE_SIZE, Checkpoint
from accord.note.cosignature import (
    COSIGNATURE_SIZE,
    MAX_TIMESTAMP,
    Cosignature,
    cosignature_timestamp,
    cosigned_message,
)
from accord.note.cosigned import verify_cosignature, verify_cosigned_checkpoint
from accord.note.keys import KEY_ID_SIZE, SigType, Verifier, check_key_name, key_id
from accord.note.signed_note import (
    MAX_SIGNATURES,
    Note,
    NoteSigner,
    OpenedNote,
    Signature,
    VerifiedSignature,
    open_note,
    parse_signature_lines,
    sign_note,
)
from accord.note.signers import Cosigner, Signer, parse_signer_key

__all__ = [
    "COSIGNATURE_SIZE",
    "KEY_ID_SIZE",
    "MAX_SIGNATURES",
    "MAX_TIMESTAMP",
    "MAX_TREE_SIZE",
    "Checkpoint",
    "Cosignature",
    "Cosigner",
    "Note",
    "NoteSigner",
    "OpenedNote",
    "SigType",
    "Signature",
    "Signer",
    "VerifiedSignature",
    "Verifier",
    "check_key_name",
    "cosignature_timestamp",
    "cosigned_message",
    "key_id",
    "open_note",
    "parse_signature_lines",
    "parse_signer_key",
    "sign_note",
    "verify_cosignature",
    "verify_cosigned_checkpoint",
]
