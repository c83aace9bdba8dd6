"""Statements, schemas, codes, record headers and MapFn v1 (pure; docs/formats.md 1-5).

The node's path for each submitted statement::

    signed = SignedStatement.parse(data)          # strict JSON, complete validation
    signed.verify(source_public_key)              # BadSignatureError
    header = build_header(signed, log_ts=next_log_ts(now, last),
                          index_key=index_key, lateness_ms=lateness)
    header.leaf                                   # the log leaf bytes
    signed.body, signed.record_hash               # stored apart, hashed into the leaf
"""

from accord.records.codes import ancestors, descendants, is_a, is_tpo
from accord.records.header import (
    INDEX_COMMIT,
    Header,
    IndexCommit,
    Record,
    build_header,
    check_record,
    make_record,
    next_log_ts,
    parse_leaf,
)
from accord.records.mapfn import (
    MAPFN_ID,
    index_pairs,
    is_late,
    key_id,
    key_ids,
    mapfn,
)
from accord.records.pseudonym import pseudonym
from accord.records.schemas import (
    SCHEMAS,
    Access,
    Accessor,
    Authorization,
    Care,
    Clinician,
    Consent,
    Decision,
    Disclosure,
    FhirOriginal,
    Fields,
    Grantee,
    Period,
    Principal,
    Reviewer,
    SourceChange,
)
from accord.records.statement import (
    STATEMENT_DOMAIN,
    SignedStatement,
    Statement,
    sign_statement,
)
from accord.records.values import MAX_BODY_BYTES, MAX_ID_CHARS

__all__ = [
    "INDEX_COMMIT",
    "MAPFN_ID",
    "MAX_BODY_BYTES",
    "MAX_ID_CHARS",
    "SCHEMAS",
    "STATEMENT_DOMAIN",
    "Access",
    "Accessor",
    "Authorization",
    "Care",
    "Clinician",
    "Consent",
    "Decision",
    "Disclosure",
    "FhirOriginal",
    "Fields",
    "Grantee",
    "Header",
    "IndexCommit",
    "Period",
    "Principal",
    "Record",
    "Reviewer",
    "SignedStatement",
    "SourceChange",
    "Statement",
    "ancestors",
    "build_header",
    "check_record",
    "descendants",
    "index_pairs",
    "is_a",
    "is_late",
    "is_tpo",
    "key_id",
    "key_ids",
    "make_record",
    "mapfn",
    "next_log_ts",
    "parse_leaf",
    "pseudonym",
    "sign_statement",
]
