"""Environment success rate (issue #4): swegen's recipe against a naive one on the same commits.

For each repository and commit of benchmarks/env_sample.json, two recipes:

- swegen: `Environments.testbed` exactly as `swegen validate` calls it (the plan, the image, the
  check of the environment and its one retry at an earlier date), then a fresh sandbox with `git
  archive` of the commit, the project installed by validation's own `Container.install`
  (sandbox/install_project.sh, then the check that the package under test imports from /testbed),
  then `run_pytest` on the test folder with the plan's test environment.
- naive: the newest base image (swegen-base:py3.13), a venv, the checkout with a shallow .git (as
  a user's clone has), `pip install -e '.[test]'` with network, and `pip install pytest` only when
  the extras did not bring it; then the same sandbox, probe and `run_pytest`, without network.

Success (both): the image builds, the package under test imports from /testbed, pytest runs
(exit 0 or 1 with a report that agrees, no time-out) and at least one test passes: a suite whose
every test errors (the newest pytest under an old conftest) is not running. Collection errors in
some files are counted but do not fail a measurement; "clean" also needs none. The table shows
passed/collected, since a recipe that misses test requirements still "runs" with fewer passing.

Resumable: one JSON line per measurement is appended to --out; a (repo, age, recipe, label) that
is there already is skipped. The naive recipe does not depend on swegen's code, so it is measured
once and its rows count for every label. Usage:

    nice python benchmarks/env_success.py --label first [--only click] [--recipes swegen,naive]
    python benchmarks/env_success.py --summary
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from swegen.docker_sandbox import DockerSandbox, docker_client
from swegen.languages.python.env import available_pythons, plan_environment
from swegen.errors import SwegenError
from swegen.images import base_tag, resolve_ca_bundle
from swegen.languages.python.run import run_pytest
from swegen.sandbox import Limits, SandboxSpec

from swegen.testbed import Container, Environments, git_archive  # validation's shared start

HERE = Path(__file__).resolve().parent
SAMPLE = HERE / "env_sample.json"
NAIVE_PYTHON = "3.13"
NAIVE_REPOSITORY = "swegen-bench-naive"
LABELS = {"swegen.benchmark": "env_success"}
LIMITS = Limits(memory="4g", cpus=2.0, pids=2048)
AGES = ("recent", "3y", "6y")


def _key(row: dict) -> tuple:
    return row["repo"], row["age"], row["recipe"], row["label"] if row["recipe"] == "swegen" else "-"


def _tail(text: str, n: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


def _counts(run) -> dict:
    statuses = list(run.statuses.values())
    return {
        "tests": len(statuses),
        "passed": statuses.count("PASSED"),
        "failed": statuses.count("FAILED") + statuses.count("ERROR"),
        "collection_errors": len(run.collection_errors),
        "exit_code": run.exit_code,
        "timed_out": run.timed_out,
        "run_problem": run.infra_error,
        "pytest_seconds": round(run.duration, 1),
    }


def _verdict(row: dict) -> dict:
    """Success: built, the package imports from /testbed, pytest ran (exit 0 or 1 with a report
    that agrees) and at least one test passed (a suite whose every test errors does not run)."""
    ok = bool(row.get("built")) and not row.get("import_error") and not row.get("run_problem") and not row.get("harness")
    ok = ok and row.get("passed", 0) > 0
    row["success"] = ok
    row["clean"] = ok and row.get("collection_errors", 0) == 0
    row["why"] = None if ok else (
        row.get("harness") or row.get("build_error") or row.get("import_error") or row.get("run_problem")
        or ("no test collected" if not row.get("tests") else "no test passed")
    )
    return row


def _probe(box, package: str | None, env: dict) -> str | None:
    """Validation's check, for the naive recipe: the package under test imports from /testbed."""
    if not package:
        return None
    probe = box.exec(
        ["python", "-c", f"import {package}, os; print(os.path.realpath({package}.__file__))"], timeout=120, env=env
    )
    if not probe.ok:
        return f"the package {package} does not import: {probe.stderr.strip().splitlines()[-1:]}"
    if not probe.stdout.strip().startswith("/testbed/"):
        return f"the package {package} is imported from {probe.stdout.strip()}, not from the checkout"
    return None


