"""``accord init``: create a node directory (config, sealed keystore and shares, database)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from accord.errors import MalformedError, UsageError
from accord.keys import create_keystore, write_keystore, write_share_files
from accord.keys.files import KEYSTORE_FILE
from accord.log import Log
from accord.node.config import (
    CONFIG_FILE,
    NodeConfig,
    NodeSettings,
    describe_validation,
    save_config,
)
from accord.node.keyring import new_node_secrets, witness_name
from accord.node.membership import check_membership, read_consortium
from accord.node.schema import NODE_STEPS
from accord.note import Cosigner, Signer
from accord.store.database import Database
from accord.store.projection import PROJECTION_STEPS

__all__ = ["InitResult", "init_node"]


@dataclass(frozen=True, slots=True)
class InitResult:
    directory: Path
    config: NodeConfig
    share_files: list[Path]

    @property
    def log_key(self) -> str:
        return self.config.node.log_key

    @property
    def witness_key(self) -> str:
        return self.config.node.witness_key


def init_node(
    directory: Path,
    org: str,
    *,
    origin: str | None = None,
    database: str | None = None,
    consortium_file: Path | None = None,
    shares: int = 3,
    threshold: int = 2,
    shares_dir: Path | None = None,
    index_key: bytes | None = None,
    pseudonym_key: bytes | None = None,
    host: str = "127.0.0.1",
    port: int = 8400,
    public_url: str | None = None,
) -> InitResult:
    """Create a new node directory. Refuses a directory that already holds a node.

    The master key is split into ``shares`` share files with ``threshold`` needed to
    unseal, written to ``shares_dir`` (default ``DIR/shares``: convenient for a trial,
    but in production hand each file to a different custodian and delete it here).
    """
    directory = Path(directory)
    if (directory / CONFIG_FILE).exists() or (directory / KEYSTORE_FILE).exists():
        raise UsageError(f"{directory} already holds a node")
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} exists and is not empty")
    secrets = new_node_secrets(index_key=index_key, pseudonym_key=pseudonym_key)
    consortium = read_consortium(consortium_file) if consortium_file is not None else None
    if origin is None and consortium is not None and org in consortium.orgs:
        origin = consortium.member(org).origin
    origin = origin or f"accord.example/{org}"
    try:
        log_key = Signer.from_private_bytes(origin, secrets["log_key"]).verifier().format()
        witness_key = (
            Cosigner.from_private_bytes(witness_name(origin), secrets["witness_key"])
            .verifier()
            .format()
        )
    except MalformedError as exc:
        raise UsageError(f"bad origin {origin!r}: {exc.message}") from None
    settings: dict[str, object] = {
        "org": org,
        "origin": origin,
        "log_key": log_key,
        "witness_key": witness_key,
        "host": host,
        "port": port,
        "public_url": public_url or f"http://{host}:{port}",
    }
    if database:
        settings["database"] = database
    if consortium_file is not None:
        settings["consortium"] = "consortium.toml"
    try:
        config = NodeConfig(node=NodeSettings.model_validate(settings))
    except ValidationError as exc:
        raise UsageError(f"bad node setting: {describe_validation(exc)}") from None
    if consortium is not None:
        check_membership(consortium, config.node, keys_known=False)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    created: list[Path] = []
    try:
        if consortium_file is not None:
            shutil.copyfile(consortium_file, directory / "consortium.toml")
        keystore, share_files = create_keystore(
            secrets,
            name=org,
            threshold=threshold,
            shares=shares,
        )
        write_keystore(directory / KEYSTORE_FILE, keystore)
        created = write_share_files(shares_dir or directory / "shares", share_files)
        save_config(directory, config)
        db = Database.open(config.database_url(directory))
        try:
            db.migrate("node", NODE_STEPS)
            db.migrate("projection", PROJECTION_STEPS)
            Log.attach(db, origin=config.node.origin).close()
        finally:
            db.close()
    except BaseException:
        for path in (directory / CONFIG_FILE, directory / KEYSTORE_FILE, *created):
            path.unlink(missing_ok=True)
        raise
    return InitResult(directory, config, created)
