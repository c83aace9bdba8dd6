"""Witnessing in the running node: the witness for the other members' logs, and the log side.

:class:`Witnessing` is one component of the node (docs/witness.md), started
and stopped with it:

- the **witness**: ``process_add_checkpoint`` runs the C2SP tlog-witness core
  (:func:`accord.witness.process_add_checkpoint`) for the other members' logs
  (:func:`accord.witness.witnessed_logs`) over the SQL store
  (:class:`~accord.node.witness_store.SqlWitnessStore`), cosigning with the
  node's witness key at the node's clock; ``process_gossip`` takes another
  witness's heads (a node-signed request) and records split views;
  ``evidence_text`` and ``heads_text`` are what it publishes;
- the **log side**: a :class:`~accord.node.witness_push.CheckpointPusher`
  pushes each new checkpoint to every other member's witness, and a
  :class:`~accord.node.witness_gossip.GossipLoop` gossips this witness's heads.

Without a consortium the node follows no log (every add-checkpoint is 404),
pushes nothing and serves its latest signed checkpoint.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

from accord.encoding import canonical
from accord.errors import UsageError
from accord.node.peers import Peers, authenticate_peer
from accord.node.witness_gossip import GossipLoop, log_consistency_proof
from accord.node.witness_index import IndexCheck
from accord.node.witness_push import CheckpointPusher
from accord.node.witness_store import SqlWitnessStore
from accord.note import Cosigner, Verifier
from accord.quorum import Consortium, ReplayGuard
from accord.witness import (
    ExtraCheck,
    GossipMessage,
    Result,
    format_evidence_list,
    gossip_witnesses,
    process_add_checkpoint,
    process_gossip,
    witnessed_logs,
)

if TYPE_CHECKING:
    from accord.node.service import Node

__all__ = ["HEADS_VERSION", "Witnessing"]

_log = logging.getLogger("accord.witness")

#: Version of the ``GET /v1/witness/heads`` document.
HEADS_VERSION: Final = 1


class Witnessing:
    """The node's witness, checkpoint pusher and gossip (see the module docstring)."""

    def __init__(
        self,
        *,
        store: SqlWitnessStore,
        origin: str,
        org: str,
        consortium: Consortium | None,
        peers: Peers | None,
        cosigner: Callable[[], Cosigner],
        clock_ms: Callable[[], int],
        replay_guard: ReplayGuard,
        witness_key: str,
        pusher: CheckpointPusher | None,
        gossip_interval_s: float,
        extra_check: ExtraCheck | None = None,
    ) -> None:
        self.store = store
        self.origin = origin
        self.org = org
        self.consortium = consortium
        self._peers = peers
        self._cosigner = cosigner
        self._clock_ms = clock_ms
        self._guard = replay_guard
        self.witness_key = witness_key
        self.extra_check = extra_check
        self.logs: Mapping[str, Verifier] = {}
        self.witnesses: tuple[Verifier, ...] = ()
        if consortium is not None:
            self.logs = witnessed_logs(consortium, org)
            self.witnesses = gossip_witnesses(consortium, org)
        self.pusher = pusher
        self.gossip: GossipLoop | None = None
        if consortium is not None and peers is not None:
            self.gossip = GossipLoop(
                peers=peers,
                consortium=consortium,
                latest_notes=store.latest_notes,
                interval_s=gossip_interval_s,
            )

    @classmethod
    def for_node(cls, node: Node) -> Witnessing:
        """The component wired to ``node``'s database, log, keys, peers and policy."""
        policy = node.config.policy
        consortium = node.consortium
        pusher = None
        if consortium is not None and node.peers is not None:
            pusher = CheckpointPusher(
                log=node.log,
                consortium=consortium,
                org=node.org,
                peers=node.peers,
                retry_s=policy.witness_retry_ms / 1000,
                retry_max_s=policy.witness_retry_max_ms / 1000,
            )
        witness_key = node.config.node.witness_key
        if consortium is not None:
            witness_key = consortium.member(node.org).witness_key
        return cls(
            store=SqlWitnessStore(node.db, node.clock_ms),
            origin=node.origin,
            org=node.org,
            consortium=consortium,
            peers=node.peers,
            cosigner=lambda: node._keys().witness,
            clock_ms=node.clock_ms,
            replay_guard=node.replay_guard,
            witness_key=witness_key,
            pusher=pusher,
            gossip_interval_s=policy.gossip_interval_ms / 1000,
            extra_check=(
                IndexCheck(consortium, node.peers, skew_ms=policy.skew_ms, clock_ms=node.clock_ms)
                if policy.witness_index_check and consortium is not None and node.peers
                else None
            ),
        )

    def start(self) -> None:
        if self.pusher is not None:
            self.pusher.start()
        if self.gossip is not None:
            self.gossip.start()

    def stop(self) -> None:
        if self.gossip is not None:
            self.gossip.stop()
        if self.pusher is not None:
            self.pusher.stop()

    def _now_seconds(self) -> int:
        return max(1, self._clock_ms() // 1000)

    # -- the witness ---------------------------------------------------------------------

    def process_add_checkpoint(self, body: bytes) -> Result:
        """``POST /v1/witness/add-checkpoint`` (C2SP tlog-witness; docs/witness.md section 2).

        SealedError (503) while the node is sealed: without its key it cannot cosign.
        """
        cosigner = self._cosigner()
        result = process_add_checkpoint(
            body,
            logs=self.logs,
            cosigner=cosigner,
            now_seconds=self._now_seconds(),
            extra_check=self.extra_check,
            **self.store.seams(),
        )
        if result.evidence is not None:
            ev = result.evidence
            _log.warning("witness: %s evidence against %s recorded", ev.kind, ev.origin)
        return result

    def evidence_text(self) -> str:
        """``GET /v1/witness/evidence``: ``{"v": 1, "evidence": [...]}`` (canonical JSON)."""
        return format_evidence_list(self.store.evidence())

    def heads_text(self) -> str:
        """``GET /v1/witness/heads``: the latest checkpoint this witness cosigned per origin.

        ``{"v": 1, "witness": "<this witness's verifier key>", "heads": [{"origin",
        "size", "root" (hex), "note" (the stored note, with this witness's
        cosignature), "halted"}, ...]}`` sorted by origin, canonical JSON.
        """
        halted = set(self.store.halted())
        heads = [
            {
                "origin": s.origin,
                "size": s.size,
                "root": s.root_hash.hex(),
                "note": s.note.format(),
                "halted": s.origin in halted,
            }
            for s in self.store.states()
        ]
        doc = {"v": HEADS_VERSION, "witness": self.witness_key, "heads": heads}
        return canonical(doc).decode("utf-8")

    def process_gossip(self, headers: Mapping[str, str], path: str, body: bytes) -> dict[str, Any]:
        """``POST /v1/witness/gossip``: authenticate the member, then compare its heads.

        AuthError (401) for a request not signed by a member; MalformedError for
        a bad message. Returns ``{"v": 1, "outcomes": [{"status", "reason",
        "origin", "size"}, ...]}``, one per gossiped note.
        """
        sender = authenticate_peer(
            headers,
            self.consortium,
            self._guard,
            method="POST",
            path=path,
            body=body,
            now=self._clock_ms(),
        )
        message = GossipMessage.parse(body)
        consortium, peers = self.consortium, self._peers
        if consortium is None or peers is None or not self.witnesses:
            raise UsageError("this node has no other members to take gossip from")

        def ask_log(origin: str, size1: int, size2: int) -> list[bytes] | None:
            return log_consistency_proof(peers, consortium, origin, size1, size2)

        outcomes = process_gossip(
            message.checkpoints,
            logs=self.logs,
            witnesses=self.witnesses,
            read_state=self.store.read_state,
            consistency_proof=ask_log,
            on_conflict=self.store.on_conflict,
            is_halted=self.store.is_halted,
            now_seconds=self._now_seconds(),
            peer=sender,
        )
        for o in outcomes:
            if o.evidence is not None:
                _log.warning("witness: split view of %s shown by gossip from %s", o.origin, sender)
        return {
            "v": 1,
            "outcomes": [
                {"status": o.status, "reason": o.reason, "origin": o.origin, "size": o.size}
                for o in outcomes
            ],
        }

    def process_clear(self, body: Any) -> dict[str, Any]:
        """``POST /v1/witness/clear`` (admin): an operator resumes witnessing a log.

        Body ``{"origin": "<origin>", "reset_state": false}``; ``reset_state`` also
        forgets the stored checkpoint (the next one is taken on first use). The
        evidence is archived, never deleted (docs/witness.md section 5).
        NotFoundError if no evidence is held for that origin.
        """
        if not isinstance(body, dict) or not set(body) <= {"origin", "reset_state"}:
            raise UsageError('expected {"origin": "<origin>", "reset_state": false}')
        origin, reset = body.get("origin"), body.get("reset_state", False)
        if not isinstance(origin, str) or not isinstance(reset, bool):
            raise UsageError("origin must be a string and reset_state a boolean")
        archived = self.store.clear(origin, reset_state=reset)
        _log.warning("witness: evidence against %s cleared by an operator", origin)
        return {"origin": origin, "archived": len(archived), "reset_state": reset}

    def gossip_round(self) -> dict[str, Any]:
        """Send one gossip round now (tests, operators); per org its outcomes or error."""
        if self.gossip is None:
            raise UsageError("this node is not in a consortium: it has nobody to gossip with")
        return self.gossip.round()

    # -- the log side ----------------------------------------------------------------------

    def served_note(self) -> str | None:
        """The checkpoint ``GET /v1/checkpoint`` serves (None: none is signed yet)."""
        if self.pusher is None:
            return None
        return self.pusher.served_note()
