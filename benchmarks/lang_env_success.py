"""Environment success rate for another language (issue 15): swegen's plan against a naive recipe,
on real repositories at three ages, as benchmarks/env_success.py does for Python.

For each repository of SAMPLE and each age (the head of the default branch, the last first-parent
commit before 2023-11-15, the last before 2020-11-15; computed from the clone, and written into
each row):

- swegen: the language's plan at the commit (`languages.by_name(...).at(repo, commit).plan`), its
  image (`build_env_image`), a fresh sandbox without network holding `git archive` of the commit,
  the plan's install command, then its test command over the whole project (every package), the
  report read by the language's own parser.
- naive: what a user would type with network. Go: the newest Debian Go (trixie's, on
  swegen-base:py3.13), `go mod download` at image build (with network), then `go test -json ./...`
  offline, read by the same parser. JavaScript: Debian's node, `npm install` at image build, then
  `npx jest --json` offline.

Success (both): the image builds and at least one test passes. Resumable: one JSON line per
measurement is appended to --out, and a (repo, age, recipe) already there is skipped. Usage:

    nice python benchmarks/lang_env_success.py --language go [--only uuid]
    python benchmarks/lang_env_success.py --language go --summary [--markdown]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

from swegen import languages
from swegen.docker_sandbox import DockerSandbox, docker_client
from swegen.errors import SwegenError
from swegen.globs import matches
from swegen.images import base_tag, build_env_image, resolve_ca_bundle
from swegen.languages.base import ERROR, FAILED, PASSED
from swegen.sandbox import Limits, SandboxSpec
from swegen.testbed import git_archive

MIRRORS = Path("/work/.mirror")
#: (language, repository, why it is in the sample). Go: repositories that need no module (or
#: vendor them), since no Go module proxy answers here.
SAMPLE = {
    "go": (
        ("google/uuid", "no requirements; GOPATH-era code before 2019, a go.mod without a go line after"),
        ("BurntSushi/toml", "no requirements; go.mod from 2021, go 1.21 today; tests read testdata"),
        ("pkg/errors", "no requirements; GOPATH-era, archived in 2021"),
        ("spf13/pflag", "no requirements; go.mod with go 1.12 throughout"),
        ("gorilla/mux", "no requirements after 2018; go.mod from 2018, go 1.20 today"),
    ),
    "javascript": (
        ("expressjs/express", "mocha, npm without a lock file"),
        ("sindresorhus/ky", "ava, TypeScript, npm"),
        ("axios/axios", "mocha, then jest, then vitest; npm with a lock"),
        ("immerjs/immer", "jest, then vitest; yarn, TypeScript"),
        ("changesets/changesets", "a monorepo: yarn workspaces and jest, then pnpm and vitest"),
    ),
}
AGES = (("recent", None), ("3y", "2023-11-15"), ("6y", "2020-11-15"))
LIMITS = Limits(memory="4g", cpus=2.0, pids=2048)
LABELS = {"swegen.benchmark": "lang_env_success"}
TIMEOUT = 900
NAIVE = {
    "go": ("3.13", "apt-get update && apt-get install -y --no-install-recommends golang-go && rm -rf /var/lib/apt/lists/*",
           "go mod download 2>&1 || true", "cd /testbed && go test -json -count=1 ./... > /tmp/naive-report.json 2>/tmp/naive-err.txt"),
    # `npm install && npx jest`; npx fetches jest at image build when the project has none, so
    # that the offline run finds it in npx's cache
    "javascript": ("3.13", "apt-get update && apt-get install -y --no-install-recommends nodejs npm && rm -rf /var/lib/apt/lists/*",
                   "npm install 2>&1; npx --yes jest --version 2>&1 || true",
                   "cd /testbed && npx --offline jest --ci --json --outputFile=/tmp/naive-report.json > /tmp/naive-out.txt 2>/tmp/naive-err.txt"),
}


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout.strip()


def clone(out: Path, name: str) -> Path:
    path = out / "clones" / name.replace("/", "+")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "clone", "-q", str(MIRRORS / name.replace("/", "+") / "repo"), str(path)], check=True)
    return path


def commit_at(repo: Path, before: str | None) -> str:
    return _git(repo, "rev-parse", "HEAD") if before is None else _git(repo, "rev-list", "--first-parent", "-1", f"--before={before}", "HEAD")


def _counts(statuses: dict[str, str]) -> dict:
    values = list(statuses.values())
    return {"tests": len(values), "passed": values.count(PASSED), "failed": values.count(FAILED) + values.count(ERROR)}


def _test_files(language: str, lang, repo: Path, sha: str, workdir: str) -> list[str]:
    """Go: none (the test command then runs every package). JavaScript: every test file of the
    plan's package (ava and tape are run one file at a time, and need the files named)."""
    if language == "go":
        return []
    names = _git(repo, "ls-tree", "-r", "--name-only", sha).splitlines()
    prefix = f"{workdir}/" if workdir else ""
    roles = lang.roles
    candidates = [n for n in names if n.startswith(prefix) and n.endswith(roles.source_extensions)
                  and matches(n, roles.test_globs) and not matches(n, roles.exclude_globs)]
    # only files that hold tests (tree-sitter), not the helpers and fixtures beside them
    return [n for n in candidates if lang.tests_in(n, subprocess.run(["git", "-C", str(repo), "show", f"{sha}:{n}"],
                                                                      capture_output=True, check=True).stdout)]