def measure_swegen(clone: Path, sha: str, tests: str, timeout: float, logs: Path) -> dict:
    """validation's own start: `Environments.testbed` (plan, image, the environment check and its
    retry at an earlier date), a fresh container, the install and the import check, then pytest."""
    row: dict = {}
    envs = Environments(logs, clone, ca_bundle=resolve_ca_bundle(None))
    started = time.monotonic()
    bed, plan, error = envs.testbed({"instance_id": "bench", "base_commit": sha}, LIMITS)
    row.update(python=plan.python, exclude_newer=plan.exclude_newer, package=plan.package)
    row["reasons"] = [f"{part}: {why}" for part, why in plan.reasons]
    row["retried_earlier"] = any(part == "dependencies as of" and "days before" in why for part, why in plan.reasons)
    if error or bed is None:
        row.update(built=False, build_error=error)
        return row
    row.update(built=True, image=bed.image, build_seconds=round(time.monotonic() - started, 1))
    with Container(bed, git_archive(clone, sha), "benchmark") as box:
        row["install"], row["import_error"] = box.install(logs / "install.txt")
        run = run_pytest(box.box, [tests], timeout, env=bed.test_env, extra_args=bed.pytest_args)
    (logs / "pytest.txt").write_text(run.output, encoding="utf-8")
    row.update(_counts(run), pytest_tail=_tail(run.output, 5))
    return row


NAIVE_DOCKERFILE = """\
FROM {base}
COPY ca-bundle.crt /etc/ssl/certs/bench-ca.crt
ENV SSL_CERT_FILE=/etc/ssl/certs/bench-ca.crt PIP_CERT=/etc/ssl/certs/bench-ca.crt \\
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/bench-ca.crt PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python3 -m venv /opt/naive
ENV PATH=/opt/naive/bin:$PATH
COPY src/ /testbed/
WORKDIR /testbed
RUN pip install -e '.[test]'
RUN python -c 'import pytest' 2>/dev/null || pip install pytest
"""


def _naive_context(context: Path, clone: Path, sha: str) -> None:
    """The checkout at `sha` with a one-commit .git, as a user's clone at that commit has."""
    src = context / "src"
    subprocess.run(["git", "init", "-q", str(src)], check=True)
    subprocess.run(["git", "-C", str(src), "fetch", "-q", "--depth", "1", f"file://{clone}", sha], check=True)
    subprocess.run(["git", "-C", str(src), "checkout", "-q", "FETCH_HEAD"], check=True)
    ca = resolve_ca_bundle(None)
    (context / "ca-bundle.crt").write_bytes(ca.read_bytes() if ca else b"")
    (context / "Dockerfile").write_text(NAIVE_DOCKERFILE.format(base=base_tag(NAIVE_PYTHON)), encoding="utf-8")


