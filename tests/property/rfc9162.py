"""A slow reference for RFC 9162 section 2.1, written straight from the RFC text.

It shares no code with accord.merkle. Lists are addressed as ``D[lo:hi]`` by
their bounds instead of being sliced (the recursion is otherwise the RFC's),
and MTH values are memoised per tree so that big trees stay affordable.

- 2.1.1: MTH({}) = SHA-256(); MTH({d0}) = SHA-256(0x00 || d0);
  MTH(D[n]) = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest
  power of two smaller than n.
- 2.1.3.1: PATH(m, D[n]); 2.1.3.2: the fn/sn inclusion verification.
- 2.1.4.1: PROOF(m, D[n]) = SUBPROOF(m, D[n], true); 2.1.4.2: the fn/sn
  consistency verification, with the edge cases of shared/reference/tlog.md 3.
- Range proofs (not in the RFC; tlog.md section 4): the proof holds MTH of the
  aligned blocks covering [0, start) and [end, size); the reference rebuilds
  the root by running the RFC recursion over those blocks and the leaves.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

__all__ = [
    "RefTree",
    "aligned_blocks",
    "largest_power_of_two_below",
    "path_shape",
    "ref_range_root",
    "ref_verify_consistency",
    "ref_verify_inclusion",
    "subproof_shape",
]


def _h(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def largest_power_of_two_below(n: int) -> int:
    """k with k < n <= 2k, for n > 1 (RFC 9162 section 2.1.1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class RefTree:
    """D[0:n], the leaf inputs; MTH, PATH and PROOF as in RFC 9162 section 2.1."""

    def __init__(self, leaves: Sequence[bytes]) -> None:
        self.leaves = list(leaves)
        self._memo: dict[tuple[int, int], bytes] = {}

    def leaf_hash(self, i: int) -> bytes:
        return _h(b"\x00" + self.leaves[i])

    def mth(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        key = (lo, hi)
        if key not in self._memo:
            n = hi - lo
            if n == 0:
                value = _h(b"")
            elif n == 1:
                value = self.leaf_hash(lo)
            else:
                k = largest_power_of_two_below(n)
                value = _h(b"\x01" + self.mth(lo, lo + k) + self.mth(lo + k, hi))
            self._memo[key] = value
        return self._memo[key]

    def path(self, m: int, lo: int, hi: int) -> list[bytes]:
        """PATH(m, D[lo:hi]), m relative to lo."""
        n = hi - lo
        if n == 1:
            return []
        k = largest_power_of_two_below(n)
        if m < k:
            return [*self.path(m, lo, lo + k), self.mth(lo + k, hi)]
        return [*self.path(m - k, lo + k, hi), self.mth(lo, lo + k)]

    def inclusion_proof(self, index: int, size: int) -> list[bytes]:
        return self.path(index, 0, size)

    def subproof(self, m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        """SUBPROOF(m, D[lo:hi], b)."""
        n = hi - lo
        if m == n:
            return [] if b else [self.mth(lo, hi)]
        k = largest_power_of_two_below(n)
        if m <= k:
            return [*self.subproof(m, lo, lo + k, b), self.mth(lo + k, hi)]
        return [*self.subproof(m - k, lo + k, hi, False), self.mth(lo, lo + k)]

    def consistency_proof(self, size1: int, size2: int) -> list[bytes]:
        """PROOF(size1, D[0:size2])."""
        return self.subproof(size1, 0, size2, True)


def ref_verify_inclusion(
    index: int, size: int, leaf_hash: bytes, proof: Sequence[bytes], root: bytes
) -> bool:
    """RFC 9162 section 2.1.3.2, step by step."""
    if index >= size or index < 0:
        return False
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = _h(b"\x01" + p + r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _h(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def ref_verify_consistency(
    first: int, second: int, proof: Sequence[bytes], first_hash: bytes, second_hash: bytes
) -> bool:
    """RFC 9162 section 2.1.4.2 with the edge cases of shared/reference/tlog.md section 3."""
    if first > second or first <= 0:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    fn, sn = first - 1, second - 1
    while fn % 2 == 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr = _h(b"\x01" + c + fr)
            sr = _h(b"\x01" + c + sr)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _h(b"\x01" + sr + c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0


def aligned_blocks(lo: int, hi: int) -> list[tuple[int, int]]:
    """[lo, hi) as maximal aligned power-of-two blocks, left to right (a compact range)."""
    blocks = []
    while lo < hi:
        size = 1
        while lo % (size * 2) == 0 and lo + size * 2 <= hi:
            size *= 2
        blocks.append((lo, lo + size))
        lo += size
    return blocks


def ref_range_root(
    start: int, end: int, size: int, leaf_hashes: Sequence[bytes], proof: Sequence[bytes]
) -> bytes | None:
    """The root the RFC recursion gives from the range's leaves and proof, or None.

    None when the numbers of leaves or proof hashes do not fit (start, end,
    size), or when the blocks cannot be reached by the RFC's splits.
    """
    if not 0 <= start <= end <= size or len(leaf_hashes) != end - start:
        return None
    left, right = aligned_blocks(0, start), aligned_blocks(end, size)
    if len(proof) != len(left) + len(right):
        return None
    known: dict[tuple[int, int], bytes] = {}
    for block, h in zip(left + right, proof, strict=True):
        known[block] = h
    for i, h in enumerate(leaf_hashes):
        known[(start + i, start + i + 1)] = h

    def mth(lo: int, hi: int) -> bytes | None:
        if (lo, hi) in known:
            return known[(lo, hi)]
        if hi - lo <= 1:
            return None
        k = largest_power_of_two_below(hi - lo)
        a, b = mth(lo, lo + k), mth(lo + k, hi)
        return None if a is None or b is None else _h(b"\x01" + a + b)

    return _h(b"") if size == 0 else mth(0, size)


def path_shape(m: int, n: int) -> tuple[str, ...] | None:
    """The sides of the siblings in PATH(m, D[0:n]), leaf first: "L" or "R"; None if m >= n.

    The verifier's hashing is fixed by this sequence alone, so an inclusion
    proof for (m, n) is accepted for (m, n') exactly when the shapes agree.
    """
    if not 0 <= m < n:
        return None
    if n == 1:
        return ()
    k = largest_power_of_two_below(n)
    if m < k:
        inner = path_shape(m, k)
        return None if inner is None else (*inner, "R")
    inner = path_shape(m - k, n - k)
    return None if inner is None else (*inner, "L")


def subproof_shape(m: int, n: int, b: bool = True) -> tuple[str, ...] | None:
    """The token sequence of SUBPROOF(m, D[0:n], b): "R", "L", or "SELF" (the old subtree).

    None unless 0 < m <= n.
    """
    if not 0 < m <= n:
        return None
    if m == n:
        return () if b else ("SELF",)
    k = largest_power_of_two_below(n)
    if m <= k:
        inner = subproof_shape(m, k, b)
        return None if inner is None else (*inner, "R")
    inner = subproof_shape(m - k, n - k, False)
    return None if inner is None else (*inner, "L")
