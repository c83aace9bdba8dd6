"""The verifiable index (pure): posting logs and the compact sparse Merkle map.

verifiable-index.md sections 5-6. Per key, an RFC 9162 *posting log* of 48-byte
postings (:mod:`~accord.index.postings`); a compact sparse Merkle map from key
id to (posting size, posting root) (:mod:`~accord.index.smt`,
:mod:`~accord.index.mapproof`); the batch builder (:mod:`~accord.index.builder`);
per-key query proofs and their verifier (:mod:`~accord.index.query`); and an
in-memory posting store (:mod:`~accord.index.memory`). Storage reaches the core
through narrow callables; docs/index.md says what a SQL store must do.
"""

from accord.index.builder import (
    DEFAULT_HISTORY,
    BatchResult,
    IndexEntry,
    IndexState,
    IndexView,
    KeyRow,
    NodeRow,
    PostingRow,
)
from accord.index.mapproof import (
    MapLeaf,
    MapProof,
    MapValue,
    map_proof_from_json,
    parse_map_proof,
    verify_map_proof,
)
from accord.index.memory import MemoryPostingStore
from accord.index.postings import (
    POSTING_SIZE,
    Posting,
    PostingLocator,
    PostingNodeReader,
    PostingReader,
    PostingReaders,
    parse_posting,
    posting_inclusion_proof,
    posting_range_proof,
    posting_root,
)
from accord.index.query import (
    KeyAnswer,
    KeyProof,
    Page,
    Query,
    Window,
    key_proof_from_json,
    parse_key_proof,
    prove_key,
    verify_key_proof,
)
from accord.index.smt import EMPTY_NODE, SparseMap, map_leaf_hash, map_value_hash

__all__ = [
    "DEFAULT_HISTORY",
    "EMPTY_NODE",
    "POSTING_SIZE",
    "BatchResult",
    "IndexEntry",
    "IndexState",
    "IndexView",
    "KeyAnswer",
    "KeyProof",
    "KeyRow",
    "MapLeaf",
    "MapProof",
    "MapValue",
    "MemoryPostingStore",
    "NodeRow",
    "Page",
    "Posting",
    "PostingLocator",
    "PostingNodeReader",
    "PostingReader",
    "PostingReaders",
    "PostingRow",
    "Query",
    "SparseMap",
    "Window",
    "key_proof_from_json",
    "map_leaf_hash",
    "map_proof_from_json",
    "map_value_hash",
    "parse_key_proof",
    "parse_map_proof",
    "parse_posting",
    "posting_inclusion_proof",
    "posting_range_proof",
    "posting_root",
    "prove_key",
    "verify_key_proof",
    "verify_map_proof",
]
