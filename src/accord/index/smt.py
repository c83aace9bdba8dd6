"""The compact sparse Merkle map (verifiable-index.md section 5.2): hashing and batch updates.

A binary tree over 256-bit key ids (bit 0 = the most significant bit of byte 0).

- leaf node: ``SHA-256(0x00 || key_id || value_hash)``;
- inner node: ``SHA-256(0x01 || left || right)``; the empty subtree is 32 zero bytes;
- a subtree holding exactly one key *is* that key's leaf node, placed at the
  key's shortest unique prefix ("shortcut leaf"). The shape therefore depends
  only on the set of keys and the root only on the set of (key, value) pairs:
  the map is history independent.

Node addressing. A position is the heap number ``(1 << depth) | prefix`` where
``prefix`` is the first ``depth`` bits of the path: the root is 1, the children
of p are 2p and 2p + 1, the parent is p >> 1, the sibling p ^ 1. The map keeps
the *current* tree, keyed by position, so an update rewrites exactly the touched
paths in place and a proof is one walk down. (Keying nodes by hash instead would
keep every old version for free, but grow by every rewritten node of every batch
and cost one dependent read per level.)

Layout, for speed and memory in pure Python. Key ids are uniformly distributed
(HMAC outputs), so with n keys every level down to about log2(n) is nearly full.
Levels ``0..D`` with ``D = floor(log2 n) + 1`` live in one ``bytearray`` of 32-byte
slots indexed by position (all zeros = empty, which is exactly the empty
subtree's hash); a node's two children are one contiguous 64-byte slice. Deeper
nodes live in a dict. ``leaves`` maps a leaf's position to its key id and
``keys`` a key id to its position. D grows as keys are added.

Keys are only ever added or updated (posting logs only grow), so a leaf only
ever moves down, when a new key shares its prefix.

History. With ``history > 0`` each update keeps an undo record (the previous
value of every position it wrote), so :meth:`SparseMap.path` can walk the tree
as it was at any of the last ``history`` versions: proofs stay available for
the commits that witnesses are still cosigning while newer batches land.

Speed. An update's placement of new keys, leaf hashing and rehashing run in the
native kernel when it is loaded (:mod:`accord.index.native`; :data:`NATIVE`), with
the same results; ``ACCORD_PURE_PYTHON=1`` forces the Python code below. The
kernel handles positions below ``2**62`` (depth <= 61): it hands a new key that
would go deeper to :meth:`SparseMap._insert` and the hashing of a batch with a
deeper leaf to the Python code. Only keys crafted to share a prefix of 61 bits
or more go that deep.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Final

from accord.errors import NotFoundError, UsageError
from accord.index import native as _native

__all__ = [
    "EMPTY_NODE",
    "KEY_SIZE",
    "MAPVAL_PREFIX",
    "NATIVE",
    "SparseMap",
    "map_leaf_hash",
    "map_value_hash",
]

KEY_SIZE: Final = 32
#: The hash of an empty subtree (and the root of the empty map).
EMPTY_NODE: Final = bytes(32)
#: Pairs a streamed :meth:`SparseMap.build` applies at a time.
BUILD_CHUNK: Final = 65_536
MAPVAL_PREFIX: Final = b"mapval/v1"
#: True if updates use the native kernel (:mod:`accord.index.native`), False if pure Python.
NATIVE: Final = _native.NATIVE

_sha256 = hashlib.sha256
#: A SHA-256 state holding the inner-node prefix 0x01, copied per inner node.
_INNER: Final = hashlib.sha256(b"\x01")
#: Marks a node created during an update's structural phase; every one is rehashed before
#: the update returns. Non-zero, so it reads as present in the dense levels.
_PENDING: Final = b"\xff" * 32


def map_value_hash(size: int, posting_root: bytes) -> bytes:
    """``SHA-256("mapval/v1" || u64be(size) || posting_root)``: the value a map leaf commits to."""
    return _sha256(MAPVAL_PREFIX + size.to_bytes(8, "big") + posting_root).digest()


def map_leaf_hash(key_id: bytes, value_hash: bytes) -> bytes:
    """``SHA-256(0x00 || key_id || value_hash)``: a map leaf node."""
    return _sha256(b"\x00" + key_id + value_hash).digest()


#: Previous values of positions (None if the position was empty).
Undo = dict[int, bytes | None]


@dataclass(slots=True)
class _Undo:
    """What one update overwrote. ``nodes`` wins over the dense log for the same position
    (it holds values from before the update's structural phase)."""

    version: int
    previous: int
    nodes: Undo
    leaves: Undo
    dense_positions: array[int]
    dense_old: bytearray
    new_keys: list[bytes]
    _where: dict[int, int] | None = None

    def dense_index(self) -> dict[int, int]:
        """Position -> its index in ``dense_positions`` (built on the first historical read)."""
        if self._where is None:
            self._where = {p: i for i, p in enumerate(self.dense_positions)}
        return self._where


class SparseMap:
    """The mutable compact sparse Merkle map: key id -> value hash, updated in batches.

    Not thread-safe: callers serialize :meth:`update` with reads (the sequencer's lock).
    ``native=False`` keeps this map on the pure-Python code even when the native
    kernel is loaded (for tests and comparisons; the results are the same).
    """

    __slots__ = (
        "_dense",
        "_depth",
        "_history",
        "_keys",
        "_leaves",
        "_limit",
        "_native",
        "_nodes",
        "_undo",
        "_version",
    )

    def __init__(self, history: int = 0, version: int = 0, *, native: bool = True) -> None:
        if not isinstance(history, int) or history < 0:
            raise UsageError("history must be a non-negative integer")
        self._depth = 0  # D: positions below _limit = 2 ** (D + 1) are dense
        self._limit = 2
        self._dense = bytearray(64)
        self._nodes: dict[int, bytes] = {}
        self._leaves: dict[int, bytes] = {}
        self._keys: dict[bytes, int] = {}
        self._history = history
        self._undo: deque[_Undo] = deque()
        self._version = version
        self._native = native and NATIVE

    @classmethod
    def build(
        cls,
        items: Iterable[tuple[bytes, bytes]],
        version: int,
        history: int = 0,
        *,
        native: bool = True,
    ) -> SparseMap:
        """A map holding ``items`` at ``version``, with no history yet.

        A list is built in one update. Any other iterable is consumed
        :data:`BUILD_CHUNK` pairs at a time, one update each (the map is the same), so
        that a restart streaming millions of keys never holds them all as pairs."""
        stream: Iterator[tuple[bytes, bytes]] | None = None
        if isinstance(items, list):
            first = items
        else:
            stream = iter(items)
            first = list(islice(stream, BUILD_CHUNK))
        tree = cls(0, version - 1, native=native)
        if stream is None or len(first) < BUILD_CHUNK:
            tree._reserve(len(first))
            tree.update(first, version)
        else:
            tree._version = 0
            chunk = first
            while chunk:
                if any(key in tree._keys for key, _ in chunk):
                    raise UsageError("a map update names a key twice")
                tree.update(chunk, tree._version + 1)
                chunk = list(islice(stream, BUILD_CHUNK))
            tree._version = version
        tree._history = history
        return tree

    def _reserve(self, keys: int) -> None:
        """Give an empty map the dense levels it will have once it holds ``keys`` keys, as
        :meth:`_grow` would after the update: a bulk build then never puts a node in the
        dict that growing would move out again (at 10M records, 2M keys, those nodes and
        the dict's table that never shrinks made the build's peak memory about 1 GB more)."""
        if self._keys:
            raise UsageError("only an empty map can be reserved")
        while 2 * keys >= self._limit:
            self._limit <<= 1
            self._depth += 1
        self._dense = bytearray(32 * self._limit)

    def __len__(self) -> int:
        return len(self._keys)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._keys

    @property
    def root(self) -> bytes:
        return bytes(self._dense[32:64])

    @property
    def version(self) -> int:
        return self._version

    def versions(self) -> list[int]:
        """The versions whose tree :meth:`path` can still walk, oldest first."""
        return [u.previous for u in self._undo] + [self._version]

    def position(self, key_id: bytes) -> int | None:
        """The current leaf position of ``key_id`` (heap numbering), or None."""
        return self._keys.get(key_id)

    # -- node access (current version) ---------------------------------------------

    def _get(self, pos: int) -> bytes | None:
        if pos < self._limit:
            h = bytes(self._dense[pos << 5 : (pos << 5) + 32])
            return None if h == EMPTY_NODE else h
        return self._nodes.get(pos)

    def _put(self, pos: int, h: bytes, undo: Undo | None) -> None:
        if undo is not None and pos not in undo:
            undo[pos] = self._get(pos)
        if pos < self._limit:
            self._dense[pos << 5 : (pos << 5) + 32] = h
        else:
            self._nodes[pos] = h

    def _set_leaf(self, pos: int, key: bytes | None, undo: Undo | None) -> None:
        if undo is not None and pos not in undo:
            undo[pos] = self._leaves.get(pos)
        if key is None:
            del self._leaves[pos]
        else:
            self._leaves[pos] = key
            self._keys[key] = pos

    def _grow(self) -> None:
        """Move whole levels into the dense array while it has at most 2 slots per key."""
        while 2 * len(self._keys) >= self._limit:
            old, new = self._limit, self._limit << 1
            self._dense.extend(bytes(32 * old))
            pop, dense = self._nodes.pop, self._dense
            for pos in range(old, new):
                h = pop(pos, None)
                if h is not None:
                    dense[pos << 5 : (pos << 5) + 32] = h
            self._depth += 1
            self._limit = new

    # -- updates ------------------------------------------------------------------

    def update(self, items: Iterable[tuple[bytes, bytes]], version: int) -> bytes:
        """Set the value hash of each key; return the new root. Labels the result ``version``.

        ``items`` are ``(key_id, value_hash)`` pairs, 32 bytes each, keys distinct;
        ``version`` must exceed the current one. Cost: the touched paths only,
        each inner node recomputed once however many keys share it.
        """
        pairs = list(items)
        for key, value in pairs:
            if not isinstance(key, bytes) or len(key) != KEY_SIZE:
                raise UsageError("a map key id must be 32 bytes")
            if not isinstance(value, bytes) or len(value) != 32:
                raise UsageError("a map value hash must be 32 bytes")
        if len({key for key, _ in pairs}) != len(pairs):
            raise UsageError("a map update names a key twice")
        return self.update_checked(pairs, version)

    def update_checked(self, pairs: list[tuple[bytes, bytes]], version: int) -> bytes:
        """:meth:`update` for pairs the caller has already checked (32-byte, distinct keys)."""
        if not isinstance(version, int) or version <= self._version:
            raise UsageError(f"version {version} does not follow {self._version}")
        record = self._history > 0
        nundo: Undo | None = {} if record else None
        lundo: Undo | None = {} if record else None
        keys = self._keys
        positions: array[int] = array("Q")
        log = bytearray()
        done = None  # what the native kernel did: nothing, the placement, or everything
        if self._native:
            done = _native.update(
                pairs,
                keys,
                self._leaves,
                self._dense,
                self._nodes,
                self._depth,
                nundo,
                lundo,
                positions,
                log if record else None,
                lambda key: self._insert(key, nundo, lundo),
            )
        if done is None:
            new_keys = [key for key, _ in pairs if key not in keys]
            for key in new_keys:
                self._insert(key, nundo, lundo)
            rundo = None
        else:
            new_keys, rundo = done
        if rundo is None:  # pure Python, or a leaf too deep for the kernel (depth > 61)
            changed = self._hash_leaves(pairs, nundo)
            rundo = self._rehash(changed, positions, log if record else None)
        if nundo is not None and lundo is not None:
            rundo.update(nundo)  # the older values (a no-op when the kernel recorded in nundo)
            self._undo.append(_Undo(version, self._version, rundo, lundo, positions, log, new_keys))
            while len(self._undo) > self._history:
                self._undo.popleft()
        self._version = version
        self._grow()
        return self.root

    def _hash_leaves(self, pairs: list[tuple[bytes, bytes]], nundo: Undo | None) -> list[int]:
        """Write each pair's leaf hash at its key's position; return the positions."""
        changed = []
        keys, limit, dense, nodes, sha = self._keys, self._limit, self._dense, self._nodes, _sha256
        for key, value in pairs:
            pos = keys[key]
            h = sha(b"\x00" + key + value).digest()
            if nundo is not None and pos not in nundo:
                if pos < limit:
                    was = dense[pos << 5 : (pos << 5) + 32]
                    nundo[pos] = None if was == EMPTY_NODE else bytes(was)
                else:
                    nundo[pos] = nodes.get(pos)
            if pos < limit:
                dense[pos << 5 : (pos << 5) + 32] = h
            else:
                nodes[pos] = h
            changed.append(pos)
        return changed

    def _has(self, pos: int) -> bool:
        if pos < self._limit:
            return self._dense[pos << 5 : (pos << 5) + 32] != EMPTY_NODE
        return pos in self._nodes

    def _insert(self, key: bytes, nundo: Undo | None, lundo: Undo | None) -> None:
        """Place a new key's leaf (its hash is set later), moving a colliding leaf down."""
        k = int.from_bytes(key, "big")
        if not self._has(1):
            self._place(1, key, nundo, lundo)
            return
        # Presence along a path is prefix-closed: binary search the deepest node on it.
        limit, dense, nodes = self._limit, self._dense, self._nodes
        lo, hi = 0, 256
        while lo < hi:
            mid = (lo + hi + 1) >> 1
            p = (1 << mid) | (k >> (256 - mid))
            if dense[p << 5 : (p << 5) + 32] != EMPTY_NODE if p < limit else p in nodes:
                lo = mid
            else:
                hi = mid - 1
        pos = (1 << lo) | (k >> (256 - lo))
        other = self._leaves.get(pos)
        if other is None:  # an inner node whose child on our side is empty
            self._place((pos << 1) | ((k >> (255 - lo)) & 1), key, nundo, lundo)
            return
        # A leaf of another key: both go below the prefix they share.
        k2 = int.from_bytes(other, "big")
        shared = 256 - (k ^ k2).bit_length()
        moved = (1 << (shared + 1)) | (k2 >> (255 - shared))
        moved_hash = self._get(pos)
        if moved_hash is None:  # pragma: no cover - a leaf position always holds a hash
            raise UsageError("map leaf without a hash")
        self._set_leaf(pos, None, lundo)
        self._put(moved, moved_hash, nundo)
        self._set_leaf(moved, other, lundo)
        for depth in range(lo, shared + 1):  # inner from here down; rehashed as ancestors
            self._put((1 << depth) | (k >> (256 - depth)), _PENDING, nundo)
        self._place(moved ^ 1, key, nundo, lundo)

    def _place(self, pos: int, key: bytes, nundo: Undo | None, lundo: Undo | None) -> None:
        self._put(pos, _PENDING, nundo)
        self._set_leaf(pos, key, lundo)

    def _rehash(self, changed: list[int], positions: array[int], log: bytearray | None) -> Undo:
        """Recompute every ancestor of the changed leaves, deepest level first.

        With ``log``, records what it overwrites: dense slots as ``positions`` and
        their old 32 bytes appended to ``log``; dict nodes in the returned dict.
        """
        undo: Undo = {}
        pending: dict[int, set[int]] = {}
        for pos in changed:
            if pos > 1:
                depth = pos.bit_length() - 2  # depth of the parent
                level = pending.get(depth)
                if level is None:
                    pending[depth] = {pos >> 1}
                else:
                    level.add(pos >> 1)
        if not pending:
            return undo
        nodes, dense_depth = self._nodes, self._depth
        get = nodes.get
        empty = EMPTY_NODE
        sha = _sha256
        inner = _INNER.copy
        with memoryview(self._dense) as dense:
            for depth in range(max(pending), -1, -1):
                level = pending.pop(depth, None)
                if not level:
                    continue
                if depth < dense_depth:  # the node and its children are dense
                    if log is not None:
                        positions.extend(level)  # the loop below visits them in this order
                    for p in level:
                        o = p << 5
                        if log is not None:
                            log += dense[o : o + 32]
                        h = inner()
                        h.update(dense[o << 1 : (o << 1) + 64])
                        dense[o : o + 32] = h.digest()
                elif depth == dense_depth:  # dense node, children in the dict
                    if log is not None:
                        positions.extend(level)
                    for p in level:
                        o, c = p << 5, p << 1
                        if log is not None:
                            log += dense[o : o + 32]
                        dense[o : o + 32] = sha(
                            b"\x01" + get(c, empty) + get(c | 1, empty)
                        ).digest()
                else:
                    if log is not None:
                        undo.update(zip(level, map(get, level), strict=True))
                    for p in level:
                        c = p << 1
                        nodes[p] = sha(b"\x01" + get(c, empty) + get(c | 1, empty)).digest()
                if depth:
                    up = {p >> 1 for p in level}
                    above = pending.get(depth - 1)
                    if above is None:
                        pending[depth - 1] = up
                    else:
                        above |= up
        return undo

    def rollback(self, version: int) -> None:
        """Return to a held earlier ``version`` (:meth:`versions`), undoing later updates.

        For an update whose storage transaction failed. NotFoundError if the
        version is not held; later versions are gone afterwards.
        """
        if version not in self.versions():
            raise NotFoundError(f"the map at version {version} is not held", version=version)
        while self._version != version:
            self._undo_last()

    def _undo_last(self) -> None:
        u = self._undo.pop()
        nodes, leaves, keys, limit = self._nodes, self._leaves, self._keys, self._limit
        with memoryview(self._dense) as dense:
            old = u.dense_old
            for i, p in enumerate(u.dense_positions):
                dense[p << 5 : (p << 5) + 32] = old[32 * i : 32 * i + 32]
            for p, h in u.nodes.items():  # after the log: these are the older values
                if p < limit:
                    dense[p << 5 : (p << 5) + 32] = EMPTY_NODE if h is None else h
                elif h is None:
                    nodes.pop(p, None)
                else:
                    nodes[p] = h
        for p, key in u.leaves.items():
            if key is None:
                leaves.pop(p, None)
            else:
                leaves[p] = key
        for key in u.new_keys:
            del keys[key]
        for p, key in u.leaves.items():
            if key is not None:
                keys[key] = p
        self._version = u.previous

    # -- reads --------------------------------------------------------------------

    def _readers(
        self, version: int | None
    ) -> tuple[Callable[[int], bytes | None], Callable[[int], bytes | None]]:
        if version is None or version == self._version:
            return self._get, self._leaves.get
        if version not in self.versions():
            raise NotFoundError(
                f"the map at version {version} is not held (held: {self.versions()})",
                version=version,
            )
        chain = [u for u in self._undo if u.version > version]
        current, leaves = self._get, self._leaves

        def node_at(pos: int) -> bytes | None:
            for u in chain:
                if pos in u.nodes:
                    h = u.nodes[pos]
                    return None if h is None or h == EMPTY_NODE else h
                i = u.dense_index().get(pos)
                if i is not None:
                    old = bytes(u.dense_old[32 * i : 32 * i + 32])
                    return None if old == EMPTY_NODE else old
            return current(pos)

        def leaf_at(pos: int) -> bytes | None:
            for u in chain:
                if pos in u.leaves:
                    return u.leaves[pos]
            return leaves.get(pos)

        return node_at, leaf_at

    def path(self, key_id: bytes, version: int | None = None) -> tuple[list[bytes], bytes | None]:
        """Siblings root-down along ``key_id``'s path, and the terminal leaf's key (or None).

        The walk stops at the first leaf (any key) or empty slot. ``version``
        selects a held past version (default: the current one); NotFoundError
        for a version no longer held.
        """
        if not isinstance(key_id, bytes) or len(key_id) != KEY_SIZE:
            raise UsageError("a map key id must be 32 bytes")
        node_at, leaf_at = self._readers(version)
        k = int.from_bytes(key_id, "big")
        siblings: list[bytes] = []
        pos, depth = 1, 0
        while True:
            other = leaf_at(pos)
            if other is not None:
                return siblings, other
            if node_at(pos) is None:
                return siblings, None
            pos = (pos << 1) | ((k >> (255 - depth)) & 1)
            siblings.append(node_at(pos ^ 1) or EMPTY_NODE)
            depth += 1

    def root_at(self, version: int) -> bytes:
        """The root at a held version."""
        node_at, _ = self._readers(version)
        return node_at(1) or EMPTY_NODE
