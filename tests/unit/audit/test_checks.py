"""The skeptic's pure checks (accord.audit.checks): each catches what it must, with the
evidence, and passes what is honest."""

from __future__ import annotations

import hashlib
import json

import pytest

from accord.audit import (
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_WRONG,
    AuditReport,
    Finding,
    OrgAudit,
    checks,
)
from accord.audit.checks import Head, LogView
from accord.errors import UsageError
from accord.index.replay import IndexReplayer
from accord.merkle import MemoryTree, leaf_hash
from accord.note import Checkpoint, Note, sign_note
from accord.records import MAPFN_ID, Header, IndexCommit
from accord.witness import Evidence
from accord.witness.evidence import format_evidence_list
from tests.unit.client.test_checkpoints import LOGS, NOW, WITNESSES, _consortium
from tests.unit.keyed_consortium import origin

CONSORTIUM = _consortium(k=2)
CORNELL = CONSORTIUM.member("cornell")
NYU = CONSORTIUM.member("nyu")
MSKCC = CONSORTIUM.member("mskcc")
T0 = 1_760_000_000_000


def _header(i: int, body: bytes) -> Header:
    keys = tuple(sorted({hashlib.sha256(b"k%d" % (i % 3)).digest()}))
    return Header(
        "ehr.access", "cornell", "cornell/ehr", T0 + i, T0 + i, keys, hashlib.sha256(body).digest()
    )


def _log(n: int = 9) -> list[bytes]:
    """A valid log: headers with an index-commit leaf every 4 entries (roots computed)."""
    leaves: list[bytes] = []
    prev: int | None = None
    for i in range(n):
        if i % 4 == 3:
            dummy = IndexCommit(T0 + i, i, b"\0" * 32, MAPFN_ID, prev)
            mismatch = IndexReplayer().advance(0, [*leaves, dummy.leaf])
            assert mismatch is not None
            leaves.append(IndexCommit(T0 + i, i, mismatch.computed, MAPFN_ID, prev).leaf)
            prev = i
        else:
            leaves.append(_header(i, b"body %d" % i).leaf)
    return leaves


LEAVES = _log()
TREE = MemoryTree(leaf_hash(e) for e in LEAVES)


def _note(size: int, *witnesses: str, root: bytes | None = None, org: str = "cornell") -> str:
    cp = Checkpoint(origin(org), size, TREE.root(size) if root is None else root)
    note = sign_note(cp.format(), LOGS[org])
    return note.with_signatures(*(WITNESSES[w].cosign(cp, NOW) for w in witnesses)).format()


def _view(size: int = len(LEAVES)) -> LogView:
    view, findings = checks.check_checkpoint(CORNELL, _note(size, "nyu", "mskcc"), CONSORTIUM)
    assert findings == []
    assert view is not None
    return view


def _head(size: int, witness: str = "nyu", root: bytes | None = None) -> Head:
    note = _note(size, witness, root=root)
    cp = Checkpoint.parse(Note.parse(note).text)
    return Head(witness, cp.origin, cp.size, cp.root_hash, note, False)


# -- checkpoints ------------------------------------------------------------------------


def test_an_honest_checkpoint() -> None:
    view = _view()
    assert view.witnessed
    assert view.cosigned_by == ("mskcc", "nyu")
    assert view.checkpoint.root_hash == TREE.root()


def test_too_few_cosignatures_is_wrong_but_the_log_is_still_checked() -> None:
    view, findings = checks.check_checkpoint(CORNELL, _note(9, "nyu"), CONSORTIUM)
    assert view is not None
    assert not view.witnessed
    (f,) = findings
    assert (f.org, f.severity, f.check) == ("cornell", "wrong", "checkpoint")
    assert "lacks the consortium's 2 cosignature" in f.message


def test_another_members_checkpoint_is_refused() -> None:
    theirs = _note(9, "nyu", "mskcc", org="cornell")
    view, findings = checks.check_checkpoint(NYU, theirs, CONSORTIUM)
    assert view is None
    (f,) = findings
    assert f.org == "nyu"
    assert "is of log 'accord.example/test/cornell'" in f.message
    assert dict(f.evidence)["note"] == theirs


