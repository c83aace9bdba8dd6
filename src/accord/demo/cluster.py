"""The demo's consortium: real `accord serve` processes on loopback, one per hospital."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from accord.client import NodeClient, SourceKey, generate_source_key
from accord.errors import AccordError, NetworkError
from accord.node.config import load_config
from accord.node.founding import Founded, new_consortium
from accord.node.schema import NODE_STEPS
from accord.node.tokens import Tokens
from accord.store.database import Database

__all__ = ["Cluster", "Member", "free_ports"]

ROLES = ("admin", "auditor", "source")


def free_ports(n: int) -> list[int]:
    """``n`` ports on 127.0.0.1 that were free a moment ago."""
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


@dataclass
class Member:
    org: str
    name: str
    directory: Path
    url: str
    origin: str
    tokens: dict[str, str] = field(default_factory=dict)
    source: SourceKey | None = None
    process: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = None

    def client(self, role: str | None = "auditor") -> NodeClient:
        return NodeClient(self.url, self.tokens.get(role) if role else None)


class Cluster:
    """Creates the consortium, starts and stops the node processes."""

    def __init__(self, directory: Path, orgs: list[tuple[str, str, str]]) -> None:
        self.directory = directory
        ports = free_ports(len(orgs))
        self.founded: Founded = new_consortium(
            directory,
            [(org, name) for org, name, _ in orgs],
            consortium_id="nyc-health",
            ports={org: port for (org, _, _), port in zip(orgs, ports, strict=True)},
            addresses={org: address for org, _, address in orgs},
        )
        self.consortium_file = self.founded.consortium_file
        self.members: dict[str, Member] = {}
        for org, name, _ in orgs:
            result = self.founded.nodes[org]
            config = load_config(result.directory)
            self.members[org] = Member(
                org, name, result.directory, config.node.public_url, config.node.origin
            )

    def __getitem__(self, org: str) -> Member:
        return self.members[org]

    def make_tokens(self) -> None:
        for m in self.members.values():
            config = load_config(m.directory)
            db = Database.open(config.database_url(m.directory))
            try:
                db.migrate("node", NODE_STEPS)
                tokens = Tokens(db)
                m.tokens = {role: tokens.create(role, "demo") for role in ROLES}
            finally:
                db.close()

    def start(self, org: str) -> None:
        m = self.members[org]
        (m.directory / "serve.json").unlink(missing_ok=True)
        m.log_file = open(m.directory / "serve.log", "ab")  # noqa: SIM115
        m.process = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                "-m",
                "accord",
                "serve",
                str(m.directory),
                "--unseal-dir",
                str(m.directory / "shares"),
            ],
            stdout=m.log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, org: str, timeout: float = 60.0) -> None:
        m = self.members[org]
        deadline = time.monotonic() + timeout
        while True:
            if m.process is not None and m.process.poll() is not None:
                raise NetworkError(f"{org}'s node exited; see {m.directory / 'serve.log'}")
            if (m.directory / "serve.json").exists():
                try:
                    with m.client(None) as c:
                        if c.health()["sealed"] is False:
                            return
                except AccordError:
                    pass
            if time.monotonic() > deadline:
                raise NetworkError(f"{org}'s node did not start in {timeout:.0f} s")
            time.sleep(0.1)

    def register_sources(self) -> None:
        for m in self.members.values():
            m.source = generate_source_key(m.org, "ehr")
            with m.client("admin") as c:
                c.add_source("ehr", m.source.public_raw)

    def stop(self, org: str, *, kill: bool = False) -> None:
        m = self.members[org]
        if m.process is None:
            return
        if m.process.poll() is None:
            m.process.send_signal(signal.SIGKILL if kill else signal.SIGINT)
            try:
                m.process.wait(20)
            except subprocess.TimeoutExpired:
                m.process.kill()
                m.process.wait(5)
        m.process = None
        if m.log_file is not None:
            m.log_file.close()
            m.log_file = None

    def stop_all(self) -> None:
        for org in self.members:
            self.stop(org)

    def describe(self, patients: dict[str, str]) -> dict[str, Any]:
        """DIR/demo.json for scripts (accord demo --keep)."""
        return {
            "consortium": str(self.consortium_file),
            "consortium_keys": str(self.founded.keys_file),
            "orgs": {
                m.org: {
                    "url": m.url,
                    "dir": str(m.directory),
                    "pid": m.process.pid if m.process else None,
                    "origin": m.origin,
                    "tokens": m.tokens,
                }
                for m in self.members.values()
            },
            "patients": patients,
        }

    def write_description(self, patients: dict[str, str]) -> Path:
        path = self.directory / "demo.json"
        path.write_text(json.dumps(self.describe(patients), indent=2) + "\n")
        os.chmod(path, 0o600)
        return path
