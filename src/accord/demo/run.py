"""``accord demo``: the three-hospital consortium and Mrs. Smith's story, every answer checked.

Each step prints what it shows (rich tables) and records checks; the demo exits 0 only if
every check passed. The nodes are real ``accord serve`` processes on 127.0.0.1 (SQLite), each
unsealed from the share files ``accord consortium new`` made for it.
"""

from __future__ import annotations

import datetime as dt
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.panel import Panel
from rich.table import Table

from accord.client.certificates import check_certificate, check_in_logs
from accord.client.checkpoints import fetch_checkpoint
from accord.demo.answers import answers_step
from accord.demo.cluster import Cluster
from accord.demo.skeptic import skeptic_step
from accord.demo.story import ORGS, PATIENT, PATIENT_NAME, Event, directory_toml, rules_toml
from accord.demo.story import story as make_story
from accord.errors import AccordError, UsageError
from accord.quorum import Consortium

__all__ = ["Demo", "run_demo"]

NEW_YORK = ZoneInfo("America/New_York")


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class Demo:
    console: Console
    cluster: Cluster
    consortium: Consortium
    events: list[Event]
    records: dict[int, str] = field(default_factory=dict)
    checks: list[Check] = field(default_factory=list)

    # -- bookkeeping -------------------------------------------------------------------

    def check(self, name: str, ok: bool, detail: str = "") -> bool:
        self.checks.append(Check(name, ok, detail))
        mark = "[green]ok[/green]" if ok else "[bold red]FAILED[/bold red]"
        self.console.print(f"  {mark}  {name}" + (f" [dim]({detail})[/dim]" if detail else ""))
        return ok

    def step(self, title: str, text: str = "") -> None:
        self.console.print()
        self.console.rule(f"[bold]{title}")
        if text:
            self.console.print(text, highlight=False)

    def tagged(self, tag: str) -> str:
        (index,) = [i for i, e in enumerate(self.events) if tag in e.tags]
        return self.records[index]

    # -- the steps ---------------------------------------------------------------------

    def start_consortium(self) -> None:
        self.step(
            "1. Three hospitals, three nodes",
            "Each hospital runs its own node with its own append-only Merkle log (RFC 9162); "
            "the other two witness it. Nodes start sealed and unseal with 2 of 3 key shares.",
        )
        c = self.cluster
        for org, _, _ in ORGS:
            m = c[org]
            (m.directory / "directory.toml").write_text(directory_toml(org))
            (m.directory / "rules.toml").write_text(rules_toml(org))
        c.make_tokens()
        for org, _, _ in ORGS:
            c.start(org)
        for org, _, _ in ORGS:
            c.wait_ready(org)
        c.register_sources()
        table = Table("org", "hospital", "node", "log origin", "log key")
        for member in self.consortium.members:
            table.add_row(
                member.org,
                member.name,
                c[member.org].url,
                member.origin,
                member.log_key.split("+")[1],
            )
        self.console.print(table)
        self.check("three node processes running and unsealed", True)

    def play_story(self) -> None:
        self.step(
            f"2. {PATIENT_NAME}'s story, as the hospitals' EHRs log it",
            "Each event is a statement signed by the hospital's EHR source and submitted to "
            "its own node; the node sends it to the patient's trust set (all three, majority).",
        )
        # In time order, as the hospitals would log them; a hospital logs its next events
        # once the earlier ones of the others have reached it (replication), so its rules
        # judge each access knowing the care relationships that came before.
        order = sorted(range(len(self.events)), key=lambda i: self.events[i].statement.event_ts)
        runs: list[list[int]] = []
        for i in order:
            if runs and self.events[runs[-1][0]].org == self.events[i].org:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in runs:
            org = self.events[run[0]].org
            member = self.cluster[org]
            self._wait_present(org, [self.records[i] for i in self.records])
            source = member.source
            if source is None:
                raise UsageError(f"{org} has no registered source")
            signed = [source.sign(self.events[i].statement) for i in run]
            with member.client("source") as client:
                result = client.submit(signed)
            for i, r in zip(run, result["results"], strict=True):
                self.records[i] = r["record"]
        table = Table("when (March)", "logged by", "what happened", "record")
        for i, event in sorted(enumerate(self.events), key=lambda x: x[1].statement.event_ts):
            when = dt.datetime.fromtimestamp(event.statement.event_ts / 1000, NEW_YORK)
            table.add_row(when.strftime("%d %H:%M"), event.org, event.caption, self.records[i][:12])
        self.console.print(table)
        self.check(f"{len(self.events)} statements appended", len(self.records) == len(self.events))

    def _wait_present(self, org: str, records: list[str], timeout: float = 30.0) -> None:
        """Wait until ``org``'s node holds every record in ``records``."""
        deadline = time.monotonic() + timeout
        with self.cluster[org].client() as client:
            for record in records:
                while True:
                    try:
                        client.record(record)
                        break
                    except AccordError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)

    def certificates(self) -> None:
        self.step(
            "3. Certificates: every record is final",
            "A record is final when a majority of its patient's trust set stored it and "
            "signed a receipt. Each certificate is checked against the consortium file and "
            "each receipt against that member's witnessed log.",
        )
        deadline = time.monotonic() + 60
        pending = dict(self.records)
        certs: dict[int, dict[str, Any]] = {}
        while pending and time.monotonic() < deadline:
            for i, record in list(pending.items()):
                with self.cluster[self.events[i].org].client() as client:
                    got = client.record(record)
                if got["status"] == "final" and got.get("certificate"):
                    certs[i] = got["certificate"]
                    del pending[i]
            if pending:
                time.sleep(0.2)
        self.check("every record final", not pending, f"{len(certs)} of {len(self.records)}")
        table = Table("record", "org", "schema", "status", "receipts from", "verified")
        bad = 0
        for i in sorted(certs):
            cert_json = certs[i]
            try:
                cert = check_certificate(_canonical(cert_json), self.consortium)
                results = check_in_logs(cert, self.consortium, wait_s=20)
                ok = all(r.ok and r.witnessed for r in results)
                signers = ", ".join(r.org for r in results)
            except AccordError as exc:
                ok, signers = False, exc.message
            bad += not ok
            table.add_row(
                self.records[i][:12],
                self.events[i].org,
                self.events[i].statement.schema,
                "final",
                signers,
                "[green]yes[/green]" if ok else "[red]NO[/red]",
            )
        self.console.print(table)
        self.check("every certificate verifies, each receipt in its member's log", bad == 0)

    def checkpoints(self) -> None:
        self.step(
            "4. Checkpoints and their cosigners",
            "Each node signs C2SP checkpoints; the other members witness them (check "
            "consistency, recompute the verifiable index) and cosign.",
        )
        table = Table("org", "size", "root", "cosigned by", "verified")
        ok_all = True
        for org, _, _ in ORGS:
            try:
                v = fetch_checkpoint(self.cluster[org].url, self.consortium)
                table.add_row(
                    org,
                    str(v.checkpoint.size),
                    v.checkpoint.root_hash.hex()[:16],
                    ", ".join(sorted(w.split("/")[-2] for w in v.witnesses)),
                    "[green]yes[/green]",
                )
            except AccordError as exc:
                ok_all = False
                table.add_row(org, "-", "-", "-", f"[red]{exc.message}[/red]")
        self.console.print(table)
        self.check("every log's checkpoint carries the consortium's k cosignatures", ok_all)

    def reports(self) -> None:
        from accord.cli.compliance_cmds import fetch_reports
        from accord.compliance.merge import merge_reports

        self.step(
            f"5. {PATIENT_NAME}'s accounting of disclosures and access report",
            "Asked of every hospital and merged by record hash (HIPAA 45 CFR 164.528).",
        )
        targets: list[tuple[str | None, str]] = [(org, self.cluster[org].url) for org, _, _ in ORGS]
        tokens = [f"{org}={self.cluster[org].tokens['auditor']}" for org, _, _ in ORGS]
        year = dt.datetime.fromtimestamp(self.events[0].statement.event_ts / 1000, dt.UTC).year
        params = {
            "patient": PATIENT,
            "from": f"{year}-01-01",
            "to": f"{year + 1}-01-01",
            "timezone": "America/New_York",
        }
        columns = {
            "disclosures": ("Date", "Disclosed by", "Recipient", "What was disclosed", "Purpose"),
            "accesses": (
                "Date",
                "Time",
                "User",
                "Organization",
                "Declared purpose",
                "Action",
                "Break-the-glass",
            ),
        }
        for kind, expected in (
            ("disclosures", 2),
            ("accesses", sum(e.statement.schema == "ehr.access" for e in self.events)),
        ):
            answers = fetch_reports(kind, dict(params), targets, tokens)
            report = merge_reports(answers)
            count = 0
            verified: set[str] = set()
            for section in report.sections():
                if not section.rows:
                    continue
                keep = [section.headers.index(h) for h in columns[kind]]
                table = Table(*columns[kind], title=section.title, title_justify="left")
                for row in section.rows:
                    table.add_row(*(row[i] for i in keep))
                    verified.add(row[section.headers.index("Verified")])
                count += len(section.rows)
                self.console.print(table)
            self.console.print(f"  verified: {', '.join(sorted(verified))}", highlight=False)
            self.check(
                f"the {kind} report lists every one of them ({count})",
                count == expected,
                f"{expected} expected",
            )
            self.check(
                f"every {kind} row is certified at all three hospitals",
                verified == {"certificate at cornell, nyu, mskcc"},
            )

    def alerts(self) -> None:
        self.step(
            "6. The privacy officer's worklist",
            "Rules run as records arrive: an access with no treatment relationship or consent, "
            "every break-the-glass, and more (docs/compliance.md).",
        )
        member = self.cluster["nyu"]  # Dr. Marshall's employer reviews his accesses
        marshall_bad = self.tagged("marshall-unexplained")
        marshall_ok = self.tagged("marshall-ok")
        btg = self.tagged("break-glass")
        items: list[dict[str, Any]] = []
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            with member.client("admin") as client:
                client.json("POST", "/v1/alerts/sweep")
                items = client.json("GET", "/v1/alerts", params={"patient": PATIENT})["alerts"]
            flagged = {h for item in items for h in item["alert"]["evidence"]}
            if marshall_bad in flagged and btg in flagged:
                break
            time.sleep(0.3)
        table = Table("rule", "severity", "status", "explanation")
        for item in items:
            a = item["alert"]
            table.add_row(a["rule"], a["severity"], item["status"], a["explanation"])
        table.caption = f"{len(items)} alerts about {PATIENT_NAME} at NYU's node"
        self.console.print(table)

        def fired(record: str, rule: str) -> bool:
            return any(
                i["alert"]["rule"] == rule and i["alert"]["evidence"][0] == record for i in items
            )

        self.check(
            "Dr. Marshall's unexplained access raises an alert",
            fired(marshall_bad, "no-relationship"),
        )
        self.check("the break-the-glass raises an alert", fired(btg, "break-glass"))
        self.check(
            "Dr. Marshall's appropriate access raises none",
            not any(i["alert"]["evidence"][0] == marshall_ok for i in items),
        )
        # The privacy officer reviews: the review itself is a signed record on the ledger.
        for item in items:
            alert = item["alert"]
            if alert["rule"] == "no-relationship" and alert["evidence"][0] == marshall_bad:
                body = {
                    "status": "violation",
                    "reason": "no clinical reason found; referred to HR",
                    "reviewer": {"id": "nyu-privacy-office", "name": "NYU privacy officer"},
                }
                with member.client("auditor") as client:
                    decided = client.json("POST", f"/v1/alerts/{alert['id']}/decision", json=body)
                review = decided["reviews"][-1]
                self.console.print(
                    f"  NYU's privacy officer marks it [bold]{decided['status']}[/bold]: "
                    f"decision record {review['record'][:12]} in NYU's log",
                    highlight=False,
                )
                self.check(
                    "the review is a signed record and the alert is closed",
                    decided["status"] == "violation",
                )

    def summary(self) -> bool:
        self.step("Summary")
        failed = [c for c in self.checks if not c.ok]
        text = (
            f"[green]all {len(self.checks)} checks passed[/green]"
            if not failed
            else f"[red]{len(failed)} of {len(self.checks)} checks failed:[/red] "
            + "; ".join(c.name for c in failed)
        )
        self.console.print(Panel(text))
        return not failed


