"""Benchmark accord.compliance: the rules over a million access records, and a patient report.

Measures, on one core, with MemoryFacts (the in-memory Facts seam):

- ``rules``: records per second through the arrival path, ``facts.add(entry)``
  then ``evaluate(entry, facts, config)`` with every rule enabled, over
  1,000,000 generated access records (90 days, 3 orgs, 3,000 accessors, 50,000
  patients with care relationships, consents, disclosures, an org directory
  with VIPs, co-workers, households and terminated accounts), then one sweep.
  Target: >= 20,000 records/s. Generating the records is not timed.
- ``report``: the accounting of disclosures and the access report for one
  patient with 1,000 records (800 accesses, 200 disclosure halves), each
  computed and rendered to HTML. Target: < 200 ms each.

Usage: ``.venv/bin/python bench/bench_compliance.py [--quick] [--n N]``. Prints a
table and writes bench/out/compliance.json (machine, date, figures).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import statistics
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from accord.compliance import (
    Directory,
    Entry,
    MemoryFacts,
    Party,
    PatientInfo,
    Person,
    RuleConfig,
    WorkingHours,
    access_report,
    accounting,
    evaluate,
    sweep,
    to_html,
)
from accord.records import Access, Accessor, Care, Clinician, Consent, Disclosure, Grantee, Period

ROOT = Path(__file__).resolve().parents[1]
DAY = 86_400_000
T0 = 1_735_689_600_000  # 2025-01-01T00:00:00Z
ORGS = ("cornell", "nyu", "mskcc")
HOME = "nyu"
KEY = bytes(range(32))
PURPOSES = ("TREAT", "TREAT", "TREAT", "TREAT", "HPAYMT", "HOPERAT", "ETREAT")


def _h(*parts: object) -> bytes:
    return hashlib.sha256("|".join(map(str, parts)).encode()).digest()


class World:
    """A seeded consortium: people, patients, care, consents, disclosures."""

    def __init__(self, seed: int, patients: int, per_org: int) -> None:
        self.rng = random.Random(seed)
        self.patients = [f"MPI-{i:07d}" for i in range(patients)]
        self.staff = [(org, f"{org}-staff-{i:05d}") for org in ORGS for i in range(per_org)]
        self.care: dict[str, list[tuple[str, str]]] = {}
        self.refs: dict[str, list[bytes]] = {}

    def directory(self) -> Directory:
        rng = self.rng
        people = []
        surnames = [f"Surname{i}" for i in range(2_000)]
        for i, (_org, sid) in enumerate(s for s in self.staff if s[0] == HOME):
            status, end = "active", None
            if i % 200 == 0:
                status, end = "terminated", T0 + rng.randrange(90) * DAY
            people.append(
                Person(
                    id=sid,
                    name=f"Dr. {sid}",
                    surname=rng.choice(surnames),
                    address=f"{rng.randrange(1, 400)} Main Street\nNew York, NY",
                    department="medicine",
                    status=status,
                    end=end,
                    hours=WorkingHours.parse(["daily 19:00-07:00"]) if i % 5 == 0 else None,
                    patient_ids=(self.patients[(i * 7) % len(self.patients)],)
                    if i % 4 == 0
                    else (),
                )
            )
        known = [
            PatientInfo(
                p,
                name=f"Patient {p}",
                surname=rng.choice(surnames),
                address=f"{rng.randrange(1, 400)} Main Street\nNew York, NY",
            )
            for p in self.patients[: len(self.patients) // 2]
        ]
        return Directory(
            org=HOME,
            timezone="America/New_York",
            people=tuple(people),
            patients=tuple(known),
            vip=tuple(self.patients[::500]),
        )

    def evidence(self) -> Iterator[Entry]:
        """Care relationships, consents and disclosures, dated before the accesses."""
        rng = self.rng
        for i, patient in enumerate(self.patients):
            team = rng.sample(self.staff, rng.randint(1, 3))
            self.care[patient] = team
            self.refs[patient] = [_h("ref", patient, k) for k in range(4)]
            for org, sid in team:
                start = T0 - rng.randrange(1, 400) * DAY
                view = Care(patient, Clinician(sid, "ATTPHYS"), org, Period(start, None))
                yield Entry(_h("care", patient, sid), org, "ehr.care", start, T0 - DAY, view)
            if i % 10 == 0:
                org = rng.choice(ORGS)
                start = T0 - 30 * DAY
                end = T0 + rng.randrange(10, 120) * DAY
                c = Consent(patient, Grantee("org", org), ("TREAT",), Period(start, end), "permit")
                yield Entry(_h("consent", patient), org, "ehr.consent", start, T0 - DAY, c)
            if i % 3 == 0:
                src, dst = rng.sample(ORGS, 2)
                refs = tuple(self.refs[patient][:2])
                for half, org in (("export", src), ("import", dst)):
                    if half == "import" and i % 99 == 0:
                        continue  # an export that never arrives
                    d = Disclosure(half, f"x-{i}", src, dst, patient, refs, "TREAT", "summary")
                    yield Entry(
                        _h("disc", i, half), org, "ehr.disclosure", T0 - 2 * DAY, T0 - DAY, d
                    )

    def accesses(self, n: int, days: int) -> Iterator[Entry]:
        rng = self.rng
        span = days * DAY
        step = span / n
        patients, staff = self.patients, self.staff
        for i in range(n):
            ts = T0 + int(i * step) + rng.randrange(1_000)
            patient = patients[rng.randrange(len(patients))]
            if rng.random() < 0.9:
                org, sid = rng.choice(self.care[patient])
            else:
                org, sid = staff[rng.randrange(len(staff))]
            if 60 * DAY <= ts - T0 < 60 * DAY + DAY // 2 and rng.random() < 0.3:
                org, sid = HOME, f"{HOME}-staff-00001"  # a burst: the volume rule's case
            purpose = rng.choice(PURPOSES)
            view = Access(
                accessor=Accessor(sid, "ATTPHYS", None),
                accessor_org=org,
                patient=patient,
                record_ref=self.refs[patient][rng.randrange(4)],
                action="R",
                purpose="BTG" if i % 1000 == 0 else purpose,
                outcome="success",
                break_glass=i % 1000 == 0,
            )
            yield Entry(_h("acc", i), org, "ehr.access", ts, ts + 50, view)


def bench_rules(n: int, patients: int, per_org: int) -> dict[str, Any]:
    world = World(7, patients, per_org)
    directory = world.directory()
    parties = {org: Party(org.upper(), f"1 {org} Plaza") for org in ORGS}
    facts = MemoryFacts(directory, pseudonym_key=KEY, parties=parties)
    config = RuleConfig(org=HOME, timezone="America/New_York")
    for e in world.evidence():
        facts.add(e)
    fired: Counter[str] = Counter()
    elapsed = 0.0
    chunk: list[Entry] = []
    gen = world.accesses(n, 90)
    done = 0
    while done < n:
        chunk = [e for _, e in zip(range(50_000), gen, strict=False)]
        start = time.perf_counter()
        for e in chunk:
            facts.add(e)
            for alert in evaluate(e, facts, config):
                fired[alert.rule] += 1
        elapsed += time.perf_counter() - start
        done += len(chunk)
    start = time.perf_counter()
    swept = sweep(facts, config, T0 + 100 * DAY)
    sweep_s = time.perf_counter() - start
    fired.update(a.rule for a in swept)
    return {
        "records": n,
        "seconds": elapsed,
        "records_per_s": n / elapsed,
        "sweep_seconds": sweep_s,
        "alerts": dict(sorted(fired.items())),
    }


def bench_report(records: int, repeat: int) -> dict[str, Any]:
    rng = random.Random(11)
    directory = Directory(org=HOME)
    facts = MemoryFacts(directory, pseudonym_key=KEY, parties={o: Party(o.upper()) for o in ORGS})
    patient = "MPI-REPORT"
    halves = records // 5
    accesses = records - halves
    ts = T0
    for i in range(halves // 2):
        src, dst = rng.sample(ORGS, 2)
        purpose = rng.choice(("TREAT", "HPAYMT", "PUBHLTH", "HRESCH", "HLEGAL"))
        for half, org in (("export", src), ("import", dst)):
            ts += rng.randrange(1, 3_600_000)
            d = Disclosure(half, f"t{i}", src, dst, patient, (_h("r", i),), purpose, "labs")
            facts.add(Entry(_h("d", i, half), org, "ehr.disclosure", ts, ts, d))
    for i in range(accesses):
        ts += rng.randrange(1, 3_600_000)
        org = rng.choice(ORGS)
        view = Access(
            Accessor(f"u{i % 40}", "ATTPHYS", f"User {i % 40}"),
            org,
            patient,
            _h("r", i % 50),
            "R",
            "TREAT",
            "success",
            False,
        )
        facts.add(Entry(_h("a", i), org, "ehr.access", ts, ts, view))
    for j in range(2_000):  # other patients, so the patient's records are a subset
        view = Access(
            Accessor("x", "ATTPHYS"), "nyu", f"other-{j}", _h(j), "R", "TREAT", "success", False
        )
        facts.add(Entry(_h("o", j), "nyu", "ehr.access", ts, ts, view))
    start, end, now = T0 - DAY, ts + DAY, ts + 2 * DAY
    timings: dict[str, list[float]] = {"accounting": [], "access_report": []}
    rows = {}
    for _ in range(repeat):
        t = time.perf_counter()
        acc = accounting(facts, patient, start, end, now=now, verified=lambda h: "certificate")
        to_html(acc)
        timings["accounting"].append(time.perf_counter() - t)
        t = time.perf_counter()
        rep = access_report(facts, patient, start, end, now=now, verified=lambda h: "certificate")
        to_html(rep)
        timings["access_report"].append(time.perf_counter() - t)
        rows = {
            "accounting_entries": len(acc.entries),
            "exempt": len(acc.exempt),
            "access_rows": len(rep.rows),
        }
    return {
        "patient_records": records,
        **rows,
        **{f"{k}_ms_median": statistics.median(v) * 1000 for k, v in timings.items()},
        **{f"{k}_ms_max": max(v) * 1000 for k, v in timings.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (50,000 records)")
    parser.add_argument("--n", type=int, default=1_000_000, help="access records for the rules")
    args = parser.parse_args()
    n = 50_000 if args.quick else args.n
    rules = bench_rules(n, patients=5_000 if args.quick else 50_000, per_org=1_000)
    report = bench_report(1_000, 5 if args.quick else 20)
    print(
        f"rules: {rules['records']:,} access records in {rules['seconds']:.1f} s = "
        f"{rules['records_per_s']:,.0f} records/s (target >= 20,000); sweep "
        f"{rules['sweep_seconds'] * 1000:.0f} ms"
    )
    print("alerts:", ", ".join(f"{k} {v:,}" for k, v in rules["alerts"].items()))
    print(
        f"report for a patient with {report['patient_records']:,} records (+ HTML): "
        f"accounting {report['accounting_ms_median']:.1f} ms, access report "
        f"{report['access_report_ms_median']:.1f} ms (median; target < 200 ms)"
    )
    out = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpu, "
        f"Python {platform.python_version()}",
        "rules": rules,
        "report": report,
    }
    target = ROOT / "bench" / "out"
    target.mkdir(parents=True, exist_ok=True)
    (target / "compliance.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
