"""The skeptic's checks over data fetched from the members (pure; docs/audit.md section 2).

Each function takes what was fetched (signed notes, heads, proofs, leaf bytes, bodies)
and returns findings; none does I/O. The fetcher (:mod:`accord.audit.runner`) decides
what to fetch and calls these in order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from accord.audit.findings import Finding
from accord.errors import AccordError, QuorumNotMetError, VerificationError
from accord.index.replay import IndexReplayer
from accord.merkle import EMPTY_ROOT, leaf_hash, root_hash, verify_consistency, verify_inclusion
from accord.note import Checkpoint, Note, Verifier, verify_cosignature, verify_cosigned_checkpoint
from accord.quorum import Consortium, Member
from accord.records import Header, parse_leaf
from accord.witness.evidence import parse_evidence_list, verify_evidence

__all__ = [
    "Head",
    "LogView",
    "body_hash_of",
    "check_body",
    "check_checkpoint",
    "check_entry",
    "check_evidence",
    "check_head",
    "check_heads_agree",
    "check_index",
    "check_tree",
    "parse_heads",
]


def _hexes(proof: Sequence[bytes]) -> str:
    return " ".join(h.hex() for h in proof) or "(empty)"


def _leaf_text(leaf: bytes) -> str:
    return leaf.decode("utf-8", "backslashreplace")


@dataclass(frozen=True, slots=True)
class LogView:
    """A member's checkpoint as the auditor accepted it: log-signed, maybe k-cosigned."""

    org: str
    checkpoint: Checkpoint
    note: str
    cosigned_by: tuple[str, ...]
    witnessed: bool


def check_checkpoint(
    member: Member, note_text: str, consortium: Consortium
) -> tuple[LogView | None, list[Finding]]:
    """Verify ``member``'s checkpoint: its origin, its log key's signature and the
    consortium's ``witness.k`` cosignatures by the other members' witness keys.

    Returns the view (None if the log signature itself fails: nothing of that log can be
    checked then) and the findings. Fewer than ``k`` cosignatures is a finding, but the
    log-signed checkpoint is still returned so the log can be checked against it.
    """
    org = member.org
    log_key = Verifier.parse(member.log_key)
    witnesses = [Verifier.parse(m.witness_key) for m in consortium.witnesses_for(org)]
    k = min(consortium.witness_k, len(witnesses))
    findings: list[Finding] = []
    try:
        note = Note.parse(note_text)
        checkpoint = Checkpoint.parse(note.text)
    except AccordError as exc:
        return None, [
            Finding.wrong(org, "checkpoint", f"its checkpoint is malformed: {exc}", note=note_text)
        ]
    if checkpoint.origin != member.origin:
        return None, [
            Finding.wrong(
                org,
                "checkpoint",
                f"its checkpoint is of log {checkpoint.origin!r}, not {member.origin!r}",
                note=note_text,
            )
        ]
    # Cosignature lines by the consortium's witnesses that do not verify are findings
    # against the log that serves them (it should only serve cosignatures it checked).
    by_key = {(w.name, w.key_id): w for w in witnesses}
    kept = []
    for sig in note.signatures:
        witness = by_key.get((sig.name, sig.key_id))
        if witness is not None:
            try:
                verify_cosignature(checkpoint, sig, witness)
            except AccordError as exc:
                findings.append(
                    Finding.wrong(
                        org,
                        "checkpoint",
                        f"its checkpoint carries a cosignature by {sig.key_ref} that does not "
                        f"verify ({exc.message})",
                        note=note_text,
                    )
                )
                continue
        kept.append(sig)
    clean = Note(note.text, tuple(kept))
    try:
        checked, cosigned = verify_cosigned_checkpoint(clean, log_key, witnesses, k)
        witnessed = True
    except QuorumNotMetError as exc:
        try:
            checked, cosigned = verify_cosigned_checkpoint(clean, log_key, witnesses, 0)
        except AccordError as exc2:
            findings.append(_bad_log_sig(org, note_text, exc2))
            return None, findings
        witnessed = False
        findings.append(
            Finding.wrong(
                org,
                "checkpoint",
                f"its checkpoint (size {checkpoint.size}) lacks the consortium's {k} "
                f"cosignature(s): {exc.message}",
                note=note_text,
            )
        )
    except AccordError as exc:
        findings.append(_bad_log_sig(org, note_text, exc))
        return None, findings
    names = tuple(sorted(n.split("/")[-2] if n.count("/") >= 2 else n for n in cosigned))
    return LogView(org, checked, note_text, names, witnessed), findings


def _bad_log_sig(org: str, note_text: str, exc: AccordError) -> Finding:
    return Finding.wrong(
        org,
        "checkpoint",
        f"its checkpoint is not validly signed by its log key: {exc.message}",
        note=note_text,
    )


@dataclass(frozen=True, slots=True)
class Head:
    """One entry of a witness's ``GET /v1/witness/heads``: what it last cosigned for a log."""

    witness: str  # the witnessing org
    origin: str
    size: int
    root: bytes
    note: str
    halted: bool


