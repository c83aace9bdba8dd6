"""Node addressing, compact ranges and proof plans.

A *perfect node* ``(level, index)`` is the root of the perfect subtree over
leaves ``[index * 2**level, (index + 1) * 2**level)``; level 0 nodes are leaf
hashes. Stored trees keep only perfect nodes: they never change once complete.
Every other hash a proof needs (the "ragged" right-edge nodes of a tree whose
size is not a power of two) is the right fold of a compact range of perfect
nodes, so roots and proofs at any past size cost O(log n) node reads.

Proof generation is split sans-I/O style (as transparency-dev/merkle does):
a pure *plan* names the perfect nodes it needs, the caller reads them from
wherever they live, and the plan assembles the proof.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from accord.errors import StoreError
from accord.merkle.hashing import fold_right

__all__ = ["NodeID", "NodeReader", "ProofPlan", "compact_range", "subtree_nodes"]

#: (level, index) of a perfect subtree.
NodeID = tuple[int, int]

#: Reads perfect nodes by id, returning their hashes in the same order.
NodeReader = Callable[[Sequence[NodeID]], Sequence[bytes]]


def compact_range(begin: int, end: int) -> list[NodeID]:
    """The maximal aligned perfect subtrees covering ``[begin, end)``, left to right.

    For ``[0, x)`` this is the binary decomposition of x (popcount(x) nodes).
    """
    nodes: list[NodeID] = []
    while begin < end:
        # The largest aligned block starting at ``begin`` that fits before ``end``.
        level = (begin & -begin).bit_length() - 1 if begin else (end - begin).bit_length() - 1
        while (1 << level) > end - begin:
            level -= 1
        nodes.append((level, begin >> level))
        begin += 1 << level
    return nodes


def subtree_nodes(begin: int, end: int) -> tuple[NodeID, ...]:
    """Perfect nodes whose right fold is MTH(D[begin:end]) for a node of an RFC 9162 tree.

    ``begin`` must be aligned to a power of two at least ``end - begin`` (true of
    every node the RFC recursion visits), so the decomposition is largest first.
    """
    return tuple(compact_range(begin, end))


@dataclass(frozen=True, slots=True)
class ProofPlan:
    """An ordered list of proof hashes, each the right fold of one or more perfect nodes."""

    parts: tuple[tuple[NodeID, ...], ...]

    def node_ids(self) -> list[NodeID]:
        """The distinct perfect nodes to read, in first-use order."""
        seen: dict[NodeID, None] = {}
        for part in self.parts:
            for node in part:
                seen.setdefault(node, None)
        return list(seen)

    def assemble(self, hashes: Mapping[NodeID, bytes]) -> list[bytes]:
        """Build the proof from the node hashes read for :meth:`node_ids`."""
        try:
            return [
                hashes[part[0]] if len(part) == 1 else fold_right([hashes[n] for n in part])
                for part in self.parts
            ]
        except KeyError as exc:
            raise StoreError(f"tree node {exc.args[0]} is missing from storage") from None

    def run(self, read: NodeReader) -> list[bytes]:
        """Read the nodes with ``read`` and assemble the proof."""
        ids = self.node_ids()
        values = read(ids)
        if len(values) != len(ids):
            raise StoreError(f"node reader returned {len(values)} hashes for {len(ids)} nodes")
        return self.assemble(dict(zip(ids, values, strict=True)))
