"""When do two checkpoints of one log conflict, and what proves it (pure).

Two checkpoints ``(s1, r1)`` and ``(s2, r2)`` of one origin, with ``s1 <= s2``,
are **consistent** when the tree ``r1`` is a prefix of the tree ``r2``
(RFC 9162 section 2.1.4). A log must never sign two checkpoints that are not
(tlog-checkpoint). What a third party can check from data alone:

- ``s1 == s2`` and ``r1 != r2``: a **fork**. The two signed notes prove it.
- ``s1 < s2`` and a consistency proof that leads to ``r2`` from a prefix root
  ``X != r1``: the log's own proof shows that its tree ``r2`` starts with a
  different history than ``r1`` (under SHA-256 collision resistance). The two
  notes and that proof prove it: see :func:`divergent_prefix`.
- ``s1 < s2`` and a proof that merely fails to verify proves nothing: anyone
  who holds two public checkpoints can send garbage as a "proof". Only the log
  can settle it, by producing a valid proof (an honest log always can).

When ``s1`` is a power of two a consistency proof does not carry the old root
(RFC 9162 section 2.1.4.1), so it cannot reveal a different prefix; the
conflict then shows only as the log's failure to prove consistency.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from accord.errors import VerificationError
from accord.merkle import EMPTY_ROOT, HASH_SIZE, verify_consistency
from accord.note import Checkpoint

__all__ = ["consistent", "divergent_prefix", "prefix_root"]

_sha256 = hashlib.sha256


def _node(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def prefix_root(size1: int, size2: int, proof: Sequence[bytes], root2: bytes) -> bytes | None:
    """The root of the first ``size1`` leaves that ``proof`` commits to inside tree ``root2``.

    RFC 9162 section 2.1.4.2, run without knowing the old root: for
    ``0 < size1 < size2`` with ``size1`` not a power of two, the proof's first
    hash seeds both the old and the new root, so the old root ``fr`` follows
    from the proof alone. Returns ``fr`` when the proof has the right shape and
    leads to ``root2`` (checked again by :func:`accord.merkle.verify_consistency`
    with ``fr`` as the old root), and None otherwise: when the sizes do not
    fit, ``size1`` is a power of two (the proof omits the old root), or the
    proof does not lead to ``root2``. Never raises for bad input.
    """
    if type(size1) is not int or type(size2) is not int or not 0 < size1 < size2:
        return None
    if size1 & (size1 - 1) == 0 or not proof:
        return None
    if not isinstance(root2, bytes) or len(root2) != HASH_SIZE:
        return None
    if not all(isinstance(h, bytes) and len(h) == HASH_SIZE for h in proof):
        return None
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            while fn and not fn & 1:
                fn >>= 1
                sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0 or sr != root2:
        return None
    try:  # the Merkle core is the authority: it must accept fr as the old root
        verify_consistency(size1, size2, list(proof), fr, root2)
    except VerificationError:
        return None
    return fr


def divergent_prefix(small: Checkpoint, large: Checkpoint, proof: Sequence[bytes]) -> bytes | None:
    """The prefix root ``X != small.root_hash`` that ``proof`` shows inside ``large``, if any.

    A non-None answer proves the two checkpoints are inconsistent: the tree of
    ``large`` has, at ``small.size``, the root X and not the root ``small``
    claims. None says nothing (the proof may be garbage, or ``small.size`` a
    power of two). Preconditions: same origin, ``small.size < large.size``.
    """
    x = prefix_root(small.size, large.size, proof, large.root_hash)
    if x is None or x == small.root_hash:
        return None
    return x


def consistent(small: Checkpoint, large: Checkpoint, proof: Sequence[bytes]) -> bool:
    """True if ``proof`` shows ``small`` is a prefix of ``large`` (RFC 9162 section 2.1.4.2).

    Equal sizes need equal roots and an empty proof; the empty tree (size 0,
    root SHA-256("")) is a prefix of every tree and needs an empty proof; a
    size-0 checkpoint with any other root is consistent with nothing.
    Precondition: ``small.size <= large.size``.
    """
    if small.size > large.size:
        return False
    if small.size == 0:
        if small.root_hash != EMPTY_ROOT or len(proof) != 0:
            return False
        return large.size != 0 or large.root_hash == EMPTY_ROOT
    try:
        verify_consistency(small.size, large.size, list(proof), small.root_hash, large.root_hash)
    except VerificationError:
        return False
    return True
