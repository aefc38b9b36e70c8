"""What validation costs per task, against what its tests cost.

    python benchmarks/validation_cost.py measure MINED_DIR --out RUN_DIR --results FILE [--limit 4] [--workers 1] [--instance ID]
    python benchmarks/validation_cost.py summary FILE...

`measure` copies a run folder written by `swegen mine --no-validate` to RUN_DIR, keeps its first
`--limit` candidates, and validates them with whatever swegen is first on sys.path (run it with
PYTHONPATH=<a git worktree> to measure another version). Per task it appends to FILE: the job's
wall time (validation.jsonl's `seconds`: every container, install, patch and test run of the task;
environment images are built before and counted apart), and the tests' own time, the sum over
the task's runs of the runner's `TestRun.duration` (the `docker exec` of pytest, as the host
times it), with pytest's own "in N s" beside it. Then one line for the whole call: its wall
time, the time spent building environments, and the workers, for throughput.

`summary` prints the per-repository figures as Markdown: mean wall and test time per task, their
ratio, and whether the goal (wall at most twice the tests' time plus 5 s) holds.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

_PYTEST_TIME = re.compile(r" in ([0-9.]+)s")


def _subset(mined: Path, out: Path, limit: int, only: list[str]) -> list[str]:
    """Copy `mined` to `out` with only its first `limit` kept candidates (or those of `only`); their ids."""
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(mined, out, ignore=shutil.ignore_patterns("validation*.jsonl", "tasks.jsonl", "envs"))
    rows = [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines() if line.strip()]
    kept = [row for row in rows if row.get("kept") and (not only or row["instance_id"] in only)][:limit]
    (out / "candidates.jsonl").write_text("".join(json.dumps(row) + "\n" for row in kept))
    return [row["instance_id"] for row in kept]


def _instrument(runs_file: Path) -> None:
    """Record every test run's duration, per task, in `runs_file` (a file, so that the runs of
    worker processes, forked with this patch in place, are seen too)."""
    import swegen.validating as validating

    run_pytest = validating.run_pytest

    def timed_run_pytest(box, *args, **kwargs):
        run = run_pytest(box, *args, **kwargs)
        last = run.output.strip().splitlines()[-1] if run.output.strip() else ""
        reported = _PYTEST_TIME.findall(last)
        line = {"instance_id": box.spec.labels.get("swegen.instance", ""), "duration": run.duration,
                "pytest": float(reported[-1]) if reported else None}
        with open(runs_file, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")
        return run

    validating.run_pytest = timed_run_pytest
    _time_installs(runs_file)


def _time_installs(runs_file: Path) -> None:
    """Record how long each install of the project (and each snapshot commit, where there are
    snapshots) takes, to say where a task's time goes beyond its tests."""
    import time

    import swegen.testbed as testbed

    install = testbed.Container.install

    def timed_install(self, *args, **kwargs):
        started = time.monotonic()
        try:
            return install(self, *args, **kwargs)
        finally:
            _note(runs_file, {"instance_id": self.bed.instance_id, "install": time.monotonic() - started})

    testbed.Container.install = timed_install
    try:
        import swegen.snapshot as snapshot
    except ImportError:
        return  # a version without snapshots
    commit = snapshot._commit

    def timed_commit(container, instance_id):
        started = time.monotonic()
        try:
            return commit(container, instance_id)
        finally:
            _note(runs_file, {"instance_id": instance_id, "commit": time.monotonic() - started})

    snapshot._commit = timed_commit


def _note(runs_file: Path, line: dict) -> None:
    with open(runs_file, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(line) + "\n")


