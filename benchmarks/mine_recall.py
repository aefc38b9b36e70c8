"""Mining recall on public histories: the pull request merges anywhere in a clone's history that
changed both source and tests, against the units and kept candidates of `swegen mine`.

Usage: python benchmarks/mine_recall.py REPO [REPO ...] [--before SWEGEN_CHECKOUT]
With --before, the same is measured for the swegen checkout given (run with PYTHONPATH), so an
older version can be compared. Prints one JSON line per repository; RESULTS.md is written by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from swegen.history import git, read_commits
from swegen.split import SplitRules

#: Kept units that look like releases, version changes or merges of release/maintenance lines,
#: by a rule independent of (and looser than) swegen's own: each one is then looked at by hand.
RELEASE_LIKE = re.compile(
    r"\b(?:releas\w*|version\w*|changes for|bump\w*)\b|'(?:[\w.-]+/)?v?\d+(?:\.(?:\d+|x))+'|from [^/\s]+/v?\d+(?:\.(?:\d+|x))+\b"
    r"|\bmaint\w*|\bstable\b",
    re.IGNORECASE,
)


def pr_merges(repo: Path) -> list[str]:
    """Every "Merge pull request" merge reachable from any ref (`git log --all`)."""
    return git(repo, "log", "--all", "--merges", "--grep", "^Merge pull request", "--format=%H").split()


def with_source_and_tests(repo: Path, merges: list[str]) -> list[str]:
    rules = SplitRules()
    return [c.sha for c in read_commits(repo, merges) if {"source", "test"} <= {rules.role(f.path) for f in c.files}]


def mine_with(checkout: Path | None, repo: Path, out: Path) -> list[dict]:
    """candidates.jsonl of `swegen mine` (the installed one, or the one at `checkout`)."""
    env = {**os.environ, **({"PYTHONPATH": str(checkout)} if checkout else {})}
    code = (
        "import sys, swegen; from pathlib import Path; from swegen.mining import MineConfig, mine; "
        "print(swegen.__file__, file=sys.stderr); mine(MineConfig(repo=Path(sys.argv[1]), output=Path(sys.argv[2])))"
    )
    # cwd: a `python -c` puts its working folder first on sys.path, which would shadow PYTHONPATH
    subprocess.run([sys.executable, "-c", code, str(repo), str(out)], env=env, check=True, cwd=out.parent)
    return [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines()]


def counts(candidates: list[dict], relevant: set[str], messages: dict[str, str]) -> dict[str, object]:
    units = {c["fix_commit"] for c in candidates}
    kept = [c for c in candidates if c["kept"]]
    release_like = [c for c in kept if RELEASE_LIKE.search(messages.get(c["fix_commit"], c["subject"]))]
    return {
        "pr_merges_as_units": len(relevant & units),
        "pr_merges_kept": len(relevant & {c["fix_commit"] for c in kept}),
        "units": len(units),
        "kept": len(kept),
        "kept_release_like": [f'{c["fix_commit"][:10]} {messages.get(c["fix_commit"], c["subject"])[:80]!r}' for c in release_like],
        "from_nested_merges": sum(1 for c in candidates if c.get("nested_in")),
        "kept_from_nested_merges": sum(1 for c in kept if c.get("nested_in")),
    }


def subjects_and_titles(repo: Path, shas: list[str]) -> dict[str, str]:
    """Subject and first body line of each commit (a merge's pull request title)."""
    out = git(repo, "log", "--no-walk=unsorted", "-z", "--format=%H%x1f%s%x1f%b", *shas) if shas else ""
    found = {}
    for item in out.split("\0"):
        if item.count("\x1f") == 2:
            sha, subject, body = item.strip("\n").split("\x1f")
            found[sha] = subject + " / " + next((l for l in body.splitlines() if l.strip()), "")
    return found


def measure(repo: Path, before: Path | None, scratch: Path) -> dict[str, object]:
    merges = pr_merges(repo)
    relevant = set(with_source_and_tests(repo, merges))
    walked = set(git(repo, "rev-list", "--branches", "--tags", "--remotes").split())
    result: dict[str, object] = {
        "repo": str(repo),
        "pr_merges_all_refs": len(merges),
        "pr_merges_source_and_tests": len(relevant),
        "of_those_reachable_from_branches_and_tags": len(relevant & walked),
    }
    for label, checkout in (("before", before), ("after", None)):
        if label == "before" and before is None:
            continue
        candidates = mine_with(checkout, repo, scratch / f"{repo.name}-{label}")
        kept = [c["fix_commit"] for c in candidates if c["kept"]]
        result[label] = counts(candidates, relevant, subjects_and_titles(repo, kept))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--before", type=Path, help="a swegen checkout to measure too (e.g. a git worktree)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        for repo in args.repos:
            print(json.dumps(measure(repo, args.before, Path(scratch))), flush=True)


if __name__ == "__main__":
    sys.exit(main())