def test_a_checkpoint_not_signed_by_the_log_key() -> None:
    cp = Checkpoint(origin("cornell"), 9, TREE.root(9))
    forged = sign_note(cp.format(), LOGS["nyu"]).format()
    view, findings = checks.check_checkpoint(CORNELL, forged, CONSORTIUM)
    assert view is None
    (f,) = findings
    assert "not validly signed by its log key" in f.message


def test_a_bad_cosignature_line_is_a_finding() -> None:
    note = Note.parse(_note(9, "nyu", "mskcc"))
    other = Checkpoint(origin("cornell"), 8, TREE.root(8))
    bad = WITNESSES["nyp"].cosign(other, NOW)  # nyp's key, over another checkpoint
    text = Note(note.text, (*note.signatures, bad)).format()
    view, findings = checks.check_checkpoint(CORNELL, text, CONSORTIUM)
    assert view is not None
    assert view.witnessed
    (f,) = findings
    assert "does not verify" in f.message


def test_a_malformed_checkpoint() -> None:
    view, findings = checks.check_checkpoint(CORNELL, "not a note", CONSORTIUM)
    assert view is None
    assert findings[0].check == "checkpoint"


# -- witness heads ----------------------------------------------------------------------


def test_heads_consistent_with_the_checkpoint_pass() -> None:
    view = _view()
    assert checks.check_head(_head(9), CORNELL, NYU, view, proof=None) == []
    proof = TREE.consistency_proof(5, 9)
    assert checks.check_head(_head(5), CORNELL, NYU, view, proof=proof) == []
    small = _view(4)
    assert (
        checks.check_head(_head(9), CORNELL, NYU, small, proof=TREE.consistency_proof(4, 9)) == []
    )


def test_same_size_another_root_is_a_fork_with_both_notes() -> None:
    view = _view()
    head = _head(9, root=hashlib.sha256(b"other").digest())
    (f,) = checks.check_head(head, CORNELL, NYU, view, proof=None)
    assert (f.org, f.check) == ("cornell", "fork")
    evidence = dict(f.evidence)
    assert evidence["witness_head"] == head.note
    assert evidence["log_checkpoint"] == view.note


def test_an_inconsistent_head_is_caught() -> None:
    view = _view()
    other = MemoryTree(leaf_hash(b"x%d" % i) for i in range(5))
    head = _head(5, root=other.root())
    (f,) = checks.check_head(head, CORNELL, NYU, view, proof=TREE.consistency_proof(5, 9))
    assert f.check == "consistency"
    assert "proof" in dict(f.evidence)
    (g,) = checks.check_head(head, CORNELL, NYU, view, proof=None, proof_error="404")
    assert "gave no consistency proof" in g.message


def test_the_logs_own_note_at_the_heads_size_proves_a_fork() -> None:
    view = _view(4)
    forked = _note(9, root=hashlib.sha256(b"fork").digest())
    (f,) = checks.check_head(
        _head(9),
        CORNELL,
        NYU,
        view,
        proof=TREE.consistency_proof(4, 9),
        log_note_at_head_size=forked,
    )
    assert f.check == "fork"
    assert dict(f.evidence)["log_checkpoint_same_size"] == forked


def test_a_head_not_cosigned_by_its_witness_is_the_witness_fault() -> None:
    head = _head(9, witness="mskcc")
    lying = Head("nyu", head.origin, head.size, head.root, head.note, False)
    (f,) = checks.check_head(lying, CORNELL, NYU, _view(), proof=None)
    assert (f.org, f.check) == ("nyu", "witness-heads")


def test_two_witnesses_with_two_roots_at_one_size_is_a_split_view() -> None:
    a = _head(9, "nyu")
    b = _head(9, "mskcc", root=hashlib.sha256(b"other").digest())
    assert checks.check_heads_agree(CORNELL, [a, _head(5, "mskcc")]) == []
    (f,) = checks.check_heads_agree(CORNELL, [a, b])
    assert f.check == "split-view"
    assert set(dict(f.evidence)) == {"head_nyu", "head_mskcc"}


def test_parse_heads() -> None:
    head = _head(9)
    doc = {
        "v": 1,
        "witness": "w",
        "heads": [
            {
                "origin": head.origin,
                "size": 9,
                "root": head.root.hex(),
                "note": head.note,
                "halted": False,
            }
        ],
    }
    heads, findings = checks.parse_heads("nyu", json.dumps(doc))
    assert findings == []
    assert heads == [head]
    heads, findings = checks.parse_heads("nyu", "{}")
    assert heads == []
    assert findings[0].org == "nyu"


