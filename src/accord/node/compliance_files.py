"""The node's compliance configuration files: ``directory.toml`` and ``rules.toml``.

Both live in the node directory beside ``node.toml`` and are optional
(docs/compliance.md sections 3 and 4):

- ``directory.toml`` (or ``directory.json``): the org's private directory from
  its HR and registration systems: its people (names, addresses, working
  hours, employment status, their own patient ids), known patients and the VIP
  list. Never on the ledger. Absent: an empty directory (the directory rules
  then find nobody to compare).
- ``rules.toml``: the rule configuration (thresholds, enabled rules,
  severities, time zone, default working hours). Absent: every rule on with
  its defaults, in the directory's time zone.

Both must name this node's org. A file that does not parse, or names another
org, refuses the node's start with a UsageError naming the file and the field,
so a typo never silently turns the rules off. Files are read once, at start:
edit them, then restart the node (``accord alerts rerun`` re-judges history).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from accord.compliance.directory import Directory
from accord.compliance.rules_config import RuleConfig
from accord.errors import AccordError, UsageError

__all__ = ["DIRECTORY_FILES", "RULES_FILE", "ComplianceFiles", "load_compliance_files"]

DIRECTORY_FILES: Final = ("directory.toml", "directory.json")
RULES_FILE: Final = "rules.toml"


@dataclass(frozen=True, slots=True)
class ComplianceFiles:
    """What the files say, and which files were read (None: the defaults)."""

    directory: Directory
    rules: RuleConfig
    directory_file: Path | None
    rules_file: Path | None


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def load_compliance_files(node_dir: Path, org: str) -> ComplianceFiles:
    """Read ``node_dir``'s directory and rule files for ``org``; UsageError if one is bad."""
    found = [node_dir / name for name in DIRECTORY_FILES if (node_dir / name).exists()]
    if len(found) > 1:
        raise UsageError(f"{node_dir} has both {found[0].name} and {found[1].name}: keep one")
    directory_file = found[0] if found else None
    if directory_file is None:
        directory = Directory(org=org)
    else:
        try:
            directory = Directory.parse(_read(directory_file))
        except AccordError as exc:
            raise UsageError(
                f"{directory_file}: {exc.message}; fix it or remove it (docs/compliance.md 3)",
                file=str(directory_file),
            ) from None
        if directory.org != org:
            raise UsageError(
                f"{directory_file} is the directory of {directory.org!r}; this node is {org!r}",
                file=str(directory_file),
            )
    rules_path = node_dir / RULES_FILE
    rules_file = rules_path if rules_path.exists() else None
    if rules_file is None:
        rules = RuleConfig(org=org, timezone=directory.timezone)
    else:
        try:
            rules = RuleConfig.parse(_read(rules_file))
        except AccordError as exc:
            raise UsageError(
                f"{rules_file}: {exc.message}; fix it or remove it (docs/compliance.md 4)",
                file=str(rules_file),
            ) from None
        if rules.org != org:
            raise UsageError(
                f"{rules_file} is the rule configuration of {rules.org!r}; this node is {org!r}",
                file=str(rules_file),
            )
    return ComplianceFiles(directory, rules, directory_file, rules_file)
