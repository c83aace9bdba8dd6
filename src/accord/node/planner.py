"""What the sequencer appends for a group of prepared statements.

For each group: drop statements already in the log (a record is its signed
statement: the same statement twice is one record) and repeats within the
group; give the rest one ``log_ts`` (the node's clock, never below the last
leaf's); build their headers with MapFn v1 keys; stage the verifiable index and
add its index-commit leaf after them, so every batch ends in a commit and
checkpoints are only ever signed at commit sizes; and write, in the same
transaction as the leaves, the records, the encrypted bodies, the SQL
projection and any source registrations.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from accord.node.ingest import Prepared
from accord.node.sources import SourceKey, SourceRegistry
from accord.records import MAPFN_ID, Header, IndexCommit, build_header, next_log_ts
from accord.store.database import Database, Tx
from accord.store.projection import Projector

__all__ = ["Appended", "BatchListener", "BatchWriter", "IndexHook", "NodePlanner", "Outcome"]

_IN_CHUNK: Final = 500


@dataclass(frozen=True, slots=True)
class Appended:
    """One new record of a committed batch, as the planner's extensions see it."""

    prepared: Prepared
    header: Header
    log_index: int
    status: str


#: Writes an extension's rows for a batch's new records in the append's transaction.
BatchWriter = Callable[[Tx, list[Appended]], None]
#: Told about a batch's new records after its transaction committed.
BatchListener = Callable[[list[Appended]], None]


@dataclass(frozen=True, slots=True)
class Outcome:
    """The result for one submitted statement."""

    record: bytes
    log_index: int
    status: str
    duplicate: bool

    def to_json(self) -> dict[str, Any]:
        return {
            "record": self.record.hex(),
            "log_index": self.log_index,
            "status": self.status,
            "duplicate": self.duplicate,
        }


class IndexHook(Protocol):
    """The verifiable index as the planner drives it (one staged batch at a time)."""

    def stage(self, first: int, log_ts: int, headers: Sequence[Header]) -> bytes:
        """Apply the batch's postings in memory; return the new index root."""

    def write(self, tx: Tx) -> None:
        """Persist the staged changes in the append's transaction."""

    def commit(self) -> None:
        """The append committed: the staged state is now the state."""

    def abort(self) -> None:
        """The append failed: drop the staged state."""

    @property
    def last_commit(self) -> int | None:
        """Log index of the last index-commit leaf, if any."""


@dataclass
class _Plan:
    planner: NodePlanner
    items: list[Prepared]
    known: dict[bytes, tuple[int, str]]
    fresh: list[tuple[Prepared, Header]]
    log_ts: int
    leaves: list[bytes] = field(default_factory=list)
    source_changes: list[SourceKey] = field(default_factory=list)
    statuses: list[str] = field(default_factory=list)
    appended: list[Appended] = field(default_factory=list)

    def write(self, tx: Tx, first: int) -> None:
        p = self.planner
        record_rows = []
        body_rows = []
        projection: list[tuple[str, tuple[Any, ...]]] = []
        for n, ((prep, header), status) in enumerate(zip(self.fresh, self.statuses, strict=True)):
            signed = prep.signed
            idx = first + n
            st = signed.statement
            record_rows.append(
                (
                    signed.record_hash,
                    idx,
                    st.schema,
                    st.org,
                    header.src,
                    header.log_ts,
                    st.event_ts,
                    prep.principal,
                    status,
                )
            )
            body_rows.append((signed.record_hash, prep.blob))
            self.appended.append(Appended(prep, header, idx, status))
            projection.extend(p.projector.rows(signed, idx, header.log_ts, status))
            if st.schema == "accord.source":
                self.source_changes.append(SourceRegistry.write(tx, signed, header.log_ts))
        tx.executemany(
            "INSERT INTO records (hash, log_index, schema, org, src, log_ts, event_ts,"
            " principal, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            record_rows,
        )
        tx.executemany("INSERT INTO record_bodies (hash, blob) VALUES (?, ?)", body_rows)
        Projector.write(tx, projection)
        if p.index is not None:
            p.index.write(tx)
        for writer in p.writers:
            writer(tx, self.appended)

    def committed(self, first: int) -> list[Any]:
        p = self.planner
        if self.fresh:
            p.last_log_ts = self.log_ts
            if p.index is not None:
                p.index.commit()
            p.registry.apply(self.source_changes)
            for listener in p.listeners:
                listener(self.appended)
        at = {}
        for n, ((prep, _), status) in enumerate(zip(self.fresh, self.statuses, strict=True)):
            at[prep.signed.record_hash] = (first + n, status)
        out: list[Any] = []
        for prep in self.items:
            h = prep.signed.record_hash
            if h in self.known:
                idx, status = self.known[h]
                out.append(Outcome(h, idx, status, duplicate=True))
            else:
                idx, status = at[h]
                out.append(Outcome(h, idx, status, duplicate=False))
                self.known[h] = (idx, status)  # a repeat later in this group is a duplicate
        return out

    def aborted(self) -> None:
        if self.planner.index is not None:
            self.planner.index.abort()


