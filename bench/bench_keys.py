"""Throughput of body encryption (AES-256-GCM, 500-byte bodies) and of the data-key path.

Run: ``.venv/bin/python bench/bench_keys.py [--seconds S | --quick]`` (or ``make bench``).
Prints one line per case (bodies per second, microseconds per body) and, for scale,
Ed25519 verification of one
statement signature, which every ingested record already pays. Numbers depend on the
machine: copy them into BENCHMARKS.md with the machine and the date.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import sys
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.keys.bodies import decrypt_body, encrypt_body
from accord.keys.datakeys import DataKeys, MemoryDataKeyStorage
from accord.keys.keystore import create_keystore
from accord.keys.vault import Vault

BODY_SIZE = 500
POOL = 1000


def rate(step: Callable[[int], object], seconds: float) -> tuple[float, int]:
    """Calls of ``step(i)`` per second over about ``seconds`` (after a short warm-up)."""
    for i in range(200):
        step(i)
    count = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(500):
            step(count)
            count += 1
        now = time.perf_counter()
        if now >= deadline:
            return count / (now - start), count


def report(name: str, per_second: float, count: int) -> None:
    print(f"{name:<58} {per_second:>11,.0f} /s {1e6 / per_second:>8.2f} us  (n={count})")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per case")
    parser.add_argument("--quick", action="store_true", help="a short run (0.2 s per case)")
    args = parser.parse_args()
    if args.quick:
        args.seconds = 0.2

    bodies = [os.urandom(BODY_SIZE) for _ in range(POOL)]
    hashes = [hashlib.sha256(b).digest() for b in bodies]
    key = os.urandom(32)
    blobs = [encrypt_body(key, 1, h, b) for h, b in zip(hashes, bodies, strict=True)]

    print(f"# accord.keys body encryption, {BODY_SIZE}-byte bodies")
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, {time.strftime('%Y-%m-%d')}"
    )

    def enc(i: int) -> object:
        j = i % POOL
        return encrypt_body(key, 1, hashes[j], bodies[j])

    def dec(i: int) -> object:
        j = i % POOL
        return decrypt_body(key, 1, hashes[j], blobs[j])

    def both(i: int) -> object:
        j = i % POOL
        return decrypt_body(key, 1, hashes[j], encrypt_body(key, 1, hashes[j], bodies[j]))

    report("encrypt_body", *rate(enc, args.seconds))
    report("decrypt_body", *rate(dec, args.seconds))
    report("encrypt_body + decrypt_body", *rate(both, args.seconds))

    keystore, shares = create_keystore({}, name="bench", threshold=2, shares=3)
    vault = Vault(keystore)
    vault.unseal_with(shares[:2])
    principals = [hashlib.sha256(b"patient %d" % i).digest() for i in range(100)]
    for cache_size, label in ((0, "uncached"), (4096, "cached")):
        keys = DataKeys(MemoryDataKeyStorage(), vault.master_kek, cache_size=cache_size)
        vault.on_seal(keys.forget)
        stored = [keys.encrypt(principals[i % 100], hashes[i], bodies[i]) for i in range(POOL)]

        def via_keys(i: int, keys: DataKeys = keys, stored: list[bytes] = stored) -> object:
            j = i % POOL
            keys.encrypt(principals[j % 100], hashes[j], bodies[j])
            return keys.decrypt(principals[j % 100], hashes[j], stored[j])

        def ingest(i: int, keys: DataKeys = keys) -> object:
            j = i % POOL
            return keys.encrypt(principals[j % 100], hashes[j], bodies[j])

        report(f"DataKeys encrypt (ingest), 100 principals, {label}", *rate(ingest, args.seconds))
        report(f"DataKeys encrypt + decrypt, {label}", *rate(via_keys, args.seconds))

    signer = Ed25519PrivateKey.generate()
    public = signer.public_key()
    signature = signer.sign(bodies[0])
    report(
        "for scale: Ed25519 verify of one 500-byte statement",
        *rate(lambda i: public.verify(signature, bodies[0]), args.seconds),
    )
    report(
        "for scale: SHA-256 of one 500-byte body",
        *rate(lambda i: hashlib.sha256(bodies[i % POOL]).digest(), args.seconds),
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
