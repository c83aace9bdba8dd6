"""Helpers for the audit tests: a consortium with records in every log, settled, and the
audit run against it."""

from __future__ import annotations

from collections.abc import Sequence

from accord.audit import AuditReport, run_audit
from accord.client import NodeClient
from accord.client.checkpoints import verify_checkpoint
from accord.errors import AccordError
from accord.node.membership import read_consortium
from tests.integration.nodes import Consortium3, access_statement
from tests.integration.replication_helpers import wait_for, wait_status

__all__ = ["audit", "fill", "wait_cosigned"]


def fill(c: Consortium3, per_org: int = 3) -> dict[str, list[str]]:
    """Submit ``per_org`` access statements at every org, wait until all are final."""
    records: dict[str, list[str]] = {}
    for org, rn in c.nodes.items():
        signed = [rn.sign(access_statement(org, patient=f"MPI-{org}-{i}")) for i in range(per_org)]
        answer = rn.client("source").submit(signed)
        records[org] = [r["record"] for r in answer["results"]]
    for org, rn in c.nodes.items():
        wait_status(rn.client("auditor"), records[org])
    c.settle()
    wait_cosigned(c)
    return records


def wait_cosigned(c: Consortium3, orgs: Sequence[str] | None = None) -> None:
    """Wait until each node's served checkpoint is k-cosigned and covers its whole log."""
    consortium = read_consortium(c.consortium_file)

    def done() -> bool:
        for org in orgs or list(c.nodes):
            rn = c[org]
            try:
                with NodeClient(rn.url) as client:
                    v = verify_checkpoint(client.checkpoint(), consortium)
            except AccordError:
                return False
            if v.checkpoint.size != rn.node.log.size:
                return False
        return True

    wait_for(done, 30, "every log's checkpoint cosigned at its full size")


def audit(c: Consortium3, **kwargs: object) -> AuditReport:
    consortium = read_consortium(c.consortium_file)
    tokens = {org: rn.tokens["auditor"] for org, rn in c.nodes.items()}
    return run_audit(consortium, tokens=tokens, seed=1, **kwargs)  # type: ignore[arg-type]
