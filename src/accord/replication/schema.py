"""The replication tables (migration component ``replication``; docs/replication.md).

- ``repl_outbox``: what this node still has to send to each other member:
  records (``kind = 'record'``) and certificates to the other holders (``kind =
  'final'``), in log order (``seq``), each with its retry state. Rows are
  written in the append's transaction, so a restart resumes where it stopped.
- ``repl_pending``: this node's own records that are not final yet, with their
  log index and log_ts (for this node's own receipt) and the placement
  (principals and trust sets) their certificate needs.
- ``repl_receipts``: verified receipts of other members kept for pending records
  (one per org; this node's own receipt is signed again when needed).
- ``certificates``: the certificate of every final record this node holds
  (its own, and those the originating node sent it), with when it became final.
"""

from __future__ import annotations

from typing import Final

from accord.store.migrations import Step

__all__ = ["REPLICATION_STEPS"]

REPLICATION_STEPS: Final = (
    Step(
        "001-replication",
        (
            "CREATE TABLE repl_outbox ("
            " target TEXT NOT NULL,"
            " kind TEXT NOT NULL,"  # record | final
            " record BLOB NOT NULL,"
            " seq INTEGER NOT NULL,"  # the record's log index here: send in log order
            " attempts INTEGER NOT NULL,"
            " next_ms INTEGER NOT NULL,"
            " error TEXT,"
            " PRIMARY KEY (target, kind, record))",
            "CREATE INDEX repl_outbox_order ON repl_outbox (target, kind, seq)",
            "CREATE TABLE repl_pending ("
            " record BLOB PRIMARY KEY,"
            " seq INTEGER NOT NULL,"  # its log index here
            " log_ts INTEGER NOT NULL,"
            " placement TEXT NOT NULL,"
            " created_ms INTEGER NOT NULL)",
            "CREATE TABLE repl_receipts ("
            " record BLOB NOT NULL,"
            " org TEXT NOT NULL,"
            " receipt TEXT NOT NULL,"
            " PRIMARY KEY (record, org))",
            "CREATE TABLE certificates ("
            " record BLOB PRIMARY KEY,"
            " org TEXT NOT NULL,"
            " certificate TEXT NOT NULL,"
            " final_ms INTEGER NOT NULL)",
        ),
    ),
)
