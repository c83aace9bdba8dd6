"""Hostile bytes to a real node's witness endpoints: mutated add-checkpoint requests of another
member's log and garbage gossip never get a 5xx, never move the state backwards, never record
evidence (a mutation breaks the log's signature or the proof, which proves nothing), and the
honest log is still cosigned afterwards."""

from __future__ import annotations

from pathlib import Path

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.node.witness_gossip import GOSSIP_PATH
from accord.quorum import new_nonce, sign_request
from tests.integration.nodes import running_consortium
from tests.integration.witness_helpers import Branch, add_checkpoint, submit, wait_for

_ALLOWED = {200, 400, 403, 404, 409, 413, 422}


def test_mutated_add_checkpoint_and_gossip(tmp_path: Path) -> None:
    with running_consortium(
        tmp_path, ("cornell", "nyu"), gossip_interval_ms=0, checkpoint_interval_ms=50
    ) as c:
        cornell, nyu = c["cornell"], c["nyu"]
        size = submit(nyu, 3)
        wait_for(
            lambda: (
                (s := cornell.node.witnessing.store.read_state(nyu.node.origin)) is not None
                and s.size == size
            ),
            "cornell to cosign nyu's log",
        )
        # Seeds: nyu's real checkpoint re-offered (200), size discovery (409), and a request
        # carrying real proof lines from an older size (409): what the mutations start from.
        real = Branch(nyu, size, 0, "real")
        bodies = [real.request(size), real.request(0), real.request(size - 2)]
        assert [add_checkpoint(cornell, b).status_code for b in bodies] == [200, 409, 409]
        store = cornell.node.witnessing.store

        @settings(
            max_examples=120,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(st.data())
        def check(data: st.DataObject) -> None:
            body = bytearray(data.draw(st.sampled_from(bodies)))
            kind = data.draw(st.sampled_from(["flip", "truncate", "random", "splice"]))
            if kind == "flip":
                pos = data.draw(st.integers(0, len(body) - 1))
                body[pos] ^= 1 << data.draw(st.integers(0, 7))
            elif kind == "truncate":
                body = body[: data.draw(st.integers(0, len(body) - 1))]
            elif kind == "random":
                body = bytearray(data.draw(st.binary(max_size=400)))
            else:
                at = data.draw(st.integers(0, len(body)))
                body[at:at] = data.draw(st.binary(min_size=1, max_size=20))
            before = store.read_state(nyu.node.origin)
            response = add_checkpoint(cornell, bytes(body))
            assert response.status_code in _ALLOWED, response.text
            after = store.read_state(nyu.node.origin)
            assert before is not None
            assert after is not None
            assert after.size >= before.size
            if response.status_code != 200:
                assert after == before
            assert not store.is_halted(nyu.node.origin)

        check()
        assert store.evidence() == ()

        # Garbage gossip from a real member: 400, nothing recorded.
        assert nyu.node.keys is not None
        url = f"{cornell.url}{GOSSIP_PATH}"

        @settings(
            max_examples=40,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(st.binary(max_size=300))
        def gossip(payload: bytes) -> None:
            headers = sign_request(
                nyu.node.keys.log.ed25519(),  # type: ignore[union-attr]
                org="nyu",
                ts=nyu.node.clock_ms(),
                nonce=new_nonce(),
                method="POST",
                path=GOSSIP_PATH,
                body=payload,
            )
            response = httpx.post(url, content=payload, headers=headers, timeout=10)
            assert response.status_code == 400, response.text

        gossip()
        assert store.evidence() == ()
        # The honest log is still cosigned after all that.
        later = submit(nyu)
        wait_for(
            lambda: (s := store.read_state(nyu.node.origin)) is not None and s.size == later,
            "cornell to cosign nyu's next checkpoint",
        )
