"""Random main logs for index tests: keys from a small pool, equal log_ts runs, commit leaves."""

from __future__ import annotations

import hashlib
import random

from accord.index import IndexEntry

T0 = 1_710_000_000_000


def key_id(name: str) -> bytes:
    return hashlib.sha256(b"key/" + name.encode()).digest()


def random_log(
    n: int, seed: int, pool: int = 12, commit_every: int = 0, max_keys: int = 3
) -> list[IndexEntry]:
    """``n`` entries; each carries 0..max_keys keys from ``pool`` names (skewed to the first).

    log_ts never decreases and often repeats. With ``commit_every`` > 0 every
    that-many-th entry is keyless, like an index-commit leaf.
    """
    rnd = random.Random(seed)
    keys = [key_id(f"k{i}") for i in range(pool)]
    weights = [1.0 / (i + 1) for i in range(pool)]
    ts = T0
    out = []
    for seq in range(n):
        ts += rnd.choice((0, 0, 1, 5, 1000))
        if commit_every and seq % commit_every == commit_every - 1:
            chosen: set[bytes] = set()
        else:
            chosen = set(rnd.choices(keys, weights, k=rnd.randint(0, max_keys)))
        evh = hashlib.sha256(b"leaf/%d/%d" % (seed, seq)).digest()
        out.append(IndexEntry(seq, ts, evh, tuple(sorted(chosen))))
    return out


def random_partition(n: int, rnd: random.Random, max_batch: int = 40) -> list[int]:
    """Cut points 0 = c0 < c1 < ... < ck = n."""
    cuts = [0]
    while cuts[-1] < n:
        cuts.append(min(n, cuts[-1] + rnd.randint(1, max_batch)))
    return cuts


def as_tuples(entries: list[IndexEntry]) -> list[tuple[int, int, bytes, tuple[bytes, ...]]]:
    return [(e.seq, e.log_ts, e.leaf_hash, e.key_ids) for e in entries]
