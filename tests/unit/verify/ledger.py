"""A pure, in-memory ledger that serves bundles as the node does (same prove_terms and
build_bundle): a MemoryTree log of real record headers and index-commit leaves, an
IndexState with a MemoryPostingStore, checkpoints signed by the log key and cosigned by
the consortium's witnesses. For the verifier's unit and property tests."""

from __future__ import annotations

import hashlib
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.index import IndexEntry, IndexState, MemoryPostingStore
from accord.index.bundle import (
    Bundle,
    BundleRecord,
    Policy,
    QuerySpec,
    build_bundle,
    needed_postings,
    prove_terms,
)
from accord.merkle import MemoryTree, inclusion_proof
from accord.note import Checkpoint, sign_note
from accord.quorum import Consortium
from accord.records import (
    MAPFN_ID,
    IndexCommit,
    Principal,
    Statement,
    build_header,
    sign_statement,
)
from tests.unit.keyed_consortium import KeyedConsortium, origin, seed

__all__ = [
    "DAY",
    "INDEX_KEY",
    "NOW_MS",
    "NOW_S",
    "ORGS",
    "POLICY",
    "Ledger",
    "access",
    "brute_force",
    "consortium",
    "disclosure",
    "matches",
    "sample_ledger",
]

ORGS = ("cornell", "nyu", "mskcc")
DAY = 86_400_000
NOW_S = 1_760_000_000
NOW_MS = NOW_S * 1000
POLICY = Policy(300_000, 7 * DAY)
INDEX_KEY = hashlib.sha256(b"index key").digest()


KEYED = KeyedConsortium(ORGS)
LOGS = KEYED.logs
WITNESSES = KEYED.witnesses
SOURCE = Ed25519PrivateKey.from_private_bytes(seed("source"))


def consortium(k: int = 1) -> Consortium:
    return KEYED.consortium(k)


def access(
    patient: str, accessor: str, event_ts: int, sid: str, ref: int = 0, org: str = "cornell"
) -> Statement:
    return Statement(
        schema="ehr.access",
        id=sid,
        org="cornell",
        source="ehr",
        event_ts=event_ts,
        principals=(Principal("patient", patient),),
        fields={
            "accessor": {"id": accessor, "role": "physician"},
            "accessor_org": org,
            "patient": patient,
            "record_ref": f"{ref:064x}",
            "action": "R",
            "purpose": "TREAT",
            "outcome": "success",
            "break_glass": False,
        },
    )


def disclosure(patient: str, dst: str, event_ts: int, sid: str, ref: int = 0) -> Statement:
    return Statement(
        schema="ehr.disclosure",
        id=sid,
        org="cornell",
        source="ehr",
        event_ts=event_ts,
        principals=(Principal("patient", patient),),
        fields={
            "half": "export",
            "transfer_id": sid,
            "discloser_org": "cornell",
            "recipient_org": dst,
            "patient": patient,
            "record_refs": [f"{ref:064x}"],
            "purpose": "TREAT",
            "description": "summary",
        },
    )


