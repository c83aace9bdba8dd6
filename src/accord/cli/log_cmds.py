"""`accord log init|append|checkpoint|prove|verify`: one append-only log by hand.

A log lives in a database (``Log.open(url)``: a file path is SQLite in WAL mode, a
``postgresql://`` URL is PostgreSQL); its Ed25519 checkpoint key lives in a file
(``LOG.key`` beside a SQLite log, mode 0600, or ``--key FILE``). ``verify`` needs
no log at all: a proof document (``prove --json``), a signed checkpoint note and
the log's verifier key. Every command takes ``--json``; errors print a diagnosis
on stderr and exit 1 (refused), 2 (usage or malformed input) or 3 (store trouble).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer

from accord.cli.output import fail, print_json
from accord.errors import AccordError, NotFoundError, UsageError
from accord.log import Log
from accord.log.checkpoints import check_origin
from accord.log.proofdoc import (
    ConsistencyDoc,
    InclusionDoc,
    ProofDoc,
    RangeDoc,
    open_checkpoint,
    parse_proof_doc,
    verify_proof_doc,
)
from accord.note import Checkpoint, Signer, SigType, Verifier, check_key_name, sign_note
from accord.store import Database
from accord.store.dialect import Target, parse_url

__all__ = ["log_app", "register"]

log_app = typer.Typer(
    help="Use an append-only log by hand: create it, append, sign checkpoints, prove, verify.",
    no_args_is_help=True,
)
prove_app = typer.Typer(no_args_is_help=True)
log_app.add_typer(prove_app, name="prove")

LogArg = Annotated[
    str,
    typer.Argument(
        help="The log: a SQLite file path or a postgresql:// URL.",
        metavar="LOG",
        show_default=False,
    ),
]
KeyOpt = Annotated[
    Path | None,
    typer.Option(
        "--key", help="The signer key file (default LOG.key beside a SQLite log).", dir_okay=False
    ),
]
SizeOpt = Annotated[
    int | None, typer.Option("--size", help="The tree size (default: the log's size).")
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object for scripts.")]


# -- the shell: databases and key files ---------------------------------------------------


def _describe(target: Target) -> str:
    """How to name a database in messages (never a PostgreSQL URL: it may hold a password)."""
    return target.location if target.dialect == "sqlite" else "the PostgreSQL database"


def _existing_origin(target: Target, url: str) -> str | None:
    """The origin of the log in ``url``, None if it holds none (a SQLite file is never
    created here)."""
    if target.dialect == "sqlite" and not Path(target.location).exists():
        return None
    db = Database.open(url)
    try:
        if target.dialect == "sqlite":
            sql = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'log_head'"
        else:
            sql = "SELECT count(*) FROM pg_tables WHERE tablename = 'log_head'"
            sql += " AND schemaname = current_schema()"
        row = db.fetchone(sql)
        if row is None or int(row[0]) == 0:
            return None
        head = db.fetchone("SELECT origin FROM log_head WHERE id = 1")
        return None if head is None else str(head[0])
    finally:
        db.close()


@contextlib.contextmanager
def _opened(url: str) -> Iterator[Log]:
    """The existing log in ``url``; NotFoundError (and nothing created) if there is none."""
    target = parse_url(url)
    if _existing_origin(target, url) is None:
        raise NotFoundError(
            f"no log in {_describe(target)}: create one with `accord log init`",
            database=target.dialect,
        )
    log = Log.open(url)
    try:
        yield log
    finally:
        log.close()


def _key_path(target: Target, key: Path | None) -> Path:
    if key is not None:
        return key
    if target.dialect == "sqlite":
        return Path(target.location + ".key")
    raise UsageError("a PostgreSQL log keeps its signer key in a file: give --key FILE")


def _read_file(path: Path, what: str) -> bytes:
    try:
        return sys.stdin.buffer.read() if str(path) == "-" else path.read_bytes()
    except FileNotFoundError:
        raise NotFoundError(f"{what} {path} does not exist", path=str(path)) from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror}", path=str(path)) from None


def _text(data: bytes, what: str) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{what} is not UTF-8 text") from None


def _read_signer(path: Path) -> Signer:
    text = _text(_read_file(path, "signer key file"), "the signer key file")
    return Signer.parse(text.strip())


def _write_signer(path: Path, signer: Signer) -> None:
    """Create ``path`` with mode 0600 holding the signer key; never replace a file."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise UsageError(f"key file {path} already exists; refusing to overwrite it") from None
    except OSError as exc:
        raise UsageError(f"cannot create key file {path}: {exc.strerror}") from None
    try:
        try:
            os.write(fd, (signer.format() + "\n").encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as exc:
        path.unlink(missing_ok=True)  # never leave half a key behind
        raise UsageError(f"cannot write key file {path}: {exc.strerror}") from None


# -- init, append, checkpoint ----------------------------------------------------------------


@log_app.command("init")
def init(
    log: LogArg,
    origin: Annotated[
        str | None,
        typer.Option(help="The log's origin, also its key name (default accord.example/STEM)."),
    ] = None,
    key: Annotated[
        Path | None,
        typer.Option(
            "--key",
            help="Where to write the signer key (default LOG.key; required for PostgreSQL).",
            dir_okay=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create a log and its Ed25519 checkpoint signer key; print the verifier key."""
    try:
        target = parse_url(log)
        if origin is None:
            if target.dialect != "sqlite":
                raise UsageError("a PostgreSQL log needs --origin")
            origin = f"accord.example/{Path(target.location).stem}"
        check_origin(origin)
        check_key_name(origin, "log origin (it names the checkpoint key)")
        key_path = _key_path(target, key)
        if key_path.exists():
            raise UsageError(f"key file {key_path} already exists; refusing to overwrite it")
        existing = _existing_origin(target, log)
        if existing is not None:
            raise UsageError(f"{_describe(target)} already holds the log {existing!r}")
        signer = Signer.generate(origin)
        _write_signer(key_path, signer)
        try:
            Log.open(log, origin=origin).close()
        except BaseException:
            key_path.unlink(missing_ok=True)
            raise
    except AccordError as exc:
        raise fail(exc) from None
    vkey = signer.verifier().format()
    if as_json:
        print_json(
            {
                "origin": origin,
                "database": target.dialect,
                "path": target.location if target.dialect == "sqlite" else None,
                "key_file": str(key_path),
                "vkey": vkey,
            }
        )
        return
    typer.echo(f"created log {origin} in {_describe(target)}")
    typer.echo(f"signer key: {key_path} (mode 0600: keep it secret)")
    typer.echo(f"verifier key: {vkey}")


def _entries(data: list[str] | None, file: Path | None, lines: bool) -> list[bytes]:
    if data and file is not None:
        raise UsageError("give entries as arguments or with --file, not both")
    if data:
        if lines:
            raise UsageError("--lines splits a file or stdin, not arguments")
        return [os.fsencode(d) for d in data]
    if file is None:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("no entries: give DATA arguments, --file F, or lines on stdin")
        file, lines = Path("-"), True
    raw = _read_file(file, "entry file")
    if not lines:
        return [raw]
    split = (line[:-1] if line.endswith(b"\r") else line for line in raw.split(b"\n"))
    return [line for line in split if line]


@log_app.command("append")
def append(
    log: LogArg,
    data: Annotated[
        list[str] | None, typer.Argument(help="Entries, one per argument.", show_default=False)
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Append this file as one entry ('-': stdin).", dir_okay=False),
    ] = None,
    lines: Annotated[
        bool,
        typer.Option(
            "--lines", help="One entry per non-empty line of --file (CR LF ends a line too)."
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Append entries in one batch (arguments, a file, or stdin lines); print first index and size.

    With no DATA and no --file, each non-empty line of stdin is one entry.
    """
    try:
        entries = _entries(data, file, lines)
        with _opened(log) as lg:
            first = lg.append_batch(entries)
            size = first + len(entries)
            root = lg.root_hash(size)
            origin = lg.origin
    except AccordError as exc:
        raise fail(exc) from None
    if as_json:
        print_json(
            {
                "origin": origin,
                "first": first,
                "count": len(entries),
                "size": size,
                "root_hash": root.hex(),
            }
        )
        return
    noun = "entry" if len(entries) == 1 else "entries"
    typer.echo(f"appended {len(entries)} {noun} at index {first}; size {size}")


@log_app.command("checkpoint")
def checkpoint(
    log: LogArg, size: SizeOpt = None, key: KeyOpt = None, as_json: JsonOpt = False
) -> None:
    """Sign the checkpoint at the log's size (or --size) and print the C2SP note.

    The note is also stored in the log (replacing an earlier one at that size).
    """
    try:
        key_path = _key_path(parse_url(log), key)
        with _opened(log) as lg:
            signer = _read_signer(key_path)
            if signer.name != lg.origin:
                raise UsageError(
                    f"key file {key_path} holds the key of {signer.name!r}, not of {lg.origin!r}"
                )
            note = lg.sign_checkpoint(lambda text: sign_note(text, signer).format(), size)
    except AccordError as exc:
        raise fail(exc) from None
    if as_json:
        cp = Checkpoint.parse(note[: note.rfind("\n\n") + 1])
        print_json(
            {
                "origin": cp.origin,
                "size": cp.size,
                "root_hash": cp.root_hash.hex(),
                "note": note,
                "vkey": signer.verifier().format(),
            }
        )
        return
    sys.stdout.write(note)


# -- prove ------------------------------------------------------------------------------------


def _show(doc: ProofDoc, as_json: bool) -> None:
    if as_json:
        print_json(doc.to_json())
        return
    if isinstance(doc, InclusionDoc):
        typer.echo(f"inclusion proof of entry {doc.index} in {doc.origin} at size {doc.size}")
        typer.echo(f"leaf hash: {doc.leaf_hash.hex()}")
        typer.echo(f"root hash: {doc.root_hash.hex()}")
    elif isinstance(doc, ConsistencyDoc):
        typer.echo(f"consistency proof of {doc.origin} from size {doc.size1} to {doc.size2}")
        typer.echo(f"root1: {doc.root1.hex()}")
        typer.echo(f"root2: {doc.root2.hex()}")
    else:
        typer.echo(
            f"range proof of entries [{doc.start}, {doc.end}) in {doc.origin} at size {doc.size}"
        )
        typer.echo("leaf hashes:")
        for h in doc.leaf_hashes:
            typer.echo(f"  {h.hex()}")
        typer.echo(f"root hash: {doc.root_hash.hex()}")
    typer.echo(f"proof ({len(doc.proof)} hashes):")
    for h in doc.proof:
        typer.echo(f"  {h.hex()}")


def _resolve(lg: Log, size: int | None) -> int:
    current = lg.size
    if size is None:
        return current
    if size < 0 or size > current:
        raise UsageError(f"size {size} is beyond the log's size {current}")
    return size


@prove_app.callback()
def prove(ctx: typer.Context, log: LogArg) -> None:
    """Print a proof from LOG: `inclusion INDEX`, `consistency SIZE1 [SIZE2]`, `range START END`.

    With --json (after the kind), a document for `accord log verify`.
    """
    ctx.obj = log


@prove_app.command("inclusion")
def prove_inclusion(
    ctx: typer.Context,
    index: Annotated[int, typer.Argument(help="The entry's index (0-based).")],
    size: SizeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Prove that entry INDEX is in the tree of the log's size (or --size)."""
    try:
        with _opened(str(ctx.obj)) as lg:
            n = _resolve(lg, size)
            if not 0 <= index < n:
                raise UsageError(f"entry {index} is not in a tree of size {n}")
            proof = lg.inclusion_proof(index, n)
            leaf = lg.leaf_hashes(index, index + 1)[0]
            doc = InclusionDoc(lg.origin, index, n, leaf, tuple(proof), lg.root_hash(n))
    except AccordError as exc:
        raise fail(exc) from None
    _show(doc, as_json)


@prove_app.command("consistency")
def prove_consistency(
    ctx: typer.Context,
    size1: Annotated[int, typer.Argument(help="The older tree size.")],
    size2: Annotated[
        int | None, typer.Argument(help="The newer tree size (default: the log's size).")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Prove that the tree of SIZE1 is a prefix of the tree of SIZE2."""
    try:
        with _opened(str(ctx.obj)) as lg:
            n = _resolve(lg, size2)
            if not 0 < size1 <= n:
                raise UsageError(f"no consistency proof from size {size1} to size {n}")
            proof = lg.consistency_proof(size1, n)
            doc = ConsistencyDoc(
                lg.origin, size1, n, lg.root_hash(size1), lg.root_hash(n), tuple(proof)
            )
    except AccordError as exc:
        raise fail(exc) from None
    _show(doc, as_json)


@prove_app.command("range")
def prove_range(
    ctx: typer.Context,
    start: Annotated[int, typer.Argument(help="The first entry's index.")],
    end: Annotated[int, typer.Argument(help="One past the last entry's index.")],
    size: SizeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Prove that entries [START, END) are exactly those positions of the tree."""
    try:
        with _opened(str(ctx.obj)) as lg:
            n = _resolve(lg, size)
            if not 0 <= start <= end <= n:
                raise UsageError(f"range [{start}, {end}) is not within a tree of size {n}")
            proof = lg.range_proof(start, end, n)
            leaves = tuple(lg.leaf_hashes(start, end))
            doc = RangeDoc(lg.origin, start, end, n, leaves, tuple(proof), lg.root_hash(n))
    except AccordError as exc:
        raise fail(exc) from None
    _show(doc, as_json)


# -- verify (offline) -----------------------------------------------------------------------


def _verifier(vkey: str) -> Verifier:
    verifier = Verifier.parse(vkey.strip())
    if verifier.sig_type != SigType.ED25519:
        raise UsageError("--vkey must be the log's Ed25519 note key (type 0x01), not a cosigner's")
    return verifier


def _verify(
    proof_file: Path,
    checkpoint_file: Path,
    vkey: str,
    old_checkpoint: Path | None,
    entry: list[str] | None,
    entry_file: list[Path] | None,
) -> dict[str, Any]:
    if entry and entry_file:
        raise UsageError("give entries with --entry or with --entry-file, not both")
    verifier = _verifier(vkey)
    doc = parse_proof_doc(_read_file(proof_file, "proof file"))
    cp = open_checkpoint(_read_file(checkpoint_file, "checkpoint file"), verifier)
    old = None
    if old_checkpoint is not None:
        old = open_checkpoint(_read_file(old_checkpoint, "old checkpoint file"), verifier)
    entries: list[bytes] | None = None
    if entry:
        entries = [os.fsencode(e) for e in entry]
    elif entry_file:
        entries = [_read_file(f, "entry file") for f in entry_file]
    verify_proof_doc(doc, cp, old_checkpoint=old, entries=entries)
    result: dict[str, Any] = {
        "verified": True,
        "type": doc.to_json()["type"],
        "origin": cp.origin,
        "size": cp.size,
        "root_hash": cp.root_hash.hex(),
        "entries_checked": 0 if entries is None else len(entries),
    }
    if isinstance(doc, InclusionDoc):
        result.update(index=doc.index, leaf_hash=doc.leaf_hash.hex())
    elif isinstance(doc, RangeDoc):
        result.update(start=doc.start, end=doc.end)
    else:
        result.update(size1=doc.size1, root1=doc.root1.hex(), root1_signed=old is not None)
    return result


@log_app.command("verify")
def verify(
    proof_file: Annotated[
        Path, typer.Argument(help="The proof document from `prove --json` ('-': stdin).")
    ],
    checkpoint_file: Annotated[
        Path, typer.Option("--checkpoint", help="The signed checkpoint note the proof ends in.")
    ],
    vkey: Annotated[str, typer.Option("--vkey", help="The log's verifier key (C2SP vkey).")],
    old_checkpoint: Annotated[
        Path | None,
        typer.Option(help="Consistency: the signed checkpoint at size1 (else root1 is claimed)."),
    ] = None,
    entry: Annotated[
        list[str] | None,
        typer.Option("--entry", help="An entry the proof is about (repeat for a range)."),
    ] = None,
    entry_file: Annotated[
        list[Path] | None,
        typer.Option("--entry-file", help="A file holding an entry the proof is about."),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Verify a proof document against a signed checkpoint and the log's key, offline.

    Exit 0 if it verifies; 1 if it is refused (the reason on stderr); 2 if an
    input does not parse.
    """
    try:
        result = _verify(proof_file, checkpoint_file, vkey, old_checkpoint, entry, entry_file)
    except AccordError as exc:
        if as_json:
            print_json({"verified": False, **exc.to_dict()})
        raise fail(exc) from None
    if as_json:
        print_json(result)
        return
    where = f"{result['origin']} at size {result['size']} (root {result['root_hash']})"
    if result["type"] == "inclusion":
        typer.echo(f"verified: entry {result['index']} is in {where}")
    elif result["type"] == "range":
        typer.echo(f"verified: entries [{result['start']}, {result['end']}) are in {where}")
    else:
        typer.echo(f"verified: the tree of size {result['size1']} is a prefix of {where}")
        if not result["root1_signed"]:
            typer.echo(
                f"  root1 {result['root1']} is as the proof states it; "
                "give --old-checkpoint to check it against a signed checkpoint"
            )
    if result["entries_checked"] == 1:
        typer.echo("  and the entry given has the proven leaf hash")
    elif result["entries_checked"]:
        count = result["entries_checked"]
        typer.echo(f"  and the {count} entries given have the proven leaf hashes")


def register(app: typer.Typer) -> None:
    app.add_typer(log_app, name="log")
