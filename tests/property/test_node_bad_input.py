"""Random and mutated statements posted to a real node: the log grows by exactly the valid ones,
and every refusal is a 4xx in the one JSON error shape."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accord.errors import AccordError
from accord.records import SignedStatement
from tests.integration.nodes import RunningNode, access_statement, generate_source_key, running_node

_FIELDS = ["accessor", "accessor_org", "patient", "record_ref", "action", "purpose", "outcome"]
_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
)


@st.composite
def submissions(draw: st.DrawFn, rn: RunningNode) -> bytes:
    """One submitted body: valid, or mutated in one of several ways."""
    kind = draw(
        st.sampled_from(
            ["valid", "flip", "field", "envelope", "sig", "stranger", "random", "truncate"]
        )
    )
    statement = access_statement(patient=f"MPI-{draw(st.integers(0, 50))}")
    signed = rn.sign(statement)
    value: Any = signed.to_json()
    body = signed.body
    if kind == "valid":
        pass
    elif kind == "flip":
        raw = bytearray(body)
        pos = draw(st.integers(0, len(raw) - 1))
        raw[pos] ^= 1 << draw(st.integers(0, 7))
        return b'{"statements":[' + bytes(raw) + b"]}"
    elif kind == "field":
        value["statement"]["fields"][draw(st.sampled_from(_FIELDS))] = draw(_JUNK)
        body = json.dumps(value).encode()
    elif kind == "envelope":
        key = draw(
            st.sampled_from(["v", "schema", "id", "org", "source", "event_ts", "principals"])
        )
        value["statement"][key] = draw(_JUNK)
        body = json.dumps(value).encode()
    elif kind == "sig":
        value["sig"] = draw(st.sampled_from(["", "AAAA", value["sig"][::-1], "x" * 88]))
        body = json.dumps(value).encode()
    elif kind == "stranger":
        body = generate_source_key("cornell", "ehr").sign(statement).body
    elif kind == "random":
        return draw(st.binary(max_size=200))
    elif kind == "truncate":
        body = body[: draw(st.integers(0, len(body) - 1))]
    return b'{"statements":[' + body + b"]}"


def _locally_valid(body: bytes, rn: RunningNode) -> bool:
    """Oracle for flipped bodies: a flip that still parses and verifies is a valid statement."""
    try:
        items = json.loads(body)["statements"]
        signed = SignedStatement.from_json(items[0])
        signed.verify(rn.source.private.public_key())
    except (AccordError, ValueError, KeyError, TypeError, IndexError):
        return False
    st_ = signed.statement
    return st_.org == "cornell" and st_.source == "ehr" and st_.event_ts <= time.time() * 1000


def test_log_grows_by_exactly_the_valid_statements(tmp_path: Path) -> None:
    with running_node(tmp_path, str(tmp_path / "accord.db")) as rn:
        client = httpx.Client(
            base_url=rn.url, headers={"Authorization": f"Bearer {rn.tokens['source']}"}
        )
        counts = {"valid": 0}
        start = rn.node.log.size

        @settings(
            max_examples=150,
            deadline=None,
            suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
        )
        @given(st.data())
        def check(data: st.DataObject) -> None:
            body = data.draw(submissions(rn))
            before = rn.node.log.size
            response = client.post(
                "/v1/statements", content=body, headers={"Content-Type": "application/json"}
            )
            if response.status_code == 200:
                assert _locally_valid(body, rn), body
                result = response.json()
                if result["appended"]:
                    counts["valid"] += 1
                    # one record plus the index-commit leaf when the index is on
                    assert rn.node.log.size > before
                else:
                    assert rn.node.log.size == before
            else:
                assert 400 <= response.status_code < 500, response.text
                error = response.json()["error"]
                assert set(error) == {"code", "message", "details"}
                assert rn.node.log.size == before

        check()
        client.close()
        appended = rn.node.db.fetchone("SELECT COUNT(*) FROM records WHERE schema = 'ehr.access'")
        assert appended == (counts["valid"],)
        assert rn.node.log.size >= start + counts["valid"]
