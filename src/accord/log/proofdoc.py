"""Proof documents: a log's RFC 9162 proofs as JSON, checked offline against a checkpoint (pure).

``accord log prove --json`` writes one of these and ``accord log verify`` reads it
back; the verifier needs only the document, a signed checkpoint note and the log's
verifier key, never the log. Hashes are 64 lowercase hex digits::

    {"v": 1, "type": "inclusion", "origin": O, "index": i, "size": n,
     "leaf_hash": H, "proof": [H, ...], "root_hash": R}
    {"v": 1, "type": "consistency", "origin": O, "size1": m, "size2": n,
     "root1": R1, "root2": R2, "proof": [H, ...]}
    {"v": 1, "type": "range", "origin": O, "start": s, "end": e, "size": n,
     "leaf_hashes": [H, ...], "proof": [H, ...], "root_hash": R}

``parse_proof_doc(text)`` and ``doc.format()`` are exact inverses (sorted keys,
two-space indent, final newline); the parser is strict: MalformedError("proof")
for anything else. :func:`verify_proof_doc` trusts no root the document names:
roots come from checkpoints signed by the log's key (C2SP tlog-checkpoint), and
the document's own roots must agree with them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from accord.encoding import hex32, parse_json
from accord.errors import BadProofError, MalformedError, RootMismatchError, VerificationError
from accord.merkle import leaf_hash, verify_consistency, verify_inclusion, verify_range
from accord.note import Checkpoint, Verifier, open_note
from accord.note.checkpoint import MAX_TREE_SIZE

__all__ = [
    "PROOF_VERSION",
    "ConsistencyDoc",
    "InclusionDoc",
    "ProofDoc",
    "RangeDoc",
    "open_checkpoint",
    "parse_proof_doc",
    "verify_proof_doc",
]

PROOF_VERSION: Final = 1
_WHAT: Final = "proof"
#: At most this many hashes in one list (a range of 2**20 leaves, or any real proof).
_MAX_HASHES: Final = 1 << 20


def _int(value: object, name: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_TREE_SIZE:
        raise MalformedError(_WHAT, f"{name} must be an integer in [0, 2**63 - 1]")
    return value


def _hash(value: object, name: str) -> bytes:
    if not isinstance(value, str):
        raise MalformedError(_WHAT, f"{name} must be a hex string")
    return hex32(value, _WHAT)


def _hashes(value: object, name: str) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise MalformedError(_WHAT, f"{name} must be a list of hex hashes")
    if len(value) > _MAX_HASHES:
        raise MalformedError(_WHAT, f"{name} has more than {_MAX_HASHES} hashes")
    return tuple(_hash(h, name) for h in value)


def _check_hashes(values: object, name: str) -> None:
    if not isinstance(values, tuple) or not all(
        isinstance(h, bytes) and len(h) == 32 for h in values
    ):
        raise MalformedError(_WHAT, f"{name} must be a tuple of 32-byte hashes")


def _origin(value: object) -> str:
    if not isinstance(value, str) or not value or "\n" in value:
        raise MalformedError(_WHAT, "origin must be a non-empty line of text")
    return value


@dataclass(frozen=True, slots=True)
class InclusionDoc:
    """Entry ``index`` (leaf hash ``leaf_hash``) is in the tree of ``size`` with ``root_hash``."""

    origin: str
    index: int
    size: int
    leaf_hash: bytes
    proof: tuple[bytes, ...]
    root_hash: bytes

    def __post_init__(self) -> None:
        _origin(self.origin)
        _int(self.index, "index")
        _int(self.size, "size")
        _check_hashes((self.leaf_hash, self.root_hash), "hashes")
        _check_hashes(self.proof, "proof")
        if self.index >= self.size:
            raise MalformedError(_WHAT, f"index {self.index} is beyond size {self.size}")

    def to_json(self) -> dict[str, Any]:
        return {
            "v": PROOF_VERSION,
            "type": "inclusion",
            "origin": self.origin,
            "index": self.index,
            "size": self.size,
            "leaf_hash": self.leaf_hash.hex(),
            "proof": [h.hex() for h in self.proof],
            "root_hash": self.root_hash.hex(),
        }

    def format(self) -> str:
        return _dump(self.to_json())


@dataclass(frozen=True, slots=True)
class ConsistencyDoc:
    """The tree (``size1``, ``root1``) is a prefix of the tree (``size2``, ``root2``)."""

    origin: str
    size1: int
    size2: int
    root1: bytes
    root2: bytes
    proof: tuple[bytes, ...]

    def __post_init__(self) -> None:
        _origin(self.origin)
        _int(self.size1, "size1")
        _int(self.size2, "size2")
        _check_hashes((self.root1, self.root2), "roots")
        _check_hashes(self.proof, "proof")
        if not 0 < self.size1 <= self.size2:
            raise MalformedError(_WHAT, "a consistency proof needs 0 < size1 <= size2")

    def to_json(self) -> dict[str, Any]:
        return {
            "v": PROOF_VERSION,
            "type": "consistency",
            "origin": self.origin,
            "size1": self.size1,
            "size2": self.size2,
            "root1": self.root1.hex(),
            "root2": self.root2.hex(),
            "proof": [h.hex() for h in self.proof],
        }

    def format(self) -> str:
        return _dump(self.to_json())


@dataclass(frozen=True, slots=True)
class RangeDoc:
    """Entries ``[start, end)`` have ``leaf_hashes`` in the tree of ``size`` with ``root_hash``."""

    origin: str
    start: int
    end: int
    size: int
    leaf_hashes: tuple[bytes, ...]
    proof: tuple[bytes, ...]
    root_hash: bytes

    def __post_init__(self) -> None:
        _origin(self.origin)
        for value, name in ((self.start, "start"), (self.end, "end"), (self.size, "size")):
            _int(value, name)
        _check_hashes((self.root_hash,), "root_hash")
        _check_hashes(self.leaf_hashes, "leaf_hashes")
        _check_hashes(self.proof, "proof")
        if not self.start <= self.end <= self.size:
            raise MalformedError(_WHAT, "a range proof needs start <= end <= size")
        if len(self.leaf_hashes) != self.end - self.start:
            count = len(self.leaf_hashes)
            raise MalformedError(_WHAT, f"{count} leaf hashes for {self.end - self.start} entries")

    def to_json(self) -> dict[str, Any]:
        return {
            "v": PROOF_VERSION,
            "type": "range",
            "origin": self.origin,
            "start": self.start,
            "end": self.end,
            "size": self.size,
            "leaf_hashes": [h.hex() for h in self.leaf_hashes],
            "proof": [h.hex() for h in self.proof],
            "root_hash": self.root_hash.hex(),
        }

    def format(self) -> str:
        return _dump(self.to_json())


ProofDoc = InclusionDoc | ConsistencyDoc | RangeDoc

_KEYS: Final = {
    "inclusion": {"v", "type", "origin", "index", "size", "leaf_hash", "proof", "root_hash"},
    "consistency": {"v", "type", "origin", "size1", "size2", "root1", "root2", "proof"},
    "range": {"v", "type", "origin", "start", "end", "size", "leaf_hashes", "proof", "root_hash"},
}


def _dump(value: dict[str, Any]) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def parse_proof_doc(text: str | bytes) -> ProofDoc:
    """Parse a proof document strictly; MalformedError("proof") for anything else."""
    value = parse_json(text, _WHAT)
    if not isinstance(value, dict):
        raise MalformedError(_WHAT, "a proof document is a JSON object")
    if value.get("v") != PROOF_VERSION or type(value.get("v")) is not int:
        raise MalformedError(_WHAT, f"unknown version {value.get('v')!r} (expected 1)")
    kind = value.get("type")
    if not isinstance(kind, str) or kind not in _KEYS:
        raise MalformedError(_WHAT, "type must be inclusion, consistency or range")
    if set(value) != _KEYS[kind]:
        missing = sorted(_KEYS[kind] - set(value))
        extra = sorted(set(value) - _KEYS[kind])
        raise MalformedError(_WHAT, f"{kind} proof: missing {missing}, unexpected {extra}")
    origin = _origin(value["origin"])
    proof = _hashes(value["proof"], "proof")
    if kind == "inclusion":
        return InclusionDoc(
            origin,
            _int(value["index"], "index"),
            _int(value["size"], "size"),
            _hash(value["leaf_hash"], "leaf_hash"),
            proof,
            _hash(value["root_hash"], "root_hash"),
        )
    if kind == "consistency":
        return ConsistencyDoc(
            origin,
            _int(value["size1"], "size1"),
            _int(value["size2"], "size2"),
            _hash(value["root1"], "root1"),
            _hash(value["root2"], "root2"),
            proof,
        )
    return RangeDoc(
        origin,
        _int(value["start"], "start"),
        _int(value["end"], "end"),
        _int(value["size"], "size"),
        _hashes(value["leaf_hashes"], "leaf_hashes"),
        proof,
        _hash(value["root_hash"], "root_hash"),
    )


def open_checkpoint(note: str | bytes, verifier: Verifier) -> Checkpoint:
    """The checkpoint in signed note ``note`` if ``verifier``'s key signed it.

    MalformedError for a note or checkpoint that does not parse; UnknownKeyError if
    the key did not sign it; BadSignatureError if its signature does not verify.
    The checkpoint's origin must be the key's name (the C2SP convention for log keys).
    """
    opened = open_note(note, [verifier])
    checkpoint = Checkpoint.parse(opened.text)
    if checkpoint.origin != verifier.name:
        raise VerificationError(
            f"the checkpoint is for {checkpoint.origin!r}, the key is {verifier.name!r}'s",
            origin=checkpoint.origin,
            key=verifier.key_ref,
        )
    return checkpoint


def _same_tree(what: str, doc_size: int, doc_root: bytes, cp: Checkpoint) -> None:
    if doc_size != cp.size:
        raise BadProofError(
            f"{what} is for size {doc_size}, the checkpoint for size {cp.size}",
            proof_size=doc_size,
            checkpoint_size=cp.size,
        )
    if doc_root != cp.root_hash:
        raise RootMismatchError(
            f"{what} names a root that the signed checkpoint does not",
            expected=cp.root_hash,
            computed=doc_root,
        )


def verify_proof_doc(
    doc: ProofDoc,
    checkpoint: Checkpoint,
    *,
    old_checkpoint: Checkpoint | None = None,
    entries: Sequence[bytes] | None = None,
) -> None:
    """Raise a VerificationError unless ``doc`` holds against verified checkpoints.

    ``checkpoint`` (from :func:`open_checkpoint`) is the tree the proof ends in:
    ``size`` (``size2`` for consistency) must be its size and every root is
    recomputed from the proof and compared with its root. For a consistency
    proof, ``old_checkpoint`` (if given) must be the tree at ``size1``; without
    it ``root1`` is the document's claim, proven to be a prefix of ``checkpoint``.
    ``entries`` (if given) are the entries the proof is about (one for
    inclusion, ``end - start`` for a range): their RFC 9162 leaf hashes must
    be the document's.
    """
    if doc.origin != checkpoint.origin:
        raise VerificationError(
            f"the proof is for the log {doc.origin!r}, the checkpoint for {checkpoint.origin!r}"
        )
    if isinstance(doc, InclusionDoc):
        _check_entries(entries, (doc.leaf_hash,))
        _same_tree("the proof", doc.size, doc.root_hash, checkpoint)
        verify_inclusion(doc.index, doc.size, doc.leaf_hash, doc.proof, checkpoint.root_hash)
    elif isinstance(doc, RangeDoc):
        _check_entries(entries, doc.leaf_hashes)
        _same_tree("the proof", doc.size, doc.root_hash, checkpoint)
        verify_range(doc.start, doc.end, doc.size, doc.leaf_hashes, doc.proof, checkpoint.root_hash)
    else:
        if entries is not None:
            raise BadProofError("a consistency proof is about no entries")
        _same_tree("the proof", doc.size2, doc.root2, checkpoint)
        if old_checkpoint is not None:
            if old_checkpoint.origin != checkpoint.origin:
                raise VerificationError("the two checkpoints are of different logs")
            _same_tree("the proof's first tree", doc.size1, doc.root1, old_checkpoint)
        verify_consistency(doc.size1, doc.size2, doc.proof, doc.root1, checkpoint.root_hash)


def _check_entries(entries: Sequence[bytes] | None, hashes: Sequence[bytes]) -> None:
    if entries is None:
        return
    if len(entries) != len(hashes):
        raise BadProofError(f"{len(entries)} entries given for a proof of {len(hashes)}")
    for i, (entry, expected) in enumerate(zip(entries, hashes, strict=True)):
        computed = leaf_hash(entry)
        if computed != expected:
            raise RootMismatchError(
                f"entry {i} given does not have the proof's leaf hash",
                expected=expected,
                computed=computed,
            )
