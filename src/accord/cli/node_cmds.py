"""Running a node: `accord init`, `serve`, `unseal`, `seal`, `token`, `source`, `submit`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from accord.cli.output import handle_errors, out, print_json
from accord.client import NodeClient, SourceKey, generate_source_key
from accord.errors import MalformedError, NotFoundError, UsageError
from accord.keys import read_share_file
from accord.node.config import load_config
from accord.records import SignedStatement, Statement

__all__ = ["node_url", "register"]

DirArg = Annotated[Path, typer.Argument(help="The node directory.", show_default=False)]
UrlOpt = Annotated[
    str | None, typer.Option("--url", help="The node's URL (default: from DIR while it runs).")
]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", envvar="ACCORD_TOKEN", help="Bearer token (or $ACCORD_TOKEN)."),
]


def node_url(directory: Path | None, url: str | None) -> str:
    """The URL of a running node: --url, else DIR/serve.json, else DIR's configured URL."""
    if url:
        return url
    if directory is None:
        raise UsageError("give --url or the node directory")
    serve_file = directory / "serve.json"
    if serve_file.exists():
        return str(json.loads(serve_file.read_text())["url"])
    config = load_config(directory)
    return config.node.public_url or f"http://{config.node.host}:{config.node.port}"


def _share_texts(files: list[Path], share_dir: Path | None) -> list[str]:
    paths = list(files)
    if share_dir is not None:
        paths += sorted(share_dir.glob("*.json"))
    return [read_share_file(p).format() for p in paths]


