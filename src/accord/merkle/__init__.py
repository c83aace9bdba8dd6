"""RFC 9162 Merkle trees: hashing, roots, inclusion, consistency and range proofs (pure).

Public interface (0-based indices, hashes as 32-byte ``bytes``; verifiers raise
a :class:`accord.errors.VerificationError` and return ``None``):

- ``leaf_hash(data)``, ``node_hash(left, right)``, ``root_hash(leaf_hashes)``
- ``verify_inclusion(index, size, leaf_hash, proof, root_hash)``,
  ``root_from_inclusion_proof(index, size, leaf_hash, proof)``
- ``verify_consistency(size1, size2, proof, root1, root2)``
- ``range_proof(start, end, size, read)`` / ``verify_range(start, end, size,
  leaf_hashes, proof, root_hash)`` / ``root_from_range_proof(...)``: leaves
  ``[start, end)`` of a tree of ``size``, proven by the compact ranges of
  ``[0, start)`` and ``[end, size)`` (left part first).
- generation from stored perfect nodes: ``inclusion_proof``, ``consistency_proof``,
  ``range_proof`` take a :data:`NodeReader`; the ``*_plan`` functions give the
  node ids to read, for storage that batches its reads.
"""

from accord.merkle.hashing import EMPTY_ROOT, HASH_SIZE, fold_right, leaf_hash, node_hash, root_hash
from accord.merkle.memory import MemoryTree
from accord.merkle.nodes import NodeID, NodeReader, ProofPlan, compact_range
from accord.merkle.proofs import (
    consistency_plan,
    consistency_proof,
    inclusion_plan,
    inclusion_proof,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)
from accord.merkle.ranges import (
    range_plan,
    range_proof,
    root_from_range_proof,
    root_plan,
    verify_range,
)

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryTree",
    "NodeID",
    "NodeReader",
    "ProofPlan",
    "compact_range",
    "consistency_plan",
    "consistency_proof",
    "fold_right",
    "inclusion_plan",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "range_plan",
    "range_proof",
    "root_from_inclusion_proof",
    "root_from_range_proof",
    "root_hash",
    "root_plan",
    "verify_consistency",
    "verify_inclusion",
    "verify_range",
]
