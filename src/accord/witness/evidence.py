"""Evidence that a log equivocated: two signed checkpoints that cannot both be true.

A witness that is shown a checkpoint conflicting with one it holds keeps both
signed notes as an :class:`Evidence` value, stops cosigning that log and serves
the evidence (docs/witness.md). Anyone can check it with
:func:`verify_evidence`, trusting only the log's public key, not the witness.

JSON form (Accord's conventions, docs/formats.md: canonical RFC 8785 JSON,
hashes in lowercase hex, times in milliseconds)::

    {"v": 1, "kind": "fork", "origin": "<origin>",
     "held": "<signed note the witness held>" | null,
     "shown": "<signed note the witness was shown>",
     "proof": ["<hex>", ...], "details": {"<key>": "<text>", ...},
     "detected_at": <ms>}

Kinds: ``fork`` (add-checkpoint: same size, different roots), ``inconsistent``
(add-checkpoint: the log's own consistency proof leads to the new root from a
different prefix), ``gossip-fork`` (another witness cosigned a checkpoint that
conflicts with this witness's), ``index-mismatch`` (an extra check, e.g. the
verifiable index, refused the advance; ``held`` may be null at first contact).
:meth:`Evidence.parse` accepts exactly the canonical text :meth:`Evidence.format`
writes (MalformedError("evidence") otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from accord.encoding import HASH_SIZE, canonical, hex32, parse_json
from accord.errors import (
    AccordError,
    BadSignatureError,
    MalformedError,
    TooLargeError,
    UnknownKeyError,
    UsageError,
    VerificationError,
)
from accord.note import Checkpoint, Note, SigType, Verifier, open_note
from accord.witness.divergence import consistent, divergent_prefix

__all__ = [
    "FORK",
    "GOSSIP_FORK",
    "INCONSISTENT",
    "INDEX_MISMATCH",
    "KINDS",
    "MAX_EVIDENCE_SIZE",
    "Evidence",
    "format_evidence_list",
    "parse_evidence_list",
    "verify_evidence",
]

FORK: Final = "fork"
INCONSISTENT: Final = "inconsistent"
GOSSIP_FORK: Final = "gossip-fork"
INDEX_MISMATCH: Final = "index-mismatch"
KINDS: Final = frozenset({FORK, INCONSISTENT, GOSSIP_FORK, INDEX_MISMATCH})

#: Largest evidence JSON accepted, in bytes.
MAX_EVIDENCE_SIZE: Final = 1 << 20
_MAX_PROOF: Final = 63
_MAX_DETAILS: Final = 16
_MAX_DETAIL: Final = 1000
_KEYS: Final = frozenset(
    {"v", "kind", "origin", "held", "shown", "proof", "details", "detected_at"}
)
_MAX_MS: Final = (1 << 63) - 1
_WHAT: Final = "evidence"


def _bad(message: str) -> MalformedError:
    return MalformedError(_WHAT, message)


def _checkpoint(note: Note, label: str) -> Checkpoint:
    try:
        return Checkpoint.parse(note.text)
    except MalformedError as exc:
        raise _bad(f"{label} is not a checkpoint note: {exc.message}") from None


def _note(value: object, label: str) -> Note:
    if not isinstance(value, str):
        raise _bad(f"{label} must be a signed note as text")
    try:
        return Note.parse(value)
    except AccordError as exc:
        raise _bad(f"{label}: {exc.message}") from None


@dataclass(frozen=True, slots=True)
class Evidence:
    """Two signed checkpoints of ``origin`` that conflict, and how the conflict was seen.

    ``held`` is the note the witness held (and had cosigned), ``shown`` the one
    it was shown; ``proof`` the consistency proof offered, if any (hashes);
    ``details`` short text facts (sorted ``(key, value)`` pairs); ``detected_at``
    milliseconds since the epoch. Holding an Evidence proves nothing: use
    :func:`verify_evidence`. MalformedError("evidence") for a bad shape.
    """

    origin: str
    kind: str
    held: Note | None
    shown: Note
    proof: tuple[bytes, ...] = ()
    details: tuple[tuple[str, str], ...] = ()
    detected_at: int = 0

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise _bad(f"kind must be one of {sorted(KINDS)}")
        if not isinstance(self.shown, Note):
            raise _bad("shown must be a Note")
        if self.held is None:
            if self.kind != INDEX_MISMATCH:
                raise _bad(f"{self.kind} evidence needs the held note")
        elif not isinstance(self.held, Note):
            raise _bad("held must be a Note or None")
        notes = [("shown", self.shown)] + ([("held", self.held)] if self.held else [])
        for label, note in notes:
            if _checkpoint(note, label).origin != self.origin:
                raise _bad(f"the {label} checkpoint is not for origin {self.origin!r}")
        if isinstance(self.proof, list):
            object.__setattr__(self, "proof", tuple(self.proof))
        if not isinstance(self.proof, tuple) or len(self.proof) > _MAX_PROOF:
            raise _bad(f"proof must be a tuple of at most {_MAX_PROOF} hashes")
        if not all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in self.proof):
            raise _bad(f"proof hashes must be {HASH_SIZE} bytes")
        if isinstance(self.details, Mapping):
            object.__setattr__(self, "details", tuple(sorted(self.details.items())))
        if not isinstance(self.details, tuple) or len(self.details) > _MAX_DETAILS:
            raise _bad(f"details must be at most {_MAX_DETAILS} (key, text) pairs")
        for pair in self.details:
            if (
                not isinstance(pair, tuple)
                or len(pair) != 2
                or not all(isinstance(s, str) and 0 < len(s) <= _MAX_DETAIL for s in pair)
            ):
                raise _bad("each detail is a (key, text) pair of non-empty strings")
        keys = [k for k, _ in self.details]
        if keys != sorted(set(keys)):
            raise _bad("detail keys must be unique and sorted")
        if type(self.detected_at) is not int or not 0 <= self.detected_at <= _MAX_MS:
            raise _bad("detected_at must be milliseconds since the epoch")

    @property
    def held_checkpoint(self) -> Checkpoint | None:
        return None if self.held is None else _checkpoint(self.held, "held")

    @property
    def shown_checkpoint(self) -> Checkpoint:
        return _checkpoint(self.shown, "shown")

    def detail(self, key: str) -> str | None:
        return dict(self.details).get(key)

    def to_json(self) -> dict[str, Any]:
        return {
            "v": 1,
            "kind": self.kind,
            "origin": self.origin,
            "held": None if self.held is None else self.held.format(),
            "shown": self.shown.format(),
            "proof": [h.hex() for h in self.proof],
            "details": dict(self.details),
            "detected_at": self.detected_at,
        }

    def format(self) -> str:
        """Canonical JSON text (RFC 8785); the exact inverse of :meth:`parse`."""
        return canonical(self.to_json()).decode("utf-8")

    @classmethod
    def from_json(cls, obj: object) -> Evidence:
        """Evidence from decoded JSON; MalformedError("evidence") for any defect."""
        if not isinstance(obj, dict) or set(obj) != _KEYS:
            raise _bad(f"expected an object with exactly the keys {sorted(_KEYS)}")
        if type(obj["v"]) is not int or obj["v"] != 1:
            raise _bad("v must be 1")
        if not isinstance(obj["kind"], str) or not isinstance(obj["origin"], str):
            raise _bad("kind and origin must be strings")
        proof, details = obj["proof"], obj["details"]
        if not isinstance(proof, list) or len(proof) > _MAX_PROOF:
            raise _bad(f"proof must be a list of at most {_MAX_PROOF} hex hashes")
        if not all(isinstance(h, str) for h in proof):
            raise _bad("proof hashes must be hex strings")
        if not isinstance(details, dict):
            raise _bad("details must be an object of strings")
        held = None if obj["held"] is None else _note(obj["held"], "held")
        return cls(
            origin=obj["origin"],
            kind=obj["kind"],
            held=held,
            shown=_note(obj["shown"], "shown"),
            proof=tuple(hex32(h, _WHAT) for h in proof),
            details=tuple(sorted(details.items())),
            detected_at=obj["detected_at"],
        )

    @classmethod
    def parse(cls, data: str | bytes) -> Evidence:
        """Parse evidence JSON strictly: canonical RFC 8785 text only.

        MalformedError("evidence"); TooLargeError above :data:`MAX_EVIDENCE_SIZE`.
        """
        if not isinstance(data, str | bytes):
            raise _bad("expected JSON text")
        if len(data) > MAX_EVIDENCE_SIZE:
            raise TooLargeError(_WHAT, f"larger than {MAX_EVIDENCE_SIZE} bytes")
        evidence = cls.from_json(parse_json(data, _WHAT))
        text = data if isinstance(data, str) else data.decode("utf-8")
        if evidence.format() != text:
            raise _bad("not in canonical form (RFC 8785)")
        return evidence


def format_evidence_list(items: Sequence[Evidence]) -> str:
    """The body of ``GET /v1/witness/evidence``: ``{"v": 1, "evidence": [<evidence>, ...]}``.

    Canonical JSON; the exact inverse of :func:`parse_evidence_list`.
    """
    if not all(isinstance(e, Evidence) for e in items):
        raise UsageError("format_evidence_list takes Evidence values")
    return canonical({"v": 1, "evidence": [e.to_json() for e in items]}).decode("utf-8")


def parse_evidence_list(data: str | bytes) -> tuple[Evidence, ...]:
    """Parse an evidence list strictly (canonical JSON only); MalformedError("evidence").

    TooLargeError above 64 times :data:`MAX_EVIDENCE_SIZE`.
    """
    if not isinstance(data, str | bytes):
        raise _bad("expected JSON text")
    if len(data) > 64 * MAX_EVIDENCE_SIZE:
        raise TooLargeError(_WHAT, f"larger than {64 * MAX_EVIDENCE_SIZE} bytes")
    obj = parse_json(data, _WHAT)
    if not isinstance(obj, dict) or set(obj) != {"v", "evidence"}:
        raise _bad("expected an object with the keys v and evidence")
    if type(obj["v"]) is not int or obj["v"] != 1:
        raise _bad("v must be 1")
    if not isinstance(obj["evidence"], list):
        raise _bad("evidence must be a list")
    items = tuple(Evidence.from_json(e) for e in obj["evidence"])
    text = data if isinstance(data, str) else data.decode("utf-8")
    if format_evidence_list(items) != text:
        raise _bad("not in canonical form (RFC 8785)")
    return items


# -- verification ------------------------------------------------------------------


def _signed(note: Note, log: Verifier, label: str) -> Checkpoint:
    """The checkpoint of ``note`` if the log's key signed it; BadSignatureError/UnknownKeyError."""
    what = f"the {label} checkpoint is not signed by the log key {log.key_ref}"
    try:
        open_note(note, [log])
    except BadSignatureError:
        raise BadSignatureError(f"{what}: its signature does not verify", key=log.key_ref) from None
    except UnknownKeyError:
        raise UnknownKeyError(f"{what}: no signature by that key", key=log.key_ref) from None
    return _checkpoint(note, label)


