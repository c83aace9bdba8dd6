"""``run_audit``: fetch everything the skeptic needs from the members and run the checks.

The imperative shell of :mod:`accord.audit` (docs/audit.md): over HTTP through
:class:`accord.client.NodeClient`, nothing stored, every remote answer checked by the pure
functions of :mod:`accord.audit.checks` before anything is concluded from it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping
from typing import Any

from accord.audit import checks
from accord.audit.checks import Head, LogView
from accord.audit.findings import UNREACHABLE, AuditReport, Finding, OrgAudit
from accord.client.certificates import HttpLogs, check_certificate, check_in_logs
from accord.client.http import NodeClient
from accord.encoding import canonical, hex32
from accord.errors import AccordError, NetworkError, NotFoundError, UsageError
from accord.quorum import Consortium, Member
from accord.records import SignedStatement

__all__ = ["DEFAULT_SAMPLE", "LAST_ENTRIES", "run_audit"]

DEFAULT_SAMPLE = 64
#: The newest entries are always checked on top of the random sample.
LAST_ENTRIES = 4
_PAGE = 1000


class _Auditor:
    def __init__(
        self,
        consortium: Consortium,
        *,
        replay: bool,
        sample: int,
        certificates: int,
        tokens: Mapping[str, str],
        timeout: float,
        rng: random.Random,
        wait_s: float,
    ) -> None:
        self.consortium = consortium
        self.replay = replay
        self.sample = sample
        self.certificates = certificates
        self.tokens = dict(tokens)
        self.rng = rng
        self.wait_s = wait_s
        self.report = AuditReport(
            consortium.id, {m.org: OrgAudit(m.org) for m in consortium.members}
        )
        self.clients = {
            m.org: NodeClient(m.url, self.tokens.get(m.org), timeout=timeout)
            for m in consortium.members
        }
        self.unreachable: set[str] = set()
        self.views: dict[str, LogView] = {}
        self.latest: dict[str, LogView] = {}
        self.heads: dict[str, list[Head]] = {}

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    # -- helpers ---------------------------------------------------------------------------

    def _unreachable(self, org: str, exc: AccordError) -> None:
        if org not in self.unreachable:
            self.unreachable.add(org)
            self.report.add(
                Finding(
                    org, UNREACHABLE, "reach", f"{org}'s node could not be asked: {exc.message}"
                )
            )

    def _get(self, org: str, path: str, **params: Any) -> Any:
        return self.clients[org].request("GET", path, params=params or None)

    def _texts(self, org: str, paths: tuple[str, ...], check: str, what: str) -> list[str] | None:
        """The bodies of GET ``paths`` from ``org``'s node, or None once recorded why: the
        node unreachable, or (any other refusal) a finding of ``check``."""
        try:
            return [self._get(org, path).text for path in paths]
        except NetworkError as exc:
            self._unreachable(org, exc)
        except AccordError as exc:
            self.report.add(Finding.wrong(org, check, f"{what}: {exc}"))
        return None

    # -- 1. checkpoints --------------------------------------------------------------------

    def checkpoints(self) -> None:
        for member in self.consortium.members:
            org = member.org
            texts = self._texts(
                org,
                ("/v1/checkpoint", "/v1/checkpoint/latest"),
                "checkpoint",
                "its node serves no checkpoint",
            )
            if texts is None:
                continue
            served, latest = texts
            view, findings = checks.check_checkpoint(member, served, self.consortium)
            self.report.extend(findings)
            if view is None:
                continue
            self.views[org] = view
            summary = self.report.orgs[org]
            summary.checkpoint_size = view.checkpoint.size
            summary.checkpoint_root = view.checkpoint.root_hash.hex()
            summary.cosigned_by = view.cosigned_by
            if latest != served:
                # Only the log signature matters here: it is compared with the heads.
                lview, lfindings = checks.check_checkpoint(
                    member, latest, _no_witnesses(self.consortium)
                )
                self.report.extend(lfindings)
                if lview is not None:
                    self.latest[org] = lview

    # -- 2. witnesses: heads and evidence --------------------------------------------------

    def witnesses(self) -> None:
        origins = {m.origin: m for m in self.consortium.members}
        for member in self.consortium.members:
            org = member.org
            if org in self.unreachable:
                continue
            texts = self._texts(
                org,
                ("/v1/witness/heads", "/v1/witness/evidence"),
                "witness-heads",
                "its witness answers no heads",
            )
            if texts is None:
                continue
            heads_text, evidence_text = texts
            heads, findings = checks.parse_heads(org, heads_text)
            self.report.extend(findings)
            for head in heads:
                log = origins.get(head.origin)
                if log is not None and log.org != org:
                    self.heads.setdefault(log.org, []).append(head)
            self.report.extend(checks.check_evidence(org, evidence_text, self.consortium))
        for log_org, heads in self.heads.items():
            log = self.consortium.member(log_org)
            self.report.extend(checks.check_heads_agree(log, heads))
            views = [v for v in (self.views.get(log_org), self.latest.get(log_org)) if v]
            for head in heads:
                witness = self.consortium.member(head.witness)
                for view in views:
                    self.report.extend(self._check_head(head, log, witness, view))
                self.report.orgs[log_org].heads_compared += 1

    def _check_head(self, head: Head, log: Member, witness: Member, view: LogView) -> list[Finding]:
        proof: list[bytes] | None = None
        error: str | None = None
        own: str | None = None
        size = view.checkpoint.size
        try:
            own = self._get(log.org, f"/v1/checkpoints/{head.size}").text
        except NotFoundError:
            own = None
        except AccordError as exc:
            error = exc.message
        if head.size != size and 0 not in (head.size, size):
            small, large = sorted((head.size, size))
            try:
                answer = _json(
                    self._get(log.org, "/v1/proofs/consistency", size1=small, size2=large)
                )
                proof = [hex32(h, "consistency proof") for h in answer["proof"]]
            except (AccordError, KeyError, TypeError) as exc:
                error = getattr(exc, "message", str(exc))
        return checks.check_head(
            head, log, witness, view, proof=proof, proof_error=error, log_note_at_head_size=own
        )

    # -- 3. entries, bodies, index ---------------------------------------------------------

    def entries(self, org: str, start: int, end: int) -> list[bytes]:
        out: list[bytes] = []
        while start < end:
            stop = min(end, start + _PAGE)
            got = self.clients[org].entries(start, stop)
            if not got:
                raise UsageError(f"{org}'s node served no entries from {start}")
            out += [e.encode("utf-8") for e in got]
            start += len(got)
        return out

    def log(self, member: Member) -> None:
        org = member.org
        view = self.views.get(org)
        if view is None or org in self.unreachable:
            return
        summary = self.report.orgs[org]
        size = view.checkpoint.size
        if size == 0:
            return
        try:
            fetched = self._check_entries(org, view)
        except NetworkError as exc:
            self._unreachable(org, exc)
            return
        except AccordError as exc:
            self.report.add(
                Finding.wrong(org, "entry", f"its node would not serve its entries: {exc}")
            )
            return
        except (KeyError, TypeError, IndexError) as exc:
            self.report.add(
                Finding.wrong(org, "entry", f"its node answered a malformed proof: {exc!r}")
            )
            return
        summary.entries_checked = len(fetched)
        if org in self.tokens:
            self._check_bodies(org, fetched)
            if self.certificates > 0:
                self._check_certificates(org, fetched)
        else:
            summary.notes.append("no token: bodies and certificates not checked")

    def _check_entries(self, org: str, view: LogView) -> dict[int, bytes]:
        size = view.checkpoint.size
        summary = self.report.orgs[org]
        if self.replay:
            entries = self.entries(org, 0, size)
            self.report.add(checks.check_tree(org, entries, view))
            commits, finding = checks.check_index(org, entries)
            summary.index_commits_checked = commits
            summary.replayed = True
            self.report.add(finding)
            return dict(enumerate(entries))
        if size <= self.sample + LAST_ENTRIES:
            indices = list(range(size))
            served = self.entries(org, 0, size)
            fetched = dict(enumerate(served))
        else:
            picked = set(self.rng.sample(range(size - LAST_ENTRIES), self.sample))
            indices = sorted(picked | set(range(size - LAST_ENTRIES, size)))
            fetched = {i: self.entries(org, i, i + 1)[0] for i in indices}
        for i in indices:
            answer = _json(self._get(org, "/v1/proofs/inclusion", index=i, size=size))
            proof = [hex32(h, "inclusion proof") for h in answer["proof"]]
            self.report.add(checks.check_entry(org, i, fetched[i], proof, view))
        return fetched

    def _check_bodies(self, org: str, fetched: dict[int, bytes]) -> None:
        summary = self.report.orgs[org]
        items = sorted(fetched.items())
        if not self.replay and len(items) > self.sample:
            items = self.rng.sample(items, self.sample)
        for index, entry in items:
            record = _record(entry)
            if record is None:
                continue
            try:
                answer = self.clients[org].record(record.hex())
            except NetworkError as exc:
                self._unreachable(org, exc)
                return
            except AccordError as exc:
                if exc.code == "shredded":
                    continue
                self.report.add(
                    Finding.wrong(
                        org,
                        "body",
                        f"its node cannot produce the record of entry {index} ({record.hex()}): "
                        f"{exc.message}",
                        leaf=entry.decode("utf-8", "backslashreplace"),
                        error=exc.code,
                    )
                )
                continue
            statement = answer.get("statement") if isinstance(answer, dict) else None
            if statement is None:
                continue  # no body kept for it (e.g. a member's own source records)
            try:
                body = SignedStatement.from_json(statement).body
            except AccordError as exc:
                self.report.add(
                    Finding.wrong(org, "body", f"entry {index}'s statement is malformed: {exc}")
                )
                continue
            summary.bodies_checked += 1
            self.report.add(checks.check_body(org, index, entry, body))

    def _check_certificates(self, org: str, fetched: dict[int, bytes]) -> None:
        summary = self.report.orgs[org]
        records = [r for r in (_record(e) for _, e in sorted(fetched.items())) if r is not None]
        self.rng.shuffle(records)
        with HttpLogs() as logs:
            for record in records:
                if summary.certificates_checked >= self.certificates:
                    break
                try:
                    cert_json = self.clients[org].certificate(record.hex())
                except NotFoundError:
                    continue  # pending, or a record that needs none
                except NetworkError as exc:
                    self._unreachable(org, exc)
                    return
                except AccordError as exc:
                    self.report.add(
                        Finding.wrong(org, "certificate", f"certificate of {record.hex()}: {exc}")
                    )
                    continue
                summary.certificates_checked += 1
                text = canonical(cert_json).decode("utf-8")
                try:
                    cert = check_certificate(text, self.consortium)
                except AccordError as exc:
                    self.report.add(
                        Finding.wrong(
                            org,
                            "certificate",
                            f"the certificate its node serves for {record.hex()} does not "
                            f"verify: {exc.message}",
                            certificate=text,
                        )
                    )
                    continue
                if cert.record != record:
                    self.report.add(
                        Finding.wrong(
                            org,
                            "certificate",
                            f"asked for the certificate of {record.hex()}, it served another",
                            certificate=text,
                        )
                    )
                    continue
                results = check_in_logs(
                    cert, self.consortium, logs, allow_unwitnessed=True, wait_s=self.wait_s
                )
                for result, signed in zip(results, cert.receipts, strict=True):
                    if result.error is None:
                        continue
                    if isinstance(result.error, NetworkError):
                        self._unreachable(result.org, result.error)
                        continue
                    self.report.add(
                        Finding.wrong(
                            result.org,
                            "receipt",
                            f"{result.org} signed a receipt for record {record.hex()} at index "
                            f"{result.index} of its log, but its log does not hold it there: "
                            f"{result.error.message}",
                            receipt=json.dumps(signed.to_json(), sort_keys=True),
                            certificate_from=org,
                        )
                    )


def _record(entry: bytes) -> bytes | None:
    try:
        return checks.body_hash_of(entry)
    except AccordError:
        return None


def _json(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        raise NetworkError("the node's answer is not JSON") from None


def _no_witnesses(consortium: Consortium) -> Consortium:
    import dataclasses

    return dataclasses.replace(consortium, witness_k=0)


def run_audit(
    consortium: Consortium,
    *,
    replay: bool = False,
    sample: int = DEFAULT_SAMPLE,
    certificates: int = 0,
    tokens: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    seed: int | None = None,
    wait_s: float = 10.0,
) -> AuditReport:
    """Audit every member of ``consortium`` (docs/audit.md): checkpoints and cosignatures,
    witness heads and evidence, sampled (or with ``replay`` all) entries against the tree,
    bodies and ``certificates`` sampled certificates where ``tokens`` (org -> auditor
    token) allow, and with ``replay`` the whole tree and verifiable index recomputed.

    Never raises for what a member answers: every problem is a finding.
    """
    if not isinstance(consortium, Consortium):
        raise UsageError("run_audit needs a Consortium")
    if type(sample) is not int or sample < 0:
        raise UsageError("sample must be a non-negative integer")
    if type(certificates) is not int or certificates < 0:
        raise UsageError("certificates must be a non-negative integer")
    unknown = set(tokens or {}) - set(consortium.orgs)
    if unknown:
        raise UsageError(f"tokens for orgs not in the consortium: {', '.join(sorted(unknown))}")
    auditor = _Auditor(
        consortium,
        replay=replay,
        sample=sample,
        certificates=certificates,
        tokens=tokens or {},
        timeout=timeout,
        rng=random.Random(seed),  # noqa: S311 - sampling, not secrets
        wait_s=wait_s,
    )
    try:
        auditor.checkpoints()
        auditor.witnesses()
        for member in consortium.members:
            auditor.log(member)
    finally:
        auditor.close()
    return auditor.report
