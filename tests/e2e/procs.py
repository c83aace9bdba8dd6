"""A consortium of real `accord serve` processes on 127.0.0.1, for fault tests.

Made as a user would: ``accord consortium new``, ``accord token create``, ``accord serve
--unseal-dir``, ``accord source add``. Processes are killed for real (SIGKILL) and
restarted on the same directory and port.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from accord.client import NodeClient, SourceKey
from accord.records import SignedStatement

__all__ = ["ACCORD", "REPO", "Proc", "ProcConsortium", "accord", "free_ports", "proc_consortium"]

REPO = Path(__file__).resolve().parents[2]
ACCORD = shutil.which("accord", path=str(Path(sys.executable).parent)) or "accord"
ORGS = ("cornell", "nyu", "mskcc")


def accord(*args: str, env: dict[str, str] | None = None) -> str:
    """Run the installed ``accord`` command; its stdout (AssertionError if it fails)."""
    result = subprocess.run(
        [ACCORD, *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"accord {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def free_ports(n: int) -> int:
    """A base port with ``n`` consecutive free ports on 127.0.0.1 (bound, then released)."""
    for _ in range(200):
        base = random.randint(20_000, 60_000)
        socks = []
        try:
            for i in range(n):
                s = socket.socket()
                s.bind(("127.0.0.1", base + i))
                socks.append(s)
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free ports")


@dataclass
class Proc:
    """One member's node directory and, while it runs, its server process."""

    org: str
    directory: Path
    command: list[str]
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None

    def start(self, timeout: float = 60.0) -> None:
        self.launch()
        self.wait_started(timeout)

    def launch(self) -> None:
        (self.directory / "serve.json").unlink(missing_ok=True)
        self.log = self.directory / "serve.log"
        env = dict(os.environ, PYTHONPATH=str(REPO / "src") + os.pathsep + str(REPO))
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO
            )

    def wait_started(self, timeout: float = 60.0) -> None:
        assert self.proc is not None
        assert self.log is not None
        serve_file = self.directory / "serve.json"
        deadline = time.monotonic() + timeout
        while not serve_file.exists() or not _answers(self.url):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{self.org} did not start:\n{self.log.read_text()[-3000:]}")
            time.sleep(0.05)

    @property
    def url(self) -> str:
        return str(json.loads((self.directory / "serve.json").read_text())["url"])

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush; the process is gone at once."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        assert self.proc.returncode == -signal.SIGKILL
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None


@dataclass
class ProcConsortium:
    directory: Path
    consortium_file: Path
    procs: dict[str, Proc]
    tokens: dict[str, dict[str, str]]
    sources: dict[str, SourceKey] = field(default_factory=dict)
    _clients: dict[tuple[str, str, int], NodeClient] = field(default_factory=dict)

    def __getitem__(self, org: str) -> Proc:
        return self.procs[org]

    def client(self, org: str, role: str = "auditor") -> NodeClient:
        """A client of ``org``'s node (one per role and server process)."""
        proc = self.procs[org].proc
        key = (org, role, proc.pid if proc is not None else 0)
        found = self._clients.get(key)
        if found is None:
            found = self._clients[key] = NodeClient(
                self.procs[org].url, self.tokens[org][role], timeout=60
            )
        return found

    def submit(self, org: str, statements: Sequence[SignedStatement]) -> list[str]:
        result = self.client(org, "source").submit(statements)
        assert {r["status"] for r in result["results"]} <= {"pending", "final"}
        return [r["record"] for r in result["results"]]

    def statuses(self, org: str, records: Sequence[str]) -> dict[str, int]:
        """How many of ``records`` ``org`` holds in each status (record_status projection)."""
        out: dict[str, int] = {}
        for i in range(0, len(records), 400):
            listed = "','".join(records[i : i + 400])
            rows = self.client(org).sql(
                f"SELECT status, COUNT(*) FROM record_status WHERE record IN ('{listed}')"  # noqa: S608
                " GROUP BY status"
            )["rows"]
            for status, n in rows:
                out[status] = out.get(status, 0) + n
        return out

    def wait_final(self, org: str, records: Sequence[str], timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            found = self.statuses(org, records)
            if found == {"final": len(records)}:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"{org}: {found} of {len(records)} records, not all final")
            time.sleep(0.2)

    def close(self) -> None:
        for c in self._clients.values():
            c.close()
        for p in self.procs.values():
            p.stop()


def _tokens(directory: Path) -> dict[str, str]:
    """A token of each role (as `accord token create` makes them, in-process for speed)."""
    from accord.node.config import load_config
    from accord.node.schema import NODE_STEPS
    from accord.node.tokens import Tokens
    from accord.store.database import Database

    db = Database.open(load_config(directory).database_url(directory))
    try:
        db.migrate("node", NODE_STEPS)
        tokens = Tokens(db)
        return {role: tokens.create(role, "fault tests") for role in ("admin", "source", "auditor")}
    finally:
        db.close()


def _serve_command(directory: Path) -> list[str]:
    return [ACCORD, "serve", str(directory), "--unseal-dir", str(directory / "shares")]


@contextmanager
def proc_consortium(
    tmp_path: Path,
    orgs: Sequence[str] = ORGS,
    *,
    commands: dict[str, list[str]] | None = None,
    start: Sequence[str] | None = None,
) -> Iterator[ProcConsortium]:
    """``accord consortium new`` for ``orgs``, tokens, every server started (or those in
    ``start``), source ``ehr`` registered at each running org. ``commands`` replaces an
    org's server command (e.g. a lying member)."""
    base = free_ports(len(orgs))
    root = tmp_path / "consortium"
    args = ["consortium", "new", str(root), "--id", "faults", "--base-port", str(base)]
    for org in orgs:
        args += ["--org", org]
    accord(*args)
    tokens = {org: _tokens(root / org) for org in orgs}
    procs = {
        org: Proc(org, root / org, (commands or {}).get(org) or _serve_command(root / org))
        for org in orgs
    }
    c = ProcConsortium(root, root / "consortium.toml", procs, tokens)
    running = list(start if start is not None else orgs)
    try:
        for org in running:
            procs[org].launch()
        for org in running:
            procs[org].wait_started()

        def add_source(org: str) -> None:
            key_file = tmp_path / f"{org}-ehr.key"
            env = dict(os.environ, ACCORD_TOKEN=tokens[org]["admin"])
            accord(
                "source",
                "add",
                "ehr",
                "--key-out",
                str(key_file),
                "--url",
                procs[org].url,
                env=env,
            )
            c.sources[org] = SourceKey.load(key_file)

        with ThreadPoolExecutor(max_workers=len(running) or 1) as pool:
            for future in [pool.submit(add_source, org) for org in running]:
                future.result()
        yield c
    finally:
        c.close()


def health(url: str) -> Any:
    return httpx.get(url + "/v1/health", timeout=10).json()


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/v1/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
