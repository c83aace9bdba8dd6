"""`accord query ...` fetches a proof bundle from a node; `accord verify` checks bundles as a
skeptic, against the consortium file and the consortium's index key (docs/bundles.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from accord.cli.output import (
    EXIT_FAILED,
    EXIT_USAGE,
    err_console,
    handle_errors,
    out,
    print_json,
    read_input,
)
from accord.client import NodeClient
from accord.errors import StoreError, UsageError, VerificationError
from accord.index.bundle import Policy, parse_time
from accord.quorum import Consortium
from accord.verify import DEFAULT_POLICY, VerifiedAnswer, verify_pages

__all__ = ["query_app", "register", "verify"]

query_app = typer.Typer(
    help="Fetch a verifiable answer (a proof bundle) from a node; check it with `accord verify`.",
    no_args_is_help=True,
)

UrlOpt = Annotated[str, typer.Option("--url", help="The node's URL.")]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", envvar="ACCORD_TOKEN", help="Auditor token (or $ACCORD_TOKEN)."),
]
OutOpt = Annotated[
    Path, typer.Option("--out", help="Where to write the bundle (JSON); - for stdout.")
]
FromOpt = Annotated[
    str | None, typer.Option("--from", help="Event time from (ms or ISO 8601, UTC by default).")
]
ToOpt = Annotated[str | None, typer.Option("--to", help="Event time to (inclusive).")]
PageOpt = Annotated[int | None, typer.Option("--page", help="Page number (from 0).")]
PageSizeOpt = Annotated[int | None, typer.Option("--page-size", help="Postings per page.")]
SizeOpt = Annotated[
    int | None, typer.Option("--size", help="Answer at this checkpoint size (default: latest).")
]
AndOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--and",
        help="Another term the records must match: patient=ID, accessor=ORG/ID, "
        "disclosures=FROM/TO or record=REF (repeatable).",
    ),
]


def _term(text: str) -> dict[str, Any]:
    kind, _, value = text.partition("=")
    if kind == "patient" or kind == "record":
        return {"kind": kind, kind: value}
    if kind in ("accessor", "disclosures"):
        first, sep, second = value.partition("/")
        if not sep:
            raise UsageError(f"--and {kind}= needs two parts separated by /")
        if kind == "accessor":
            return {"kind": kind, "accessor_org": first, "accessor": second}
        return {"kind": kind, "discloser": first, "recipient": second}
    raise UsageError("--and is patient=ID, accessor=ORG/ID, disclosures=FROM/TO or record=REF")


def _fetch(
    term: dict[str, Any],
    url: str,
    token: str | None,
    out_path: Path,
    start: str | None,
    end: str | None,
    page: int | None,
    page_size: int | None,
    size: int | None,
    more: list[str] | None,
) -> None:
    @handle_errors
    def run() -> str:
        body: dict[str, Any] = {**term, "from": parse_time(start, "--from")}
        body["to"] = parse_time(end, "--to")
        body["and"] = [_term(t) for t in more or []]
        if page is not None:
            body["page"] = page
        if page_size is not None:
            body["page_size"] = page_size
        if size is not None:
            body["size"] = size
        with NodeClient(url, token) as client:
            text = client.query(body)
        if str(out_path) == "-":
            sys.stdout.write(text + "\n")
        else:
            try:
                out_path.write_text(text + "\n", encoding="utf-8")
            except OSError as exc:
                raise StoreError(f"cannot write {out_path}: {exc}") from None
        return text

    text = run()
    if str(out_path) != "-":
        err_console.print(f"wrote {out_path} ({len(text)} bytes)", highlight=False)


@query_app.command("patient")
def query_patient(
    patient: Annotated[str, typer.Argument(help="The patient id (e.g. an MPI number).")],
    url: UrlOpt,
    out_path: OutOpt,
    token: TokenOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    page: PageOpt = None,
    page_size: PageSizeOpt = None,
    size: SizeOpt = None,
    more: AndOpt = None,
) -> None:
    """Every record about a patient (in an event-time window)."""
    term = {"kind": "patient", "patient": patient}
    _fetch(term, url, token, out_path, start, end, page, page_size, size, more)


@query_app.command("accessor")
def query_accessor(
    org: Annotated[str, typer.Argument(help="The accessor's organization.")],
    accessor: Annotated[str, typer.Argument(help="The accessor's id.")],
    url: UrlOpt,
    out_path: OutOpt,
    token: TokenOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    page: PageOpt = None,
    page_size: PageSizeOpt = None,
    size: SizeOpt = None,
    more: AndOpt = None,
) -> None:
    """Every access by one person."""
    term = {"kind": "accessor", "accessor_org": org, "accessor": accessor}
    _fetch(term, url, token, out_path, start, end, page, page_size, size, more)


@query_app.command("disclosures")
def query_disclosures(
    discloser: Annotated[str, typer.Argument(help="The disclosing org.")],
    recipient: Annotated[str, typer.Argument(help="The receiving org.")],
    url: UrlOpt,
    out_path: OutOpt,
    token: TokenOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    page: PageOpt = None,
    page_size: PageSizeOpt = None,
    size: SizeOpt = None,
    more: AndOpt = None,
) -> None:
    """Every disclosure from one org to another."""
    term = {"kind": "disclosures", "discloser": discloser, "recipient": recipient}
    _fetch(term, url, token, out_path, start, end, page, page_size, size, more)


@query_app.command("record")
def query_record(
    record: Annotated[str, typer.Argument(help="The record reference (64 hex).")],
    url: UrlOpt,
    out_path: OutOpt,
    token: TokenOpt = None,
    start: FromOpt = None,
    end: ToOpt = None,
    page: PageOpt = None,
    page_size: PageSizeOpt = None,
    size: SizeOpt = None,
    more: AndOpt = None,
) -> None:
    """Every access to or disclosure of one EHR record."""
    term = {"kind": "record", "record": record.lower()}
    _fetch(term, url, token, out_path, start, end, page, page_size, size, more)


def _utc(ms: int) -> str:
    """An event time (ms since the epoch) as a short UTC date and time."""
    import datetime as dt

    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M")


def _describe(answer: VerifiedAnswer) -> None:
    q = answer.query.to_json()
    terms = [answer.query.terms[0].to_json(), *q["and"]]
    what = " and ".join(
        ", ".join(f"{k}={v}" for k, v in t.items() if k != "kind") + f" ({t['kind']})"
        for t in terms
    )
    ends = ["open" if v is None else _utc(v) for v in (q["from"], q["to"])]
    window = f" event time [{ends[0]}, {ends[1]}]" if answer.query.windowed else ""
    out.print(
        f"VERIFIED: {what}{window} at {answer.org}'s checkpoint {answer.size} "
        f"(cosigned by {', '.join(sorted(answer.witnesses)) or 'no witness needed'})",
        highlight=False,
        soft_wrap=True,
    )
    if not answer.complete:
        out.print(
            f"  one page: postings [{answer.span[0]}, {answer.span[1]}); verify every page "
            "together for a complete answer",
            highlight=False,
        )
    table = Table("seq", "event time (UTC)", "type", "record", "who", "late", "body")
    for r in answer.records:
        st = r.statement or {}
        fields = st.get("fields", {})
        who = fields.get("accessor", {}).get("id") or (
            f"{fields.get('discloser_org')} -> {fields.get('recipient_org')}"
            if "discloser_org" in fields
            else ""
        )
        table.add_row(
            str(r.seq),
            _utc(r.event_ts),
            r.type,
            r.record[:16],
            who,
            "late" if r.late else "",
            "header only" if r.header_only else "checked",
        )
    out.print(table)
    out.print(f"{len(answer.records)} record(s)", highlight=False)
    for note in answer.notes:
        out.print(f"  note: {note}", highlight=False, soft_wrap=True)


def verify(
    files: Annotated[list[Path], typer.Argument(help="The bundle(s): one, or every page of one.")],
    consortium: Annotated[
        Path, typer.Option("--consortium", help="The consortium file (members, keys, k).")
    ],
    keys: Annotated[
        Path,
        typer.Option(
            "--keys", help="The consortium keys file (consortium-keys.json: the index key)."
        ),
    ],
    max_age: Annotated[
        int | None,
        typer.Option("--max-age", help="Refuse a checkpoint cosigned longer ago (seconds)."),
    ] = None,
    k: Annotated[
        int | None, typer.Option("--k", help="Cosignatures required (default: the file's k).")
    ] = None,
    skew_ms: Annotated[int, typer.Option(help="The pinned clock skew (ms).")] = (
        DEFAULT_POLICY.skew_ms
    ),
    lateness_ms: Annotated[int, typer.Option(help="The pinned maximum lateness (ms).")] = (
        DEFAULT_POLICY.lateness_ms
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON.")] = False,
) -> None:
    """Verify a proof bundle: prints the verified answer, or exactly why it is refused.

    Exits 0 when verified, 1 when refused, 2 for usage errors (bad files or options).
    """
    import json

    from accord.encoding import b64decode, parse_json

    @handle_errors
    def load() -> tuple[Consortium, bytes, list[str], Policy]:
        members = Consortium.parse(read_input(consortium))
        value = parse_json(read_input(keys), "consortium keys file")
        if not isinstance(value, dict) or not isinstance(value.get("index_key"), str):
            raise UsageError(f"{keys} is not a consortium keys file (no index_key)")
        index_key = b64decode(value["index_key"], "index key")
        if len(index_key) != 32:
            raise UsageError("the index key is 32 bytes")
        return members, index_key, [read_input(f) for f in files], Policy(skew_ms, lateness_ms)

    members, index_key, texts, policy = load()
    try:
        answer = verify_pages(texts, members, index_key, policy=policy, k=k, max_age_s=max_age)
    except VerificationError as exc:
        if as_json:
            print_json({"verified": False, "reason": exc.message, "code": exc.code})
        err_console.print(f"REFUSED: {exc.message}", highlight=False, soft_wrap=True)
        raise typer.Exit(EXIT_FAILED) from None
    except UsageError as exc:
        err_console.print(f"error: {exc.message}", highlight=False)
        raise typer.Exit(EXIT_USAGE) from None
    if as_json:
        sys.stdout.write(json.dumps(answer.to_json(), indent=2, sort_keys=True) + "\n")
    else:
        _describe(answer)


def register(app: typer.Typer) -> None:
    app.add_typer(query_app, name="query")
    app.command("verify")(verify)