def measure_swegen(language: str, repo: Path, sha: str, logs: Path) -> dict:
    from swegen.runner import run_language_tests

    lang = languages.by_name(language).at(repo, sha)
    date = _git(repo, "show", "-s", "--format=%cI", sha)
    plan = lang.plan(repo, sha, date)
    if plan is None:
        return {"built": False, "why": f"no {language} project at the commit"}
    row: dict = {"runtime": "-".join(plan.runtime), "reasons": [f"{part}: {why}" for part, why in plan.reasons]}
    started = time.monotonic()
    try:
        tag, _ = build_env_image(plan.recipe, ca_bundle=resolve_ca_bundle(None), log_path=logs / "build.log")
    except SwegenError as exc:
        return {**row, "built": False, "why": f"env-build-failed: {exc}"}
    row.update(built=True, image=tag, build_seconds=round(time.monotonic() - started, 1))
    spec = SandboxSpec(image=tag, limits=LIMITS, labels={"swegen.stage": "benchmark", **LABELS})
    with DockerSandbox(spec) as box:
        box.put_archive("/testbed", git_archive(repo, sha))
        install = lang.install_command(plan)
        workdir = f"/testbed/{plan.workdir}".rstrip("/") if plan.workdir else "/testbed"
        if install:
            done = box.exec(install, timeout=TIMEOUT, env=dict(plan.test_env), workdir=workdir)
            (logs / "install.txt").write_text(done.stdout + done.stderr, encoding="utf-8")
        run = run_language_tests(box, lang, plan, _test_files(language, lang, repo, sha, plan.workdir), TIMEOUT)
    (logs / "tests.txt").write_text(run.output, encoding="utf-8")
    row.update(_counts(run.statuses), run_problem=run.infra_error, missing_dependency=run.missing_dependency)
    return row


def measure_naive(language: str, repo: Path, sha: str, logs: Path, name: str) -> dict:
    python, toolchain, fetch, test = NAIVE[language]
    tag = f"swegen-bench-naive:{name}"
    dockerfile = (f"FROM {base_tag(python)}\nCOPY ca-bundle.crt /etc/ssl/certs/bench-ca.crt\n"
                  "ENV SSL_CERT_FILE=/etc/ssl/certs/bench-ca.crt GIT_SSL_CAINFO=/etc/ssl/certs/bench-ca.crt\n"
                  f"RUN {toolchain}\nCOPY src/ /testbed/\nWORKDIR /testbed\nRUN {fetch}\n")
    lines: list[str] = []
    error = None
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="swegen-bench-naive-") as tmp:
        src = Path(tmp) / "src"
        subprocess.run(["git", "init", "-q", str(src)], check=True)
        subprocess.run(["git", "-C", str(src), "fetch", "-q", "--depth", "1", f"file://{repo}", sha], check=True)
        subprocess.run(["git", "-C", str(src), "checkout", "-q", "FETCH_HEAD"], check=True)
        ca = resolve_ca_bundle(None)
        (Path(tmp) / "ca-bundle.crt").write_bytes(ca.read_bytes() if ca else b"")
        (Path(tmp) / "Dockerfile").write_text(dockerfile, encoding="utf-8")
        for chunk in docker_client().api.build(path=tmp, tag=tag, rm=True, forcerm=True, decode=True, labels=LABELS,
                                               network_mode="host"):
            text = chunk.get("stream") or ""
            if text.strip():
                lines.append(text.rstrip())
            if "error" in chunk:
                error = chunk["error"].strip()
    (logs / "build.log").write_text("\n".join(lines) + "\n", encoding="utf-8")
    if error:
        return {"built": False, "why": f"naive build failed: {error[-300:]}"}
    row: dict = {"built": True, "build_seconds": round(time.monotonic() - started, 1)}
    try:
        with DockerSandbox(SandboxSpec(image=tag, limits=LIMITS, labels={"swegen.stage": "benchmark", **LABELS})) as box:
            box.exec(test, timeout=TIMEOUT)
            report = box.exec("cat /tmp/naive-report.json", timeout=60).stdout
            err = box.exec("cat /tmp/naive-err.txt", timeout=60).stdout
        (logs / "tests.txt").write_text(report[-200_000:] + "\n--- stderr ---\n" + err, encoding="utf-8")
        row.update(_counts(languages.by_name(language).parse(report, err)), stderr_tail=err.strip().splitlines()[-3:])
    finally:
        docker_client().images.remove(tag, force=True)
    return row


