"""A log writer process for the kill tests (tests/integration/test_log_kill.py).

Run as ``python -m tests.integration.log_writer URL [--pause-at N] [--batches N]``.
It appends batches forever (or ``--batches`` of them) and prints, flushed:

- ``committed <size>`` after each batch commits;
- ``checkpoint <size>`` after signing and storing a checkpoint (every 3rd batch);
- ``in-tx <first>`` from inside the transaction of its ``--pause-at``-th batch,
  which then sleeps there so that the test can kill it mid-transaction.

Everything is deterministic, so the test can recompute what was written: entry
``i`` is :func:`entry`, and the batch starting at ``first`` has
:func:`batch_size` entries (so the batch boundaries are the same however often
the writer is killed and restarted). Each batch also writes a row of its own
table through the ``also`` hook, in the same transaction.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import sys
import time

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.log import Log
from accord.store import Step, Tx

ORIGIN = "accord.example/killtest/writer"
KEY_NAME = "accord.example/killtest/writer"
SEED = hashlib.sha256(b"accord kill test writer key").digest()
HOOK_STEPS = (
    Step("0001-batches", ("CREATE TABLE writer_batches (first_index INTEGER PRIMARY KEY)",)),
)


def entry(index: int) -> bytes:
    """The entry the writer puts at ``index`` (16..80 bytes)."""
    digest = hashlib.sha256(b"entry %d" % index).digest()
    return b"entry-%d:" % index + digest * (1 + digest[0] % 2)


def batch_size(first: int) -> int:
    """Size of the batch that starts at ``first`` (1..1200)."""
    return 1 + int.from_bytes(hashlib.sha256(b"batch %d" % first).digest()[:2], "big") % 1200


def boundaries(limit: int) -> list[int]:
    """Every batch boundary from 0 up to ``limit`` (inclusive if it is one)."""
    out, at = [0], 0
    while at < limit:
        at += batch_size(at)
        out.append(at)
    return out


def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(SEED)


def key_id() -> bytes:
    public = key().public_key().public_bytes_raw()
    return hashlib.sha256(KEY_NAME.encode() + b"\n\x01" + public).digest()[:4]


def sign(text: str) -> str:
    """A note-like signed checkpoint: text, empty line, one Ed25519 signature line."""
    signature = key().sign(text.encode())
    return f"{text}\n— {KEY_NAME} {base64.b64encode(key_id() + signature).decode()}\n"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("url")
    parser.add_argument("--pause-at", type=int, default=-1)
    parser.add_argument("--batches", type=int, default=-1)
    args = parser.parse_args(argv)
    log = Log.open(args.url, origin=ORIGIN)
    log.db.migrate("killtest", HOOK_STEPS)
    done = 0
    while done != args.batches:
        first = log.size
        batch = [entry(i) for i in range(first, first + batch_size(first))]
        pause = done == args.pause_at

        def hook(tx: Tx, first_index: int, pause: bool = pause) -> None:
            tx.execute("INSERT INTO writer_batches (first_index) VALUES (?)", (first_index,))
            if pause:
                print(f"in-tx {first_index}", flush=True)
                time.sleep(60)

        log.append_batch(batch, also=hook)
        print(f"committed {first + len(batch)}", flush=True)
        done += 1
        if done % 3 == 0:
            log.sign_checkpoint(sign)
            print(f"checkpoint {first + len(batch)}", flush=True)
    log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
