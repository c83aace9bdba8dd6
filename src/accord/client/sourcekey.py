"""A source's signing key file: what an EHR (or the CLI acting for it) signs statements with.

JSON ``{"type": "accord.source-key", "org", "source", "private_key", "public_key"}``
(keys in padded base64, the private key is the 32-byte Ed25519 seed). Keep it like
any private key: the file is written 0600 and never overwritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accord.encoding import b64decode, b64encode, parse_json
from accord.errors import MalformedError, NotFoundError, UsageError
from accord.records import SignedStatement, Statement, sign_statement

__all__ = ["SourceKey", "generate_source_key"]

_TYPE = "accord.source-key"


@dataclass(frozen=True, slots=True)
class SourceKey:
    org: str
    source: str
    private: Ed25519PrivateKey

    @property
    def public_raw(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    def to_json(self) -> dict[str, Any]:
        return {
            "type": _TYPE,
            "org": self.org,
            "source": self.source,
            "private_key": b64encode(self.private.private_bytes_raw()),
            "public_key": b64encode(self.public_raw),
        }

    @classmethod
    def parse(cls, text: str) -> SourceKey:
        value = parse_json(text, "source key file")
        if not isinstance(value, dict) or value.get("type") != _TYPE:
            raise MalformedError("source key file", f'expected an object with "type": "{_TYPE}"')
        try:
            seed = b64decode(value["private_key"], "source key file")
            key = Ed25519PrivateKey.from_private_bytes(seed)
            org, source = value["org"], value["source"]
        except (KeyError, TypeError, ValueError):
            raise MalformedError("source key file", "needs org, source and private_key") from None
        if not isinstance(org, str) or not isinstance(source, str):
            raise MalformedError("source key file", "org and source must be strings")
        found = cls(org, source, key)
        if value.get("public_key") not in (None, b64encode(found.public_raw)):
            raise MalformedError("source key file", "public_key does not match private_key")
        return found

    @classmethod
    def load(cls, path: Path) -> SourceKey:
        try:
            return cls.parse(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise NotFoundError(f"no source key file at {path}") from None

    def save(self, path: Path) -> None:
        path = Path(path)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            raise UsageError(f"{path} exists; not overwriting a key file") from None
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.to_json(), indent=2) + "\n")

    def sign(self, statement: Statement) -> SignedStatement:
        if statement.org != self.org or statement.source != self.source:
            raise UsageError(f"this key signs for {self.org}/{self.source}, not {statement.key_id}")
        return sign_statement(statement, self.private)


def generate_source_key(org: str, source: str) -> SourceKey:
    return SourceKey(org, source, Ed25519PrivateKey.generate())
