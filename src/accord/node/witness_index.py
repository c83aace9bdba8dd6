"""The witness's index check: recompute a log's verifiable index before cosigning it.

Before a node cosigns another member's checkpoint it fetches the new leaves from that
member's node (``GET /v1/entries``), checks them against the checkpoint's root with a
range proof (``GET /v1/proofs/range``) so the log cannot show it other leaves than the
ones it signed, and replays them with :class:`~accord.index.replay.IndexReplayer`
(stateful, one per log, kept in memory; rebuilt from entry 0 after a restart). A commit
leaf whose index root differs from the recomputed one is a signed, cosigned lie: the
witness refuses with ``index-mismatch`` evidence and stops cosigning that log. Leaves
that are not Accord headers, a checkpoint not ending in a commit leaf, or log_ts outside
the skew bounds are refused without evidence.

:func:`check_index_evidence` re-runs the check from scratch for anyone holding such
evidence (``verify_evidence(..., check_index=...)``), fetching the leaves from the log.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Final

from accord.errors import AccordError, NetworkError, VerificationError
from accord.index.replay import IndexReplayer
from accord.merkle import leaf_hash, verify_range
from accord.node.peers import Peers
from accord.note import Checkpoint
from accord.quorum import Consortium
from accord.witness import Advance, Evidence

__all__ = ["IndexCheck", "check_index_evidence", "fetch_leaves"]

_log = logging.getLogger("accord.witness.index")
_CHUNK: Final = 1000


def _org_of(consortium: Consortium, origin: str) -> str:
    for member in consortium.members:
        if member.origin == origin:
            return member.org
    raise VerificationError(f"{origin} is not the log of a consortium member")


def fetch_leaves(
    get: Callable[[str], Any], start: int, end: int, checkpoint: Checkpoint
) -> list[bytes]:
    """Leaves ``[start, end)`` from a node, each chunk checked by a range proof against
    ``checkpoint`` (``get(path)`` returns the decoded JSON of a GET)."""
    leaves: list[bytes] = []
    for a in range(start, end, _CHUNK):
        b = min(end, a + _CHUNK)
        entries = get(f"/v1/entries?start={a}&end={b}")["entries"]
        chunk = [e.encode("utf-8") for e in entries]
        if len(chunk) != b - a:
            raise VerificationError(f"the log served {len(chunk)} leaves for [{a}, {b})")
        proof = get(f"/v1/proofs/range?start={a}&end={b}&size={checkpoint.size}")
        verify_range(
            a,
            b,
            checkpoint.size,
            [leaf_hash(x) for x in chunk],
            [bytes.fromhex(h) for h in proof["proof"]],
            checkpoint.root_hash,
        )
        leaves.extend(chunk)
    return leaves


class IndexCheck:
    """The witness's extra check (accord.witness.ExtraCheck) for the node's witness."""

    def __init__(
        self, consortium: Consortium, peers: Peers, *, skew_ms: int, clock_ms: Callable[[], int]
    ) -> None:
        self._consortium = consortium
        self._peers = peers
        self._skew_ms = skew_ms
        self._clock_ms = clock_ms
        self._replayers: dict[str, IndexReplayer] = {}
        self._checked_at: dict[str, int] = {}
        self._lock = threading.Lock()

    def __call__(self, advance: Advance) -> Evidence | None:
        with self._lock:
            return self._check(advance)

    def _check(self, advance: Advance) -> Evidence | None:
        origin = advance.origin
        checkpoint = advance.checkpoint
        org = _org_of(self._consortium, origin)
        replayer = self._replayers.get(origin)
        if replayer is None or replayer.size > checkpoint.size:
            replayer = IndexReplayer()
        now = self._clock_ms()
        min_ts = self._checked_at.get(origin)
        try:
            leaves = fetch_leaves(
                lambda path: self._peers.json(org, "GET", path),
                replayer.size,
                checkpoint.size,
                checkpoint,
            )
            mismatch = replayer.advance(
                replayer.size,
                leaves,
                max_ts=now + self._skew_ms,
                min_ts=None if min_ts is None else min_ts - self._skew_ms,
            )
        except AccordError:
            self._replayers.pop(origin, None)  # rebuilt from entry 0 next time
            raise
        if mismatch is not None:
            self._replayers.pop(origin, None)
            _log.warning("witness: %s committed a wrong index root at %d", origin, mismatch.seq)
            return advance.refuse(mismatch.details())
        if checkpoint.size and not replayer.ends_in_commit():
            self._replayers.pop(origin, None)
            raise VerificationError(
                f"checkpoint {checkpoint.size} of {origin} does not end in an index-commit leaf"
            )
        self._replayers[origin] = replayer
        self._checked_at[origin] = now
        return None


def check_index_evidence(get: Callable[[str], Any]) -> Callable[[Evidence], None]:
    """A ``check_index`` for verify_evidence: replays the shown log from scratch through the
    log's node (``get(path)`` on that node) and raises unless the claimed commit is wrong."""

    def check(evidence: Evidence) -> None:
        shown = Checkpoint.parse(evidence.shown.text)
        details = dict(evidence.details)
        try:
            seq = int(details["commit_seq"])
        except (KeyError, ValueError):
            raise VerificationError("index-mismatch evidence names no commit leaf") from None
        if not 0 <= seq < shown.size:
            raise VerificationError("the commit leaf is outside the shown checkpoint")
        try:
            leaves = fetch_leaves(get, 0, seq + 1, shown)
        except NetworkError:
            raise VerificationError("cannot fetch the log's leaves", inconclusive=True) from None
        mismatch = IndexReplayer().advance(0, leaves)
        if mismatch is None or mismatch.seq != seq:
            raise VerificationError("replaying the log gives the committed index root: no lie")

    return check
