"""Fault tests with real `accord serve` processes killed for real (SIGKILL).

- kill -9 one of three members while records are submitted: a majority is still
  reached, the records become final;
- kill two: the records stay pending and nothing is reported final; restart them: the
  records become final, and nothing certified before is lost;
- a lying member (receipts signed with its real log key for records it never appended)
  is caught by the inclusion check of `accord verify-certificate --fetch`.

One short version of each runs in the default suite; longer ones are marked slow.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Sequence
from pathlib import Path

import pytest

from accord.client.certificates import check_certificate, check_in_logs
from accord.errors import NotFoundError
from accord.quorum import Certificate, Consortium
from accord.records import Principal, SignedStatement, Statement
from tests.e2e.procs import ACCORD, ProcConsortium, proc_consortium


def _statements(c: ProcConsortium, org: str, n: int, patient: str) -> list[SignedStatement]:
    now = int(time.time() * 1000)
    return [
        c.sources[org].sign(
            Statement(
                schema="ehr.access",
                id=uuid.uuid4().hex,
                org=org,
                source="ehr",
                event_ts=now,
                principals=(Principal("patient", patient),),
                fields={
                    "accessor": {"id": "Practitioner/dr-marshall", "role": "physician"},
                    "accessor_org": org,
                    "patient": patient,
                    "record_ref": uuid.uuid4().hex * 2,
                    "action": "R",
                    "purpose": "TREAT",
                    "outcome": "success",
                    "break_glass": False,
                },
            )
        )
        for _ in range(n)
    ]


def _consortium(c: ProcConsortium) -> Consortium:
    return Consortium.parse(c.consortium_file.read_text())


def _check_certificates(
    c: ProcConsortium,
    org: str,
    records: Sequence[str],
    *,
    in_logs: int = 0,
    sample: int | None = None,
) -> dict[str, Certificate]:
    """Every record's certificate verifies (or ``sample`` of them, the first and last
    included); ``in_logs`` of them also in the members' logs."""
    consortium = _consortium(c)
    client = c.client(org)
    if sample is not None and len(records) > sample:
        picked = random.Random(len(records)).sample(list(records[1:-1]), sample - 2)
        records = [records[0], *picked, records[-1]]
    certs = {}
    for r in records:
        certs[r] = check_certificate(Certificate.from_json(client.certificate(r)), consortium)
    for r in list(records)[:in_logs]:
        results = check_in_logs(certs[r], consortium, allow_unwitnessed=True, wait_s=15)
        assert all(x.ok for x in results), [x.to_json() for x in results]
    return certs


def _submit_while(
    c: ProcConsortium, org: str, batches: int, size: int, during: threading.Event | None = None
) -> tuple[list[str], threading.Thread, list[BaseException]]:
    """Submit ``batches`` batches on a thread; ``during`` is set after the second batch."""
    records: list[str] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            for i in range(batches):
                records.extend(c.submit(org, _statements(c, org, size, f"MPI-{org}-{i % 7}")))
                if i == 1 and during is not None:
                    during.set()
        except BaseException as exc:  # surfaced by the test
            errors.append(exc)
            if during is not None:
                during.set()

    thread = threading.Thread(target=run)
    thread.start()
    return records, thread, errors


def _kill_one_while_submitting(tmp_path: Path, batches: int, size: int) -> None:
    with proc_consortium(tmp_path) as c:
        half = threading.Event()
        records, thread, errors = _submit_while(c, "cornell", batches, size, half)
        assert half.wait(120)
        c["mskcc"].kill()
        thread.join(300)
        assert not errors, errors
        assert len(records) == batches * size
        c.wait_final("cornell", records, timeout=120)
        c.wait_final("nyu", records, timeout=120)
        certs = _check_certificates(c, "cornell", records, sample=300)
        late = records[-size:]  # submitted after mskcc was gone
        assert all(certs[r].signers == {"cornell", "nyu"} for r in late if r in certs)
        consortium = _consortium(c)
        for r in [x for x in late if x in certs][:2]:
            results = check_in_logs(certs[r], consortium, allow_unwitnessed=True, wait_s=15)
            assert all(x.ok for x in results), [x.to_json() for x in results]
        with_mskcc = [r for r in certs if "mskcc" in certs[r].signers]
        if with_mskcc:  # a skeptic cannot reach mskcc now: unconfirmed, and worth retrying
            results = check_in_logs(certs[with_mskcc[0]], consortium, allow_unwitnessed=True)
            found = {x.org: x for x in results}
            assert found["mskcc"].error is not None
            assert found["mskcc"].error.retryable
            assert found["cornell"].ok


def test_kill_one_of_three_while_submitting(tmp_path: Path) -> None:
    _kill_one_while_submitting(tmp_path, batches=5, size=20)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_kill_one_of_three_while_submitting_long(tmp_path: Path) -> None:
    _kill_one_while_submitting(tmp_path, batches=40, size=250)


