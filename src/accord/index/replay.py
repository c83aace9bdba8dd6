"""Recomputing a log's verifiable index from its leaf headers (verifiable-index.md section 8).

Witnesses run this before they cosign (stateful: they keep one :class:`IndexReplayer`
per log they witness) and ``accord audit --replay`` runs it from entry 0. Only the
public leaves are needed: headers carry their key ids, so nobody needs the index key
or any record body.

For every index-commit leaf the replayer checks ``covers_size`` equals the leaf's own
position, ``mapfn_id`` is known, ``prev_commit_seq`` names the previous commit, and
``index_root`` equals the root recomputed over the entries before it. It also checks
``log_ts``: never decreasing along the log, and (when given bounds) not above the
checker's clock plus the allowed skew, nor below the time of the previous check minus
the skew (so a log cannot back- or front-date entries to move them out of a window).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from accord.errors import MalformedError, UsageError, VerificationError
from accord.index.builder import IndexEntry, IndexState
from accord.merkle import leaf_hash
from accord.records import MAPFN_ID, IndexCommit, parse_leaf

__all__ = ["CommitMismatch", "IndexReplayer"]


@dataclass(frozen=True, slots=True)
class CommitMismatch:
    """A commit leaf whose index root is not the one the log's headers give."""

    seq: int
    claimed: bytes
    computed: bytes

    def details(self) -> dict[str, str]:
        return {
            "commit_seq": str(self.seq),
            "claimed_root": self.claimed.hex(),
            "computed_root": self.computed.hex(),
        }


class IndexReplayer:
    """The index of one log rebuilt from its leaves, advanced as the log grows."""

    def __init__(self) -> None:
        self._state = IndexState(history=0)
        self._pending: list[IndexEntry] = []
        self._size = 0
        self._last_ts = 0
        self._last_commit: int | None = None
        self.commits = 0

    @property
    def size(self) -> int:
        """Leaves replayed so far."""
        return self._size

    @property
    def last_commit(self) -> int | None:
        return self._last_commit

    def _check_ts(self, seq: int, log_ts: int, max_ts: int | None, min_ts: int | None) -> None:
        if log_ts < self._last_ts:
            raise VerificationError(
                f"leaf {seq}: log_ts {log_ts} is earlier than the previous leaf's {self._last_ts}"
            )
        if max_ts is not None and log_ts > max_ts:
            raise VerificationError(
                f"leaf {seq}: log_ts {log_ts} is ahead of the checker's clock by more than the "
                f"allowed skew (latest allowed {max_ts})"
            )
        if min_ts is not None and log_ts < min_ts:
            raise VerificationError(
                f"leaf {seq}: log_ts {log_ts} is earlier than allowed ({min_ts}): a back-dated "
                f"entry"
            )

    def advance(
        self,
        start: int,
        leaves: Sequence[bytes],
        *,
        max_ts: int | None = None,
        min_ts: int | None = None,
    ) -> CommitMismatch | None:
        """Replay ``leaves`` (positions ``start``, ``start + 1``, ...: they must continue
        what was replayed). Returns the first commit whose root does not match, if any
        (the replayer then stops at that commit). Raises VerificationError for a leaf that
        is not a header, a bad commit leaf or a log_ts outside the bounds; UsageError if
        the leaves do not continue the replay.
        """
        if start != self._size:
            raise UsageError(f"replay is at leaf {self._size}, not {start}")
        state = self._state
        for offset, raw in enumerate(leaves):
            seq = start + offset
            try:
                leaf = parse_leaf(raw)
            except MalformedError as exc:
                raise VerificationError(
                    f"leaf {seq} is not an Accord leaf: {exc.message}"
                ) from None
            self._check_ts(seq, leaf.log_ts, max_ts, min_ts)
            if isinstance(leaf, IndexCommit):
                if self._pending:
                    state.apply_batch(self._pending)
                    self._pending = []
                if leaf.covers_size != seq:
                    raise VerificationError(
                        f"commit leaf {seq} says it covers {leaf.covers_size} entries"
                    )
                if leaf.mapfn_id != MAPFN_ID:
                    raise VerificationError(f"commit leaf {seq} uses an unknown MapFn")
                if leaf.prev_commit_seq != self._last_commit:
                    raise VerificationError(
                        f"commit leaf {seq} names {leaf.prev_commit_seq} as the previous commit,"
                        f" not {self._last_commit}"
                    )
                if leaf.index_root != state.root:
                    self._size = seq
                    return CommitMismatch(seq, leaf.index_root, state.root)
                self._last_commit = seq
                self.commits += 1
                self._pending.append(IndexEntry(seq, leaf.log_ts, leaf_hash(raw)))
            else:
                self._pending.append(IndexEntry(seq, leaf.log_ts, leaf_hash(raw), leaf.keys))
            self._last_ts = leaf.log_ts
            self._size = seq + 1
        return None

    def ends_in_commit(self) -> bool:
        """True if the last replayed leaf is a commit (checkpoints are signed only there)."""
        return self._last_commit is not None and self._last_commit == self._size - 1
