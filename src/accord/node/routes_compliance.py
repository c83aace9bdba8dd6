"""Compliance routes: the privacy officer's worklist, decisions, reports, sweeps and re-runs.

- ``GET /v1/alerts?status=open|justified|violation&patient=<id>&rule=&limit=&offset=``
  (auditor): the worklist, replayed from the stored alerts and the org's
  ``accord.decision`` records (docs/compliance.md section 5).
- ``GET /v1/alerts/{id}`` (auditor): one item with its reviews.
- ``POST /v1/alerts/{id}/decision`` ``{"status", "reason", "reviewer": {"id", "name"?}}``
  (auditor): appends a signed ``accord.decision`` and answers the item's new state
  (400 for an illegal transition).
- ``GET /v1/compliance`` (auditor): how far evaluation has got, which files are used.
- ``POST /v1/alerts/sweep`` (admin): evaluate what is waiting and sweep now.
- ``POST /v1/alerts/rerun`` ``{"rules"?: "<rules.toml text>", "apply"?: bool}`` (admin):
  re-judge the history and report the differences from the stored alerts.
- ``GET /v1/reports/disclosures|accesses|exchanges?patient=|org=&from=&to=&format=&timezone=``
  (auditor): the HIPAA reports as JSON, CSV or printable HTML.
"""

from __future__ import annotations

from typing import Any, Final

from fastapi import APIRouter, Request
from fastapi.responses import Response

from accord.compliance.rules_config import RuleConfig
from accord.compliance.worklist import STATUSES, WorkItem
from accord.errors import UsageError
from accord.node.compliance_reports import process_report, render_report
from accord.node.httpapi import int_param, json_body, parse_hash, require, run
from accord.node.service import Node
from accord.records import Reviewer

__all__ = [
    "compliance_router",
    "item_json",
    "process_alerts",
    "process_decision",
    "process_rerun",
]

_MAX_LIMIT: Final = 10_000


def item_json(item: WorkItem) -> dict[str, Any]:
    return {
        "alert": item.alert.to_json(),
        "status": item.status,
        "reviews": [
            {
                "record": r.record.hex(),
                "org": r.org,
                "status": r.status,
                "reason": r.reason,
                "reviewer": {"id": r.reviewer.id, "name": r.reviewer.name},
                "time": r.time,
            }
            for r in item.reviews
        ],
    }


