"""``accord consortium new``: found a consortium of N orgs on one machine (demos, tests, pilots).

Writes ``DIR/consortium.toml``, one node directory per org (``DIR/<org>``) already joined
to it, and ``DIR/consortium-keys.json`` with the consortium-wide secrets every member's
keystore holds (the index key and the pseudonym key): in a real consortium that file goes
to each member over a secure channel, and ``accord init --consortium-keys`` takes it.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from accord.encoding import b64decode, b64encode, parse_json
from accord.errors import MalformedError, NotFoundError, UsageError
from accord.node.config import load_config, save_config
from accord.node.initdir import InitResult, init_node
from accord.node.membership import check_membership, read_consortium
from accord.quorum import Consortium, Member, TrustSet

__all__ = [
    "ConsortiumKeys",
    "Founded",
    "join_consortium",
    "new_consortium",
]

KEYS_FILE: Final = "consortium-keys.json"
_TYPE: Final = "accord.consortium-keys"


@dataclass(frozen=True, slots=True)
class ConsortiumKeys:
    consortium: str
    index_key: bytes
    pseudonym_key: bytes

    @classmethod
    def generate(cls, consortium: str) -> ConsortiumKeys:
        return cls(consortium, secrets.token_bytes(32), secrets.token_bytes(32))

    def to_json(self) -> dict[str, Any]:
        return {
            "type": _TYPE,
            "consortium": self.consortium,
            "index_key": b64encode(self.index_key),
            "pseudonym_key": b64encode(self.pseudonym_key),
        }

    @classmethod
    def load(cls, path: Path) -> ConsortiumKeys:
        try:
            value = parse_json(Path(path).read_text(encoding="utf-8"), "consortium keys file")
        except FileNotFoundError:
            raise NotFoundError(f"no consortium keys file at {path}") from None
        if not isinstance(value, dict) or value.get("type") != _TYPE:
            raise MalformedError("consortium keys file", f'expected "type": "{_TYPE}"')
        try:
            found = cls(
                str(value["consortium"]),
                b64decode(value["index_key"], "consortium keys file"),
                b64decode(value["pseudonym_key"], "consortium keys file"),
            )
        except (KeyError, TypeError):
            raise MalformedError(
                "consortium keys file", "needs index_key and pseudonym_key"
            ) from None
        if len(found.index_key) != 32 or len(found.pseudonym_key) != 32:
            raise MalformedError("consortium keys file", "keys are 32 bytes")
        return found

    def save(self, path: Path) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.to_json(), indent=2) + "\n")


@dataclass(frozen=True, slots=True)
class Founded:
    consortium_file: Path
    keys_file: Path
    nodes: dict[str, InitResult]


def new_consortium(
    directory: Path,
    orgs: list[tuple[str, str]],
    *,
    consortium_id: str,
    host: str = "127.0.0.1",
    base_port: int = 8401,
    model: str = "majority",
    f: int = 0,
    witness_k: int = 1,
    shares: int = 3,
    threshold: int = 2,
    addresses: dict[str, str] | None = None,
    databases: dict[str, str] | None = None,
    ports: dict[str, int] | None = None,
) -> Founded:
    """Create the consortium file, a joined node directory per org, and the shared keys."""
    if not orgs:
        raise UsageError("a consortium needs at least one org")
    directory = Path(directory)
    if directory.exists() and any(directory.iterdir()):
        raise UsageError(f"{directory} exists and is not empty")
    directory.mkdir(parents=True, exist_ok=True)
    keys = ConsortiumKeys.generate(consortium_id)
    keys_file = directory / KEYS_FILE
    keys.save(keys_file)
    results: dict[str, InitResult] = {}
    members = []
    for i, (org, name) in enumerate(orgs):
        port = (ports or {}).get(org, base_port + i if base_port else 0)
        result = init_node(
            directory / org,
            org,
            origin=f"accord.example/{consortium_id}/{org}",
            database=(databases or {}).get(org),
            shares=shares,
            threshold=threshold,
            index_key=keys.index_key,
            pseudonym_key=keys.pseudonym_key,
            host=host,
            port=port,
        )
        results[org] = result
        members.append(
            Member(
                org=org,
                name=name,
                url=result.config.node.public_url,
                origin=result.config.node.origin,
                log_key=result.log_key,
                witness_key=result.witness_key,
                address=(addresses or {}).get(org),
            )
        )
    trust = TrustSet(tuple(org for org, _ in orgs), model, f)
    consortium = Consortium(consortium_id, tuple(members), witness_k, trust)
    consortium_file = directory / "consortium.toml"
    consortium_file.write_text(consortium.format(), encoding="utf-8")
    for org in results:
        join_consortium(directory / org, consortium_file)
    return Founded(consortium_file, keys_file, results)


def join_consortium(node_dir: Path, consortium_file: Path) -> Consortium:
    """Check a consortium file names this node (org, origin, keys) and make it the node's."""
    config = load_config(node_dir)
    consortium = read_consortium(consortium_file)
    check_membership(consortium, config.node)
    (node_dir / "consortium.toml").write_text(consortium.format(), encoding="utf-8")
    member = consortium.member(config.node.org)
    settings = config.node.model_copy(
        update={"consortium": "consortium.toml", "public_url": member.url}
    )
    save_config(node_dir, config.model_copy(update={"node": settings}))
    return consortium
