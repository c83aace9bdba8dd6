"""Run every bench/bench_*.py in turn (``make bench``); ``--quick`` is passed through.

Every script takes ``--quick`` for a short run: bench_node.py (node ingest over HTTP and
SQL; quick: 5,000 records per round, 50,000 SQL rows) and bench_index_node.py (the
node's persisted index; quick: 100,000 records) included.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main(argv: list[str]) -> int:
    extra = ["--quick"] if "--quick" in argv else []
    failed = []
    for script in sorted(HERE.glob("bench_*.py")):
        print(f"== {script.name} {' '.join(extra)}", flush=True)
        if subprocess.run([sys.executable, str(script), *extra], check=False).returncode:
            failed.append(script.name)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
