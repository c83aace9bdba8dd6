"""Checkpoints (tlog-checkpoint v1.0.0): construction, strict parsing, formatting."""

from __future__ import annotations

import base64

import pytest

from accord.errors import MalformedError
from accord.merkle import EMPTY_ROOT
from accord.note import MAX_TREE_SIZE, Checkpoint

ROOT = base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
ROOT_B64 = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="


def test_format_and_parse() -> None:
    cp = Checkpoint("example.com/behind-the-sofa", 20852163, ROOT)
    text = f"example.com/behind-the-sofa\n20852163\n{ROOT_B64}\n"
    assert cp.format() == text
    assert Checkpoint.parse(text) == cp
    assert Checkpoint.parse(text.encode()) == cp
    ext = Checkpoint("o", 0, EMPTY_ROOT, ("x-audit-epoch 42", "— dash line"))
    assert Checkpoint.parse(ext.format()) == ext
    assert ext.format().endswith("x-audit-epoch 42\n— dash line\n")


def test_largest_size() -> None:
    text = f"o\n{MAX_TREE_SIZE}\n{ROOT_B64}\n"
    assert Checkpoint.parse(text).size == 2**63 - 1
    with pytest.raises(MalformedError):
        Checkpoint.parse(f"o\n{MAX_TREE_SIZE + 1}\n{ROOT_B64}\n")


BROKEN = [
    ("size-20-digits", f"o\n{10**19}\n{ROOT_B64}\n"),
    ("size-4301-digits", f"o\n{'9' * 4301}\n{ROOT_B64}\n"),
    ("size-arabic-indic-digit", f"o\n\u0661\n{ROOT_B64}\n"),
    ("size-fullwidth-digit", f"o\n\uff11\n{ROOT_B64}\n"),
    ("size-with-space", f"o\n 1\n{ROOT_B64}\n"),
    ("size-underscore", f"o\n1_000\n{ROOT_B64}\n"),
    ("size-empty", f"o\n\n{ROOT_B64}\n"),
    ("root-with-newline-inside", f"o\n1\n{ROOT_B64[:10]}\n{ROOT_B64[10:]}\n"),
    ("root-33-bytes", f"o\n1\n{base64.b64encode(ROOT + b'x').decode()}\n"),
    ("root-hex", f"o\n1\n{ROOT.hex()}\n"),
    ("crlf", f"o\r\n1\r\n{ROOT_B64}\r\n"),
    ("tab-in-origin", f"o\tx\n1\n{ROOT_B64}\n"),
    ("control-in-extension", f"o\n1\n{ROOT_B64}\nx\x7f\x01\n"),
    ("empty-last-extension", f"o\n1\n{ROOT_B64}\nx\n\n"),
    ("invalid-utf8", b"o\xff\n1\n" + ROOT_B64.encode() + b"\n"),
    ("empty-text", ""),
    ("newline-only", "\n"),
]


@pytest.mark.parametrize(("mutation", "text"), BROKEN, ids=[c[0] for c in BROKEN])
def test_broken_checkpoints(mutation: str, text: str | bytes) -> None:
    with pytest.raises(MalformedError) as info:
        Checkpoint.parse(text)
    assert info.value.what == "checkpoint"


@pytest.mark.parametrize(
    ("mutation", "args"),
    [
        ("empty-origin", ("", 1, ROOT, ())),
        ("origin-with-newline", ("a\nb", 1, ROOT, ())),
        ("negative-size", ("o", -1, ROOT, ())),
        ("bool-size", ("o", True, ROOT, ())),
        ("size-too-large", ("o", 2**63, ROOT, ())),
        ("str-size", ("o", "1", ROOT, ())),
        ("short-root", ("o", 1, ROOT[:31], ())),
        ("str-root", ("o", 1, ROOT_B64, ())),
        ("empty-extension", ("o", 1, ROOT, ("",))),
        ("multi-line-extension", ("o", 1, ROOT, ("a\nb",))),
        ("extension-not-str", ("o", 1, ROOT, (b"x",))),
        ("extensions-str", ("o", 1, ROOT, "x")),
    ],
)
def test_construction_is_checked(mutation: str, args: tuple[object, ...]) -> None:
    with pytest.raises(MalformedError):
        Checkpoint(*args)  # type: ignore[arg-type]


def test_extensions_list_becomes_tuple() -> None:
    cp = Checkpoint("o", 1, ROOT, ["a", "b"])  # type: ignore[arg-type]
    assert cp.extensions == ("a", "b")
    assert hash(cp) == hash(Checkpoint("o", 1, ROOT, ("a", "b")))
