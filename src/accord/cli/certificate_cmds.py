"""`accord verify-certificate`: check a record's certificate as a skeptic (docs/replication.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.text import Text

from accord.cli.output import (
    EXIT_FAILED,
    EXIT_RETRY,
    err_console,
    handle_errors,
    out,
    print_json,
    read_input,
)
from accord.client.certificates import InclusionResult, check_certificate, check_in_logs
from accord.quorum import Certificate, Consortium

__all__ = ["register", "verify_certificate"]


def _describe(cert: Certificate, consortium: Consortium) -> list[str]:
    lines = [
        f"certificate of record {cert.record.hex()} (originating org {cert.org})",
        f"verified against consortium {consortium.id} (digest {consortium.digest.hex()[:16]}...)",
    ]
    for entry in cert.trust_sets:
        met = sorted(cert.signers.intersection(entry.trust_set.members))
        lines.append(
            f"  principal {entry.principal}: {entry.trust_set.describe()}, met by {', '.join(met)}"
        )
    for s in cert.receipts:
        r = s.receipt
        lines.append(f"  receipt from {r.org}: index {r.index} of {r.origin}, log_ts {r.log_ts}")
    return lines


def _line(result: InclusionResult) -> Text:
    if result.error is not None:
        line = Text(f"  {result.org}: ", style="")
        line.append("REFUSED", style="bold red")
        line.append(f" ({result.error.code}) {result.error.message}")
        return line
    line = Text(
        f"  {result.org}: leaf {result.index} is this record, in the tree of its checkpoint "
        f"of size {result.checkpoint_size}"
    )
    if result.witnessed:
        line.append(f" (cosigned by {', '.join(result.witnesses) or 'none needed'})")
    else:
        line.append(" NOT WITNESSED", style="bold yellow")
        line.append(" (log signature only: fewer cosignatures than the consortium's k)")
    return line


def verify_certificate(
    file: Annotated[Path, typer.Argument(help="The certificate (JSON), or - for stdin.")],
    consortium: Annotated[
        Path, typer.Option("--consortium", help="The consortium file to check it against.")
    ],
    fetch: Annotated[
        bool,
        typer.Option(
            "--fetch",
            help="Also ask each signing member for its checkpoint, the leaf and its inclusion "
            "proof, and check the receipt's record is really in its log.",
        ),
    ] = False,
    allow_unwitnessed: Annotated[
        bool,
        typer.Option(
            "--allow-unwitnessed",
            help="With --fetch: accept a checkpoint with the log signature alone when it has "
            "fewer witness cosignatures than the consortium's k (reported as NOT WITNESSED).",
        ),
    ] = False,
    wait: Annotated[
        float, typer.Option(help="With --fetch: seconds to wait for a checkpoint to cover it.")
    ] = 10.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Check a certificate against the consortium file (and, with --fetch, the members' logs).

    Exits 0 when everything checked verifies, 1 when something is refused, 2 for
    a malformed certificate or file, 3 when a member could not be reached.
    """

    @handle_errors
    def run() -> tuple[Certificate, Consortium, list[InclusionResult] | None]:
        members = Consortium.parse(read_input(consortium))
        cert = check_certificate(read_input(file), members)
        results = (
            check_in_logs(cert, members, allow_unwitnessed=allow_unwitnessed, wait_s=wait)
            if fetch
            else None
        )
        return cert, members, results

    cert, members, results = run()
    failed = [r for r in results or [] if not r.ok]
    if as_json:
        value: dict[str, Any] = {
            "record": cert.record.hex(),
            "org": cert.org,
            "consortium": members.id,
            "certificate": "verified",
            "signers": sorted(cert.signers),
        }
        if results is not None:
            value["logs"] = [r.to_json() for r in results]
        value["ok"] = not failed
        print_json(value)
    else:
        for line in _describe(cert, members):
            out.print(line, highlight=False, soft_wrap=True)
        if results is not None:
            out.print("receipts in the members' logs:")
            for r in results:
                out.print(_line(r), highlight=False, soft_wrap=True)
    if failed:
        retry = all(r.error is not None and r.error.retryable for r in failed)
        err_console.print(
            f"refused: {len(failed)} of {len(results or [])} receipts could not be confirmed "
            "in their member's log",
            highlight=False,
        )
        raise typer.Exit(EXIT_RETRY if retry else EXIT_FAILED)


def register(app: typer.Typer) -> None:
    app.command("verify-certificate")(verify_certificate)
