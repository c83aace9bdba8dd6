"""The privacy officer's commands: `accord alerts list|decide|sweep|rerun` and
`accord report disclosures|accesses|exchanges` (docs/compliance.md sections 5-7).

Reports can be asked of one node (``--url`` or ``--dir``) or of every member of a
consortium (``--consortium FILE``, or several ``--url``): the rows are merged by
record hash and each row says at which orgs it was seen
(:func:`accord.compliance.merge.merge_reports`). Tokens: ``--token T`` for every
node, or ``--token ORG=T`` per org.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any, Final

import typer

from accord.cli.node_cmds import node_url
from accord.cli.output import handle_errors, out, print_json
from accord.client import NodeClient
from accord.compliance.merge import merge_reports
from accord.compliance.render import parse_report, to_csv, to_html, to_json
from accord.compliance.report_types import Report
from accord.errors import AccordError, UsageError

__all__ = ["alerts_app", "register", "report_app"]

DirOpt = Annotated[Path | None, typer.Option("--dir", help="The node directory.")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="The node's URL.")]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", envvar="ACCORD_TOKEN", help="Bearer token (or $ACCORD_TOKEN)."),
]

_SIX_YEARS_MS: Final = 6 * 365 * 86_400_000

alerts_app = typer.Typer(
    help="The privacy officer's worklist: alerts, decisions, sweeps, re-runs.",
    no_args_is_help=True,
)
report_app = typer.Typer(
    help="HIPAA reports: disclosures (164.528), accesses, exchanges (CSV, JSON, HTML).",
    no_args_is_help=True,
)


def _client(directory: Path | None, url: str | None, token: str | None) -> NodeClient:
    return NodeClient(node_url(directory, url), token)


@alerts_app.command("list")
@handle_errors
def alerts_list(
    status: Annotated[
        str | None, typer.Option(help="open | justified | violation (default: all).")
    ] = None,
    patient: Annotated[str | None, typer.Option(help="Only this patient's alerts (id).")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule's alerts.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    directory: DirOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the node's answer.")] = False,
) -> None:
    """List the worklist (auditor token)."""
    from rich.table import Table

    params: dict[str, Any] = {"limit": limit}
    for key, value in (("status", status), ("patient", patient), ("rule", rule)):
        if value:
            params[key] = value
    with _client(directory, url, token) as client:
        answer = client.json("GET", "/v1/alerts", params=params)
    if as_json:
        print_json(answer)
        return
    table = Table("alert", "status", "severity", "rule", "when (ms)", "explanation")
    for item in answer["alerts"]:
        a = item["alert"]
        table.add_row(
            a["id"][:16], item["status"], a["severity"], a["rule"], str(a["time"]), a["explanation"]
        )
    out.print(table)
    counts = answer["counts"]
    out.print(
        f"{answer['total']} shown of the filter; open {counts['open']}, justified "
        f"{counts['justified']}, violation {counts['violation']}"
    )


@alerts_app.command("decide")
@handle_errors
def alerts_decide(
    alert: Annotated[str, typer.Argument(help="The alert id (64 hex digits).")],
    status: Annotated[str, typer.Option(help="justified | violation")],
    reason: Annotated[str, typer.Option(help="Why (kept in the signed record).")],
    reviewer: Annotated[str, typer.Option(help="The reviewer's id.")],
    reviewer_name: Annotated[str | None, typer.Option(help="The reviewer's name.")] = None,
    directory: DirOpt = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Record a decision: the node appends a signed accord.decision record (auditor token)."""
    who: dict[str, str] = {"id": reviewer}
    if reviewer_name:
        who["name"] = reviewer_name
    with _client(directory, url, token) as client:
        item = client.json(
            "POST",
            f"/v1/alerts/{alert}/decision",
            json={"status": status, "reason": reason, "reviewer": who},
        )
    last = item["reviews"][-1]
    out.print(f"alert {alert[:16]} is now {item['status']} (decision record {last['record']})")


