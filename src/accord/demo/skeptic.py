"""The demo's last step: the skeptic (``accord audit``) on the healthy consortium, then on a
node whose database an insider edited, then on a node made to present a forked log."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.table import Table

from accord.audit import AuditReport, run_audit
from accord.cli.audit_cmds import render_report
from accord.client.checkpoints import fetch_checkpoint
from accord.demo.faults import fork_log, restore, tamper_database
from accord.errors import AccordError
from accord.witness.evidence import parse_evidence_list, verify_evidence

if TYPE_CHECKING:
    from accord.demo.run import Demo

__all__ = ["skeptic_step"]

TAMPERED = "mskcc"
FORKED = "nyu"


def _audit(demo: Demo, title: str) -> AuditReport:
    tokens = {org: demo.cluster[org].tokens["auditor"] for org in demo.cluster.members}
    report = run_audit(demo.consortium, tokens=tokens, certificates=3, wait_s=5.0)
    render_report(report, demo.console, title=title, evidence_chars=400)
    return report


def _wait_cosigned(demo: Demo, timeout: float = 20.0) -> None:
    """Until every log's served checkpoint is k-cosigned at the log's full size."""
    deadline = time.monotonic() + timeout
    for org, member in demo.cluster.members.items():
        while True:
            try:
                with member.client(None) as client:
                    size = client.health()["size"]
                if fetch_checkpoint(member.url, demo.consortium).checkpoint.size == size:
                    break
            except AccordError:
                pass
            if time.monotonic() > deadline:
                demo.console.print(f"  [yellow]{org}'s checkpoint is not cosigned yet[/yellow]")
                return
            time.sleep(0.1)


def _only(report: AuditReport, org: str) -> bool:
    """Exit 1, ``org`` wrong, every other org ok."""
    verdicts = report.verdicts()
    others_ok = all(v == "ok" for o, v in verdicts.items() if o != org)
    return report.exit_status() == 1 and verdicts[org] == "wrong" and others_ok


def _evidence_against(demo: Demo, org: str) -> dict[str, list[str]]:
    """Each other member's witness -> the kinds of evidence it holds against ``org``'s log
    that verify with ``org``'s log key alone."""
    from accord.note import Verifier

    member = demo.consortium.member(org)
    key = Verifier.parse(member.log_key)
    out: dict[str, list[str]] = {}
    for witness, m in demo.cluster.members.items():
        if witness == org:
            continue
        with m.client(None) as client:
            items = parse_evidence_list(client.request("GET", "/v1/witness/evidence").text)
        kinds = []
        for e in items:
            if e.origin != member.origin:
                continue
            try:
                verify_evidence(e, key)
            except AccordError:
                continue
            kinds.append(e.kind)
        out[witness] = kinds
    return out


def skeptic_step(demo: Demo) -> None:
    demo.step(
        "8. The skeptic: accord audit",
        "An auditor who trusts no hospital fetches every log's checkpoint and cosignatures "
        "and every witness's last-seen heads, checks them against each other with "
        "consistency proofs, checks the entries against the trees, the bodies against "
        "the headers, and certificates' receipts in the members' logs (docs/audit.md).",
    )
    _wait_cosigned(demo)
    report = _audit(demo, "the healthy consortium")
    demo.check(
        "the audit of the healthy consortium finds nothing wrong (exit 0)",
        report.exit_status() == 0,
        f"{sum(s.entries_checked for s in report.orgs.values())} entries, "
        f"{sum(s.certificates_checked for s in report.orgs.values())} certificates checked",
    )

    # (b) An insider edits one stored entry in MSKCC's database, behind the node's back.
    member = demo.cluster[TAMPERED]
    tampered = tamper_database(member.directory)
    demo.console.print(
        f"\n  An insider with database access at {TAMPERED} changes one byte of entry "
        f"{tampered.index} of its log, in SQLite, behind the node's back.",
        highlight=False,
    )
    report = _audit(demo, f"after tampering with {TAMPERED}'s database")
    caught = [f for f in report.of(TAMPERED) if f.check == "entry"]
    demo.check(
        f"the audit catches the edited entry at {TAMPERED} and only there (exit 1)",
        _only(report, TAMPERED)
        and bool(caught)
        and f"entry {tampered.index} " in caught[0].message,
    )
    restore(member.directory, tampered)
    demo.console.print(f"  {TAMPERED} restores the entry from its backup.", highlight=False)

    # (c) NYU's node is made to present a forked log, signed with its own log key.
    member = demo.cluster[FORKED]
    demo.console.print(
        f"\n  {FORKED}'s node is stopped; its log is rewritten from one entry on and a "
        f"checkpoint of the rewritten tree is signed with {FORKED}'s own log key, at a size "
        "the witnesses already cosigned. Then it is restarted and pushes that checkpoint.",
        highlight=False,
    )
    demo.cluster.stop(FORKED)
    shares = [p.read_text() for p in sorted((member.directory / "shares").glob("*.json"))]
    forked = fork_log(member.directory, shares)
    demo.cluster.start(FORKED)
    demo.cluster.wait_ready(FORKED)
    deadline = time.monotonic() + 20
    held = _evidence_against(demo, FORKED)
    while not all(held.values()) and time.monotonic() < deadline:
        time.sleep(0.2)
        held = _evidence_against(demo, FORKED)
    table = Table("witness", f"evidence against {FORKED}'s log", "verified with its log key")
    for witness, kinds in held.items():
        table.add_row(witness, ", ".join(kinds) or "-", "[green]yes[/green]" if kinds else "-")
    demo.console.print(table)
    demo.check(
        f"both witnesses refuse {FORKED}'s forked checkpoint and keep evidence that verifies",
        len(held) == 2 and all(held.values()),
        f"size {forked.size}: root {forked.old_root.hex()[:12]} cosigned, "
        f"{forked.new_root.hex()[:12]} shown",
    )
    report = _audit(demo, f"after {FORKED} presents a forked log")
    checks = {f.check for f in report.of(FORKED)}
    demo.check(
        f"the audit catches {FORKED}'s fork, with both signed checkpoints as evidence (exit 1)",
        _only(report, FORKED) and "fork" in checks and "witness-evidence" in checks,
    )
