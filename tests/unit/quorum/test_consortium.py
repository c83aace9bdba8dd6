"""The consortium file: round trips, the documented example, and every malformed case as data."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tomli_w

from accord.errors import MalformedError, NotFoundError, TooLargeError, UnknownKeyError
from accord.quorum import BYZANTINE, Consortium, Member, TrustSet
from tests.unit.quorum.fixtures import HOSPITALS, consortium, member

DOCS = Path(__file__).resolve().parents[3] / "docs" / "consortium.md"


def _doc_example() -> str:
    blocks = re.findall(r"```toml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert blocks, "docs/consortium.md has no toml example"
    return str(blocks[0])


def test_format_parses_back_to_an_equal_value() -> None:
    c = consortium()
    assert Consortium.parse(c.format()) == c
    assert Consortium.parse(c.format().encode()) == c
    assert Consortium.parse(c.format()).format() == c.format()


def test_round_trip_with_every_optional_field() -> None:
    orgs = ("a", "b", "c", "d")
    members = list(consortium(orgs).members)
    members[2] = Member(
        **{**members[2].to_json(), "address": 'Apt "3"\n1 Main St\\\nZürich 東京 10001'}
    )
    c = Consortium("x-1", tuple(members), 3, TrustSet(orgs, BYZANTINE, 1))
    text = c.format()
    assert Consortium.parse(text) == c
    assert Consortium.parse(text).members[2].address == 'Apt "3"\n1 Main St\\\nZürich 東京 10001'


def test_the_documented_three_hospital_example_parses() -> None:
    c = Consortium.parse(_doc_example())
    assert c.orgs == ("cornell", "nyu", "mskcc")
    assert c.witness_k == 1
    assert c.default_trust_set == TrustSet(("cornell", "nyu", "mskcc"))
    assert c.default_trust_set.threshold == 2
    assert c.member("cornell").address is not None
    assert Consortium.parse(c.format()) == c


def test_member_lookup() -> None:
    c = consortium()
    assert c.member("nyu").org == "nyu"
    with pytest.raises(NotFoundError, match="'stanford' is not a member of consortium 'demo'"):
        c.member("stanford")
    assert [m.org for m in c.witnesses_for("nyu")] == ["cornell", "mskcc"]


def test_trust_set_for_uses_the_default_and_checks_membership() -> None:
    c = consortium()
    p = "ab" * 16
    assert c.trust_set_for(p) == c.trust
    own = TrustSet(("cornell", "nyu"))
    assert c.trust_set_for(p, lambda _: own) == own
    with pytest.raises(UnknownKeyError):
        c.trust_set_for(p, lambda _: TrustSet(("cornell", "stanford")))


def test_digest_ignores_layout_but_not_content() -> None:
    c = consortium()
    data = c.to_json()
    relaid = "# a comment\n" + tomli_w.dumps(
        {
            "members": data["members"],
            "trust": data["trust"],
            "witness": data["witness"],
            "id": data["id"],
            "version": 1,
        }
    )
    assert Consortium.parse(relaid) == c
    assert Consortium.parse(relaid).digest == c.digest
    assert len(c.digest) == 32
    assert consortium(k=2).digest != c.digest
    assert consortium(HOSPITALS[::-1]).digest != c.digest  # member order is content


def _data() -> dict[str, Any]:
    return copy.deepcopy(consortium().to_json())


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = d
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        target[int(last) if last.isdigit() else last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = d
        for p in parents:
            target = target[int(p)] if p.isdigit() else target[p]
        del target[last]

    return mutate


def _copy_field(field: str, src: int, dst: int) -> Callable[[dict[str, Any]], None]:
    def mutate(d: dict[str, Any]) -> None:
        d["members"][dst][field] = d["members"][src][field]

    return mutate


def _witness_as_log(d: dict[str, Any]) -> None:
    d["members"][1]["log_key"] = d["members"][1]["witness_key"]


def _log_key_reused_as_witness(d: dict[str, Any]) -> None:
    other = member("nyu")  # the same log key under another org's name
    d["members"][2]["witness_key"] = other.witness_key


NYU = consortium().member("nyu")

# (mutation, change to the TOML data, field the error must name)
MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("unknown top-level key", _set("extra", 1), "extra"),
    ("unknown witness key", _set("witness.quorum", 2), "witness.quorum"),
    ("unknown trust key", _set("trust.q", 2), "trust.q"),
    ("unknown member key", _set("members.1.phone", "555"), "members[1] (nyu).phone"),
    ("missing version", _delete("version"), "version"),
    ("missing id", _delete("id"), "id"),
    ("missing witness", _delete("witness"), "witness"),
    ("missing k", _delete("witness.k"), "witness.k"),
    ("missing trust model", _delete("trust.model"), "trust.model"),
    ("missing members", _delete("members"), "members"),
    ("missing member url", _delete("members.0.url"), "members[0] (cornell).url"),
    ("missing member log key", _delete("members.2.log_key"), "members[2] (mskcc).log_key"),
    ("version 2", _set("version", 2), "version"),
    ("version as string", _set("version", "1"), "version"),
    ("version as bool", _set("version", True), "version"),
    ("bad consortium id", _set("id", "Demo!"), "id"),
    ("witness not a table", _set("witness", 1), "witness"),
    ("no members", _set("members", []), "members"),
    ("members not tables", _set("members", ["cornell"]), "members[0]"),
    ("k larger than the other members", _set("witness.k", 3), "witness.k"),
    ("k negative", _set("witness.k", -1), "witness.k"),
    ("k a bool", _set("witness.k", True), "witness.k"),
    ("k a float", _set("witness.k", 1.0), "witness.k"),
    ("duplicate org id", _set("members.2.org", "cornell"), "members[2] (cornell).org"),
    ("bad org id", _set("members.1.org", "NYU"), "members[1].org"),
    ("org id too long", _set("members.1.org", "n" * 64), "members[1].org"),
    ("duplicate origin", _copy_field("origin", 0, 1), "members[1] (nyu).origin"),
    ("duplicate url", _copy_field("url", 0, 2), "members[2] (mskcc).url"),
    (
        "duplicate url, trailing slash",
        _set("members.1.url", "http://127.0.0.1:8101/"),
        "members[1] (nyu).url",
    ),
    ("duplicate log key", _copy_field("log_key", 0, 1), "members[1] (nyu).log_key"),
    ("duplicate witness key", _copy_field("witness_key", 1, 2), "members[2] (mskcc).witness_key"),
    ("witness key reused", _log_key_reused_as_witness, "members[2] (mskcc).witness_key"),
    ("witness key as log key", _witness_as_log, "members[1] (nyu).log_key"),
    (
        "log key as witness key",
        _set("members.0.witness_key", NYU.log_key),
        "members[0] (cornell).witness_key",
    ),
    (
        "log key bad key id",
        _set("members.1.log_key", NYU.log_key.replace("+", "+0", 1)[:-1]),
        "members[1] (nyu).log_key",
    ),
    (
        "log key not base64",
        _set("members.1.log_key", NYU.log_key[:-1] + "*"),
        "members[1] (nyu).log_key",
    ),
    ("log key an int", _set("members.1.log_key", 5), "members[1] (nyu).log_key"),
    ("url ftp", _set("members.0.url", "ftp://cornell.example"), "members[0] (cornell).url"),
    (
        "url without scheme",
        _set("members.0.url", "cornell.example:8000"),
        "members[0] (cornell).url",
    ),
    (
        "url with user info",
        _set("members.0.url", "https://u:p@cornell.example"),
        "members[0] (cornell).url",
    ),
    (
        "url with query",
        _set("members.0.url", "https://cornell.example/?a=1"),
        "members[0] (cornell).url",
    ),
    (
        "url with bad port",
        _set("members.0.url", "https://cornell.example:99999"),
        "members[0] (cornell).url",
    ),
    (
        "url with space",
        _set("members.0.url", "https://cornell example"),
        "members[0] (cornell).url",
    ),
    (
        "origin with space",
        _set("members.0.origin", "accord.example/demo cornell"),
        "members[0] (cornell).origin",
    ),
    (
        "origin with plus",
        _set("members.0.origin", "accord.example/demo+cornell"),
        "members[0] (cornell).origin",
    ),
    ("empty origin", _set("members.0.origin", ""), "members[0] (cornell).origin"),
    ("empty name", _set("members.0.name", ""), "members[0] (cornell).name"),
    ("name with newline", _set("members.0.name", "Weill\nCornell"), "members[0] (cornell).name"),
    ("name padded", _set("members.0.name", " Weill Cornell"), "members[0] (cornell).name"),
    ("name too long", _set("members.0.name", "W" * 201), "members[0] (cornell).name"),
    (
        "address with control",
        _set("members.0.address", "1 Main\x07St"),
        "members[0] (cornell).address",
    ),
    ("address a list", _set("members.0.address", ["1 Main St"]), "members[0] (cornell).address"),
    ("unknown model", _set("trust.model", "raft"), "trust.model"),
    ("byzantine without f", _set("trust.model", "byzantine"), "trust.f"),
    ("majority with f", _set("trust.f", 0), "trust.f"),
    ("byzantine n < 3f+1", lambda d: d["trust"].update(model="byzantine", f=1), "trust.f"),
    ("f negative", lambda d: d["trust"].update(model="byzantine", f=-1), "trust.f"),
    ("trust names a non-member", _set("trust.members", ["cornell", "stanford"]), "trust.members"),
    (
        "trust names an org twice",
        _set("trust.members", ["cornell", "cornell", "nyu"]),
        "trust.members",
    ),
    ("trust names nobody", _set("trust.members", []), "trust.members"),
    ("trust members a string", _set("trust.members", "cornell"), "trust.members"),
]


@pytest.mark.parametrize(
    ("mutation", "change", "field"), MALFORMED, ids=[m for m, _, _ in MALFORMED]
)
def test_malformed_files_name_the_field(
    mutation: str, change: Callable[[dict[str, Any]], None], field: str
) -> None:
    data = _data()
    change(data)
    text = tomli_w.dumps(data)
    with pytest.raises(MalformedError) as info:
        Consortium.parse(text)
    assert info.value.what == "consortium file"
    assert info.value.details["field"] == field
    assert field in info.value.message


NOT_TOML = [
    ("not TOML at all", "this is not toml"),
    ("duplicate key", "version = 1\nversion = 1\n"),
    ("unterminated string", 'id = "demo\n'),
    ("empty file", ""),
]


@pytest.mark.parametrize(("mutation", "text"), NOT_TOML, ids=[m for m, _ in NOT_TOML])
def test_text_that_is_not_a_consortium_file(mutation: str, text: str) -> None:
    with pytest.raises(MalformedError, match="consortium file"):
        Consortium.parse(text)


def test_bytes_that_are_not_utf8() -> None:
    with pytest.raises(MalformedError, match="not UTF-8"):
        Consortium.parse(b'id = "\xff"\n')


def test_oversized_files_are_refused() -> None:
    with pytest.raises(TooLargeError):
        Consortium.parse("#" * (2 << 20))
    with pytest.raises(TooLargeError):
        Consortium.parse(b"#" * (2 << 20))


def test_single_member_consortium_needs_k_zero() -> None:
    c = consortium(("solo",), k=0)
    assert Consortium.parse(c.format()) == c
    with pytest.raises(MalformedError, match=r"witness\.k"):
        consortium(("solo",), k=1)


def test_the_documented_digest_is_the_example_s() -> None:
    text = DOCS.read_text(encoding="utf-8")
    digest = Consortium.parse(_doc_example()).digest.hex()
    assert f"`{digest}`" in text
