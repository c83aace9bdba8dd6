"""The node's own tables (beside the log's): records, encrypted bodies, sources, tokens,
data keys. One migration component, ``node``; each later change is a new step."""

from __future__ import annotations

from typing import Final

from accord.store.migrations import Step

__all__ = ["NODE_STEPS"]

NODE_STEPS: Final = (
    Step(
        "001-records",
        (
            # One row per record this node holds (its own and replicated ones).
            "CREATE TABLE records ("
            " hash BLOB PRIMARY KEY,"
            " log_index INTEGER NOT NULL UNIQUE,"
            " schema TEXT NOT NULL,"
            " org TEXT NOT NULL,"
            " src TEXT NOT NULL,"
            " log_ts INTEGER NOT NULL,"
            " event_ts INTEGER NOT NULL,"
            " principal BLOB,"  # data-key principal: the patient's pseudonym bytes
            " status TEXT NOT NULL)",
            "CREATE INDEX records_status ON records (status, log_index)",
            # Bodies are stored apart, encrypted under the principal's data key.
            "CREATE TABLE record_bodies (hash BLOB PRIMARY KEY, blob BLOB NOT NULL)",
        ),
    ),
    Step(
        "002-sources",
        (
            "CREATE TABLE sources ("
            " org TEXT NOT NULL,"
            " name TEXT NOT NULL,"
            " public_key BLOB NOT NULL,"
            " status TEXT NOT NULL,"  # active | revoked
            " record BLOB NOT NULL,"  # the registration or revocation record
            " log_ts INTEGER NOT NULL,"
            " PRIMARY KEY (org, name))",
        ),
    ),
    Step(
        "003-tokens",
        (
            "CREATE TABLE tokens ("
            " id TEXT PRIMARY KEY,"
            " role TEXT NOT NULL,"
            " hash BLOB NOT NULL,"
            " label TEXT NOT NULL,"
            " created_ms INTEGER NOT NULL,"
            " revoked_ms INTEGER)",
        ),
    ),
    Step(
        "004-data-keys",
        (
            "CREATE TABLE data_keys ("
            " principal BLOB NOT NULL,"
            " version INTEGER NOT NULL,"
            " wrapped BLOB NOT NULL,"
            " PRIMARY KEY (principal, version))",
            "CREATE TABLE data_key_heads (principal BLOB PRIMARY KEY, latest INTEGER NOT NULL)",
        ),
    ),
)