def process_alerts(
    node: Node,
    *,
    status: str | None,
    patient: str | None,
    rule: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    if status is not None and status not in STATUSES:
        raise UsageError(f"status must be one of {', '.join(STATUSES)}")
    if not 1 <= limit <= _MAX_LIMIT:
        raise UsageError(f"limit must be between 1 and {_MAX_LIMIT}")
    worklist = node.compliance.worklist(patient=patient, rule=rule)
    items = worklist.items if status is None else worklist.with_status(status)
    page = items[offset : offset + limit]
    return {
        "org": node.org,
        "counts": worklist.counts(),
        "total": len(items),
        "offset": offset,
        "alerts": [item_json(i) for i in page],
        "orphan_decisions": len(worklist.orphans),
        "evaluated": node.compliance.monitor.evaluated(),
    }


def process_decision(node: Node, alert: bytes, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not {"status", "reason", "reviewer"} <= set(body):
        raise UsageError('the body must be {"status", "reason", "reviewer": {"id", "name"?}}')
    extra = set(body) - {"status", "reason", "reviewer"}
    if extra:
        raise UsageError(f"unknown field(s) {', '.join(sorted(extra))}")
    reviewer = body["reviewer"]
    if (
        not isinstance(reviewer, dict)
        or not isinstance(reviewer.get("id"), str)
        or not set(reviewer) <= {"id", "name"}
        or not isinstance(reviewer.get("name", ""), str)
    ):
        raise UsageError('reviewer must be {"id": "...", "name": "..."} (name optional)')
    status, reason = body["status"], body["reason"]
    if not isinstance(status, str) or not isinstance(reason, str):
        raise UsageError("status and reason must be strings")
    item = node.compliance.decide(
        alert,
        status=status,
        reason=reason,
        reviewer=Reviewer(reviewer["id"], reviewer.get("name")),
    )
    return item_json(item)


def process_rerun(node: Node, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict) or not set(body) <= {"rules", "apply"}:
        raise UsageError('the body must be {"rules"?: "<rules.toml text>", "apply"?: bool}')
    config = None
    if body.get("rules") is not None:
        if not isinstance(body["rules"], str):
            raise UsageError("rules must be the text of a rules.toml file")
        config = RuleConfig.parse(body["rules"])
        if config.org != node.org:
            raise UsageError(f"the rule configuration is {config.org!r}'s, not {node.org!r}'s")
    apply = body.get("apply", False)
    if not isinstance(apply, bool):
        raise UsageError("apply must be true or false")
    return node.compliance.monitor.rerun(config, apply=apply).to_json()


def process_sweep(node: Node) -> dict[str, Any]:
    node._keys()
    evaluated = node.compliance.monitor.catch_up()
    found = node.compliance.monitor.sweep()
    return {
        "evaluated": evaluated,
        "swept": [a.to_json() for a in found],
        **node.compliance.status(),
    }


def compliance_router(node: Node) -> APIRouter:
    router = APIRouter(tags=["compliance"])

    @router.get("/v1/alerts", summary="The privacy officer's worklist (alerts with status)")
    async def alerts(request: Request) -> Any:
        require(node, request, "auditor")
        q = request.query_params
        return await run(
            lambda: process_alerts(
                node,
                status=q.get("status") or None,
                patient=q.get("patient") or None,
                rule=q.get("rule") or None,
                limit=int_param(request, "limit", 1000),
                offset=int_param(request, "offset", 0),
            )
        )

    @router.get("/v1/alerts/{alert}", summary="One alert with its reviews")
    async def alert(alert: str, request: Request) -> Any:
        require(node, request, "auditor")
        item = await run(node.compliance.item, parse_hash(alert, "alert id"))
        return item_json(item)

    @router.post(
        "/v1/alerts/{alert}/decision",
        summary="Record a review decision (a signed accord.decision record in the log)",
    )
    async def decision(alert: str, request: Request) -> Any:
        require(node, request, "auditor")
        alert_id = parse_hash(alert, "alert id")
        body = await json_body(request, 64 * 1024)
        return await run(process_decision, node, alert_id, body)

    @router.post("/v1/alerts/sweep", summary="Evaluate waiting records and sweep now (admin)")
    async def sweep(request: Request) -> Any:
        require(node, request, "admin")
        return await run(process_sweep, node)

    @router.post("/v1/alerts/rerun", summary="Re-run the rules over history; the differences")
    async def rerun(request: Request) -> Any:
        require(node, request, "admin")
        body = await json_body(request, 1 << 20)
        return await run(process_rerun, node, body)

    @router.get("/v1/compliance", summary="Evaluation progress and configuration files")
    async def status(request: Request) -> Any:
        require(node, request, "auditor")
        return await run(node.compliance.status)

    @router.get(
        "/v1/reports/{kind}",
        summary="HIPAA reports: disclosures (164.528), accesses, exchanges",
        description=(
            "disclosures and accesses take patient=<id>; exchanges takes org= (default this "
            "node). from/to: ms or ISO dates (default the six years to now); format: json, "
            "csv or html; timezone: an IANA zone (default the rule configuration's)."
        ),
    )
    async def report(kind: str, request: Request) -> Response:
        require(node, request, "auditor")
        params = dict(request.query_params)
        fmt = params.pop("format", "json")
        made = await run(process_report, node.compliance, kind, params)
        text, media = await run(render_report, made, fmt)
        headers = {}
        patient = params.get("patient")
        if kind != "exchanges" and patient:
            # records of this patient whose bodies were crypto-shredded are left out
            shredded = await run(node.key_actions.shredded_records, patient)
            headers["X-Accord-Shredded-Records"] = str(shredded)
        if fmt != "json":
            name = f"{kind}-{made.generated}.{fmt}"
            disposition = "attachment" if fmt == "csv" else "inline"
            headers["Content-Disposition"] = f'{disposition}; filename="{name}"'
        return Response(text, media_type=media, headers=headers)

    return router
