"""`accord checkpoint` (the installed CLI, in a subprocess) against real nodes and against a
node that serves a lying witness's cosignature: it is not counted, and k is then not met."""

from __future__ import annotations

import json
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from accord.client.checkpoints import fetch_checkpoint
from accord.errors import QuorumNotMetError
from accord.note import Checkpoint, Note, Signature
from tests.e2e.test_cli_node import accord
from tests.integration.nodes import running_consortium, serve_app
from tests.integration.witness_helpers import consortium_of, submit, wait_for

FAST = {"checkpoint_interval_ms": 50, "witness_retry_ms": 50, "witness_retry_max_ms": 200}


def _lying_server(note: str) -> Starlette:
    """A stand-in for a member node that serves ``note`` as its checkpoint."""

    async def checkpoint(request: Request) -> PlainTextResponse:
        return PlainTextResponse(note)

    return Starlette(routes=[Route("/v1/checkpoint", checkpoint)])


def test_accord_checkpoint_counts_only_honest_cosignatures(tmp_path: Path) -> None:
    with running_consortium(tmp_path, witness_k=2, gossip_interval_ms=0, **FAST) as c:
        cornell, mskcc = c["cornell"], c["mskcc"]
        consortium = consortium_of(cornell)
        size = submit(cornell, 2)

        def served() -> Note | None:
            verified = None
            try:
                verified = fetch_checkpoint(cornell.url, consortium)
            except QuorumNotMetError:
                return None
            return verified.note if verified.checkpoint.size >= size else None

        honest = wait_for(served, "cornell's checkpoint with two cosignatures")
        file = str(c.consortium_file)
        out = accord("checkpoint", "--url", cornell.url, "--consortium", file, "--json").stdout
        report = json.loads(out)
        assert (report["org"], report["size"], report["k"]) == ("cornell", size, 2)
        assert len(report["witnesses"]) == 2
        assert report["refused"] == []

        # mskcc lies: its real witness key, but over another checkpoint of cornell's log.
        keys = mskcc.node.keys
        assert keys is not None
        cp = Checkpoint.parse(honest.text)
        other = Checkpoint(cp.origin, cp.size - 1, cornell.node.log.root_hash(cp.size - 1))
        lie: Signature = keys.witness.cosign(other, 1_800_000_000)
        mine = keys.witness.verifier()
        kept = [s for s in honest.signatures if (s.name, s.key_id) != (mine.name, mine.key_id)]
        lying = Note(honest.text, (*kept, lie)).format()
        with serve_app(_lying_server(lying)) as url:
            refused = accord("checkpoint", "--url", url, "--consortium", file, check=False)
            assert refused.returncode == 1
            assert "quorum_not_met" in refused.stderr
            assert mine.key_ref in refused.stderr  # the refused line is named
            one = accord("checkpoint", "--url", url, "--consortium", file, "--k", "1")
            assert "not counted" in one.stdout
            assert f"size {size}" in one.stdout
