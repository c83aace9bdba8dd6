"""Quorum replication: fan-out to trust sets, receipts, certificates, retries (SHELL).

DESIGN.md sections 3 and 5; docs/replication.md. The node wires these parts
(accord.node.replicate):

- :mod:`~accord.replication.placement`: a record's principals, trust sets, holders;
- :mod:`~accord.replication.outbox`: what is still to send, persisted;
- :mod:`~accord.replication.receiver`: a member checking and appending records,
  answering one signed receipt batch;
- :mod:`~accord.replication.certifier`: certificates assembled from receipts,
  records set final; certificates kept by the other holders;
- :mod:`~accord.replication.sender`: one lane per member, batches, backoff;
- :mod:`~accord.replication.wire`: the request and answer bodies.
"""

from accord.replication.backoff import Backoff
from accord.replication.certifier import Accepted, Certifier, Tracked
from accord.replication.outbox import FINAL, RECORD, Outbox
from accord.replication.placement import Placement, Placer, placement_of, principal_names
from accord.replication.receiver import Receiver
from accord.replication.schema import REPLICATION_STEPS
from accord.replication.sender import Lane, Shipper
from accord.replication.wire import (
    FINAL_PATH,
    HELLO_PATH,
    REPLICATE_PATH,
    FinalAnswer,
    Refused,
    ReplicateAnswer,
)

__all__ = [
    "FINAL",
    "FINAL_PATH",
    "HELLO_PATH",
    "RECORD",
    "REPLICATE_PATH",
    "REPLICATION_STEPS",
    "Accepted",
    "Backoff",
    "Certifier",
    "FinalAnswer",
    "Lane",
    "Outbox",
    "Placement",
    "Placer",
    "Receiver",
    "Refused",
    "ReplicateAnswer",
    "Shipper",
    "Tracked",
    "placement_of",
    "principal_names",
]