def _kill_two_then_restart(tmp_path: Path, n: int, pending_s: float) -> None:
    with proc_consortium(tmp_path) as c:
        before = c.submit("cornell", _statements(c, "cornell", n, "MPI-before"))
        for org in ("cornell", "nyu", "mskcc"):
            c.wait_final(org, before)
        certified = _check_certificates(c, "cornell", before, sample=200)

        c["nyu"].kill()
        c["mskcc"].kill()
        auditor = c.client("cornell")
        during = c.submit("cornell", _statements(c, "cornell", n, "MPI-during"))
        deadline = time.monotonic() + pending_s
        while time.monotonic() < deadline:  # never reported final while the quorum is away
            assert c.statuses("cornell", during) == {"pending": n}
            assert auditor.record(during[0])["status"] == "pending"
            assert auditor.record(during[0])["certificate"] is None
            with pytest.raises(NotFoundError):
                auditor.certificate(during[-1])
            time.sleep(0.2)

        c["nyu"].start()
        c["mskcc"].start()
        c.wait_final("cornell", during, timeout=120)
        for org in ("nyu", "mskcc"):
            c.wait_final(org, during + before, timeout=120)
        # Nothing certified is lost: the same certificates, their receipts still in the logs.
        again = _check_certificates(c, "cornell", list(certified), in_logs=3)
        assert {r: x.format() for r, x in again.items()} == {
            r: x.format() for r, x in certified.items()
        }
        for org in ("nyu", "mskcc"):
            assert _check_certificates(c, org, list(certified)).keys() == certified.keys()
        _check_certificates(c, "cornell", during, in_logs=2, sample=200)


def test_kill_two_then_restart(tmp_path: Path) -> None:
    _kill_two_then_restart(tmp_path, n=15, pending_s=2.0)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_kill_two_then_restart_long(tmp_path: Path) -> None:
    _kill_two_then_restart(tmp_path, n=1000, pending_s=20.0)


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_members_killed_and_restarted_again_and_again(tmp_path: Path) -> None:
    """Random members (the originating one too) are killed and restarted while two orgs
    submit; at the end every record is final everywhere with a verifying certificate."""
    rng = random.Random(7)
    with proc_consortium(tmp_path) as c:
        records: dict[str, list[str]] = {"cornell": [], "nyu": []}
        for _ in range(8):
            victim = rng.choice(["cornell", "nyu", "mskcc"])
            for org in records:
                if org != victim:
                    records[org] += c.submit(org, _statements(c, org, 100, "MPI-chaos"))
            c[victim].kill()
            for org in records:
                if org != victim:
                    records[org] += c.submit(org, _statements(c, org, 100, "MPI-chaos"))
            time.sleep(rng.uniform(0.2, 2.0))
            c[victim].start()
        for org, mine in records.items():
            for holder in ("cornell", "nyu", "mskcc"):
                c.wait_final(holder, mine, timeout=300)
            _check_certificates(c, org, mine, in_logs=3, sample=200)


def test_a_lying_member_is_caught_by_the_inclusion_check(tmp_path: Path) -> None:
    """mskcc answers receipts without appending; nyu is down, so cornell's certificates
    rest on mskcc's receipts. They verify as signatures, but not in mskcc's log."""
    root = tmp_path / "consortium"
    liar = [sys.executable, "-m", "tests.e2e.liar", str(root / "mskcc")]
    with proc_consortium(tmp_path, commands={"mskcc": liar}, start=("cornell", "mskcc")) as c:
        records = c.submit("cornell", _statements(c, "cornell", 3, "MPI-lies"))
        c.wait_final("cornell", records)
        cert = Certificate.from_json(c.client("cornell").certificate(records[0]))
        assert cert.signers == {"cornell", "mskcc"}
        path = tmp_path / "cert.json"
        path.write_text(cert.format())
        args = [ACCORD, "verify-certificate", str(path), "--consortium", str(c.consortium_file)]
        plain = subprocess.run(args, capture_output=True, text=True, timeout=60, check=False)
        assert plain.returncode == 0, plain.stderr  # well signed: only the logs can tell
        fetched = subprocess.run(
            [*args, "--fetch", "--allow-unwitnessed", "--json"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert fetched.returncode == 1, fetched.stdout + fetched.stderr
        report = json.loads(fetched.stdout)
        by_org = {x["org"]: x for x in report["logs"]}
        assert by_org["cornell"]["ok"] is True
        assert by_org["mskcc"]["ok"] is False
        assert by_org["mskcc"]["error"]["code"] == "verification_failed"
        assert "mskcc's receipt says" in by_org["mskcc"]["error"]["message"]
        assert report["ok"] is False