def verify_evidence(
    evidence: Evidence,
    log_verifier: Verifier,
    *,
    consistency_proof: Callable[[str, int, int], Sequence[bytes] | None] | None = None,
    check_index: Callable[[Evidence], None] | None = None,
) -> None:
    """Raise unless ``evidence`` proves the log of ``evidence.origin`` equivocated.

    Checks, trusting only ``log_verifier`` (the log's Ed25519 key, type 0x01):

    1. Each note carries a valid signature by the log key (a bad one is
       BadSignatureError, none is UnknownKeyError).
    2. The two checkpoints conflict (:mod:`accord.witness.divergence`):
       same size and different roots; or the evidence's proof leads to the
       larger root from a prefix that is not the smaller root. Both are
       self-contained: no one needs to be trusted or asked.
    3. Otherwise (different sizes, no revealing proof) the conflict rests on the
       log's failure to prove consistency. An outsider re-asks the log through
       ``consistency_proof(origin, size1, size2)``: a valid proof refutes the
       evidence (VerificationError); None or a proof that fails confirms it.
       Without the callable this raises VerificationError with
       ``details["inconclusive"] = True``.
    4. ``index-mismatch`` evidence is checked by ``check_index(evidence)``
       (the verifiable-index checker, which fetches the leaves and raises
       unless the mismatch is real); without it, inconclusive as above.

    An evidence whose proof shows the checkpoints consistent, or whose notes
    are the same checkpoint, is refused with VerificationError. UsageError if
    ``log_verifier`` is not a type 0x01 key.
    """
    if not isinstance(evidence, Evidence):
        raise UsageError("verify_evidence needs an Evidence")
    if not isinstance(log_verifier, Verifier) or log_verifier.sig_type != SigType.ED25519:
        raise UsageError("the log key must be an Ed25519 note verifier (type 0x01)")
    shown = _signed(evidence.shown, log_verifier, "shown")
    held = None if evidence.held is None else _signed(evidence.held, log_verifier, "held")

    if evidence.kind == INDEX_MISMATCH:
        if check_index is None:
            raise VerificationError(
                "index-mismatch evidence is checked against the log's leaves: pass check_index",
                inconclusive=True,
            )
        check_index(evidence)
        return
    if held is None:  # only index-mismatch may lack it (Evidence.__post_init__)
        raise VerificationError("evidence without the held checkpoint proves nothing")

    if held.size == shown.size:
        if held.root_hash == shown.root_hash:
            raise VerificationError("both notes sign the same checkpoint: no conflict")
        return  # a fork: one size, two roots, both signed by the log
    if evidence.kind == FORK:
        raise VerificationError("fork evidence needs two checkpoints of the same size")
    small, large = (held, shown) if held.size < shown.size else (shown, held)
    if small.size == 0:
        raise VerificationError("the empty tree is a prefix of every tree: no conflict")
    if divergent_prefix(small, large, evidence.proof) is not None:
        return  # the log's own proof shows another history below the larger root
    if evidence.proof and consistent(small, large, evidence.proof):
        raise VerificationError("the evidence's own proof shows the checkpoints are consistent")
    if consistency_proof is None:
        raise VerificationError(
            f"checkpoints of sizes {small.size} and {large.size} conflict only if the log "
            "cannot prove them consistent: ask it (pass consistency_proof)",
            inconclusive=True,
        )
    answer = consistency_proof(evidence.origin, small.size, large.size)
    if answer is not None and consistent(small, large, answer):
        raise VerificationError("refuted: the log proved the two checkpoints consistent")
    # No proof, a proof that fails or one revealing another prefix: the log,
    # which signed both checkpoints, cannot show that one extends the other.