def _canonical(value: dict[str, Any]) -> str:
    from accord.encoding import canonical

    return canonical(value).decode("utf-8")


def run_demo(directory: Path | None, keep: bool, console: Console | None = None) -> bool:
    """Run the demo; True if every check passed. Leaves the nodes running with ``keep``."""
    console = console or Console()
    temporary = directory is None
    root = Path(tempfile.mkdtemp(prefix="accord-demo-")) if directory is None else directory
    if directory is not None and directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} exists and is not empty")
    console.print(
        Panel(
            f"[bold]Accord demo[/bold]: Weill Cornell, NYU Langone and Memorial Sloan Kettering "
            f"share {PATIENT_NAME}'s audit trail without trusting one another.\n"
            f"Working in {root}",
        )
    )
    from accord.node.membership import read_consortium

    cluster = Cluster(root, list(ORGS))
    demo = Demo(
        console,
        cluster,
        read_consortium(cluster.consortium_file),
        make_story(dt.datetime.now(dt.UTC).date()),
    )
    ok = False
    try:
        steps: list[Callable[[], None]] = [
            demo.start_consortium,
            demo.play_story,
            demo.certificates,
            demo.checkpoints,
            demo.reports,
            demo.alerts,
            lambda: answers_step(demo),
            lambda: skeptic_step(demo),
        ]
        for step in steps:
            step()
        ok = demo.summary()
        if keep:
            path = cluster.write_description({PATIENT_NAME: PATIENT})
            console.print(f"nodes left running; scripts can read {path}")
    finally:
        if not keep:
            cluster.stop_all()
            if temporary and ok:
                shutil.rmtree(root, ignore_errors=True)
            elif temporary:
                console.print(f"the demo's files are kept for inspection in {root}")
    return ok