def parse_heads(witness: str, text: str) -> tuple[list[Head], list[Finding]]:
    """The heads in a witness's answer; a malformed answer is a finding against it."""
    try:
        doc = json.loads(text)
        if not isinstance(doc, dict) or doc.get("v") != 1 or not isinstance(doc["heads"], list):
            raise ValueError("not a v1 heads document")
        heads = [
            Head(
                witness,
                str(h["origin"]),
                int(h["size"]),
                bytes.fromhex(str(h["root"])),
                str(h["note"]),
                bool(h["halted"]),
            )
            for h in doc["heads"]
        ]
    except (ValueError, KeyError, TypeError) as exc:
        return [], [
            Finding.wrong(
                witness,
                "witness-heads",
                f"its witness heads answer is malformed: {exc}",
                answer=text[:2000],
            )
        ]
    return heads, []


def _head_checkpoint(
    head: Head, log: Member, witness: Member
) -> tuple[Checkpoint | None, list[Finding]]:
    """The checkpoint a head holds, if it is log-signed and cosigned by that witness."""
    try:
        note = Note.parse(head.note)
        checkpoint, cosigned = verify_cosigned_checkpoint(
            note, Verifier.parse(log.log_key), [Verifier.parse(witness.witness_key)], 1
        )
    except AccordError as exc:
        return None, [
            Finding.wrong(
                witness.org,
                "witness-heads",
                f"its head for {log.org}'s log is not a checkpoint signed by {log.org} and "
                f"cosigned by {witness.org}: {exc.message}",
                head=head.note,
            )
        ]
    if (checkpoint.origin, checkpoint.size, checkpoint.root_hash) != (
        head.origin,
        head.size,
        head.root,
    ):
        return None, [
            Finding.wrong(
                witness.org,
                "witness-heads",
                f"its head for {log.org}'s log states another size or root than its note",
                head=head.note,
            )
        ]
    del cosigned
    return checkpoint, []


def check_head(
    head: Head,
    log: Member,
    witness: Member,
    view: LogView,
    *,
    proof: Sequence[bytes] | None,
    proof_error: str | None = None,
    log_note_at_head_size: str | None = None,
) -> list[Finding]:
    """Is what ``witness`` cosigned for ``log`` consistent with the log's checkpoint ``view``?

    ``proof`` is the log's consistency proof between the smaller and the larger of the
    two sizes (None when the sizes are equal or it could not be had: ``proof_error``).
    ``log_note_at_head_size`` is the log's own stored checkpoint at the head's size, if
    it serves one: two log-signed notes of one size with two roots prove a fork.
    """
    held, findings = _head_checkpoint(head, log, witness)
    if held is None:
        return findings
    ours = view.checkpoint
    evidence = {"witness_head": head.note, "log_checkpoint": view.note}
    if log_note_at_head_size is not None:
        try:
            own = Checkpoint.parse(Note.parse(log_note_at_head_size).text)
            verify_cosigned_checkpoint(log_note_at_head_size, Verifier.parse(log.log_key), [], 0)
        except AccordError:
            own = None
        if own is not None and own.size == held.size and own.root_hash != held.root_hash:
            findings.append(
                Finding.wrong(
                    log.org,
                    "fork",
                    f"{log.org}'s log signed two checkpoints of size {held.size} with different "
                    f"roots: {witness.org} cosigned one, the log now serves the other",
                    witness_head=head.note,
                    log_checkpoint_same_size=log_note_at_head_size,
                )
            )
            return findings
    if held.size == ours.size:
        if held.root_hash != ours.root_hash:
            findings.append(
                Finding.wrong(
                    log.org,
                    "fork",
                    f"{log.org}'s checkpoint of size {ours.size} has another root than the one "
                    f"{witness.org} cosigned: two histories signed by one log key",
                    **evidence,
                )
            )
        return findings
    if held.size == 0 or ours.size == 0:
        small = held if held.size == 0 else ours
        if small.root_hash != EMPTY_ROOT:
            findings.append(
                Finding.wrong(log.org, "fork", "an empty tree with a non-empty root", **evidence)
            )
        return findings
    small, large = (held, ours) if held.size < ours.size else (ours, held)
    if proof is None:
        findings.append(
            Finding.wrong(
                log.org,
                "consistency",
                f"{log.org}'s log gave no consistency proof from size {small.size} to "
                f"{large.size} ({proof_error or 'no answer'}): what {witness.org} cosigned "
                "cannot be shown to be on the log's history",
                **evidence,
            )
        )
        return findings
    try:
        verify_consistency(small.size, large.size, list(proof), small.root_hash, large.root_hash)
    except VerificationError as exc:
        findings.append(
            Finding.wrong(
                log.org,
                "consistency",
                f"{log.org}'s checkpoint of size {ours.size} is not consistent with the "
                f"checkpoint of size {held.size} that {witness.org} cosigned ({exc.message})",
                **evidence,
                proof=_hexes(proof),
            )
        )
    return findings


