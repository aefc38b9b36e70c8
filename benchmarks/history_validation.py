"""Validation over whole histories (issue 12): does the environment build, and does the package
under test import from the checkout, for fixes of every age, not only recent heads?

For each repository of REPOS (smallest and fastest suites first): `swegen mine --no-validate` over
the whole history, then a sample of SAMPLE_SIZE kept candidates spread evenly over time (the
candidate nearest each of SAMPLE_SIZE equally spaced moments between the first and the last fix),
then `swegen validate` exactly as a user runs it, one candidate at a time.

The sample is validated in a van der Corput order (the middle of the time span first, then the
quarters, then the eighths...) and round-robin over the repositories, so that whatever prefix is
done when the run is stopped is still spread over every repository and every age. Each repository
candidate gets a run folder of its own (a copy of its mined task folder; the environment
folder envs/ shared by the repository's candidates), validated with `validate` as `swegen validate`
calls it; every verdict is appended to its validation.jsonl as it comes, so a killed run resumes
where it stopped (an infrastructure error is validated once more, then counts as one). A file named PAUSE in the output folder holds the run between two candidates
(another benchmark can then use the Docker daemon alone).

Per candidate: env = the image built (no `env-build-failed`); imports = the package under test
imports from /testbed (no `install-failed` / control install failure); kept = validation kept it.
Usage:

    nohup nice python benchmarks/history_validation.py [--out /tmp/hv] [--only h11] &
    python benchmarks/history_validation.py --summary [--markdown]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

from swegen.records import read_lines
from swegen.testbed import _ERROR_LINE
from swegen.validating import ValidateConfig, validate

#: (name, mirror folder, why it is in the sample); order = the order they are validated in.
REPOS = (
    ("pytest-dev/iniconfig", "pytest-dev+iniconfig", "tiny, 2010-: setup.py, then setuptools_scm, then hatch-vcs"),
    ("python-hyper/h11", "python-hyper+h11", "new here; pure Python, 2016-, fast suite, setup.py throughout"),
    ("pytest-dev/pluggy", "pytest-dev+pluggy", "2015-: setup.py, setup.cfg + setuptools_scm, then pyproject"),
    ("mahmoud/boltons", "mahmoud+boltons", "new here; pure Python, 2013-, setup.py then flit/pyproject"),
    ("jazzband/tablib", "jazzband+tablib", "new here; 2010-, many optional format dependencies"),
    ("more-itertools/more-itertools", "more-itertools+more-itertools", "2012-, setup.py to flit"),
)
MIRRORS = Path("/work/.mirror")
SAMPLE_SIZE = 30
#: Validations of one candidate that may end in an infrastructure error before it counts as one.
MAX_INFRA = 2
SWEGEN = Path(sys.executable).with_name("swegen")


def clone(out: Path, mirror: str) -> Path:
    path = out / "clones" / mirror
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", str(MIRRORS / mirror / "repo"), str(path)], check=True)
    return path


def mine(out: Path, repo: Path, name: str) -> Path:
    """The whole history mined once (its run folder is kept: mining again is skipped)."""
    mined = out / name.replace("/", "+") / "mined"
    if not (mined / "candidates.jsonl").exists() or not (mined / "run.json").exists():
        started = time.monotonic()
        subprocess.run([str(SWEGEN), "mine", str(repo), "-o", str(mined), "--no-validate", "--repo-name", name], check=True)
        (mined / "mine_seconds.txt").write_text(f"{time.monotonic() - started:.0f}\n")
    return mined


def _commit_time(repo: Path, sha: str) -> int:
    return int(subprocess.run(["git", "-C", str(repo), "show", "-s", "--format=%ct", sha], capture_output=True, text=True, check=True).stdout)


def sample(kept: list[dict], times: dict[str, int], size: int = SAMPLE_SIZE) -> list[dict]:
    """`size` candidates spread evenly over time: the one nearest each of `size` equally spaced
    moments from the first to the last base commit, each candidate taken once. Pure."""
    rows = sorted(kept, key=lambda r: (times[r["instance_id"]], r["instance_id"]))
    if len(rows) <= size:
        return rows
    first, last = times[rows[0]["instance_id"]], times[rows[-1]["instance_id"]]
    chosen: list[dict] = []
    for step in range(size):
        moment = first + (last - first) * step / (size - 1)
        free = [r for r in rows if r not in chosen]
        chosen.append(min(free, key=lambda r: (abs(times[r["instance_id"]] - moment), r["instance_id"])))
    return sorted(chosen, key=lambda r: times[r["instance_id"]])


def spread_order(n: int) -> list[int]:
    """0..n-1 in van der Corput order (n=8: 0 4 2 6 1 5 3 7): every prefix is spread out. Pure."""
    def radical(i: int) -> float:
        out, denominator = 0.0, 1.0
        while i:
            denominator *= 2
            out += (i & 1) / denominator
            i >>= 1
        return out

    return sorted(range(n), key=lambda i: (radical(i), i)) if n else []


def prepare(out: Path, name: str, mirror: str) -> list[dict]:
    """The sampled candidates of one repository, in validation order (mined and sampled once)."""
    repo = clone(out, mirror)
    mined = mine(out, repo, name)
    folder = out / name.replace("/", "+")
    sample_file = folder / "sample.json"
    if not sample_file.exists():
        kept = [r for r in read_lines(mined / "candidates.jsonl") if r.get("kept")]
        times = {r["instance_id"]: _commit_time(repo, r["base_commit"]) for r in kept}
        chosen = sample(kept, times)
        ordered = [chosen[i] for i in spread_order(len(chosen))]
        rows = [{"instance_id": r["instance_id"], "base_commit": r["base_commit"],
                 "base_date": dt.datetime.fromtimestamp(times[r["instance_id"]], dt.timezone.utc).strftime("%Y-%m-%d"),
                 "subject": r.get("subject", "")} for r in ordered]
        all_rows = list(read_lines(mined / "candidates.jsonl"))
        meta = {"kept_mined": len(kept), "candidates_mined": len(all_rows), "sample": rows}
        sample_file.write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return json.loads(sample_file.read_text(encoding="utf-8"))["sample"]


def add_candidate(folder: Path, mined: Path, instance_id: str) -> Path:
    """The run folder of one sampled candidate (idempotent): run.json, its candidates.jsonl line,
    a copy of its mined task folder; envs/ is the repository's, shared, so image builds, failed
    builds and environment checks are made once per recipe as in one run folder."""
    run = folder / "runs" / instance_id
    run.mkdir(parents=True, exist_ok=True)
    (folder / "envs").mkdir(exist_ok=True)
    if not (run / "envs").exists():
        (run / "envs").symlink_to(folder / "envs")
    if not (run / "run.json").exists():
        shutil.copy(mined / "run.json", run / "run.json")
    if not (run / instance_id).exists():
        shutil.copytree(mined / instance_id, run / instance_id)
    if not (run / "candidates.jsonl").exists():
        row = next(r for r in read_lines(mined / "candidates.jsonl") if r["instance_id"] == instance_id)
        (run / "candidates.jsonl").write_text(json.dumps(row) + "\n", encoding="utf-8")
    return run


def attempts(folder: Path, instance_id: str) -> list[dict]:
    """Every verdict written for one candidate, in order."""
    path = folder / "runs" / instance_id / "validation.jsonl"
    return list(read_lines(path)) if path.exists() else []


def verdict(folder: Path, instance_id: str) -> dict | None:
    """The final verdict: the first that is no infrastructure error (pytest not starting is none:
    it is the environment's), else the second infrastructure error (validated twice, it counts
    as such), else none yet."""
    rows = attempts(folder, instance_id)
    final = [r for r in rows if not r.get("infra_error") or any(t in (r.get("reason") or "") for t in NOT_STARTING)]
    if final:
        return final[0]
    return rows[1] if len(rows) >= MAX_INFRA else None


#: What the runner calls an infrastructure error but is the suite not starting in a built
#: environment whose package imported (pytest itself fails at start-up).
NOT_STARTING = ("pytest wrote no JUnit report",)


def skipped(out: Path) -> dict[str, str]:
    """Candidates left out by hand (`--skip ID=WHY`), with why: listed in the summary, never counted."""
    path = out / "skipped.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


def classify(row: dict) -> dict:
    """env / imports / kept of one verdict (None: not measured), and its cause when not kept. Pure."""
    reason = row.get("reason") or ""
    if row.get("infra_error") and not any(text in reason for text in NOT_STARTING):
        return {"env": None, "imports": None, "kept": False, "cause": reason}
    env = not reason.startswith("env-build-failed")
    import_failure = reason.startswith("install-failed") or (reason.startswith("control-") and "does not import" in reason)
    applies = not reason.startswith(("test-patch-does-not-apply", "gold-patch-does-not-apply"))
    return {"env": env, "imports": (env and not import_failure) if applies or not env else None,
            "kept": bool(row.get("kept")), "cause": None if row.get("kept") else reason}


def detail(folder: Path, instance_id: str) -> str:
    """The last error line of the first test run before the fix (why a suite did not start)."""
    log = folder / "runs" / instance_id / instance_id / "logs" / "before-1.txt"
    if not log.exists():
        return ""
    errors = [m[1] for line in log.read_text(errors="replace").splitlines() if (m := _ERROR_LINE.match(line.strip()))]
    return errors[-1][:160] if errors else ""


def run(out: Path, only: str, timeout: float) -> None:
    work = []
    for name, mirror, _ in REPOS:
        if only and only not in name:
            continue
        print(f"{time.strftime('%H:%M:%S')} preparing {name}", flush=True)
        chosen = prepare(out, name, mirror)
        folder = out / name.replace("/", "+")
        work.append((name, folder, chosen))
    for _ in range(MAX_INFRA):  # a second pass validates again what hit an infrastructure error
        for index in range(SAMPLE_SIZE):
            for name, folder, chosen in work:
                if index < len(chosen):
                    _one(out, name, folder, chosen[index], index, timeout)


def _one(out: Path, name: str, folder: Path, candidate: dict, index: int, timeout: float) -> None:
    instance_id = candidate["instance_id"]
    if verdict(folder, instance_id) is not None or len(attempts(folder, instance_id)) >= MAX_INFRA:
        return
    if instance_id in skipped(out):
        return
    while (out / "PAUSE").exists():
        time.sleep(10)
    run_dir = add_candidate(folder, folder / "mined", instance_id)
    started = time.monotonic()
    print(f"{time.strftime('%H:%M:%S')} {name} #{index + 1} {candidate['base_date']} {instance_id}", flush=True)
    validate(ValidateConfig(run_dir=run_dir, workers=1, timeout=timeout))
    row = (attempts(folder, instance_id) or [{"reason": "no verdict written"}])[-1]
    print(f"    -> {'kept' if row.get('kept') else row.get('reason')} ({time.monotonic() - started:.0f} s)", flush=True)


def summary(out: Path, markdown: bool) -> str:
    """Per repository: how many were validated, and of those the shares that built, imported and
    were kept (a share's denominator is the candidates where it was measured); then every cause."""
    lines = ["| repository | validated / sampled (kept when mined) | base commits | env builds | "
             "env builds and package imports | kept | infra errors |", "|---|---:|---|---:|---:|---:|---:|"]
    # a suite that does not start (pytest wrote no report) counts as built and imported: the
    # install and the import check passed before the tests ran
    causes = ["", "| repository | base date | fix | why not kept |", "|---|---|---|---|"]
    for name, _, _ in REPOS:
        folder = out / name.replace("/", "+")
        if not (folder / "sample.json").exists():
            continue
        meta = json.loads((folder / "sample.json").read_text())
        dates = {r["instance_id"]: r["base_date"] for r in meta["sample"]}
        done = {i: classify(r) for i in dates if (r := verdict(folder, i)) is not None}
        built = [c for c in done.values() if c["env"] is not None]
        measured = [c for c in done.values() if c["imports"] is not None]
        years = sorted(dates[i][:4] for i in done)
        lines.append(
            f"| {name} | {len(done)} / {len(meta['sample'])} ({meta['kept_mined']}) | "
            f"{years[0] + '–' + years[-1] if years else '-'} | {sum(c['env'] for c in built)}/{len(built)} | "
            f"{sum(bool(c['imports']) for c in measured)}/{len(measured)} | {sum(c['kept'] for c in done.values())}/{len(done)} | "
            f"{len(done) - len(built)} |")
        for instance_id, c in sorted(done.items(), key=lambda item: dates[item[0]]):
            if c["cause"]:
                more = detail(folder, instance_id) if any(t in c["cause"] for t in NOT_STARTING) else ""
                cause = " ".join((c["cause"][:200] + (f": {more}" if more else "")).split()).replace("|", "\\|")
                causes.append(f"| {name} | {dates[instance_id]} | {instance_id.rsplit('-', 1)[-1]} | {cause} |")
    left = skipped(out)
    if left:
        causes += ["", "Not run (left out by hand, not counted above):", ""]
        causes += [f"- {instance_id}: {why}" for instance_id, why in sorted(left.items())]
    text = "\n".join(lines + causes)
    return text if markdown else text.replace("|", " ")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/hv"))
    parser.add_argument("--only", default="", help="substring of the repository names to run")
    parser.add_argument("--timeout", type=float, default=600, help="seconds one test run may take")
    parser.add_argument("--summary", action="store_true", help="only print the tables")
    parser.add_argument("--skip", action="append", default=[], metavar="ID=WHY",
                        help="leave a candidate out, with the reason (kept in skipped.json, listed in the summary)")
    parser.add_argument("--markdown", action="store_true", help="tables in Markdown")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.skip:
        left = {**skipped(args.out), **dict(item.split("=", 1) for item in args.skip)}
        (args.out / "skipped.json").write_text(json.dumps(left, indent=1), encoding="utf-8")
    if args.summary:
        print(summary(args.out, args.markdown))
        return
    run(args.out, args.only, args.timeout)
    print(summary(args.out, True))


if __name__ == "__main__":
    sys.exit(main())
