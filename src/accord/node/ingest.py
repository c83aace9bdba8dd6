"""Checking submitted statements before they reach the sequencer.

Per statement, in this order (each failure names the statement by its position):
strict parse and schema validation (400); the statement's org must be this node's
(403); the source must be registered and not revoked (422 unknown key, 403
revoked); the source's Ed25519 signature (422); the event time may not be more
than the policy's skew ahead of the node's clock (400). A batch is all or
nothing: one bad statement refuses the whole batch, listing every bad one, and
nothing is appended.

Signature checks run on a thread pool (``cryptography`` releases the GIL), and
each body is encrypted under its principal's data key here, before sequencing,
so the single writer does as little as possible.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

from accord.errors import AccordError, ForbiddenError, TooLargeError, UsageError
from accord.node.sources import SourceRegistry
from accord.records import SignedStatement

__all__ = ["Prepared", "Validator", "refuse_batch"]

_CHUNK: Final = 128


@dataclass(frozen=True, slots=True)
class Prepared:
    """A statement ready to sequence: verified, with its body encrypted."""

    signed: SignedStatement
    principal: bytes
    blob: bytes
    #: The org whose node first logged it (this node's org for local submissions).
    origin_org: str


def refuse_batch(errors: Sequence[tuple[int, AccordError]], total: int) -> AccordError:
    """One error for a refused batch: the first failure, with every failure in its details."""
    first_index, first = errors[0]
    items = [{"index": i, **e.to_dict()["error"]} for i, e in errors]
    first.message = f"statement {first_index}: {first.message}"
    first.details = {
        **first.details,
        "refused": len(errors),
        "submitted": total,
        "items": items[:100],
    }
    return first


class Validator:
    """Checks statements for this node and prepares them (encrypting bodies)."""

    def __init__(
        self,
        *,
        org: str,
        registry: SourceRegistry,
        principal_of: Callable[[SignedStatement], bytes],
        encrypt: Callable[[bytes, bytes, bytes], bytes],
        clock_ms: Callable[[], int],
        skew_ms: int,
        max_batch: int,
        executor: ThreadPoolExecutor,
    ) -> None:
        self._org = org
        self._registry = registry
        self._principal_of = principal_of
        self._encrypt = encrypt
        self._clock_ms = clock_ms
        self._skew_ms = skew_ms
        self._max_batch = max_batch
        self._executor = executor

    def check(self, value: Any, now_ms: int) -> SignedStatement:
        """Validate one submitted statement (a parsed JSON value) from a source of this org."""
        signed = SignedStatement.from_json(value)
        st = signed.statement
        if st.org != self._org:
            raise ForbiddenError(
                f"this is {self._org}'s node; a statement of org {st.org!r} is submitted to "
                f"its own org's node",
                org=st.org,
            )
        if st.schema == "accord.source":
            raise ForbiddenError(
                "sources are registered through the admin API (`accord source add`), "
                "not submitted as statements"
            )
        signed.verify(self._registry.key_for(st.org, st.source))
        if st.event_ts > now_ms + self._skew_ms:
            ahead = (st.event_ts - now_ms) / 1000
            raise UsageError(
                f"event_ts is {ahead:.0f} s in the future, more than the allowed clock skew "
                f"of {self._skew_ms / 1000:.0f} s",
                event_ts=st.event_ts,
            )
        return signed

    def prepare(self, signed: SignedStatement, origin_org: str) -> Prepared:
        principal = self._principal_of(signed)
        blob = self._encrypt(principal, signed.record_hash, signed.body)
        return Prepared(signed, principal, blob, origin_org)

    def _check_chunk(
        self, values: Sequence[Any], offset: int, now_ms: int
    ) -> list[Prepared | tuple[int, AccordError]]:
        out: list[Prepared | tuple[int, AccordError]] = []
        for i, value in enumerate(values):
            try:
                out.append(self.prepare(self.check(value, now_ms), self._org))
            except AccordError as exc:
                out.append((offset + i, exc))
        return out

    def prepare_batch(self, values: Any) -> list[Prepared]:
        """Check a submitted batch; all prepared, or an AccordError naming every bad one."""
        if not isinstance(values, list) or not values:
            raise UsageError("`statements` must be a non-empty list of signed statements")
        if len(values) > self._max_batch:
            raise TooLargeError(
                "batch", f"{len(values)} statements, more than the limit of {self._max_batch}"
            )
        now_ms = self._clock_ms()
        chunks = [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]
        if len(chunks) == 1:
            results = self._check_chunk(values, 0, now_ms)
        else:
            futures = [
                self._executor.submit(self._check_chunk, chunk, n * _CHUNK, now_ms)
                for n, chunk in enumerate(chunks)
            ]
            results = [r for f in futures for r in f.result()]
        errors = [r for r in results if isinstance(r, tuple)]
        if errors:
            raise refuse_batch(errors, len(values))
        return [r for r in results if isinstance(r, Prepared)]