def measure(args: argparse.Namespace) -> None:
    ids = _subset(args.mined, args.out, args.limit, args.instance)
    runs_file = args.out / "bench-runs.jsonl"
    _instrument(runs_file)
    import swegen
    from swegen.validating import ValidateConfig, validate

    marks: dict[str, float] = {}

    def progress(stage: str, done: int, total: int | None) -> None:
        marks.setdefault(stage, time.monotonic())

    started = time.monotonic()
    validate(ValidateConfig(run_dir=args.out, workers=args.workers), progress)
    wall = time.monotonic() - started
    building = marks.get("validating", started) - started
    notes = [json.loads(line) for line in runs_file.read_text().splitlines()] if runs_file.exists() else []
    runs = [n for n in notes if "duration" in n]
    verdicts = {row["instance_id"]: row for row in map(json.loads, (args.out / "validation.jsonl").read_text().splitlines())}
    code = str(Path(swegen.__file__).resolve().parents[1])
    rev = subprocess.run(["git", "-C", code, "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = bool(subprocess.run(["git", "-C", code, "status", "--porcelain", "swegen"], capture_output=True, text=True).stdout.strip())
    common = {"label": args.label, "repo": args.mined.name.removeprefix("mined-"), "code": code, "rev": rev + ("+dirty" if dirty else ""),
              "workers": args.workers, "load": os.getloadavg()[0]}
    with open(args.results, "a", encoding="utf-8") as handle:
        for instance_id in ids:
            verdict = verdicts.get(instance_id, {})
            mine = [r for r in runs if r["instance_id"] == instance_id]
            row = {**common, "instance_id": instance_id, "kept": verdict.get("kept"), "reason": verdict.get("reason"),
                   "wall": verdict.get("seconds"), "tests": round(sum(r["duration"] for r in mine), 2), "runs": len(mine),
                   "pytest": round(sum(r["pytest"] or 0 for r in mine), 2), "verdict": _verdict(verdict),
                   "installs": [round(n["install"], 1) for n in notes if n["instance_id"] == instance_id and "install" in n],
                   "commits": [round(n["commit"], 1) for n in notes if n["instance_id"] == instance_id and "commit" in n]}
            handle.write(json.dumps(row) + "\n")
        handle.write(json.dumps({**common, "instance_id": None, "tasks": len(ids), "wall_total": round(wall, 1),
                                 "env_build": round(building, 1), "load_end": os.getloadavg()[0]}) + "\n")
    print(f"{args.label} {common['repo']}: {len(ids)} tasks in {wall:.0f}s ({building:.0f}s building environments)")


def _verdict(row: dict) -> dict:
    """The parts of a verdict that must not change with how validation runs."""
    keep = ("kept", "reason", "step", "FAIL_TO_PASS", "PASS_TO_PASS", "infra_error")
    return {key: row.get(key) for key in keep}


def summary(args: argparse.Namespace) -> None:
    rows = [json.loads(line) for path in args.files for line in Path(path).read_text().splitlines() if line.strip()]
    tasks = [r for r in rows if r["instance_id"] and r.get("wall") is not None and r["runs"]]
    print("| repository | version | tasks | runs/task | tests s/task (pytest's own) | wall s/task | wall / tests | overhead s/task "
          "| installs/task (s) | snapshot commit s | goal 2x+5 s met |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for key in sorted({(r["repo"], r["label"]) for r in tasks}):
        mine = [r for r in tasks if (r["repo"], r["label"]) == key and r["workers"] == 1]
        if not mine:
            continue
        tests, wall = statistics.mean(r["tests"] for r in mine), statistics.mean(r["wall"] for r in mine)
        met = sum(r["wall"] <= 2 * r["tests"] + 5 for r in mine)
        own = statistics.mean(r["pytest"] for r in mine)
        installs = statistics.mean(len(r.get("installs", [])) for r in mine)
        install_s = statistics.mean(sum(r.get("installs", [])) for r in mine)
        commit_s = statistics.mean(sum(r.get("commits", [])) for r in mine)
        print(f"| {key[0]} | {key[1]} | {len(mine)} | {statistics.mean(r['runs'] for r in mine):.1f} | {tests:.1f} ({own:.1f}) | {wall:.1f} "
              f"| {wall / tests:.2f}x | {wall - tests:.1f} | {installs:.1f} ({install_s:.1f}) | {commit_s:.1f} | {met}/{len(mine)} |")
    print()
    print("| repository | version | workers | tasks | wall s (validate, images built) | tasks/min | load at start |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        if r["instance_id"] is None:
            seconds = r["wall_total"] - r["env_build"]
            print(f"| {r['repo']} | {r['label']} | {r['workers']} | {r['tasks']} | {seconds:.0f} | {60 * r['tasks'] / seconds:.2f} | {r['load']:.1f} |")
    _compare(tasks)


def _compare(tasks: list[dict]) -> None:
    """Verdicts that differ between versions of the same task (there should be none)."""
    by_task: dict[str, dict[str, dict]] = {}
    for r in tasks:
        by_task.setdefault(r["instance_id"], {})[r["label"]] = r["verdict"]
    differ = [i for i, versions in by_task.items() if len({json.dumps(v, sort_keys=True) for v in versions.values()}) > 1]
    print()
    print(f"verdicts compared across versions: {sum(len(v) > 1 for v in by_task.values())} tasks, {len(differ)} differ"
          + (f": {', '.join(differ)}" if differ else ""))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("measure")
    one.add_argument("mined", type=Path)
    one.add_argument("--out", type=Path, required=True)
    one.add_argument("--results", type=Path, required=True)
    one.add_argument("--label", required=True)
    one.add_argument("--limit", type=int, default=4)
    one.add_argument("--workers", type=int, default=1)
    one.add_argument("--instance", action="append", default=[], help="only these candidates (repeatable)")
    many = sub.add_parser("summary")
    many.add_argument("files", nargs="+")
    args = parser.parse_args()
    (measure if args.command == "measure" else summary)(args)


if __name__ == "__main__":
    sys.exit(main())
