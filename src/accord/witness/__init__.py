"""Witnessing: C2SP tlog-witness add-checkpoint, evidence of equivocation, gossip.

The protocol logic is sans-I/O and pure (standard library, ``cryptography``
and the pure accord packages): plain values in, a decision out, storage as
narrow callables. The node's HTTP handlers and background threads are thin
shells around it. See docs/witness.md.

Witness side (:mod:`accord.witness.service`):

- ``process_add_checkpoint(body, *, logs, read_state, cas_state, cosigner,
  now_seconds, on_conflict, is_halted, extra_check=None) -> Result`` (status,
  body, content_type, error, evidence): the checks of tlog.md section 6.2 in
  order, current text. ``Advance`` is what an ``extra_check`` sees.
- ``AddCheckpointRequest.parse(body)`` / ``.format()`` (:mod:`accord.witness.request`).
- ``WitnessState(size, root_hash, note)`` and the seams ``read_state``,
  ``cas_state``, ``on_conflict``, ``is_halted`` (:mod:`accord.witness.state`);
  ``MemoryWitnessStore`` implements them in memory (:mod:`accord.witness.memory`).

Evidence (:mod:`accord.witness.evidence`, :mod:`accord.witness.divergence`):

- ``Evidence(origin, kind, held, shown, proof, details, detected_at)``,
  ``Evidence.parse`` / ``.format()`` (canonical JSON); kinds ``fork``,
  ``inconsistent``, ``gossip-fork``, ``index-mismatch``;
  ``format_evidence_list`` / ``parse_evidence_list`` (``GET /v1/witness/evidence``).
- ``verify_evidence(evidence, log_verifier, *, consistency_proof=None,
  check_index=None)``: anyone's check, trusting only the log key.
- ``consistent(small, large, proof)``, ``divergent_prefix(small, large, proof)``,
  ``prefix_root(size1, size2, proof, root2)``.

Log side (:mod:`accord.witness.client`):

- ``build_request(old_size, proof, note) -> bytes``;
  ``handle_response(status, content_type, body, checkpoint, witness) ->
  Cosigned | Retry`` (raises for refusals).
- ``Pusher(witness, transport, proofs, *, size=0, max_attempts=3).push(note)``;
  ``push_all(note, pushers) -> (cosigned note, errors)``.

Gossip (:mod:`accord.witness.gossip`): ``GossipMessage.parse`` / ``.format()``,
``process_gossip(notes, *, logs, witnesses, read_state, consistency_proof,
on_conflict, is_halted, now_seconds, peer=None) -> tuple[GossipOutcome, ...]``.
Consortium wiring (:mod:`accord.witness.policy`): ``witnessed_logs(consortium,
org)``, ``gossip_witnesses(consortium, org)``.
"""

from accord.witness.client import (
    Cosigned,
    LogProofs,
    Pusher,
    Retry,
    Transport,
    build_request,
    handle_response,
    push_all,
)
from accord.witness.divergence import consistent, divergent_prefix, prefix_root
from accord.witness.evidence import (
    FORK,
    GOSSIP_FORK,
    INCONSISTENT,
    INDEX_MISMATCH,
    KINDS,
    Evidence,
    format_evidence_list,
    parse_evidence_list,
    verify_evidence,
)
from accord.witness.gossip import GossipMessage, GossipOutcome, process_gossip
from accord.witness.memory import MemoryWitnessStore
from accord.witness.policy import gossip_witnesses, witnessed_logs
from accord.witness.request import MAX_PROOF_LINES, MAX_REQUEST_SIZE, AddCheckpointRequest
from accord.witness.service import (
    CONTENT_TYPE_COSIGNATURE,
    CONTENT_TYPE_ERROR,
    CONTENT_TYPE_SIZE,
    Advance,
    ExtraCheck,
    Result,
    process_add_checkpoint,
)
from accord.witness.state import (
    CasState,
    IsHalted,
    OnConflict,
    ProofSource,
    ReadState,
    WitnessState,
)

__all__ = [
    "CONTENT_TYPE_COSIGNATURE",
    "CONTENT_TYPE_ERROR",
    "CONTENT_TYPE_SIZE",
    "FORK",
    "GOSSIP_FORK",
    "INCONSISTENT",
    "INDEX_MISMATCH",
    "KINDS",
    "MAX_PROOF_LINES",
    "MAX_REQUEST_SIZE",
    "AddCheckpointRequest",
    "Advance",
    "CasState",
    "Cosigned",
    "Evidence",
    "ExtraCheck",
    "GossipMessage",
    "GossipOutcome",
    "IsHalted",
    "LogProofs",
    "MemoryWitnessStore",
    "OnConflict",
    "ProofSource",
    "Pusher",
    "ReadState",
    "Result",
    "Retry",
    "Transport",
    "WitnessState",
    "build_request",
    "consistent",
    "divergent_prefix",
    "format_evidence_list",
    "gossip_witnesses",
    "handle_response",
    "parse_evidence_list",
    "prefix_root",
    "process_add_checkpoint",
    "process_gossip",
    "push_all",
    "verify_evidence",
    "witnessed_logs",
]
