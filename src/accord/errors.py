"""One error hierarchy for all of Accord.

Every error raised through the public API is an :class:`AccordError`. The
branches say who is at fault, and each class carries the HTTP status that the
node answers with (``status``), a stable machine-readable ``code``, and whether
retrying may help (``retryable``). ``details`` holds JSON-ready extra facts
(hex strings, sizes), never keys or record bodies.

The one JSON error shape, produced by :meth:`AccordError.to_dict`::

    {"error": {"code": "root_mismatch", "message": "...", "details": {...}}}
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AccordError",
    "AuthError",
    "BadProofError",
    "BadShareError",
    "BadSignatureError",
    "ConflictError",
    "ForbiddenError",
    "MalformedError",
    "NetworkError",
    "NotFoundError",
    "QuorumNotMetError",
    "RootMismatchError",
    "SealedError",
    "ShreddedError",
    "StoreError",
    "TooLargeError",
    "UnknownKeyError",
    "UnsupportedAlgorithmError",
    "UsageError",
    "VerificationError",
]


class AccordError(Exception):
    """Root of every error Accord raises on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "internal"
    retryable: ClassVar[bool] = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        """The one JSON error shape used by every endpoint."""
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}


# -- the caller is at fault (4xx) -------------------------------------------


class UsageError(AccordError):
    """The request or command is well-formed but asks for something invalid."""

    status = 400
    code = "usage"


class MalformedError(AccordError):
    """Input that does not parse. ``what`` names the format (one error per format)."""

    status = 400
    code = "malformed"

    def __init__(self, what: str, message: str, **details: Any) -> None:
        super().__init__(f"malformed {what}: {message}", what=what, **details)
        self.what = what


class TooLargeError(MalformedError):
    """Input over a size limit (a batch, a body, a note)."""

    status = 413
    code = "too_large"


class AuthError(AccordError):
    """No credentials, or credentials that are not valid."""

    status = 401
    code = "unauthorized"


class ForbiddenError(AccordError):
    """Valid credentials that do not allow this action."""

    status = 403
    code = "forbidden"


class NotFoundError(AccordError):
    status = 404
    code = "not_found"


class ShreddedError(NotFoundError):
    """The data key that encrypted this body was destroyed (crypto-shredding): gone for good."""

    status = 410
    code = "shredded"


class ConflictError(AccordError):
    """A compare-and-swap lost: the state moved. ``size`` is the size now known."""

    status = 409
    code = "conflict"

    def __init__(self, message: str, size: int | None = None, **details: Any) -> None:
        if size is not None:
            details["size"] = size
        super().__init__(message, **details)
        self.size = size


# -- something does not verify (422) ------------------------------------------


class VerificationError(AccordError):
    """A proof, signature, certificate or bundle does not verify."""

    status = 422
    code = "verification_failed"


class RootMismatchError(VerificationError):
    """A recomputed root differs from the expected one. Carries both."""

    code = "root_mismatch"

    def __init__(self, message: str, expected: bytes, computed: bytes, **details: Any) -> None:
        super().__init__(message, expected=expected.hex(), computed=computed.hex(), **details)
        self.expected = expected
        self.computed = computed


class BadProofError(VerificationError):
    """A proof of the wrong shape: wrong length, bad indices, bad sizes."""

    code = "bad_proof"


class BadSignatureError(VerificationError):
    code = "bad_signature"


class UnknownKeyError(VerificationError):
    code = "unknown_key"


class UnsupportedAlgorithmError(VerificationError):
    """A recognised signature algorithm that Accord does not implement (e.g. ML-DSA-44)."""

    code = "unsupported_algorithm"


class QuorumNotMetError(VerificationError):
    code = "quorum_not_met"


class BadShareError(VerificationError):
    """A key share that is not one of this node's: foreign split, wrong or corrupted bytes."""

    code = "bad_share"


# -- Accord's side: storage, network, state (5xx) -------------------------------


class SealedError(AccordError):
    """The node is sealed: it cannot append, sign or decrypt until unsealed."""

    status = 503
    code = "sealed"


class StoreError(AccordError):
    """The database failed. Usually retryable."""

    status = 503
    code = "store"
    retryable = True


class NetworkError(AccordError):
    """A peer could not be reached or answered badly. Retryable."""

    status = 502
    code = "network"
    retryable = True
