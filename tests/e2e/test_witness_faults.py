"""A witness killed for real (SIGKILL of its `accord serve` process): the log keeps appending,
its newest checkpoint lacks that cosignature (clients requiring k keep the previous one), and
once the witness restarts, with the state it had fsynced, the log's retries get it cosigned."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from accord.client import NodeClient, generate_source_key
from accord.client.checkpoints import fetch_checkpoint
from accord.errors import AccordError
from accord.node.config import load_config, save_config
from accord.node.membership import read_consortium
from accord.node.witness_store import SqlWitnessStore
from accord.quorum import Consortium
from accord.store.database import Database
from tests.e2e.test_cli_node import ACCORD, accord

ORGS = ("cornell", "nyu", "mskcc")
POLICY = {
    "checkpoint_interval_ms": 100,
    "witness_retry_ms": 100,
    "witness_retry_max_ms": 400,
    "gossip_interval_ms": 500,
}


def _free_base_port() -> int:
    """A port P with P, P+1 and P+2 free on 127.0.0.1 right now."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            base = probe.getsockname()[1]
        if base + len(ORGS) >= 65535:
            continue
        socks = []
        try:
            for i in range(len(ORGS)):
                s = socket.socket()
                socks.append(s)
                s.bind(("127.0.0.1", base + i))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no three consecutive free ports")


class Cluster:
    """Three `accord serve` processes of one consortium, started and killed for real."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.procs: dict[str, subprocess.Popen[str]] = {}
        self.consortium: Consortium = read_consortium(root / "consortium.toml")

    def url(self, org: str) -> str:
        return self.consortium.member(org).url

    def start(self, org: str) -> None:
        directory = self.root / org
        (directory / "serve.json").unlink(missing_ok=True)
        self.procs[org] = subprocess.Popen(
            [ACCORD, "serve", str(directory), "--unseal-dir", str(directory / "shares")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    def wait_ready(self, org: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while True:
            proc = self.procs[org]
            if proc.poll() is not None:
                raise AssertionError(f"{org} exited: {proc.stderr.read() if proc.stderr else ''}")
            try:
                health = httpx.get(f"{self.url(org)}/v1/health", timeout=2).json()
                if health["sealed"] is False:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{org} did not start")
            time.sleep(0.05)

    def kill(self, org: str) -> None:
        proc = self.procs.pop(org)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs.values():
            proc.send_signal(signal.SIGINT)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        self.procs.clear()


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    root = tmp_path / "consortium"
    base = _free_base_port()
    args = ["consortium", "new", str(root), "--id", "faults", "--witness-k", "2"]
    for org in ORGS:
        args += ["--org", org]
    accord(*args, "--base-port", str(base))
    for org in ORGS:
        config = load_config(root / org)
        policy = config.policy.model_copy(update=POLICY)
        save_config(root / org, config.model_copy(update={"policy": policy}))
    c = Cluster(root)
    try:
        for org in ORGS:
            c.start(org)
        for org in ORGS:
            c.wait_ready(org)
        yield c
    finally:
        c.stop_all()


def _served(c: Cluster, org: str, *, k: int | None = None, latest: bool = False) -> int | None:
    try:
        return fetch_checkpoint(c.url(org), c.consortium, k=k, latest=latest).checkpoint.size
    except AccordError:
        return None


def _until(probe: Callable[[], bool], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_a_killed_witness_is_retried_after_it_restarts(cluster: Cluster, tmp_path: Path) -> None:
    c = cluster
    cornell = c.root / "cornell"

    # Every member's gateway source is registered at unseal and replicated to the others:
    # wait until cornell's log holds all three and its latest checkpoint has k = 2.
    def settled() -> bool:
        size = httpx.get(f"{c.url('cornell')}/v1/health", timeout=5).json()["size"]
        return size >= 6 and _served(c, "cornell") == size

    _until(settled, "the first checkpoint with k = 2")
    first = httpx.get(f"{c.url('cornell')}/v1/health", timeout=5).json()["size"]

    c.kill("mskcc")
    # What mskcc's witness answered before the kill was committed first (fsync before answer).
    origin = c.consortium.member("cornell").origin
    with Database.open(str(c.root / "mskcc" / "accord.db")) as db:
        state = SqlWitnessStore(db, lambda: 0).read_state(origin)
    assert state is not None
    assert state.size == first
    token = accord("token", "create", str(cornell), "--role", "admin").stdout.strip()
    env = dict(os.environ, ACCORD_TOKEN=token)
    key = tmp_path / "ehr.key"
    accord("source", "add", "ehr", "--key-out", str(key), "--dir", str(cornell), env=env)
    second = httpx.get(f"{c.url('cornell')}/v1/health", timeout=5).json()["size"]
    assert second > first
    _until(lambda: _served(c, "cornell", k=1, latest=True) == second, "nyu's cosignature")

    # Clients requiring k = 2 keep the previous checkpoint; the newest one fails for them.
    consortium = str(c.root / "consortium.toml")
    latest = accord(
        "checkpoint",
        "--url",
        c.url("cornell"),
        "--consortium",
        consortium,
        "--latest",
        check=False,
    )
    assert latest.returncode == 1
    assert "quorum_not_met" in latest.stderr
    served = accord("checkpoint", "--url", c.url("cornell"), "--consortium", consortium, "--json")
    assert json.loads(served.stdout)["size"] == first

    # The witness comes back with the state it committed before the kill; pushes resume.
    c.start("mskcc")
    c.wait_ready("mskcc")
    _until(lambda: _served(c, "cornell") == second, "the retried push to mskcc")
    heads = httpx.get(f"{c.url('mskcc')}/v1/witness/heads", timeout=5).json()["heads"]
    (head,) = [h for h in heads if h["origin"] == origin]
    assert head["size"] == second
    evidence = httpx.get(f"{c.url('mskcc')}/v1/witness/evidence", timeout=5).json()
    assert evidence == {"v": 1, "evidence": []}


@pytest.mark.slow
def test_kills_of_logs_and_witnesses_never_lose_a_cosigned_checkpoint(cluster: Cluster) -> None:
    """Rounds of SIGKILL on a random member (a log to some, a witness to the others) while the
    live ones append: every served checkpoint verifies with k = 2 at all times, never moves
    backwards, and once all are up again every log's newest checkpoint gets its cosignatures."""
    c = cluster
    rng = random.Random(7)
    tokens = {
        org: accord("token", "create", str(c.root / org), "--role", "admin").stdout.strip()
        for org in ORGS
    }
    served: dict[str, int] = {org: 0 for org in ORGS}

    def check_served() -> None:
        for org in c.procs:
            size = _served(c, org)
            if size is not None:  # None: unreachable for a moment, or not k yet
                assert size >= served[org], org
                served[org] = size

    for round_ in range(6):
        victim = rng.choice(ORGS)
        c.kill(victim)
        for org in c.procs:
            with NodeClient(c.url(org), tokens[org]) as client:
                key = generate_source_key(org, f"src-{round_}")
                client.add_source(f"src-{round_}", key.public_raw)
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            check_served()
            time.sleep(0.1)
        c.start(victim)
        c.wait_ready(victim)
    for org in ORGS:
        size = httpx.get(f"{c.url(org)}/v1/health", timeout=5).json()["size"]
        _until(lambda o=org, s=size: _served(c, o) == s, f"{org}'s newest checkpoint", 60)
        check_served()
    for org in ORGS:
        evidence = httpx.get(f"{c.url(org)}/v1/witness/evidence", timeout=5).json()
        assert evidence["evidence"] == []
