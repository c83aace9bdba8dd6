"""What several benchmarks share: the machine's description, the Ed25519 baseline, a
nearest-rank percentile, a generated `ehr.access` statement, and one node directory served
by a real `accord serve` process (unsealed from its shares at start).

Imported by the bench scripts as ``common`` (a script's own folder is on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.client import NodeClient
from accord.node.config import CONFIG_FILE, NodeConfig, load_config, save_config
from accord.node.initdir import init_node
from accord.node.schema import NODE_STEPS
from accord.node.tokens import Tokens
from accord.records import Principal, Statement
from accord.store.database import Database

__all__ = [
    "ACCORD",
    "ServedNode",
    "access_statement",
    "access_time",
    "care_statement",
    "drop_schema",
    "ed25519_verify_rate",
    "fresh_schema",
    "machine",
    "percentile",
]

ACCORD = str(Path(sys.executable).parent / "accord")


def machine() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu": cpu,
        "nproc": os.cpu_count(),
        "memory_gib": round(mem_gb, 1),
    }


def ed25519_verify_rate(seconds: float = 2.0) -> float:
    """Verifications per second on one core (cryptography), a 600-byte message."""
    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    message = os.urandom(600)
    sig = key.sign(message)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(200):
            public.verify(sig, message)
        n += 200
    return n / (time.perf_counter() - start)


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile ``p`` (0-100) of ``values``."""
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def access_statement(
    org: str,
    i: int,
    now: int,
    patients: int,
    *,
    patient: str | None = None,
    accessor: str | None = None,
) -> Statement:
    """The ``i``-th generated read of a patient's record at ``org``, at ``now``: the patient
    is one of ``patients`` (``MPI-000042``) unless ``patient`` names one, the reader one of
    300 practitioners unless ``accessor`` names one."""
    patient = patient or f"MPI-{i % patients:06d}"
    fields = {
        "accessor": {"id": accessor or f"Practitioner/p{i % 300}", "role": "physician"},
        "accessor_org": org,
        "patient": patient,
        "record_ref": uuid.uuid4().hex * 2,
        "action": "R",
        "purpose": "TREAT",
        "outcome": "success",
        "break_glass": False,
    }
    return _statement("ehr.access", org, now, patient, fields)


def _statement(schema: str, org: str, at: int, patient: str, fields: dict[str, Any]) -> Statement:
    """A statement of ``org``'s source ``ehr`` about ``patient``, with a fresh id."""
    return Statement(
        schema=schema,
        id=uuid.uuid4().hex,
        org=org,
        source="ehr",
        event_ts=at,
        principals=(Principal("patient", patient),),
        fields=fields,
    )


def access_time(workload: str) -> int:
    """Where a round's accesses start (ms), so that the compliance rules judge them the
    same way whatever the wall clock: "explained" at 12:00 UTC of the last weekday before
    now (within the default working hours, mon-fri 07:00-19:00 in the default time zone,
    UTC), "unexplained" at 22:00 UTC of the day before (outside them)."""
    now = datetime.now(UTC)
    if workload == "unexplained":
        day = now - timedelta(days=1)
        return int(day.replace(hour=22, minute=0, second=0, microsecond=0).timestamp() * 1000)
    day = now if now.hour >= 13 else now - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return int(day.replace(hour=12, minute=0, second=0, microsecond=0).timestamp() * 1000)


def care_statement(org: str, patient: str, clinician: str, start: int) -> Statement:
    """A treatment relationship of ``clinician`` at ``org`` with ``patient`` from ``start``
    on (no end): the clinician's reads of the patient's records are explained."""
    fields = {
        "patient": patient,
        "clinician": {"id": clinician, "role": "physician"},
        "org": org,
        "period": {"start": start},
    }
    return _statement("ehr.care", org, start, patient, fields)


def fresh_schema(dsn: str) -> str:
    """A URL of ``dsn`` whose search_path is a new, empty schema (drop it with
    :func:`drop_schema`)."""
    import psycopg

    schema = "bench_" + os.urandom(6).hex()
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    return f"{dsn}{'&' if '?' in dsn else '?'}options=-csearch_path%3D{schema}"


def drop_schema(dsn: str, url: str) -> None:
    import psycopg

    schema = url.rsplit("search_path%3D", 1)[1]
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


class ServedNode:
    """A node directory (made here unless it exists) served by `accord serve`, unsealed from
    its share files at start; ``configure`` may change the new directory's config first."""

    def __init__(
        self,
        directory: Path,
        org: str,
        *,
        database: str | None = None,
        roles: Sequence[str] = ("admin", "source", "auditor"),
        configure: Callable[[NodeConfig], NodeConfig] | None = None,
    ) -> None:
        self.directory = directory
        if not (directory / CONFIG_FILE).exists():
            init_node(directory, org, database=database)
            if configure is not None:
                save_config(directory, configure(load_config(directory)))
        config = load_config(directory)
        db = Database.open(config.database_url(directory))
        db.migrate("node", NODE_STEPS)
        tokens = Tokens(db)
        self.tokens = {r: tokens.create(r, "bench") for r in roles}
        db.close()
        (directory / "serve.json").unlink(missing_ok=True)
        log = (directory / "serve.log").open("ab")
        shares = str(directory / "shares")
        self.proc = subprocess.Popen(
            [ACCORD, "serve", str(directory), "--port", "0", "--unseal-dir", shares],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 120
        while True:
            try:
                self.url = str(json.loads((directory / "serve.json").read_text())["url"])
                if httpx.get(self.url + "/v1/health", timeout=2).json()["sealed"] is False:
                    break
            except (httpx.HTTPError, ValueError, OSError, KeyError):
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the node in {directory} did not start (see serve.log)")
            time.sleep(0.1)

    def client(self, role: str) -> NodeClient:
        return NodeClient(self.url, self.tokens[role], timeout=300)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the `accord serve` process so far."""
        tick = os.sysconf("SC_CLK_TCK")
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / tick

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