@alerts_app.command("sweep")
@handle_errors
def alerts_sweep(directory: DirOpt = None, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Evaluate waiting records and sweep for unmatched disclosures now (admin token)."""
    with _client(directory, url, token) as client:
        answer = client.json("POST", "/v1/alerts/sweep")
    out.print(f"evaluated {answer['evaluated']} records; sweep found {len(answer['swept'])}")


@alerts_app.command("rerun")
@handle_errors
def alerts_rerun(
    node_dir: Annotated[Path, typer.Argument(help="The node directory.")],
    rules: Annotated[
        Path | None, typer.Option(help="Try this rules.toml instead of the node's.")
    ] = None,
    apply: Annotated[bool, typer.Option(help="Store the alerts the re-run adds.")] = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the node's answer.")] = False,
) -> None:
    """Re-run the rules over the node's whole history and show the differences (admin)."""
    body: dict[str, Any] = {"apply": apply}
    if rules is not None:
        body["rules"] = rules.read_text(encoding="utf-8")
    with _client(node_dir, url, token) as client:
        answer = client.json("POST", "/v1/alerts/rerun", json=body)
    if as_json:
        print_json(answer)
        return
    out.print(
        f"re-judged {answer['records']} records: {answer['alerts']} alerts; "
        f"{len(answer['new'])} not stored yet, {len(answer['missing'])} stored but not "
        f"raised now; {answer['applied']} stored"
    )
    for label, items in (("new", answer["new"]), ("gone", answer["missing"])):
        for a in items:
            out.print(f"  {label:4} {a['rule']:22} {a['id'][:16]}  {a['explanation']}")


# -- reports ----------------------------------------------------------------------------


def _tokens(values: list[str] | None) -> tuple[str | None, dict[str, str]]:
    common: str | None = None
    per_org: dict[str, str] = {}
    for value in values or []:
        org, sep, tok = value.partition("=")
        if sep:
            per_org[org] = tok
        else:
            common = value
    return common, per_org


def _targets(
    consortium: Path | None, urls: list[str] | None, directory: Path | None
) -> list[tuple[str | None, str]]:
    """(org or None, URL) of every node to ask."""
    if consortium is not None:
        from accord.node.membership import read_consortium

        c = read_consortium(consortium)
        targets: list[tuple[str | None, str]] = [(m.org, m.url) for m in c.members]
        if urls:
            wanted = {u.rstrip("/") for u in urls}
            targets = [t for t in targets if t[1].rstrip("/") in wanted]
            if not targets:
                raise UsageError("none of the --url values is a member's URL")
        return targets
    if urls:
        return [(None, u) for u in urls]
    return [(None, node_url(directory, None))]


def fetch_reports(
    kind: str,
    params: dict[str, str],
    targets: list[tuple[str | None, str]],
    tokens: list[str] | None,
) -> list[tuple[str, Report]]:
    """Each node's report as (its org, report); unreachable nodes are reported and skipped
    unless every node fails."""
    common, per_org = _tokens(tokens)
    answers: list[tuple[str, Report]] = []
    problems: list[str] = []
    for org, url in targets:
        token = per_org.get(org or "", common)
        try:
            with NodeClient(url, token) as client:
                name = org or client.health()["org"]
                text = client.request("GET", f"/v1/reports/{kind}", params=params).text
            answers.append((name, parse_report(text)))
        except AccordError as exc:
            problems.append(f"{org or url}: {exc.message}")
    for problem in problems:
        out.print(f"[yellow]warning[/yellow]: no answer from {problem}", highlight=False)
    if not answers:
        raise UsageError("no node answered: " + "; ".join(problems))
    return answers


def _render(report: Report, fmt: str) -> str:
    renderers = {"json": to_json, "csv": to_csv, "html": to_html}
    if fmt not in renderers:
        raise UsageError("--format is csv, json or html")
    return renderers[fmt](report)


def _report(
    kind: str,
    params: dict[str, str],
    consortium: Path | None,
    urls: list[str] | None,
    directory: Path | None,
    tokens: list[str] | None,
    fmt: str,
    out_file: Path | None,
) -> None:
    targets = _targets(consortium, urls, directory)
    if len(targets) > 1:  # one period and zone for every node, so the answers merge
        if kind == "exchanges" and "org" not in params:
            raise UsageError("give --org: whose exchanges to ask every node about")
        now = int(time.time() * 1000)
        params.setdefault("to", str(now + 1))
        params.setdefault("from", str(now + 1 - _SIX_YEARS_MS))
        params.setdefault("timezone", "UTC")
    answers = fetch_reports(kind, params, targets, tokens)
    report = answers[0][1] if len(answers) == 1 else merge_reports(answers)
    text = _render(report, fmt)
    if out_file is None:
        typer.echo(text, nl=False)
    else:
        out_file.write_text(text, encoding="utf-8")
        orgs = ", ".join(org for org, _ in answers)
        out.print(f"wrote {out_file} ({fmt}, from {orgs})")


ConsortiumOpt = Annotated[
    Path | None, typer.Option("--consortium", help="Ask every member in this consortium file.")
]
UrlsOpt = Annotated[
    list[str] | None, typer.Option("--url", help="A node to ask (repeat for several).")
]
TokensOpt = Annotated[
    list[str] | None,
    typer.Option("--token", envvar="ACCORD_TOKEN", help="Token for every node, or ORG=TOKEN."),
]
FromOpt = Annotated[str | None, typer.Option("--from", help="Start: ISO date or ms.")]
ToOpt = Annotated[str | None, typer.Option("--to", help="End (excluded): ISO date or ms.")]
FormatOpt = Annotated[str, typer.Option("--format", help="csv, json or html.")]
OutOpt = Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")]
ZoneOpt = Annotated[str | None, typer.Option("--timezone", help="IANA time zone for times.")]


def _params(**values: str | None) -> dict[str, str]:
    return {k: v for k, v in values.items() if v}


@report_app.command("disclosures")
@handle_errors
def report_disclosures(
    patient: Annotated[str, typer.Option(help="The patient's id.")],
    start: FromOpt = None,
    end: ToOpt = None,
    fmt: FormatOpt = "html",
    out_file: OutOpt = None,
    consortium: ConsortiumOpt = None,
    urls: UrlsOpt = None,
    directory: DirOpt = None,
    tokens: TokensOpt = None,
    timezone: ZoneOpt = None,
) -> None:
    """The accounting of disclosures of one patient (45 CFR 164.528)."""
    params = _params(patient=patient, timezone=timezone, **{"from": start, "to": end})
    _report("disclosures", params, consortium, urls, directory, tokens, fmt, out_file)


@report_app.command("accesses")
@handle_errors
def report_accesses(
    patient: Annotated[str, typer.Option(help="The patient's id.")],
    start: FromOpt = None,
    end: ToOpt = None,
    fmt: FormatOpt = "html",
    out_file: OutOpt = None,
    consortium: ConsortiumOpt = None,
    urls: UrlsOpt = None,
    directory: DirOpt = None,
    tokens: TokensOpt = None,
    timezone: ZoneOpt = None,
) -> None:
    """Who accessed one patient's records, at every org asked."""
    params = _params(patient=patient, timezone=timezone, **{"from": start, "to": end})
    _report("accesses", params, consortium, urls, directory, tokens, fmt, out_file)


@report_app.command("exchanges")
@handle_errors
def report_exchanges(
    org: Annotated[str | None, typer.Option(help="The org (default: the node's own).")] = None,
    start: FromOpt = None,
    end: ToOpt = None,
    fmt: FormatOpt = "html",
    out_file: OutOpt = None,
    consortium: ConsortiumOpt = None,
    urls: UrlsOpt = None,
    directory: DirOpt = None,
    tokens: TokensOpt = None,
    timezone: ZoneOpt = None,
) -> None:
    """One org's outgoing and incoming disclosures, halves paired."""
    params = _params(org=org, timezone=timezone, **{"from": start, "to": end})
    _report("exchanges", params, consortium, urls, directory, tokens, fmt, out_file)


def register(app: typer.Typer) -> None:
    app.add_typer(alerts_app, name="alerts")
    app.add_typer(report_app, name="report")