def measure_naive(clone: Path, sha: str, tests: str, timeout: float, logs: Path, name: str) -> dict:
    row: dict = {"python": NAIVE_PYTHON}
    plan = plan_environment(clone, sha, available_pythons())  # only for the package name
    row["package"] = plan.package
    tag = f"{NAIVE_REPOSITORY}:{name}"
    lines: list[str] = []
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="swegen-bench-naive-") as tmp:
        _naive_context(Path(tmp), clone, sha)
        error = None
        for chunk in docker_client().api.build(
            path=tmp, tag=tag, rm=True, forcerm=True, decode=True, labels=LABELS, network_mode="host"
        ):
            text = chunk.get("stream") or ""
            if text.strip():
                lines.append(text.rstrip())
            if "error" in chunk:
                error = chunk["error"].strip()
    (logs / "build.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if error:
        row.update(built=False, build_error=error[-300:], build_tail=_tail("\n".join(lines)))
        return row
    row.update(built=True, image=tag, build_seconds=round(time.monotonic() - started, 1))
    try:
        spec = SandboxSpec(image=tag, limits=LIMITS, labels={"swegen.stage": "benchmark", **LABELS})
        with DockerSandbox(spec) as box:
            row["install"] = "pip install -e .[test]"
            row["import_error"] = _probe(box, plan.package, {})
            run = run_pytest(box, [tests], timeout, env={})
        (logs / "pytest.txt").write_text(run.output, encoding="utf-8")
        row.update(_counts(run), pytest_tail=_tail(run.output, 5))
    finally:
        docker_client().images.remove(tag, force=True)  # ours, one per commit: do not keep them
    return row


def summary(rows: list[dict], label: str | None) -> str:
    latest: dict[tuple, dict] = {}
    for row in rows:
        latest[_key(row)] = _verdict(row)
    labels = sorted({r["label"] for r in latest.values() if r["recipe"] == "swegen"})
    out = []
    for lab in labels if label is None else [label]:
        swegen = {(r["repo"], r["age"]): r for r in latest.values() if r["recipe"] == "swegen" and r["label"] == lab}
        naive = {(r["repo"], r["age"]): r for r in latest.values() if r["recipe"] == "naive"}
        keys = sorted(set(swegen) | set(naive))
        out.append(f"\n== swegen recipe: {lab} ==")
        out.append(f"{'repo':24} {'age':6} {'swegen':38} {'naive (py3.13)':38}")
        for key in keys:
            cells = []
            for r in (swegen.get(key), naive.get(key)):
                if r is None:
                    cells.append("-")
                elif r["success"]:
                    cells.append(f"ok py{r['python']} {r['passed']}/{r['tests']} pass, {r['collection_errors']} coll.err")
                else:
                    cells.append(f"FAIL py{r.get('python')}: {r['why'][:30]}")
            out.append(f"{key[0]:24} {key[1]:6} {cells[0]:38} {cells[1]:38}")
        out += _footer(swegen, naive)
    return "\n".join(out)


def _footer(swegen: dict, naive: dict) -> list[str]:
    """Totals over every row of each recipe; the commits both measured compared apart, and only
    when there are any (a label measured without naive rows has no 0/0 to show). Pure."""
    both = [k for k in swegen if k in naive]
    out = []
    for name, table in (("swegen", swegen), ("naive", naive)):
        if not table:
            out.append(f"{name}: not measured")
            continue
        ok, clean = sum(r["success"] for r in table.values()), sum(r["clean"] for r in table.values())
        line = f"{name}: {ok}/{len(table)} succeed, {clean}/{len(table)} without collection errors"
        if both:
            line += f" ({sum(table[k]['success'] for k in both)}/{len(both)} on the commits both recipes measured)"
        out.append(line)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/envbench/env_success.jsonl"))
    parser.add_argument("--label", default="first", help="names this version of swegen's recipe")
    parser.add_argument("--recipes", default="swegen,naive")
    parser.add_argument("--only", default="", help="substring of the repository names to measure")
    parser.add_argument("--ages", default=",".join(AGES))
    parser.add_argument("--timeout", type=float, default=600)
    parser.add_argument("--redo", action="store_true", help="measure again even when a row exists")
    parser.add_argument("--summary", action="store_true", help="only print the table")
    args = parser.parse_args()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows = [json.loads(line) for line in args.out.read_text().splitlines()] if args.out.exists() else []
    if args.summary:
        print(summary(rows, None))
        return
    done = {_key(r) for r in rows}
    sample = json.loads(SAMPLE.read_text())
    for entry in sample["repos"]:
        if args.only and args.only not in entry["repo"]:
            continue
        for age in args.ages.split(","):
            commit = entry["commits"][age]
            for recipe in args.recipes.split(","):
                row = {"repo": entry["repo"], "age": age, "recipe": recipe, "label": args.label}
                row.update(sha=commit["sha"], date=commit["date"], style=commit["style"])
                if _key(row) in done and not args.redo:
                    continue
                name = f"{entry['repo'].replace('/', '-')}-{age}"
                logs = args.out.parent / "logs" / args.label / recipe / name
                logs.mkdir(parents=True, exist_ok=True)
                print(f"{time.strftime('%H:%M:%S')} {recipe:6} {entry['repo']} {age} {commit['sha'][:10]}", flush=True)
                started = time.monotonic()
                clone, tests = Path(entry["clone"]), entry["tests"]
                try:
                    if recipe == "swegen":
                        row.update(measure_swegen(clone, commit["sha"], tests, args.timeout, logs))
                    else:
                        row.update(measure_naive(clone, commit["sha"], tests, args.timeout, logs, name.lower()))
                except SwegenError as exc:  # a sandbox failure: recorded, not fatal for the sweep
                    row.update(built=row.get("built", False), harness=f"harness: {exc.one_line()}")
                row["seconds"] = round(time.monotonic() - started, 1)
                _verdict(row)
                with args.out.open("a", encoding="utf-8") as sink:
                    sink.write(json.dumps(row) + "\n")
                print(f"    -> {'ok' if row['success'] else 'FAIL'} {row.get('why') or ''} "
                      f"({row.get('passed', 0)}/{row.get('tests', 0)} passed, {row['seconds']} s)", flush=True)
                rows.append(row)
    print(summary(rows, args.label))


if __name__ == "__main__":
    sys.exit(main())
