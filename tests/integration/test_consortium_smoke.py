from pathlib import Path

from tests.integration.nodes import running_consortium


def test_three(tmp_path: Path) -> None:
    with running_consortium(tmp_path) as c:
        for org, rn in c.nodes.items():
            assert rn.client(None).health()["org"] == org
            assert rn.node.consortium is not None
        h = c["nyu"].node.peers.json("cornell", "GET", "/v1/health")
        assert h["org"] == "cornell"