def check_heads_agree(log: Member, heads: Sequence[Head]) -> list[Finding]:
    """No two witnesses hold two roots for one size of ``log``'s tree (a split view).

    Heads of different sizes are each checked against the log's checkpoint by
    :func:`check_head`; both consistent with it means consistent with each other.
    """
    findings: list[Finding] = []
    by_size: dict[int, Head] = {}
    for head in heads:
        other = by_size.setdefault(head.size, head)
        if other.root != head.root:
            findings.append(
                Finding.wrong(
                    log.org,
                    "split-view",
                    f"{other.witness} and {head.witness} cosigned two different roots of "
                    f"{log.org}'s log at size {head.size}",
                    **{f"head_{other.witness}": other.note, f"head_{head.witness}": head.note},
                )
            )
    return findings


def check_evidence(witness: str, text: str, consortium: Consortium) -> list[Finding]:
    """Every evidence a witness holds is a finding against the log it accuses (a witness
    keeps evidence only when the log showed it two histories). Each is verified with the
    log's key: ``proven`` says whether it stands on its own."""
    try:
        items = parse_evidence_list(text)
    except AccordError as exc:
        return [
            Finding.wrong(
                witness,
                "witness-evidence",
                f"its evidence answer is malformed: {exc}",
                answer=text[:2000],
            )
        ]
    by_origin = {m.origin: m for m in consortium.members}
    findings = []
    for evidence in items:
        raw = evidence.format()
        member = by_origin.get(evidence.origin)
        if member is None:
            continue  # a log outside the consortium: not ours to judge
        try:
            verify_evidence(evidence, Verifier.parse(member.log_key))
            proven = "yes: two checkpoints signed by the log key that cannot both be true"
        except AccordError as exc:
            proven = f"not on its own ({exc.message})"
        findings.append(
            Finding.wrong(
                member.org,
                "witness-evidence",
                f"{witness}'s witness holds {evidence.kind} evidence against {member.org}'s log "
                "and refuses to cosign it",
                proven=proven,
                evidence=raw,
            )
        )
    return findings


def check_entry(
    org: str, index: int, entry: bytes, proof: Sequence[bytes], view: LogView
) -> Finding | None:
    """The entry the log serves at ``index`` is the leaf its checkpoint commits to."""
    cp = view.checkpoint
    try:
        verify_inclusion(index, cp.size, leaf_hash(entry), list(proof), cp.root_hash)
    except VerificationError as exc:
        return Finding.wrong(
            org,
            "entry",
            f"entry {index} as {org}'s node serves it is not the leaf its checkpoint (size "
            f"{cp.size}) commits to ({exc.message})",
            leaf=_leaf_text(entry),
            leaf_hash=leaf_hash(entry).hex(),
            proof=_hexes(proof),
            checkpoint=view.note,
        )
    return None


def check_tree(org: str, entries: Sequence[bytes], view: LogView) -> Finding | None:
    """``--replay``: the root recomputed from every entry is the checkpoint's root."""
    cp = view.checkpoint
    if len(entries) != cp.size:
        return Finding.wrong(
            org,
            "tree",
            f"{org}'s node served {len(entries)} entries for a tree of {cp.size}",
            checkpoint=view.note,
        )
    computed = root_hash([leaf_hash(e) for e in entries])
    if computed != cp.root_hash:
        return Finding.wrong(
            org,
            "tree",
            f"the root recomputed from {org}'s {cp.size} entries is not its checkpoint's root",
            computed_root=computed.hex(),
            checkpoint=view.note,
        )
    return None


def check_body(org: str, index: int, entry: bytes, body: bytes) -> Finding | None:
    """A record's body (the canonical signed statement) hashes to its header's body hash."""
    leaf = parse_leaf(entry)
    if not isinstance(leaf, Header):
        return None
    got = hashlib.sha256(body).digest()
    if got != leaf.body_hash:
        return Finding.wrong(
            org,
            "body",
            f"the body {org}'s node serves for entry {index} does not hash to the header's "
            "body_hash",
            leaf=_leaf_text(entry),
            body_sha256=got.hex(),
            body=body.decode("utf-8", "backslashreplace")[:4000],
        )
    return None


def check_index(org: str, entries: Sequence[bytes]) -> tuple[int, Finding | None]:
    """``--replay``: rebuild the verifiable index from the leaf headers and compare every
    index-commit leaf's root. Returns (commits that matched, the first problem)."""
    replayer = IndexReplayer()
    try:
        mismatch = replayer.advance(0, entries)
    except VerificationError as exc:
        return replayer.commits, Finding.wrong(
            org, "index", f"{org}'s log fails the index replay: {exc.message}"
        )
    if mismatch is not None:
        return replayer.commits, Finding.wrong(
            org,
            "index",
            f"{org}'s index-commit leaf {mismatch.seq} claims an index root that the leaves "
            "before it do not give",
            commit_leaf=_leaf_text(entries[mismatch.seq]),
            **mismatch.details(),
        )
    return replayer.commits, None


def body_hash_of(entry: bytes) -> bytes | None:
    """The record hash in a header leaf (None for an index-commit leaf)."""
    leaf = parse_leaf(entry)
    return leaf.body_hash if isinstance(leaf, Header) else None
