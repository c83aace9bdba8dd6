"""Gossip between witnesses: catching a log that shows different histories to different witnesses.

A log that equivocates keeps each witness on one consistent branch, so no
single witness sees a conflict in add-checkpoint. Witnesses therefore send
each other the latest cosigned checkpoint they hold for every log
(:class:`GossipMessage`); :func:`process_gossip` compares each with what this
witness holds.

What proves a split view (docs/witness.md, "Gossip"): two checkpoints of one
origin, both signed by the log's key, that cannot both be prefixes of one
history. The receiver checks the log's signature and at least one cosignature
by another consortium witness (so only views some witness actually vouched
for count, and nobody can inject noise without a witness key), then:

- same size, different roots: a fork, proven by the two notes;
- different sizes: it asks the log for a consistency proof between them. A
  valid proof: honest growth, nothing is recorded. A proof whose old root is
  another prefix proves the split outright. No proof, or one that fails: the
  log cannot show that one view extends the other, which an honest log always
  can; evidence is recorded, and anyone can repeat the question
  (:func:`accord.witness.evidence.verify_evidence`). If the log could not be
  asked at all (the callable raised), nothing is concluded.

Message (canonical JSON; the HTTP layer signs it node to node, under
``accord/gossip/v1``, docs/formats.md section 7)::

    {"v": 1, "checkpoints": ["<signed note with cosignatures>", ...]}
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from accord.encoding import canonical, parse_json
from accord.errors import AccordError, MalformedError, TooLargeError, UsageError, VerificationError
from accord.merkle import EMPTY_ROOT
from accord.note import Checkpoint, Note, SigType, Verifier, verify_cosigned_checkpoint
from accord.witness.divergence import consistent, divergent_prefix
from accord.witness.evidence import GOSSIP_FORK, Evidence
from accord.witness.state import IsHalted, OnConflict, ProofSource, ReadState

__all__ = [
    "CONSISTENT",
    "EVIDENCE",
    "HALTED",
    "IGNORED",
    "MAX_GOSSIP_NOTES",
    "MAX_GOSSIP_SIZE",
    "NO_STATE",
    "UNRESOLVED",
    "GossipMessage",
    "GossipOutcome",
    "process_gossip",
]

#: At most this many checkpoints in one message (one per member log).
MAX_GOSSIP_NOTES: Final = 256
#: Largest gossip message, in bytes.
MAX_GOSSIP_SIZE: Final = 4 << 20

CONSISTENT: Final = "consistent"
EVIDENCE: Final = "evidence"
IGNORED: Final = "ignored"
UNRESOLVED: Final = "unresolved"
HALTED: Final = "halted"
NO_STATE: Final = "no-state"

_WHAT: Final = "gossip message"


@dataclass(frozen=True, slots=True)
class GossipMessage:
    """The latest cosigned checkpoints a witness holds, one signed note per log."""

    checkpoints: tuple[Note, ...]

    def __post_init__(self) -> None:
        if isinstance(self.checkpoints, list):
            object.__setattr__(self, "checkpoints", tuple(self.checkpoints))
        if not isinstance(self.checkpoints, tuple):
            raise MalformedError(_WHAT, "checkpoints must be a tuple of notes")
        if len(self.checkpoints) > MAX_GOSSIP_NOTES:
            raise MalformedError(_WHAT, f"more than {MAX_GOSSIP_NOTES} checkpoints")
        if not all(isinstance(n, Note) for n in self.checkpoints):
            raise MalformedError(_WHAT, "checkpoints must be accord.note.Note values")

    def to_json(self) -> dict[str, Any]:
        return {"v": 1, "checkpoints": [n.format() for n in self.checkpoints]}

    def format(self) -> str:
        """Canonical JSON text; the exact inverse of :meth:`parse`."""
        return canonical(self.to_json()).decode("utf-8")

    @classmethod
    def parse(cls, data: str | bytes) -> GossipMessage:
        """Parse a gossip message strictly (canonical JSON only); MalformedError("gossip message").

        Each entry must parse as a signed note (signatures are checked by
        :func:`process_gossip`, not here). TooLargeError above MAX_GOSSIP_SIZE.
        """
        if not isinstance(data, str | bytes):
            raise MalformedError(_WHAT, "expected JSON text")
        if len(data) > MAX_GOSSIP_SIZE:
            raise TooLargeError(_WHAT, f"larger than {MAX_GOSSIP_SIZE} bytes")
        obj = parse_json(data, _WHAT)
        if not isinstance(obj, dict) or set(obj) != {"v", "checkpoints"}:
            raise MalformedError(_WHAT, "expected an object with the keys v and checkpoints")
        if type(obj["v"]) is not int or obj["v"] != 1:
            raise MalformedError(_WHAT, "v must be 1")
        items = obj["checkpoints"]
        if not isinstance(items, list) or len(items) > MAX_GOSSIP_NOTES:
            raise MalformedError(_WHAT, f"checkpoints must be a list of at most {MAX_GOSSIP_NOTES}")
        notes = []
        for i, item in enumerate(items):
            if not isinstance(item, str):
                raise MalformedError(_WHAT, f"checkpoints[{i}] must be a signed note as text")
            try:
                notes.append(Note.parse(item))
            except AccordError as exc:
                raise MalformedError(_WHAT, f"checkpoints[{i}]: {exc.message}") from None
        message = cls(tuple(notes))
        text = data if isinstance(data, str) else data.decode("utf-8")
        if message.format() != text:
            raise MalformedError(_WHAT, "not in canonical form (RFC 8785)")
        return message


@dataclass(frozen=True, slots=True)
class GossipOutcome:
    """What became of one gossiped checkpoint.

    ``status``: ``consistent`` (no conflict), ``evidence`` (recorded),
    ``ignored`` (not usable: malformed, unknown origin, bad or missing
    signatures), ``no-state`` (this witness holds nothing for that log),
    ``halted`` (evidence already held), ``unresolved`` (the log could not be
    asked; try again later).
    """

    status: str
    reason: str
    origin: str | None = None
    size: int | None = None
    evidence: Evidence | None = None


def process_gossip(
    notes: Iterable[Note | str],
    *,
    logs: Mapping[str, Verifier],
    witnesses: Collection[Verifier],
    read_state: ReadState,
    consistency_proof: ProofSource,
    on_conflict: OnConflict,
    is_halted: IsHalted,
    now_seconds: int,
    peer: str | None = None,
) -> tuple[GossipOutcome, ...]:
    """Compare gossiped checkpoints with this witness's own; record evidence of split views.

    ``logs`` maps origins to log keys (type 0x01) as in add-checkpoint;
    ``witnesses`` are the cosignature/v1 keys of the *other* consortium
    witnesses, at least one of which must have cosigned a gossiped note for it
    to count. ``consistency_proof(origin, size1, size2)`` asks the log
    (:mod:`accord.witness.state`). ``peer`` names the sender in the evidence.
    Returns one :class:`GossipOutcome` per note, in order. An AccordError from
    ``read_state`` or ``on_conflict`` propagates (nothing was concluded);
    UsageError for bad preconditions.
    """
    witness_keys = tuple(witnesses)
    if not witness_keys:
        raise UsageError("gossip needs the other witnesses' keys")
    for w in witness_keys:
        if not isinstance(w, Verifier) or w.sig_type != SigType.COSIGNATURE_V1:
            raise UsageError("witness keys must be cosignature/v1 verifiers (type 0x04)")
    if type(now_seconds) is not int or now_seconds <= 0:
        raise UsageError("now_seconds must be a positive POSIX time")
    context = _Context(
        logs, witness_keys, read_state, consistency_proof, on_conflict, is_halted, now_seconds, peer
    )
    return tuple(context.one(note) for note in notes)


@dataclass(frozen=True, slots=True)
class _Context:
    logs: Mapping[str, Verifier]
    witnesses: tuple[Verifier, ...]
    read_state: ReadState
    consistency_proof: ProofSource
    on_conflict: OnConflict
    is_halted: IsHalted
    now: int
    peer: str | None

    def one(self, item: Note | str) -> GossipOutcome:
        try:
            note = item if isinstance(item, Note) else Note.parse(item)
            cp = Checkpoint.parse(note.text)
        except AccordError as exc:
            return GossipOutcome(IGNORED, f"not a checkpoint note: {exc.message}")
        origin, size = cp.origin, cp.size

        def outcome(status: str, reason: str, evidence: Evidence | None = None) -> GossipOutcome:
            return GossipOutcome(status, reason, origin, size, evidence)

        log = self.logs.get(origin)
        if log is None:
            return outcome(IGNORED, "this witness does not follow that log")
        try:
            verify_cosigned_checkpoint(note, log, self.witnesses, 1)
        except VerificationError as exc:
            return outcome(IGNORED, exc.message)
        if cp.size == 0 and cp.root_hash != EMPTY_ROOT:
            return outcome(IGNORED, "a size-0 checkpoint with a non-empty root")
        if self.is_halted(origin):
            return outcome(HALTED, "evidence is already held for this log")
        state = self.read_state(origin)
        if state is None:
            return outcome(NO_STATE, "this witness has not cosigned that log")
        held = state.checkpoint
        if held.size == cp.size:
            if held.root_hash == cp.root_hash:
                return outcome(CONSISTENT, "same checkpoint")
            return self._record(state.note, note, (), "same size, different roots")
        small, large = (held, cp) if held.size < cp.size else (cp, held)
        if small.size == 0:
            return outcome(CONSISTENT, "the empty tree is a prefix of every tree")
        try:
            proof = self.consistency_proof(origin, small.size, large.size)
        except AccordError as exc:
            return outcome(UNRESOLVED, f"could not ask the log: {exc.message}")
        if proof is None:
            return self._record(state.note, note, (), "the log gave no consistency proof")
        proof = tuple(proof)
        if consistent(small, large, proof):
            return outcome(CONSISTENT, f"the log proved {small.size} -> {large.size}")
        if divergent_prefix(small, large, proof) is not None:
            finding = "the log's proof leads to another prefix"
        else:
            finding = "the log's consistency proof does not verify"
        return self._record(state.note, note, _bounded(proof), finding)

    def _record(
        self, held: Note, shown: Note, proof: tuple[bytes, ...], finding: str
    ) -> GossipOutcome:
        """Keep the two notes as gossip-fork evidence (which halts the origin)."""
        cp = Checkpoint.parse(shown.text)
        details = {"finding": finding}
        if self.peer:
            details["peer"] = self.peer[:200]
        evidence = Evidence(
            origin=cp.origin,
            kind=GOSSIP_FORK,
            held=held,
            shown=shown,
            proof=proof,
            details=tuple(sorted(details.items())),
            detected_at=self.now * 1000,
        )
        self.on_conflict(evidence)
        return GossipOutcome(EVIDENCE, finding, cp.origin, cp.size, evidence)


def _bounded(proof: tuple[bytes, ...]) -> tuple[bytes, ...]:
    """The proof as evidence carries it: well-formed hashes only, at most 63 of them."""
    if len(proof) > 63 or not all(isinstance(h, bytes) and len(h) == 32 for h in proof):
        return ()
    return proof
