"""The skeptic's verifier of proof bundles (pure; docs/bundles.md).

``verify_bundle(text, consortium, index_key)`` returns a :class:`VerifiedAnswer` or
raises VerificationError with the precise reason; ``verify_pages`` checks a paginated
answer as a whole; ``omit_record`` builds the bundle a lying node would send.
"""

from accord.verify.verifier import (
    DEFAULT_POLICY,
    VerifiedAnswer,
    VerifiedRecord,
    omit_record,
    verify_bundle,
    verify_pages,
)

__all__ = [
    "DEFAULT_POLICY",
    "VerifiedAnswer",
    "VerifiedRecord",
    "omit_record",
    "verify_bundle",
    "verify_pages",
]
