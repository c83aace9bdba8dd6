"""The demo's verifiable answers: the privacy officer's questions answered with proof bundles
(docs/bundles.md), each checked by the skeptic's verifier, and a lying node's answer that
leaves out one of Dr. Marshall's accesses, refused."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from rich.table import Table

from accord.demo.story import PATIENT, PATIENT_NAME, march
from accord.errors import AccordError, VerificationError
from accord.index.bundle import parse_bundle
from accord.node.founding import ConsortiumKeys
from accord.verify import VerifiedAnswer, omit_record, verify_bundle

if TYPE_CHECKING:
    from accord.demo.run import Demo

__all__ = ["answers_step"]

EASTERN = dt.timezone(dt.timedelta(hours=-4))


def _ask(demo: Demo, org: str, query: dict[str, Any]) -> str:
    with demo.cluster[org].client("auditor") as client:
        return client.query(query)


def _table(demo: Demo, answer: VerifiedAnswer, title: str) -> None:
    table = Table(title=title, title_style="bold")
    for column in ("event time (EDT)", "type", "org", "who / what", "purpose", "record"):
        table.add_column(column)
    for r in answer.records:
        fields = (r.statement or {}).get("fields", {})
        when = dt.datetime.fromtimestamp(r.event_ts / 1000, EASTERN).strftime("%d %b %H:%M")
        if r.type == "ehr.disclosure":
            pair = f"{fields.get('discloser_org')}->{fields.get('recipient_org')}"
            who = f"{fields.get('half')} {pair}"
        elif r.type == "ehr.access":
            who = f"{_short(fields['accessor']['id'])} ({fields.get('accessor_org', r.org)})"
        else:
            who = _short(fields.get("clinician", {}).get("id", ""))
        table.add_row(when, r.type, r.org, str(who), str(fields.get("purpose", "")), r.record[:8])
    demo.console.print(table)
    demo.console.print(
        f"  verified at {answer.origin} size {answer.size}, cosigned by "
        f"{', '.join(sorted(answer.witnesses))}; {len(answer.records)} records, "
        f"{'complete' if answer.complete else 'one page'}",
        highlight=False,
    )


def _short(person: str) -> str:
    return person.removeprefix("Practitioner/")


def _expected(demo: Demo, keep: Any) -> set[str]:
    return {demo.records[i] for i, e in enumerate(demo.events) if keep(e.statement)}


def answers_step(demo: Demo) -> None:
    demo.step(
        "7. Verifiable answers",
        "The privacy officer asks a node, and checks its answer without trusting it: each "
        "bundle carries the node's checkpoint with k cosignatures, the index commit's "
        "inclusion, the map and posting proofs, and every record's body (docs/bundles.md).",
    )
    index_key = ConsortiumKeys.load(demo.cluster.founded.keys_file).index_key
    year = march(dt.datetime.now(dt.UTC).date())
    start = dt.datetime(year, 3, 1, tzinfo=EASTERN)
    end = dt.datetime(year, 4, 1, tzinfo=EASTERN) - dt.timedelta(milliseconds=1)
    window = (int(start.timestamp() * 1000), int(end.timestamp() * 1000))
    patient_query = {"kind": "patient", "patient": PATIENT, "from": window[0], "to": window[1]}
    try:
        patient_text = _ask(demo, "nyu", patient_query)
        answer = verify_bundle(patient_text, demo.consortium, index_key)
    except AccordError as exc:
        demo.check(f"NYU's answer about {PATIENT_NAME} in March verifies", False, exc.message)
        return
    accesses = [r for r in answer.records if r.type == "ehr.access"]
    _table(demo, answer, f"Every record about {PATIENT_NAME} in March, from NYU's node")
    demo.check(
        f"NYU's answer about {PATIENT_NAME} in March verifies and is complete",
        answer.complete,
        f"{len(accesses)} accesses among {len(answer.records)} records",
    )
    in_march = _expected(demo, lambda s: window[0] <= s.event_ts <= window[1])
    demo.check(
        "it holds exactly the story's records of March (checked against what was submitted)",
        {r.record for r in answer.records} == in_march,
    )

    disclosure_query = {"kind": "disclosures", "discloser": "cornell", "recipient": "nyu"}
    try:
        answer = verify_bundle(_ask(demo, "cornell", disclosure_query), demo.consortium, index_key)
    except AccordError as exc:
        demo.check("Cornell's answer about its disclosures to NYU verifies", False, exc.message)
        return
    _table(demo, answer, "Every disclosure from Cornell to NYU, from Cornell's node")
    sent = _expected(
        demo,
        lambda s: (
            s.schema == "ehr.disclosure"
            and s.fields["discloser_org"] == "cornell"
            and s.fields["recipient_org"] == "nyu"
        ),
    )
    demo.check(
        "Cornell's disclosures to NYU: verified, both halves of each, nothing else",
        {r.record for r in answer.records} == sent,
        f"{len(sent)} halves",
    )

    marshall = demo.tagged("marshall-unexplained")
    bundle = parse_bundle(patient_text)
    # a record with a body carries no header: its posting gives its log entry's hash
    (victim,) = [
        p.event_hash
        for p, r in zip(bundle.record_postings(), bundle.records, strict=True)
        if r.record_hash().hex() == marshall
    ]
    lying = omit_record(bundle, victim)
    demo.console.print(
        f"A node that wants to hide Dr. Marshall's unexplained access ({marshall[:12]}) "
        "answers the same question without it:"
    )
    try:
        verify_bundle(lying, demo.consortium, index_key)
        refused = ""
    except VerificationError as exc:
        refused = exc.message
    if refused:
        demo.console.print(f"  [red]verifier: {refused}[/red]", highlight=False)
    demo.check("the answer without Dr. Marshall's access is refused by the verifier", bool(refused))
