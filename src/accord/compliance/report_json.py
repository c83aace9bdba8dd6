"""The JSON form of report values: a strict reader for rows and report headers.

Rows are frozen dataclasses whose fields are ``str``, ``int`` (ms times,
counts), ``bool``, their ``| None`` forms, or ``tuple[str, ...]``; a row's JSON
object has exactly its fields. The report header holds ``report`` (the kind),
``version`` (1), ``start``/``end`` (``start < end``), ``generated`` and
``timezone`` (an IANA zone). Every failure is ``MalformedError("report", ...)``
naming the field path (``rows[3].ts``).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Final, TypeVar

from accord.compliance.schedule import LocalClock
from accord.errors import MalformedError

__all__ = [
    "VERSION",
    "bad",
    "check_header",
    "check_value",
    "row_from_json",
    "row_to_json",
    "rows_from_json",
]

_WHAT: Final = "report"
VERSION: Final = 1


def bad(path: str, problem: str) -> MalformedError:
    return MalformedError(_WHAT, f"{path}: {problem}", field=path)


def check_value(kind: str, value: Any, path: str) -> Any:
    """Check one JSON value against a row field's annotation (a small fixed set)."""
    optional = kind.endswith(" | None")
    if optional:
        if value is None:
            return None
        kind = kind[: -len(" | None")]
    if kind == "str":
        if type(value) is not str:
            raise bad(path, "must be a string")
        return value
    if kind == "int":
        if type(value) is not int or not 0 <= value < 2**53:
            raise bad(path, "must be an integer in [0, 2**53)")
        return value
    if kind == "bool":
        if type(value) is not bool:
            raise bad(path, "must be true or false")
        return value
    if kind == "tuple[str, ...]":
        if type(value) is not list or not all(type(v) is str for v in value):
            raise bad(path, "must be a list of strings")
        return tuple(value)
    raise bad(path, f"unsupported field type {kind}")  # pragma: no cover - a programming error


R = TypeVar("R")


def row_from_json(cls: type[R], value: Any, path: str) -> R:
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    if type(value) is not dict:
        raise bad(path, "must be an object")
    names = {f.name for f in fields}
    for key in value:
        if key not in names:
            raise bad(f"{path}.{key}", "unknown field")
    args = {}
    for f in fields:
        if f.name not in value:
            raise bad(f"{path}.{f.name}", "is required")
        args[f.name] = check_value(str(f.type), value[f.name], f"{path}.{f.name}")
    return cls(**args)


def row_to_json(row: Any) -> dict[str, Any]:
    return {
        f.name: list(v) if isinstance(v := getattr(row, f.name), tuple) else v
        for f in dataclasses.fields(row)
    }


def check_header(value: Any, kind: str, keys: tuple[str, ...]) -> dict[str, Any]:
    common = ("report", "version", "start", "end", "generated", "timezone")
    if type(value) is not dict:
        raise bad("", "a report must be a JSON object")
    for key in (*common, *keys):
        if key not in value:
            raise bad(key, "is required")
    for key in value:
        if key not in common and key not in keys:
            raise bad(str(key), "unknown field")
    if value["report"] != kind or value["version"] != VERSION or type(value["version"]) is not int:
        raise bad("report", f"expected a {kind} report, version {VERSION}")
    for key in ("start", "end", "generated"):
        check_value("int", value[key], key)
    if value["start"] >= value["end"]:
        raise bad("end", "must be after start")
    LocalClock.of(check_value("str", value["timezone"], "timezone"), _WHAT)
    return value


def rows_from_json(cls: type[R], value: Any, path: str) -> tuple[R, ...]:
    if type(value) is not list:
        raise bad(path, "must be a list")
    return tuple(row_from_json(cls, v, f"{path}[{i}]") for i, v in enumerate(value))
