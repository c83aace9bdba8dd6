"""A small HTTP client for one node (httpx). Every error answer becomes its AccordError."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx

from accord import errors as E
from accord.encoding import b64encode
from accord.records import SignedStatement

__all__ = ["NodeClient", "error_from_response"]

_BY_CODE: dict[str, type[E.AccordError]] = {
    cls.code: cls
    for cls in (
        E.UsageError,
        E.AuthError,
        E.ForbiddenError,
        E.NotFoundError,
        E.ShreddedError,
        E.VerificationError,
        E.RootMismatchError,
        E.BadProofError,
        E.BadSignatureError,
        E.UnknownKeyError,
        E.UnsupportedAlgorithmError,
        E.QuorumNotMetError,
        E.BadShareError,
        E.MalformedError,
        E.TooLargeError,
        E.ConflictError,
        E.SealedError,
        E.StoreError,
        E.NetworkError,
    )
}


def error_from_response(response: httpx.Response) -> E.AccordError:
    """The AccordError an error answer stands for (same class, code, message and details)."""
    try:
        body = response.json()["error"]
        code, message = str(body["code"]), str(body["message"])
        details = dict(body.get("details") or {})
    except (ValueError, KeyError, TypeError, AttributeError):
        text = response.text[:300]
        return E.NetworkError(f"HTTP {response.status_code} from {response.url}: {text}")
    cls = _BY_CODE.get(code)
    if cls is None:
        if response.status_code == 422:
            cls = E.VerificationError
        elif 400 <= response.status_code < 500:
            cls = E.UsageError
        else:
            cls = E.NetworkError
    # Bypass subclass constructors: the answer already carries message and details.
    found = cls.__new__(cls)
    E.AccordError.__init__(found, message, **details)
    if isinstance(found, E.ConflictError):
        found.size = details.get("size")
    if isinstance(found, E.MalformedError):
        found.what = str(details.get("what", "input"))
    return found


class NodeClient:
    """``NodeClient(url, token)``: the node's /v1 API as Python calls."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        self._http = httpx.Client(base_url=self.url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> NodeClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise E.NetworkError(f"cannot reach {self.url}{path}: {exc}") from None
        if response.status_code >= 400:
            raise error_from_response(response)
        return response

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        return self.request(method, path, **kwargs).json()

    # -- the API -------------------------------------------------------------------

    def health(self) -> Any:
        return self.json("GET", "/v1/health")

    def checkpoint(self) -> str:
        return self.request("GET", "/v1/checkpoint").text

    def submit(self, statements: Sequence[SignedStatement]) -> Any:
        body = b'{"statements":[' + b",".join(s.body for s in statements) + b"]}"
        return self.json(
            "POST", "/v1/statements", content=body, headers={"Content-Type": "application/json"}
        )

    def record(self, record: str) -> Any:
        return self.json("GET", f"/v1/records/{record}")

    def record_body(self, record: str) -> Any:
        """The record's signed statement (ShreddedError, 410, once shredded)."""
        return self.json("GET", f"/v1/records/{record}/body")

    def shred(self, patient: str) -> Any:
        """Destroy the patient's data keys at this node (admin token; irreversible)."""
        return self.json("POST", "/v1/keys/shred", json={"principal": patient})

    def rotate(self, patient: str) -> Any:
        """A new data key version for the patient's new records (admin token)."""
        return self.json("POST", "/v1/keys/rotate", json={"principal": patient})

    def key_actions(self) -> Any:
        return self.json("GET", "/v1/keys/actions")

    def certificate(self, record: str) -> Any:
        """The record's certificate (404 while it is pending); check it with
        :func:`accord.client.certificates.check_certificate` before trusting it."""
        return self.json("GET", f"/v1/records/{record}/certificate")

    def entries(self, start: int, end: int) -> list[str]:
        out: list[str] = self.json("GET", "/v1/entries", params={"start": start, "end": end})[
            "entries"
        ]
        return out

    def inclusion(
        self, *, index: int | None = None, record: str | None = None, size: int | None = None
    ) -> Any:
        params: dict[str, Any] = {}
        if index is not None:
            params["index"] = index
        if record is not None:
            params["record"] = record
        if size is not None:
            params["size"] = size
        return self.json("GET", "/v1/proofs/inclusion", params=params)

    def consistency(self, size1: int, size2: int | None = None) -> Any:
        params: dict[str, Any] = {"size1": size1}
        if size2 is not None:
            params["size2"] = size2
        return self.json("GET", "/v1/proofs/consistency", params=params)

    def query(self, query: dict[str, Any]) -> str:
        """``POST /v1/query``: a proof bundle's JSON text (docs/bundles.md); check it with
        :func:`accord.verify.verify_bundle` before trusting it."""
        return self.request("POST", "/v1/query", json=query).text

    def sql(self, query: str) -> Any:
        return self.json("POST", "/v1/sql", json={"sql": query})

    def unseal(self, share_text: str) -> Any:
        return self.json("POST", "/v1/unseal", content=share_text.encode("utf-8"))

    def seal(self) -> Any:
        return self.json("POST", "/v1/seal")

    def add_source(self, name: str, public_key: bytes) -> Any:
        return self.json(
            "POST", "/v1/sources", json={"name": name, "public_key": b64encode(public_key)}
        )

    def revoke_source(self, name: str) -> Any:
        return self.json("POST", f"/v1/sources/{name}/revoke")
