"""Gossip between the members' witnesses: the sending loop and the log-proof question.

Every ``gossip_interval_ms`` (node policy; 0 turns the background loop off)
a node sends the latest checkpoint its witness cosigned for every log it
follows to every other member, as a node-signed ``POST /v1/witness/gossip``
(docs/witness.md section 6; formats.md section 7). The receiver compares each
with its own (:func:`accord.witness.process_gossip`), asking the log's own node
for a consistency proof when the sizes differ (:func:`log_consistency_proof`),
and records ``gossip-fork`` evidence for a split view.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Final

from accord.client.http import error_from_response
from accord.encoding import hex32
from accord.errors import AccordError, MalformedError, NetworkError
from accord.node.peers import Peers
from accord.note import Checkpoint, Note
from accord.quorum import Consortium
from accord.witness import GossipMessage
from accord.witness.gossip import MAX_GOSSIP_NOTES

__all__ = ["GOSSIP_PATH", "GossipLoop", "gossip_messages", "log_consistency_proof"]

_log = logging.getLogger("accord.witness.gossip")

GOSSIP_PATH: Final = "/v1/witness/gossip"


def log_consistency_proof(
    peers: Peers, consortium: Consortium, origin: str, size1: int, size2: int
) -> list[bytes] | None:
    """Ask the node of the log ``origin`` for its consistency proof from ``size1`` to ``size2``.

    Returns the proof; None when the log answered that it cannot give one (a
    4xx answer: e.g. a size beyond its tree). Raises NetworkError when it could
    not be asked or answered nonsense (5xx, unreachable, a malformed body), so
    that the caller concludes nothing.
    """
    org = next((m.org for m in consortium.members if m.origin == origin), None)
    if org is None:
        return None
    path = f"/v1/proofs/consistency?size1={size1}&size2={size2}"
    response = peers.request(org, "GET", path, signed=False)
    if 400 <= response.status_code < 500:
        return None
    if response.status_code != 200:
        raise NetworkError(f"{org} answered {response.status_code} for a consistency proof")
    try:
        body = response.json()
        if body["size1"] != size1 or body["size2"] != size2:
            raise MalformedError("consistency proof", "sizes differ from the question")
        proof = body["proof"]
        if not isinstance(proof, list) or len(proof) > 128:
            raise MalformedError("consistency proof", "proof must be a list of hashes")
        return [hex32(h, "consistency proof") for h in proof]
    except (ValueError, KeyError, TypeError, MalformedError) as exc:
        raise NetworkError(f"{org} answered a malformed consistency proof: {exc}") from None


def gossip_messages(notes: Sequence[Note], recipient_origin: str) -> list[bytes]:
    """The gossip bodies for one recipient: every note but those of its own log, in
    messages of at most MAX_GOSSIP_NOTES notes."""
    mine = []
    for note in notes:
        try:
            if Checkpoint.parse(note.text).origin != recipient_origin:
                mine.append(note)
        except AccordError:
            continue
    return [
        GossipMessage(tuple(mine[i : i + MAX_GOSSIP_NOTES])).format().encode("utf-8")
        for i in range(0, len(mine), MAX_GOSSIP_NOTES)
    ]


class GossipLoop:
    """Sends this witness's heads to every other member (a background thread, or one round).

    ``latest_notes()`` gives the notes to send (the witness store's); requests
    are signed with the node's log key through ``peers`` (a sealed node skips
    its rounds: SealedError).
    """

    def __init__(
        self,
        *,
        peers: Peers,
        consortium: Consortium,
        latest_notes: Callable[[], Sequence[Note]],
        interval_s: float,
    ) -> None:
        self._peers = peers
        self._consortium = consortium
        self._latest_notes = latest_notes
        self._interval_s = interval_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None or self._interval_s <= 0 or not self._peers.others():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="accord-gossip", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.wait(self._interval_s):
            try:
                self.round()
            except Exception:
                _log.exception("gossip round failed; continuing")

    def round(self) -> dict[str, Any]:
        """Send one round to every other member; per org, its answers or the error."""
        notes = self._latest_notes()
        results: dict[str, Any] = {}
        for org in self._peers.others():
            origin = self._consortium.member(org).origin
            answers: list[Any] = []
            try:
                for body in gossip_messages(notes, origin):
                    response = self._peers.request(org, "POST", GOSSIP_PATH, body)
                    if response.status_code != 200:
                        raise error_from_response(response)
                    answers.extend(response.json()["outcomes"])
            except AccordError as exc:
                _log.info("gossip to %s failed: %s", org, exc.message)
                results[org] = exc
                continue
            except (ValueError, KeyError, TypeError) as exc:
                results[org] = NetworkError(f"{org} answered gossip with a malformed body: {exc}")
                continue
            for outcome in answers:
                if isinstance(outcome, dict) and outcome.get("status") == "evidence":
                    _log.warning("gossip: %s found a split view of %s", org, outcome.get("origin"))
            results[org] = answers
        return results