def _verdict(row: dict) -> dict:
    row["success"] = bool(row.get("built")) and row.get("passed", 0) > 0 and not row.get("run_problem")
    if not row["success"] and not row.get("why"):
        row["why"] = row.get("missing_dependency") or row.get("run_problem") or (
            "; ".join(row.get("stderr_tail") or []) or ("no test ran" if not row.get("tests") else "no test passed"))
    return row


def summary(rows: list[dict], markdown: bool) -> str:
    latest = {(r["repo"], r["age"], r["recipe"]): _verdict(r) for r in rows}
    keys = sorted({(repo, age) for repo, age, _ in latest}, key=lambda k: (k[0], [a for a, _ in AGES].index(k[1])))
    out = ["| repository | age | commit | swegen | naive |", "|---|---|---|---|---|"] if markdown else []
    totals = {"swegen": [0, 0], "naive": [0, 0]}
    for repo, age in keys:
        cells = []
        commit = ""
        for recipe in ("swegen", "naive"):
            row = latest.get((repo, age, recipe))
            if row is None:
                cells.append("not measured")
                continue
            commit = row.get("commit", "")[:12]
            totals[recipe][0] += row["success"]
            totals[recipe][1] += 1
            cells.append(f"ok, {row.get('runtime', '')} {row['passed']}/{row['tests']}".replace(",  ", ", ") if row["success"]
                         else f"**fail**: {str(row.get('why'))[:160]}")
        out.append(f"| {repo} | {age} | {commit} | {cells[0]} | {cells[1]} |" if markdown else f"{repo:18s} {age:6s} {commit} | {cells[0]} | {cells[1]}")
    for recipe, (ok, n) in totals.items():
        out.append(f"{recipe}: {ok}/{n} succeed" if n else f"{recipe}: not measured")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--language", required=True, choices=sorted(SAMPLE))
    parser.add_argument("--out", type=Path, default=Path("/tmp/lang-env"))
    parser.add_argument("--only", default=None)
    parser.add_argument("--recipes", default="swegen,naive")
    parser.add_argument("--summary", action="store_true")
    parser.add_argument("--markdown", action="store_true")
    args = parser.parse_args()
    results = args.out / f"{args.language}.jsonl"
    rows = [json.loads(line) for line in results.read_text().splitlines() if line.strip()] if results.exists() else []
    if args.summary:
        print(summary(rows, args.markdown))
        return
    done = {(r["repo"], r["age"], r["recipe"]) for r in rows}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, _why in SAMPLE[args.language]:
        if args.only and args.only not in name:
            continue
        repo = clone(args.out, name)
        for age, before in AGES:
            sha = commit_at(repo, before)
            for recipe in args.recipes.split(","):
                if (name, age, recipe) in done:
                    continue
                logs = args.out / "logs" / name.replace("/", "+") / age / recipe
                logs.mkdir(parents=True, exist_ok=True)
                started = time.monotonic()
                try:
                    row = (measure_swegen(args.language, repo, sha, logs) if recipe == "swegen"
                           else measure_naive(args.language, repo, sha, logs, f"{name.replace('/', '-').lower()}-{age}"))
                except SwegenError as exc:
                    row = {"built": False, "why": f"harness: {exc}"}
                row.update(repo=name, age=age, recipe=recipe, commit=sha,
                           commit_date=_git(repo, "show", "-s", "--format=%cs", sha), seconds=round(time.monotonic() - started, 1))
                with results.open("a", encoding="utf-8") as sink:
                    sink.write(json.dumps(row) + "\n")
                print(name, age, recipe, "ok" if _verdict(dict(row))["success"] else f"fail: {_verdict(dict(row)).get('why')}", flush=True)


if __name__ == "__main__":
    main()
