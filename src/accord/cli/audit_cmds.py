"""`accord audit`: the skeptic (docs/audit.md). One verdict per org, the evidence below."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from accord.audit import OK, UNREACHABLE, AuditReport, run_audit
from accord.audit.runner import DEFAULT_SAMPLE
from accord.cli.output import handle_errors, out, print_json
from accord.errors import UsageError
from accord.node.membership import read_consortium

__all__ = ["audit", "parse_tokens", "register", "render_report"]

_STYLE = {OK: "bold green", UNREACHABLE: "bold yellow"}
_EVIDENCE_CHARS = 1200


def parse_tokens(values: list[str]) -> dict[str, str]:
    """``ORG=TOKEN`` options as a mapping (UsageError for anything else or a repeat)."""
    tokens: dict[str, str] = {}
    for value in values:
        org, sep, token = value.partition("=")
        if not sep or not org or not token:
            raise UsageError(f"--token takes ORG=TOKEN, not {value!r}")
        if org in tokens:
            raise UsageError(f"--token given twice for {org}")
        tokens[org] = token
    return tokens


def render_report(
    report: AuditReport,
    console: Console,
    *,
    title: str | None = None,
    evidence_chars: int = _EVIDENCE_CHARS,
) -> None:
    """The verdict table (one row per org) and each finding with its evidence (each piece
    cut at ``evidence_chars``; ``--json`` has it all)."""
    table = Table(
        "org",
        "verdict",
        "checkpoint",
        "cosigned by",
        "entries",
        "bodies",
        "index commits",
        "certificates",
        "witness heads",
        "findings",
        title=title,
        title_justify="left",
    )
    for org, summary in report.orgs.items():
        verdict = report.verdict(org)
        size = "-" if summary.checkpoint_size is None else str(summary.checkpoint_size)
        table.add_row(
            org,
            Text(verdict.upper(), style=_STYLE.get(verdict, "bold red")),
            size,
            ", ".join(summary.cosigned_by) or "-",
            f"{summary.entries_checked}" + (" (all, replayed)" if summary.replayed else ""),
            str(summary.bodies_checked),
            str(summary.index_commits_checked) if summary.replayed else "-",
            str(summary.certificates_checked),
            str(summary.heads_compared),
            str(len(report.of(org))),
        )
    console.print(table)
    for n, finding in enumerate(report.findings, 1):
        head = Text(f"{n}. {finding.org} ", style="bold")
        head.append(finding.severity.upper(), style=_STYLE.get(finding.severity, "bold red"))
        head.append(f" [{finding.check}] {finding.message}", style="")
        console.print(head)
        for key, value in finding.evidence:
            shown = value if len(value) <= evidence_chars else value[:evidence_chars] + " ..."
            console.print(Text(f"   {key}: ", style="dim") + Text(shown.rstrip("\n")))


def audit(
    consortium_file: Annotated[
        Path, typer.Option("--consortium", help="The consortium file: members, URLs and keys.")
    ],
    token: Annotated[
        list[str] | None,
        typer.Option(
            "--token",
            help="ORG=TOKEN, an auditor token for ORG's node: lets the audit check record "
            "bodies and certificates there (repeat for each org).",
        ),
    ] = None,
    replay: Annotated[
        bool,
        typer.Option(
            "--replay",
            help="Recompute everything from scratch: every log's whole tree from its entries "
            "and its whole verifiable index from the leaf headers.",
        ),
    ] = False,
    sample: Annotated[
        int,
        typer.Option(
            "--sample", help="Random entries checked per log (and the last few), without --replay."
        ),
    ] = DEFAULT_SAMPLE,
    certificates: Annotated[
        int,
        typer.Option(
            "--certificates",
            help="Certificates checked per org (needs its token): each receipt in its "
            "member's log against that member's cosigned checkpoint.",
        ),
    ] = 0,
    seed: Annotated[int | None, typer.Option(help="Seed of the random sample.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """The skeptic: cross-check every member's log, checkpoints, witnesses and certificates.

    Exits 0 when every org is OK, 1 when anything is wrong, 3 when nothing is wrong but
    some member could not be reached.
    """

    @handle_errors
    def run() -> AuditReport:
        consortium = read_consortium(consortium_file)
        return run_audit(
            consortium,
            replay=replay,
            sample=sample,
            certificates=certificates,
            tokens=parse_tokens(token or []),
            seed=seed,
        )

    report = run()
    if as_json:
        print_json(report.to_json())
    else:
        render_report(report, out, title=f"audit of consortium {report.consortium}")
    raise typer.Exit(report.exit_status())


def register(app: typer.Typer) -> None:
    app.command("audit")(audit)