class Ledger:
    """Cornell's log, in memory."""

    def __init__(self, policy: Policy = POLICY) -> None:
        self.policy = policy
        self.tree = MemoryTree()
        self.entries: list[bytes] = []
        self.bodies: dict[int, bytes] = {}
        self.shredded: set[int] = set()
        self.state = IndexState(64)
        self.store = MemoryPostingStore()
        self.pending: list[IndexEntry] = []
        self.last_commit: int | None = None

    def _append(self, leaf: bytes) -> int:
        seq = len(self.entries)
        self.entries.append(leaf)
        self.tree.append(hashlib.sha256(b"\x00" + leaf).digest())
        return seq

    def batch(self, statements: list[Statement], log_ts: int) -> list[int]:
        """Append a batch at ``log_ts`` and its index-commit leaf; returns the seqs."""
        entries = list(self.pending)
        seqs = []
        for st in statements:
            signed = sign_statement(st, SOURCE)
            header = build_header(
                signed, log_ts=log_ts, index_key=INDEX_KEY, lateness_ms=self.policy.lateness_ms
            )
            seq = self._append(header.leaf)
            self.bodies[seq] = signed.body
            entries.append(IndexEntry(seq, log_ts, header.leaf_hash(), header.keys))
            seqs.append(seq)
        self.store.apply(self.state.apply_batch(entries))
        commit = IndexCommit(log_ts, self.state.size, self.state.root, MAPFN_ID, self.last_commit)
        self.last_commit = self._append(commit.leaf)
        self.pending = [IndexEntry(self.last_commit, log_ts, commit.leaf_hash())]
        return seqs

    def note(self, witnesses: tuple[str, ...] = ("nyu",), ts: int = NOW_S) -> str:
        size = self.tree.size
        cp = Checkpoint(origin("cornell"), size, self.tree.root(size))
        note = sign_note(cp.format(), LOGS["cornell"])
        return note.with_signatures(*(WITNESSES[w].cosign(cp, ts) for w in witnesses)).format()

    def record(self, seq: int) -> BundleRecord:
        if seq in self.shredded:
            return BundleRecord(self.entries[seq].decode("ascii"), None)
        return BundleRecord(None, self.bodies[seq].decode("utf-8"))

    def bundle(self, query: QuerySpec, note: str | None = None) -> Bundle:
        n = self.tree.size
        commit = IndexCommit.parse(self.entries[n - 1])
        view = self.state.view(commit.covers_size)
        keys, proofs, driver, page, late = prove_terms(
            view, self.store.readers(), query, self.policy, INDEX_KEY
        )
        wanted = needed_postings(query, self.policy, proofs[driver], late and late[1])
        return build_bundle(
            query=query,
            policy=self.policy,
            checkpoint=note or self.note(),
            commit_leaf=commit.format(),
            commit_proof=inclusion_proof(n - 1, n, self.tree.read_nodes),
            keys=keys,
            proofs=proofs,
            driver=driver,
            page=page,
            late=late,
            records={p.seq: self.record(p.seq) for p in wanted},
        )

    def statements(self) -> list[tuple[int, dict[str, Any]]]:
        """(seq, statement JSON) of every record, for brute-force answers."""
        import json

        return [(s, json.loads(b)["statement"]) for s, b in sorted(self.bodies.items())]


def sample_ledger() -> Ledger:
    """Four patients, three accessors, disclosures, late records, over 12 batches."""
    ledger = Ledger()
    t = NOW_MS - 3 * DAY
    n = 0
    for b in range(12):
        sts: list[Statement] = []
        for _ in range(6):
            n += 1
            p = f"MPI-{(n * 7) % 4}"
            sts.append(
                access(p, ("dr-a", "dr-b", "nurse-c")[n % 3], t + n * 60_000, f"a{n}", n % 5)
            )
        if b % 3 == 0:
            sts.append(disclosure("MPI-1", ("nyu", "mskcc")[b % 2], t + n * 60_000, f"d{b}", b))
        if b % 4 == 1:
            sts.append(access("MPI-2", "dr-late", t - 9 * DAY, f"late{b}"))
        ledger.batch(sts, t + n * 60_000 + 5_000)
    return ledger


def matches(q: dict[str, Any], st: dict[str, Any]) -> bool:
    """The query's predicate on a statement (the brute force's own reading of the spec)."""
    fields, kind = st["fields"], q["kind"]
    if kind == "patient":
        ok = any(p == {"kind": "patient", "id": q["patient"]} for p in st["principals"])
    elif kind == "accessor":
        who = (fields.get("accessor_org"), fields.get("accessor", {}).get("id"))
        ok = st["schema"] == "ehr.access" and who == (q["accessor_org"], q["accessor"])
    elif kind == "disclosures":
        pair = (fields.get("discloser_org"), fields.get("recipient_org"))
        ok = st["schema"] == "ehr.disclosure" and pair == (q["discloser"], q["recipient"])
    else:
        refs = fields.get("record_refs") or [fields.get("record_ref")]
        ok = q["record"] in refs
    if not ok or not all(matches(t, st) for t in q.get("and") or []):
        return False
    lo, hi = q.get("from"), q.get("to")
    return (lo is None or st["event_ts"] >= lo) and (hi is None or st["event_ts"] <= hi)


def brute_force(ledger: Ledger, q: dict[str, Any], below: int) -> list[int]:
    """Seqs of the records below ``below`` that match ``q``, by scanning every statement."""
    return [s for s, st in ledger.statements() if s < below and matches(q, st)]
