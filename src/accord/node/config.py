"""A node directory and its configuration file, ``node.toml`` (pydantic at the edge).

A node directory holds everything one organization's node needs::

    node.toml        this configuration
    keystore.json    the sealed keystore (log, witness, index, pseudonym and gateway keys,
                     wrapped by the master key; see accord.keys)
    accord.db        the SQLite database (unless ``database`` names PostgreSQL)
    consortium.toml  a copy of the consortium file, when the node belongs to one
    shares/          the master key's share files, when ``accord init`` wrote them here

Relative paths in ``node.toml`` are relative to the node directory.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any, Final

import tomli_w
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accord.errors import MalformedError, NotFoundError, StoreError

__all__ = [
    "CONFIG_FILE",
    "FhirConfig",
    "KeysConfig",
    "NodeConfig",
    "NodeSettings",
    "Policy",
    "describe_validation",
    "load_config",
    "save_config",
]

CONFIG_FILE: Final = "node.toml"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class NodeSettings(_Strict):
    org: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")
    origin: str = Field(min_length=1, max_length=255, pattern=r"^[^\s+]+$")
    database: str = Field(default="accord.db", min_length=1)
    host: str = "127.0.0.1"
    port: int = Field(default=8400, ge=0, le=65535)
    public_url: str = Field(default="", description="how the other members reach this node")
    consortium: str = Field(default="", description="path of the consortium file, if any")
    #: This node's public keys (C2SP verifier keys), for the consortium file.
    log_key: str = ""
    witness_key: str = ""


class Policy(_Strict):
    #: Event times more than this far ahead of the node's clock are refused.
    skew_ms: int = Field(default=300_000, ge=0)
    #: Events older than this when logged also get ``late`` index keys.
    lateness_ms: int = Field(default=7 * 24 * 3_600_000, ge=0)
    #: Most statements in one submitted batch.
    max_batch: int = Field(default=10_000, ge=1, le=100_000)
    #: Largest request body, in bytes.
    max_request_bytes: int = Field(default=64 * 1024 * 1024, ge=1024)
    #: A checkpoint is signed at least this often while there are new entries.
    checkpoint_interval_ms: int = Field(default=1_000, ge=10)
    #: Most rows and longest time for one read-only SQL query.
    sql_max_rows: int = Field(default=10_000, ge=1)
    sql_timeout_ms: int = Field(default=5_000, ge=10)
    #: As a witness, recompute each log's verifiable index before cosigning it.
    witness_index_check: bool = True
    #: Witnessing (docs/witness.md): how often this node gossips its witness heads to the
    #: other members (0: no background gossip), and the backoff of checkpoint pushes to an
    #: unreachable or refusing witness (first delay, doubled per failure up to the max).
    gossip_interval_ms: int = Field(default=5_000, ge=0)
    witness_retry_ms: int = Field(default=500, ge=10)
    witness_retry_max_ms: int = Field(default=60_000, ge=10)


class FhirConfig(_Strict):
    #: The node's own source that signs statements made from FHIR resources.
    gateway_source: str = Field(default="fhir-gateway", pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")
    #: FHIR Organization references mapped to Accord org ids.
    directory: dict[str, str] = Field(default_factory=dict)


class KeysConfig(_Strict):
    #: FOR BENCHMARKING ONLY (bench/bench_encryption.py): ``false`` stores new bodies in
    #: the clear (format 0), to measure what encryption costs. Never turn it off in use:
    #: bodies then hold patients' names and identifiers on disk, and cannot be shredded.
    encrypt_bodies: bool = True


class NodeConfig(_Strict):
    node: NodeSettings
    policy: Policy = Field(default_factory=Policy)
    fhir: FhirConfig = Field(default_factory=FhirConfig)
    keys: KeysConfig = Field(default_factory=KeysConfig)

    def database_url(self, directory: Path) -> str:
        """The database URL, with a relative SQLite path resolved against ``directory``."""
        db = self.node.database
        if "://" in db:
            return db
        path = Path(db)
        return str(path if path.is_absolute() else directory / path)

    def consortium_path(self, directory: Path) -> Path | None:
        if not self.node.consortium:
            return None
        path = Path(self.node.consortium)
        return path if path.is_absolute() else directory / path


def describe_validation(exc: ValidationError) -> str:
    errors = exc.errors()
    where = ".".join(str(p) for p in errors[0]["loc"])
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {errors[0]['msg']}{more}"


def parse_config(text: str) -> NodeConfig:
    try:
        data: dict[str, Any] = tomllib.loads(text)
        return NodeConfig.model_validate(data)
    except tomllib.TOMLDecodeError as exc:
        raise MalformedError("node config", str(exc)) from None
    except ValidationError as exc:
        raise MalformedError("node config", describe_validation(exc)) from None


def load_config(directory: Path) -> NodeConfig:
    """Read ``DIR/node.toml``; NotFoundError if ``directory`` is not a node directory."""
    path = directory / CONFIG_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{directory} is not a node directory (no {CONFIG_FILE})") from None
    except OSError as exc:
        raise StoreError(f"cannot read {path}: {exc.strerror}") from None
    return parse_config(text)


def save_config(directory: Path, config: NodeConfig) -> None:
    path = directory / CONFIG_FILE
    text = tomli_w.dumps(config.model_dump(mode="json"))
    try:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise StoreError(f"cannot write {path}: {exc.strerror}") from None
