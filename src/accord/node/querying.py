"""Verifiable queries on the node: ``POST /v1/query`` answers an ``accord-bundle/v1``
proof bundle (docs/bundles.md) at the latest cosigned checkpoint, or the one asked.

The checkpoint must end in an index-commit leaf whose index the node still holds
(the last ``accord.node.indexing.HISTORY`` commits); "cosigned" means at least the
consortium's ``witness.k`` cosignatures by the other members (0 for a lone node).
"""

from __future__ import annotations

from typing import Any, Final

from accord.errors import NotFoundError, ShreddedError, UsageError
from accord.index.bundle import (
    Bundle,
    BundleRecord,
    Policy,
    QuerySpec,
    build_bundle,
    needed_postings,
    parse_time,
    prove_terms,
)
from accord.node.service import Node
from accord.note import Note, Verifier
from accord.records import IndexCommit, parse_leaf

__all__ = ["DEFAULT_PAGE_SIZE", "answer_query", "parse_query", "process_query"]

DEFAULT_PAGE_SIZE: Final = 100
_RECENT: Final = 256


def parse_query(body: Any) -> tuple[QuerySpec, int | None]:
    """The request body: a query (bundle.QuerySpec JSON, times in ms or ISO 8601, page
    size defaulting to 100 when a page is asked) and an optional checkpoint ``size``."""
    if not isinstance(body, dict):
        raise UsageError('the body must be {"kind": ..., <parameters>, "from", "to", ...}')
    body = dict(body)
    size = body.pop("size", None)
    if size is not None and (type(size) is not int or size < 1):
        raise UsageError("size must be a positive checkpoint size")
    for name in ("from", "to"):
        body[name] = parse_time(body.get(name), name)
    if body.get("page") is not None and body.get("page_size") is None:
        body["page_size"] = DEFAULT_PAGE_SIZE
    return QuerySpec.from_json(body), size


def _witness_names(node: Node) -> tuple[set[str], int]:
    if node.consortium is None:
        return set(), 0
    names = {Verifier.parse(m.witness_key).name for m in node.consortium.witnesses_for(node.org)}
    return names, node.consortium.witness_k


def _checkpoint(node: Node, size: int | None) -> tuple[int, str, IndexCommit]:
    names, k = _witness_names(node)
    if size is not None:
        note = node.log.checkpoint(size)
        if note is None:
            raise NotFoundError(f"no checkpoint was signed at size {size}")
        candidates = [(size, note)]
    else:
        candidates = node.log.recent_checkpoints(_RECENT)
    held = set(node.index.held_sizes())
    for n, note in candidates:
        cosigners = {s.name for s in Note.parse(note).signatures if s.name in names}
        leaf = parse_leaf(node.log.entry(n - 1)) if n > 0 else None
        if len(cosigners) < k or not isinstance(leaf, IndexCommit):
            continue
        if leaf.covers_size not in held:
            if size is not None:
                raise NotFoundError(
                    f"the checkpoint at size {size} is too old: the node proves against its "
                    f"last {len(held)} index commits"
                )
            break
        return n, note, leaf
    raise NotFoundError(
        f"no checkpoint with {k} cosignature(s) at an index commit the node still holds"
        + ("" if size is None else f" (size {size})")
    )


def _record(node: Node, seq: int) -> BundleRecord:
    raw = node.log.entry(seq)
    leaf = parse_leaf(raw)
    if isinstance(leaf, IndexCommit):  # pragma: no cover (commits have no keys)
        raise NotFoundError(f"entry {seq} is an index commit")
    body: str | None = None
    try:
        _, _, principal = node.record_row(leaf.body_hash)
        if principal is not None:
            body = node.body(leaf.body_hash, principal).decode("utf-8")
    except ShreddedError:
        body = None
    # a record with a body carries no header: the verifier rebuilds it (docs/bundles.md 2)
    if body is None:
        return BundleRecord(raw.decode("ascii"), None)
    return BundleRecord(None, body)


def answer_query(node: Node, query: QuerySpec, size: int | None = None) -> Bundle:
    """The bundle for ``query`` at the latest cosigned checkpoint (or at ``size``)."""
    n, note, commit = _checkpoint(node, size)
    commit_proof = node.log.inclusion_proof(n - 1, n)
    index_key = node._keys().index_key
    policy = Policy(node.config.policy.skew_ms, node.config.policy.lateness_ms)
    with node.index.lock:
        view = node.index.state.view(commit.covers_size)
        keys, proofs, driver, page, late = prove_terms(
            view, node.index.readers(), query, policy, index_key
        )
    wanted = needed_postings(query, policy, proofs[driver], None if late is None else late[1])
    records = {p.seq: _record(node, p.seq) for p in wanted}
    return build_bundle(
        query=query,
        policy=policy,
        checkpoint=note,
        commit_leaf=commit.format(),
        commit_proof=commit_proof,
        keys=keys,
        proofs=proofs,
        driver=driver,
        page=page,
        late=late,
        records=records,
    )


def process_query(node: Node, body: Any) -> str:
    """``POST /v1/query``: the bundle's canonical JSON text."""
    query, size = parse_query(body)
    return answer_query(node, query, size).format()
