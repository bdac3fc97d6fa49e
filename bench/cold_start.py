"""What a Lambda of the app imports at cold start, measured with `python -X importtime`.

    python -m bench.cold_start [--runs 7]

Each run is a fresh interpreter. Three steps are measured: app.py alone (every Lambda of the
app loads it), then what the first webhook request adds (its lazily imported adapters), then
what the consumer adds on top. Prints the median of each, and the heaviest imports of app.py.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STEPS = {
    "app.py": ["app"],
    "+ webhook path": [
        "boto3",
        "chalicelib.adapters.secrets",
        "chalicelib.adapters.messaging",
        "chalicelib.adapters.stripe_api",
    ],
    "+ consumer": [
        "aws_lambda_powertools.utilities.idempotency",
        "chalicelib.services.repair",
        "chalicelib.adapters.dynamodb",
    ],
}


def _import_times(modules: list[str]) -> dict[str, int]:
    """Cumulative microseconds of each module imported at top level, in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "; ".join(f"import {m}" for m in modules)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    times = {}
    for line in result.stderr.splitlines():
        fields = line.removeprefix("import time:").split("|")
        if len(fields) == 3 and fields[1].strip().isdigit() and not fields[2].startswith("  "):
            times[fields[2].strip()] = int(fields[1])
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    modules: list[str] = []
    print(f"cold-start imports, median of {args.runs} fresh interpreters:")
    for label, added in STEPS.items():
        modules += added
        totals = [sum(_import_times(modules).values()) / 1000 for _ in range(args.runs)]
        print(f"  {label:<16} {statistics.median(totals):7.1f} ms")
    heaviest = _import_times(["app"])
    print("heaviest top-level imports of app.py (ms):")
    for name, micros in sorted(heaviest.items(), key=lambda item: -item[1])[:6]:
        print(f"  {name:<40} {micros / 1000:7.1f}")


if __name__ == "__main__":
    main()
