"""Mining speed: `swegen mine` on a full history against `git log --all --numstat --diff-merges=first-parent`.

The target (issue #3): mining takes at most 3x the time of that git log on the same clone.
Usage: python benchmarks/mine_speed.py REPO [REPO ...] [--runs 3]
Prints one JSON line per repository; add them to benchmarks/RESULTS.md by hand.

The runs are interleaved (git log, then swegen mine, then git log again...), so that on a
machine whose load changes both sides of the ratio see the same load; the load average at the
start and end of each repository is in the line. CPU seconds (user + system, git and worker
processes included) are given too: on a loaded machine they move much less than wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from swegen.mining import MineConfig, mine

BASELINE = ["log", "--all", "--numstat", "--diff-merges=first-parent"]
SAME_REFS = ["log", "--branches", "--tags", "--remotes", "--numstat", "--diff-merges=first-parent"]


def timed(fn) -> tuple[float, float]:
    """(wall seconds, CPU seconds of this process and of its children that ended) of fn()."""
    def cpu() -> float:
        own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime

    start, start_cpu = time.perf_counter(), cpu()
    fn()
    return time.perf_counter() - start, cpu() - start_cpu


def git_log(repo: Path, args: list[str]) -> None:
    subprocess.run(["git", "-C", str(repo), *args], stdout=subprocess.DEVNULL, check=True)


def measure(repo: Path, runs: int, scratch: Path) -> dict[str, object]:
    commits = int(subprocess.run(["git", "-C", str(repo), "rev-list", "--all", "--count"], capture_output=True, text=True).stdout)
    git_log(repo, BASELINE)  # warm the page cache for both sides
    load_before = os.getloadavg()[0]
    base, same, mined = [], [], []
    funnel = None
    for run in range(runs):
        base.append(timed(lambda: git_log(repo, BASELINE)))
        same.append(timed(lambda: git_log(repo, SAME_REFS)))
        # Each run writes a fresh folder, and all of them are removed only at the end: on a
        # file system without a journal, ext4 skips inodes freed in the last minute, so deleting
        # a run's thousand files just before the next run makes that run's file creation slow.
        out = scratch / f"{repo.name}-{run}"
        holder = {}
        mined.append(timed(lambda: holder.setdefault("f", mine(MineConfig(repo=repo, output=out)))))
        funnel = holder["f"]

    def median(pairs: list[tuple[float, float]], i: int) -> float:
        return statistics.median(p[i] for p in pairs)

    return {
        "repo": str(repo),
        "commits_all_refs": commits,
        "git_log_all_s": round(median(base, 0), 2),
        "git_log_same_refs_s": round(median(same, 0), 2),
        "swegen_mine_s": round(median(mined, 0), 2),
        "ratio_vs_git_log_all": round(median(mined, 0) / median(base, 0), 2),
        "ratio_vs_same_refs": round(median(mined, 0) / median(same, 0), 2),
        "git_log_all_cpu_s": round(median(base, 1), 2),
        "swegen_mine_cpu_s": round(median(mined, 1), 2),
        "cpu_ratio_vs_git_log_all": round(median(mined, 1) / median(base, 1), 2),
        "runs_s": {"git_log_all": [round(b[0], 2) for b in base], "swegen_mine": [round(m[0], 2) for m in mined]},
        "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "funnel": funnel.as_dict() if funnel else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for repo in args.repos:
            print(json.dumps(measure(repo, args.runs, Path(scratch))), flush=True)


if __name__ == "__main__":
    sys.exit(main())