class NodePlanner:
    """The sequencer's planner for one node (called only from the writer thread)."""

    def __init__(
        self,
        *,
        db: Database,
        projector: Projector,
        registry: SourceRegistry,
        index: IndexHook | None,
        index_key: Callable[[], bytes],
        lateness_ms: int,
        clock_ms: Callable[[], int],
        initial_status: Callable[[Prepared], str],
        last_log_ts: int | None,
        log_size: Callable[[], int],
    ) -> None:
        self.db = db
        self.projector = projector
        self.registry = registry
        self.index = index
        self._index_key = index_key
        self._lateness_ms = lateness_ms
        self._clock_ms = clock_ms
        self._initial_status = initial_status
        self.last_log_ts = last_log_ts
        self._log_size = log_size
        #: Extensions (replication, compliance, ...) add their batch writers and listeners.
        self.writers: list[BatchWriter] = []
        self.listeners: list[BatchListener] = []

    def _known(self, hashes: list[bytes]) -> dict[bytes, tuple[int, str]]:
        known: dict[bytes, tuple[int, str]] = {}
        for i in range(0, len(hashes), _IN_CHUNK):
            chunk = hashes[i : i + _IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for h, idx, status in self.db.fetchall(
                f"SELECT hash, log_index, status FROM records WHERE hash IN ({marks})",  # noqa: S608
                chunk,
            ):
                known[bytes(h)] = (int(idx), str(status))
        return known

    def __call__(self, items: list[Any]) -> _Plan:
        prepared: list[Prepared] = items
        known = self._known(list({p.signed.record_hash for p in prepared}))
        log_ts = next_log_ts(self._clock_ms(), self.last_log_ts)
        seen: set[bytes] = set(known)
        fresh: list[tuple[Prepared, Header]] = []
        index_key = self._index_key()
        for prep in prepared:
            h = prep.signed.record_hash
            if h in seen:
                continue
            seen.add(h)
            header = build_header(
                prep.signed, log_ts=log_ts, index_key=index_key, lateness_ms=self._lateness_ms
            )
            fresh.append((prep, header))
        plan = _Plan(self, prepared, known, fresh, log_ts)
        if not fresh:
            return plan
        plan.leaves = [header.leaf for _, header in fresh]
        plan.statuses = [self._initial_status(prep) for prep, _ in fresh]
        if self.index is not None:
            first = self._log_size()
            root = self.index.stage(first, log_ts, [h for _, h in fresh])
            commit = IndexCommit(
                log_ts=log_ts,
                covers_size=first + len(fresh),
                index_root=root,
                mapfn_id=MAPFN_ID,
                prev_commit_seq=self.index.last_commit,
            )
            plan.leaves.append(commit.leaf)
        return plan
