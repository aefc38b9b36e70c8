"""Real repositories of other languages, as a new user would try them: the whole history mined,
then a sample of the kept candidates, spread evenly over their dates, validated in Docker.

Usage: python benchmarks/language_trials.py OUT REPO [REPO ...] [--sample 4] [--workers 1]
Prints one JSON line per repository (the mining funnel, and per sampled candidate the verdict
with its reason) and keeps each run folder under OUT; add the figures to benchmarks/RESULTS.md.

Only the sample is validated: candidates.jsonl keeps every other line but marks the candidates
outside the sample as not kept ("not-sampled"), as `validate` has no --instance option.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path


def _swegen(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "swegen", *args], capture_output=True, text=True)


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()] if path.exists() else []


def _sample(rows: list[dict], size: int) -> list[str]:
    """Ids of `size` kept candidates spread evenly over their dates (oldest to newest)."""
    kept = sorted((r for r in rows if r.get("kept")), key=lambda r: r["created_at"])
    if len(kept) <= size:
        return [r["instance_id"] for r in kept]
    step = (len(kept) - 1) / (size - 1) if size > 1 else 0
    return [kept[round(i * step)]["instance_id"] for i in range(size)]


def trial(repo: Path, out: Path, size: int, workers: int) -> dict:
    run = out / repo.name
    started = time.monotonic()
    mined = _swegen("mine", str(repo), "-o", str(run), "--no-validate")
    if mined.returncode != 0:
        return {"repo": str(repo), "error": (mined.stderr or mined.stdout).strip().splitlines()[-1:]}
    rows = _lines(run / "candidates.jsonl")
    funnel = {"candidates_considered": len(rows), "kept_by_mining": sum(bool(r.get("kept")) for r in rows)}
    chosen = set(_sample(rows, size))
    text = "".join(json.dumps({**r, "kept": False, "reasons": ["not-sampled"]} if r.get("kept") and r["instance_id"] not in chosen else r) + "\n"
                   for r in rows)
    (run / "candidates.jsonl").write_text(text, encoding="utf-8")
    validated = _swegen("validate", str(run), "--workers", str(workers))
    verdicts = {r["instance_id"]: r for r in _lines(run / "validation.jsonl")}
    by_id = {r["instance_id"]: r for r in rows}
    sample = [
        {"instance_id": i, "created_at": by_id[i]["created_at"][:10], "subject": by_id[i]["subject"][:80],
         "kept": bool(verdicts.get(i, {}).get("kept")), "reason": (verdicts.get(i, {}).get("reason") or "")[:300],
         "FAIL_TO_PASS": len(verdicts.get(i, {}).get("FAIL_TO_PASS") or []), "env_image": verdicts.get(i, {}).get("env_image")}
        for i in sorted(chosen, key=lambda i: by_id[i]["created_at"])
    ]
    return {
        "repo": str(repo),
        "funnel": funnel,
        "validate_exit": validated.returncode,
        "sampled": len(sample),
        "env_built": sum(1 for s in sample if not s["reason"].startswith("env-build-failed") and "infra" not in s["reason"]),
        "with_fail_to_pass": sum(1 for s in sample if s["FAIL_TO_PASS"]),
        "kept": sum(1 for s in sample if s["kept"]),
        "sample": sample,
        "seconds": round(time.monotonic() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("repos", nargs="+", type=Path)
    parser.add_argument("--sample", type=int, default=4)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for repo in args.repos:
        print(json.dumps(trial(repo.resolve(), args.out, args.sample, args.workers)), flush=True)


if __name__ == "__main__":
    sys.exit(main())
