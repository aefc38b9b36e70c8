"""Statement quality before and after redaction, over mined (or validated) run folders.

    python benchmarks/statement_quality.py RUN_DIR [RUN_DIR ...] [--quote N]

For each run: tasks by statement_quality of the original statement (as mined) and of the
statement a solver gets; how many gained the failing test output; and any statement still holding
a line of its test patch or gold patch (swegen.restate.statement_leaks; it must find none).
--quote N prints N redacted statements next to their originals.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from swegen.restate import ORIGINAL, STATEMENT, statement_leaks

QUALITIES = ("ok", "thin", "leaky")


def summarise(run: Path) -> dict:
    """Counts of one run folder's tasks by quality, before and after."""
    tasks = [json.loads(p.read_text(encoding="utf-8")) for p in sorted(run.glob("*/task.json"))]
    before = Counter(t.get("statement_quality_original", "unknown") for t in tasks)
    after = Counter(t.get("statement_quality", "unknown") for t in tasks)
    failure = sum(1 for t in tasks if "test_failure" in t.get("statement_sources", []))
    return {"run": str(run), "tasks": len(tasks), "before": dict(before), "after": dict(after),
            "with_test_failure": failure, "leaks": statement_leaks(run)}


def quotes(run: Path, limit: int) -> list[tuple[str, str, str, list[str]]]:
    """(instance id, original, redacted, reasons) for tasks whose statement lost something."""
    found = []
    for path in sorted(run.glob("*/task.json")):
        task = json.loads(path.read_text(encoding="utf-8"))
        if task.get("statement_redactions"):
            original = (path.parent / ORIGINAL).read_text(encoding="utf-8")
            found.append((task["instance_id"], original, (path.parent / STATEMENT).read_text(encoding="utf-8"),
                          [r["reason"] for r in task["statement_redactions"]]))
    return found[:limit]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    parser.add_argument("--quote", type=int, default=0)
    args = parser.parse_args()
    for run in args.runs:
        s = summarise(run)
        row = lambda c: ", ".join(f"{c.get(q, 0)} {q}" for q in QUALITIES)  # noqa: E731
        print(f"{run}: {s['tasks']} tasks; before: {row(s['before'])}; after: {row(s['after'])}; "
              f"with failing test output: {s['with_test_failure']}; statements holding a fix or test line: {len(s['leaks'])}")
        for instance_id, lines in s["leaks"].items():
            print(f"  LEAK {instance_id}: {lines}")
        for instance_id, original, redacted, reasons in quotes(run, args.quote):
            print(f"\n### {instance_id}\n--- original\n{original}--- given to the solver\n{redacted}--- removed because: {reasons}\n")


if __name__ == "__main__":
    main()