def init(
    directory: DirArg,
    org: Annotated[str, typer.Option("--org", help="This organization's id, e.g. cornell.")],
    db: Annotated[
        str | None,
        typer.Option("--db", help="postgresql://... for PostgreSQL (default: SQLite in DIR)."),
    ] = None,
    origin: Annotated[
        str | None, typer.Option(help="The log's origin (default accord.example/ORG).")
    ] = None,
    consortium: Annotated[
        Path | None, typer.Option(help="Join this consortium file (see `accord consortium`).")
    ] = None,
    consortium_keys: Annotated[
        Path | None,
        typer.Option(help="The consortium's shared secrets file (index and pseudonym keys)."),
    ] = None,
    shares: Annotated[int, typer.Option(help="Key shares to make (N).")] = 3,
    threshold: Annotated[int, typer.Option(help="Shares needed to unseal (k).")] = 2,
    shares_dir: Annotated[
        Path | None, typer.Option(help="Where to write the share files (default DIR/shares).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8400,
    public_url: Annotated[
        str | None, typer.Option(help="How other members reach this node.")
    ] = None,
) -> None:
    """Create a node directory: config, sealed keystore, key shares and database."""
    from accord.node.founding import ConsortiumKeys
    from accord.node.initdir import init_node

    keys = handle_errors(ConsortiumKeys.load)(consortium_keys) if consortium_keys else None
    result = handle_errors(init_node)(
        directory,
        org,
        origin=origin,
        database=db,
        consortium_file=consortium,
        shares=shares,
        threshold=threshold,
        shares_dir=shares_dir,
        host=host,
        port=port,
        public_url=public_url,
        index_key=keys.index_key if keys else None,
        pseudonym_key=keys.pseudonym_key if keys else None,
    )
    out.print(f"created node [bold]{org}[/bold] in {directory} (log {result.config.node.origin})")
    out.print(f"{shares} key shares ({threshold} needed to unseal):")
    for path in result.share_files:
        out.print(f"  {path}")
    out.print(
        "give each share to a different custodian; next: "
        f"`accord token create {directory} --role admin`, then `accord serve {directory}`"
    )


def serve(
    directory: DirArg,
    host: Annotated[str | None, typer.Option(help="Override the configured address.")] = None,
    port: Annotated[int | None, typer.Option(help="Override the configured port (0: any).")] = None,
    unseal_file: Annotated[
        list[Path] | None, typer.Option("--unseal-file", help="Unseal at start with this share.")
    ] = None,
    unseal_dir: Annotated[
        Path | None,
        typer.Option(help="Unseal at start with every share file in this folder (for trials)."),
    ] = None,
) -> None:
    """Run the node's HTTP API until interrupted. It starts sealed unless given shares."""
    from accord.node.server import serve as run_server

    texts = handle_errors(_share_texts)(unseal_file or [], unseal_dir)
    handle_errors(run_server)(directory, host=host, port=port, unseal_texts=texts)


def unseal(
    directory: DirArg,
    share_files: Annotated[list[Path], typer.Argument(help="Share files to give the node.")],
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Give key shares to a running, sealed node; k good shares unseal it."""

    @handle_errors
    def run() -> Any:
        texts = _share_texts(share_files, None)
        with NodeClient(node_url(directory, url), token) as client:
            progress = None
            for text in texts:
                progress = client.unseal(text)
            return progress

    progress = run()
    state = "sealed" if progress["sealed"] else "unsealed"
    out.print(f"node is {state} ({progress['have']} of {progress['need']} shares)")


def seal(directory: DirArg, url: UrlOpt = None, token: TokenOpt = None) -> None:
    """Seal a running node: it forgets its keys until unsealed again."""

    @handle_errors
    def run() -> Any:
        with NodeClient(node_url(directory, url), token) as client:
            return client.seal()

    run()
    out.print("node sealed")


token_app = typer.Typer(
    help="Bearer tokens for a node's API (stored hashed).", no_args_is_help=True
)


def _tokens(directory: Path) -> Any:
    from accord.node.schema import NODE_STEPS
    from accord.node.tokens import Tokens
    from accord.store.database import Database

    config = load_config(directory)
    db = Database.open(config.database_url(directory))
    db.migrate("node", NODE_STEPS)
    return db, Tokens(db)


@token_app.command("create")
@handle_errors
def token_create(
    directory: DirArg,
    role: Annotated[str, typer.Option(help="source | auditor | admin")],
    label: Annotated[str, typer.Option(help="A note on whom it is for.")] = "",
) -> None:
    """Create a token and print it (the only time it is shown)."""
    db, tokens = _tokens(directory)
    try:
        print(tokens.create(role, label))
    finally:
        db.close()


@token_app.command("list")
@handle_errors
def token_list(directory: DirArg) -> None:
    """List tokens (ids and roles; secrets are never stored)."""
    db, tokens = _tokens(directory)
    try:
        print_json(tokens.list())
    finally:
        db.close()


@token_app.command("revoke")
@handle_errors
def token_revoke(directory: DirArg, token_id: str) -> None:
    """Revoke a token by its id."""
    db, tokens = _tokens(directory)
    try:
        tokens.revoke(token_id)
    finally:
        db.close()
    out.print(f"token {token_id} revoked")


source_app = typer.Typer(help="The sources (EHRs, gateways, devices) that sign statements.")


@source_app.command("add")
@handle_errors
def source_add(
    name: Annotated[str, typer.Argument(help="The source's name, e.g. ehr.")],
    key_out: Annotated[
        Path | None, typer.Option("--key-out", help="Generate a new key pair and save it here.")
    ] = None,
    public_key: Annotated[
        str | None, typer.Option(help="Register an existing public key (base64).")
    ] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="The node directory.")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Register a source with a running node (admin token). The node appends the record."""
    from accord.encoding import b64decode

    with NodeClient(node_url(directory, url), token) as client:
        org = client.health()["org"]
        if key_out is not None:
            key = generate_source_key(org, name)
            key.save(key_out)
            raw = key.public_raw
        elif public_key is not None:
            raw = b64decode(public_key, "public key")
        else:
            raise UsageError("give --key-out FILE (new key) or --public-key B64")
        result = client.add_source(name, raw)
    out.print(f"registered source {org}/{name} (record {result['record'][:16]}...)")
    if key_out is not None:
        out.print(f"its private key is in {key_out}: give it to the source system only")


@source_app.command("revoke")
@handle_errors
def source_revoke(
    name: str,
    directory: Annotated[Path | None, typer.Option("--dir", help="The node directory.")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
) -> None:
    """Revoke a source: its later statements are refused."""
    with NodeClient(node_url(directory, url), token) as client:
        client.revoke_source(name)
    out.print(f"source {name} revoked")


def _load_statements(path: Path, key: SourceKey | None) -> list[SignedStatement]:
    text = path.read_text(encoding="utf-8")
    values: list[Any]
    if text.lstrip().startswith("["):
        values = json.loads(text)
    else:
        values = [json.loads(line) for line in text.splitlines() if line.strip()]
    signed = []
    for value in values:
        if isinstance(value, dict) and "sig" in value:
            signed.append(SignedStatement.from_json(value))
        elif key is None:
            raise UsageError("unsigned statements need --key SOURCE_KEY_FILE")
        else:
            signed.append(key.sign(Statement.from_json(value)))
    return signed


def submit(
    file: Annotated[Path, typer.Argument(help="Statements: a JSON list or JSON lines.")],
    key: Annotated[
        Path | None, typer.Option(help="Source key file to sign unsigned statements with.")
    ] = None,
    directory: Annotated[Path | None, typer.Option("--dir", help="The node directory.")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the node's answer as JSON.")
    ] = False,
) -> None:
    """Sign (if needed) and submit statements to a node as one batch."""

    @handle_errors
    def run() -> Any:
        if not file.exists():
            raise NotFoundError(f"no file {file}")
        try:
            signed = _load_statements(file, SourceKey.load(key) if key else None)
        except json.JSONDecodeError as exc:
            raise MalformedError("statements file", str(exc)) from None
        with NodeClient(node_url(directory, url), token) as client:
            return client.submit(signed)

    result = run()
    if as_json:
        print_json(result)
        return
    out.print(f"appended {result['appended']}, duplicates {result['duplicates']}")
    for r in result["results"]:
        out.print(f"  {r['record']}  index {r['log_index']}  {r['status']}")


def sql(
    query: Annotated[str, typer.Argument(help="One SELECT over the projection tables.")],
    directory: Annotated[Path | None, typer.Option("--dir", help="The node directory.")] = None,
    url: UrlOpt = None,
    token: TokenOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Run a read-only SQL query on a node (auditor token), e.g. one patient's accesses:

    accord sql "SELECT * FROM access WHERE patient = pseudonym('patient', 'MPI-0001')"
    """
    from rich.table import Table

    @handle_errors
    def run() -> Any:
        with NodeClient(node_url(directory, url), token) as client:
            return client.sql(query)

    result = run()
    if as_json:
        print_json(result)
        return
    table = Table(*result["columns"])
    for row in result["rows"]:
        table.add_row(*("" if v is None else str(v) for v in row))
    out.print(table)
    more = " (cut at the row limit)" if result["truncated"] else ""
    out.print(f"{result['row_count']} rows in {result['elapsed_ms']:.1f} ms{more}")


def register(app: typer.Typer) -> None:
    app.command()(init)
    app.command()(serve)
    app.command()(unseal)
    app.command()(seal)
    app.command()(submit)
    app.command()(sql)
    app.add_typer(token_app, name="token")
    app.add_typer(source_app, name="source")