# -- witness evidence -------------------------------------------------------------------


def test_evidence_held_is_a_finding_against_the_log() -> None:
    held = Note.parse(_note(9, "nyu"))
    shown = Note.parse(_note(9, root=hashlib.sha256(b"fork").digest()))
    evidence = Evidence(origin("cornell"), "fork", held, shown, (), (), NOW * 1000)
    text = format_evidence_list([evidence])
    (f,) = checks.check_evidence("nyu", text, CONSORTIUM)
    assert (f.org, f.check) == ("cornell", "witness-evidence")
    assert dict(f.evidence)["proven"].startswith("yes")
    assert dict(f.evidence)["evidence"] == evidence.format()
    assert checks.check_evidence("nyu", format_evidence_list([]), CONSORTIUM) == []
    (bad,) = checks.check_evidence("nyu", "[]", CONSORTIUM)
    assert bad.org == "nyu"


# -- entries, tree, bodies, index ---------------------------------------------------------


def test_entries_against_the_tree() -> None:
    view = _view()
    for i, leaf in enumerate(LEAVES):
        assert checks.check_entry("cornell", i, leaf, TREE.inclusion_proof(i, 9), view) is None
    changed = LEAVES[2].replace(b'"event_ts":', b'"event_ts":1', 1)
    f = checks.check_entry("cornell", 2, changed, TREE.inclusion_proof(2, 9), view)
    assert f is not None
    assert f.check == "entry"
    assert dict(f.evidence)["leaf"] == changed.decode()


def test_the_whole_tree() -> None:
    view = _view()
    assert checks.check_tree("cornell", LEAVES, view) is None
    f = checks.check_tree("cornell", [*LEAVES[:-1], LEAVES[0]], view)
    assert f is not None
    assert "computed_root" in dict(f.evidence)
    assert checks.check_tree("cornell", LEAVES[:-1], view) is not None


def test_bodies_hash_to_their_header() -> None:
    assert checks.check_body("cornell", 0, LEAVES[0], b"body 0") is None
    f = checks.check_body("cornell", 0, LEAVES[0], b"body 1")
    assert f is not None
    assert f.check == "body"
    assert checks.check_body("cornell", 3, LEAVES[3], b"anything") is None  # a commit leaf


def test_the_index_replay_compares_every_commit_root() -> None:
    commits, finding = checks.check_index("cornell", LEAVES)
    assert (commits, finding) == (2, None)
    wrong = IndexCommit(T0 + 7, 7, b"\1" * 32, MAPFN_ID, 3).leaf
    leaves = [*LEAVES[:7], wrong, *LEAVES[8:]]
    commits, finding = checks.check_index("cornell", leaves)
    assert commits == 1
    assert finding is not None
    evidence = dict(finding.evidence)
    assert evidence["commit_seq"] == "7"
    assert evidence["claimed_root"] == "01" * 32
    assert evidence["commit_leaf"] == wrong.decode()
    commits, finding = checks.check_index("cornell", [b"junk"])
    assert finding is not None
    assert "index replay" in finding.message


# -- verdicts ---------------------------------------------------------------------------


def test_verdicts_and_exit_status() -> None:
    report = AuditReport("test", {o: OrgAudit(o) for o in ("a", "b", "c")})
    assert report.exit_status() == EXIT_OK
    report.add(Finding("b", "unreachable", "reach", "down"))
    assert report.verdicts() == {"a": "ok", "b": "unreachable", "c": "ok"}
    assert report.exit_status() == EXIT_UNREACHABLE
    report.add(Finding.wrong("b", "entry", "bad"))
    report.add(Finding.wrong("c", "entry", "bad"))
    assert report.verdicts() == {"a": "ok", "b": "wrong", "c": "wrong"}
    assert report.exit_status() == EXIT_WRONG
    assert report.to_json()["exit_status"] == EXIT_WRONG
    with pytest.raises(UsageError):
        Finding("a", "meh", "x", "y")


def test_the_same_finding_is_kept_once() -> None:
    report = AuditReport("test", {"a": OrgAudit("a")})
    report.extend(
        [Finding.wrong("a", "fork", "x", note="n"), Finding.wrong("a", "fork", "x", note="n")]
    )
    report.add(Finding.wrong("a", "fork", "x", note="other"))
    assert len(report.findings) == 2
