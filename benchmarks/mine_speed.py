"""Mining speed: `swegen mine` on a full history against `git log --all --numstat --diff-merges=first-parent`.

The target (issue #3): mining takes at most 3x the time of that git log on the same clone.
Usage: python benchmarks/mine_speed.py REPO [REPO ...] [--runs 3]
Prints one JSON line per repository; add them to benchmarks/RESULTS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from swegen.mining import MineConfig, mine

BASELINE = ["log", "--all", "--numstat", "--diff-merges=first-parent"]
SAME_REFS = ["log", "--branches", "--tags", "--remotes", "--numstat", "--diff-merges=first-parent"]


def timed(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def git_log(repo: Path, args: list[str]) -> None:
    subprocess.run(["git", "-C", str(repo), *args], stdout=subprocess.DEVNULL, check=True)


def measure(repo: Path, runs: int, scratch: Path) -> dict[str, object]:
    commits = int(subprocess.run(["git", "-C", str(repo), "rev-list", "--all", "--count"], capture_output=True, text=True).stdout)
    git_log(repo, BASELINE)  # warm the page cache for both sides
    base = [timed(lambda: git_log(repo, BASELINE)) for _ in range(runs)]
    same = [timed(lambda: git_log(repo, SAME_REFS)) for _ in range(runs)]
    mined = []
    funnel = None
    for run in range(runs):
        # Each run writes a fresh folder, and all of them are removed only at the end: on a
        # file system without a journal, ext4 skips inodes freed in the last minute, so deleting
        # a run's thousand files just before the next run makes that run's file creation slow.
        out = scratch / f"{repo.name}-{run}"
        holder = {}
        mined.append(timed(lambda: holder.setdefault("f", mine(MineConfig(repo=repo, output=out)))))
        funnel = holder["f"]
    result = {
        "repo": str(repo),
        "commits_all_refs": commits,
        "git_log_all_s": round(statistics.median(base), 2),
        "git_log_same_refs_s": round(statistics.median(same), 2),
        "swegen_mine_s": round(statistics.median(mined), 2),
        "ratio_vs_git_log_all": round(statistics.median(mined) / statistics.median(base), 2),
        "ratio_vs_same_refs": round(statistics.median(mined) / statistics.median(same), 2),
        "funnel": funnel.as_dict() if funnel else None,
    }
    return result


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
