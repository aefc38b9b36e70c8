"""Validation: keep a mined candidate only when running its tests in Docker proves it.

For each candidate: the tests the test patch touches run at the base commit with the test
patch applied (twice by default), then with the gold patch under it too (three times). Tests
that fail before and pass after, every time, are FAIL_TO_PASS; tests that pass every time are
PASS_TO_PASS; a test whose outcome flips is flaky and dropped. Every kept task then passes its
controls, graded as evaluation grades: the gold patch resolves it and the empty patch does not;
a FAIL_TO_PASS test that passes in the empty control (one more run without the fix) is flaky.

The project is installed once per task, in a container committed to a snapshot image that every
phase starts from (swegen.snapshot); a phase the snapshot cannot stand for installs afresh.
Each unit of work is a plain `Job` record that a worker process runs with no shared state;
results are appended to validation.jsonl as they come, so a killed run resumes where it stopped.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import io
import json
import secrets
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from swegen import __version__, canaries
from swegen.errors import BadInput, SwegenError
from swegen.executor import run_jobs
from swegen.grading import grade, passed
from swegen.records import JsonlWriter, read_lines, write_atomic, write_json
from swegen.restate import restate_tasks
from swegen.runner import TestRun
from swegen.sandbox import Limits
from swegen.snapshot import Snapshot, remove_abandoned
from swegen.split import DiffError, parse_diff
from swegen.testbed import Container, Environments, Testbed, git_archive, is_infra, recorded_repo, test_files, test_targets

#: Funnel steps, in order: a rejected candidate stops at the step it failed.
STEPS = ("candidates", "environment built", "patches apply", "has FAIL_TO_PASS", "stable", "controls pass", "kept")


@dataclass(frozen=True)
class ValidateConfig:
    """How to validate a run folder."""

    #: The run folder written by `swegen mine`.
    run_dir: Path
    #: The repository; default: the one recorded in run.json.
    repo: Path | None = None
    #: Candidates validated in parallel.
    workers: int = 1
    #: Runs without the fix, and with it; a test whose outcome flips is flaky.
    before_runs: int = 2
    after_runs: int = 3
    #: "files": run the test files the test patch touches; "full": the whole suite.
    p2p: str = "files"
    #: Seconds one test run may take.
    timeout: float = 1800
    #: Force a Python version or a base image instead of detecting one.
    python: str | None = None
    base_image: str | None = None
    #: CA bundle injected into environment images.
    ca_bundle: Path | None = None
    #: Run again the candidates whose verdict was an infrastructure error or a failed image build.
    retry: bool = False
    #: A swegen.toml whose settings override the repository's own.
    config_file: Path | None = None
    #: Resource limits of every test container.
    limits: Limits = field(default_factory=lambda: Limits(memory="4g", cpus=2.0, pids=2048))
    #: Install the project once per task and start its runs from a snapshot of that container
    #: (swegen.snapshot) instead of installing in each run's fresh container: the same verdicts.
    snapshots: bool = True


@dataclass(frozen=True)
class Job:
    """Everything one worker needs to validate one candidate: a plain record, no shared state."""

    bed: Testbed
    task_dir: str
    targets: list[str]
    before_runs: int
    after_runs: int
    timeout: float
    #: Start the runs from a snapshot of the installed project (see ValidateConfig.snapshots).
    snapshots: bool = True

    @property
    def instance_id(self) -> str:
        return self.bed.instance_id


@dataclass(frozen=True)
class Validation:
    """One line of validation.jsonl: the verdict on one candidate."""

    instance_id: str
    kept: bool
    reason: str | None
    #: The last funnel step the candidate reached.
    step: str
    FAIL_TO_PASS: list[str] = field(default_factory=list)
    PASS_TO_PASS: list[str] = field(default_factory=list)
    flaky: list[str] = field(default_factory=list)
    #: FAIL_TO_PASS tests whose file could not even import before the fix (the fix adds API).
    fail_to_pass_import_errors: list[str] = field(default_factory=list)
    env_image: str = ""
    install: str = ""
    infra_error: bool = False
    seconds: float = 0.0


# -- the stage ---------------------------------------------------------------------------------


Progress = Callable[[str, int, int | None], None]


def validate(config: ValidateConfig, progress: Progress = lambda stage, done, total: None) -> dict[str, object]:
    """Validate every kept candidate of `config.run_dir`; returns the funnel summary."""
    run_dir = config.run_dir
    tasks = _load_tasks(run_dir)
    repo = config.repo or recorded_repo(run_dir)
    done = {row["instance_id"]: row for row in read_lines(run_dir / "validation.jsonl")}
    # An infrastructure error (the daemon restarted, a sandbox broke) says nothing of the
    # candidate: the next run validates it again, as the next evaluate does; --retry also runs
    # again the failed image builds.
    done = {i: row for i, row in done.items() if not row.get("infra_error")}
    if config.retry:
        done = {i: row for i, row in done.items() if not _retryable(row)}
        for marker in (run_dir / "envs").glob("*.failed"):
            marker.unlink()
    pending = [t for t in tasks if t["instance_id"] not in done]
    jobs, failed = _plan_jobs(pending, repo, config, progress)
    if jobs and config.snapshots:
        remove_abandoned()  # what a killed run of this host left
    with JsonlWriter(run_dir / "validation.jsonl") as sink:
        for result in failed:
            sink.write(result)
        _run_jobs(jobs, config.workers, sink, progress, len(done) + len(failed), len(tasks))
    return finish(run_dir)


def _retryable(row: dict) -> bool:
    return bool(row.get("infra_error")) or (row.get("reason") or "").startswith("env-build-failed")


def _load_tasks(run_dir: Path) -> list[dict]:
    if not (run_dir / "candidates.jsonl").exists():
        raise BadInput(f"{run_dir} is not a mined run folder", hint="run `swegen mine REPO -o RUN_DIR` first")
    kept = [row for row in read_lines(run_dir / "candidates.jsonl") if row.get("kept")]
    tasks = []
    for row in kept:
        path = run_dir / row["instance_id"] / "task.json"
        if path.exists():
            tasks.append(json.loads(path.read_text(encoding="utf-8")))
    return sorted(tasks, key=lambda t: t["instance_id"])


def _plan_jobs(tasks: list[dict], repo: Path, config: ValidateConfig, progress: Progress) -> tuple[list[Job], list[Validation]]:
    """Plan and build every environment (once per fingerprint) before any test runs."""
    envs = Environments(config.run_dir, repo, config.python, config.base_image, config.ca_bundle, config.config_file)
    jobs, failed = [], []
    for index, task in enumerate(tasks, 1):
        progress("building environments", index, len(tasks))
        bed, _, error = envs.testbed(task, config.limits)
        if error or bed is None:
            failed.append(Validation(task["instance_id"], False, error, "candidates", infra_error=is_infra(error)))
            continue
        targets = test_targets(task.get("test_files", []), bed.language)
        if config.p2p == "full":
            targets = []
        task_dir = str(config.run_dir / task["instance_id"])
        jobs.append(Job(bed, task_dir, targets, config.before_runs, config.after_runs, config.timeout, config.snapshots))
    return jobs, failed


def _run_jobs(jobs: list[Job], workers: int, sink: JsonlWriter, progress: Progress, done: int, total: int) -> None:
    progress("validating", done, total)

    def record(verdict: Validation, finished: int) -> None:
        sink.write(verdict)
        progress("validating", done + finished, total)

    run_jobs(run_job, jobs, workers, record)


# -- one candidate -----------------------------------------------------------------------------


@dataclass
class _Phase:
    """One container's worth of work: patches applied, project installed, tests run N times."""

    runs: list[TestRun] = field(default_factory=list)
    apply_error: str | None = None
    install: str = ""
    import_error: str | None = None
    planted: list[canaries.Canary] = field(default_factory=list)


def run_job(job: Job) -> Validation:
    """Validate one candidate. Never raises for a problem of the candidate: that is a verdict."""
    import time

    started = time.monotonic()
    try:
        verdict = _validate(job)
    except SwegenError as exc:
        why = f" ({exc.detail.strip().splitlines()[-1][:300]})" if exc.detail.strip() else ""
        verdict = Validation(job.instance_id, False, f"infra-error: {exc.one_line()}{why}", "environment built", infra_error=True)
    return dataclasses.replace(verdict, seconds=round(time.monotonic() - started, 1))


def _read(job: Job, name: str) -> str:
    return (Path(job.task_dir) / name).read_text(encoding="utf-8")


def _validate(job: Job) -> Validation:
    archive = _archive(job)
    test_patch, gold_patch = _read(job, "test.patch"), _read(job, "gold.patch")
    with _source(job, archive, test_patch) as source:
        before = _phase(job, source, [("test.patch", test_patch)], job.before_runs, "before", job.targets)
        after = _phase(job, source, [("gold.patch", gold_patch), ("test.patch", test_patch)], job.after_runs, "after", job.targets)
        base = dict(instance_id=job.instance_id, env_image=job.bed.image, install=after.install)
        problem = _phase_problem(before, after)
        if problem:
            reason, step, infra = problem
            return Validation(**base, kept=False, reason=reason, step=step, infra_error=infra)
        f2p, p2p, flaky = classify([r.statuses for r in before.runs], [r.statuses for r in after.runs])
        # tests that could not run before the fix: their file did not import (pytest), or their
        # file or package did not load or build (another language's runner: an ERROR of its own id)
        first = before.runs[0]
        import_errors = sorted(t for t in f2p if t.split("::")[0] in first.collection_errors
                               or first.statuses.get(t.split("::")[0].split(" > ")[0]) == "ERROR")
        result = dict(base, FAIL_TO_PASS=f2p, PASS_TO_PASS=p2p, flaky=flaky, fail_to_pass_import_errors=import_errors)
        if not f2p:
            why = "only flaky tests changed outcome" if flaky else "no test fails before the fix and passes after it"
            step = "patches apply"
            return Validation(**result, kept=False, reason=f"no-fail-to-pass: {why}", step=step)
        controls, unstable = _controls(job, source, test_patch, gold_patch, f2p, p2p)
        if unstable:
            # a test that failed in every run without the fix but passes in the empty control is
            # flaky (it failed by chance): it is dropped (the controls were graded without it)
            f2p = [t for t in f2p if t not in unstable]
            flaky = sorted(set(flaky) | set(unstable))
            import_errors = [t for t in import_errors if t not in unstable]
            result = dict(result, FAIL_TO_PASS=f2p, flaky=flaky, fail_to_pass_import_errors=import_errors)
            if not f2p:
                return Validation(**result, kept=False, reason="no-fail-to-pass: only flaky tests changed outcome", step="patches apply")
    if controls:
        return Validation(**result, kept=False, reason=controls, step="stable")
    return Validation(**result, kept=True, reason=None, step="kept")


def _archive(job: Job) -> bytes:
    return git_archive(job.bed.repo, job.bed.base_commit)


@dataclass
class _Source:
    """Where a phase's container comes from: a fresh one from the environment image with the
    archive copied in and the project installed there, or one from the task's snapshot."""

    archive: bytes
    #: The files of the archive, to tell a module the fix adds to a package from a new package.
    paths: frozenset[str]
    snapshot: Snapshot | None = None


@contextlib.contextmanager
def _source(job: Job, archive: bytes, test_patch: str):
    """The task's source, with a snapshot of its installed project unless the job asks for none,
    the test patch needs the project installed over it, or the install failed (then every phase
    installs for itself, as without snapshots, so that the failure is reported as before)."""
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        source = _Source(archive, frozenset(tar.getnames()))
    if not job.snapshots or _needs_install(test_patch, source.paths, source_code=False):
        yield source
        return
    with Snapshot(job.bed, archive, "validate", Path(job.task_dir) / "logs" / "install.txt") as snapshot:
        source.snapshot = snapshot if snapshot.usable else None
        yield source


#: Files an install reads (packaging metadata) or builds (compiled sources): a patch changing one
#: is installed over, never run on a snapshot installed without it.
_BUILD_FILES = frozenset({"setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in", "meson.build", "CMakeLists.txt", "Cargo.toml"})
_BUILD_SUFFIXES = (".c", ".h", ".cc", ".cpp", ".cxx", ".hpp", ".pyx", ".pxd", ".pxi", ".rs", ".f", ".f90", ".i")


def _needs_install(patch: str, paths: frozenset[str], source_code: bool) -> bool:
    """Could the project installed after `patch` differ from the project installed before it?
    Yes when it changes a build file; for source code also when it adds, removes or renames a
    module outside a package of the base commit (an editable install may map packages it found
    at install time, not folders). A patch swegen cannot read is installed over, as before."""
    if not patch.strip():
        return False
    try:
        files = parse_diff(patch.encode("utf-8"))
    except DiffError:
        return True
    for diff in files:
        for path in filter(None, (diff.path, diff.old_path)):
            name = path.rsplit("/", 1)[-1]
            if name in _BUILD_FILES or name.endswith(_BUILD_SUFFIXES):
                return True
            folder = path.rpartition("/")[0]
            if source_code and diff.status in ("added", "deleted", "renamed") and f"{folder}/__init__.py" not in paths:
                return True
    return False


def _phase(job: Job, source: _Source, patches: list[tuple[str, str]], runs: int, label: str, targets: list[str],
           canaries_for: list[str] | None = None) -> _Phase:
    """The tests run `runs` times in one container with the source at the base commit (no
    history), the patches applied and the project installed (with canaries beside the tests
    `canaries_for`, as a graded run of evaluation has them). The container starts from the
    task's snapshot when the patches leave the install as it was; else, and when on the snapshot
    the patches do not apply or the package does not import, it is a fresh one where the project
    is installed after the patches, so that no verdict depends on the snapshot."""
    snapshot = source.snapshot
    if snapshot and not any(_needs_install(text, source.paths, name != "test.patch") for name, text in patches):
        phase = _run_phase(job, snapshot.take(), patches, runs, label, targets, canaries_for, snapshot.install_mode)
        if not (phase.apply_error or phase.import_error):
            return phase
    return _run_phase(job, Container(job.bed, source.archive, "validate"), patches, runs, label, targets, canaries_for, None)


def _run_phase(job: Job, box: Container, patches: list[tuple[str, str]], runs: int, label: str, targets: list[str],
               canaries_for: list[str] | None, installed: str | None) -> _Phase:
    """Apply the patches in `box`, install the project unless it is `installed` (how), run the
    tests; `box` is closed after."""
    logs = Path(job.task_dir) / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    phase = _Phase()
    with box:
        for name, text in patches:
            phase.apply_error = box.apply(name, text)
            if phase.apply_error:
                return phase
        if installed is None:
            phase.install, phase.import_error = box.install(logs / f"install-{label}.txt")
        else:
            # installed on the tree without the patches: the import check is done again with them
            phase.install, phase.import_error = installed, box.import_problem()
        if canaries_for:
            phase.planted = box.plant_canaries(canaries_for, secrets.randbits(64))
        for index in range(1, runs + 1):
            run = box.run_tests(targets, job.timeout)
            (logs / f"{label}-{index}.txt").write_text(run.output, encoding="utf-8")
            phase.runs.append(run)
    return phase


def _phase_problem(before: _Phase, after: _Phase) -> tuple[str, str, bool] | None:
    """(reason, step reached, is infrastructure) when the runs cannot be classified."""
    if before.apply_error:
        return f"test-patch-does-not-apply: {before.apply_error}", "environment built", False
    if after.apply_error:
        return f"gold-patch-does-not-apply: {after.apply_error}", "environment built", False
    for phase in (before, after):
        if phase.import_error:
            return f"install-failed: {phase.import_error}", "environment built", False
    for phase in (before, after):
        for run in phase.runs:
            # the code cannot build here for want of what no registry or proxy gives this
            # machine: no run says anything about the fix (not the model's, not ours to retry)
            if run.missing_dependency:
                return f"env-missing-dependency: {run.missing_dependency}", "environment built", False
    for phase in (before, after):
        for run in phase.runs:
            if run.infra_error:
                return f"infra-error: {run.infra_error}", "patches apply", True
    for phase in (before, after):
        for run in phase.runs:
            # the repository's own code changed its results (or swegen cannot read them): every
            # later evaluation of this task would be flagged as tampered, so it is no task
            if run.tampered:
                return f"unverifiable-results: {run.tampered}", "patches apply", False
    return None


def classify(before: list[dict[str, str]], after: list[dict[str, str]]) -> tuple[list[str], list[str], list[str]]:
    """(FAIL_TO_PASS, PASS_TO_PASS, flaky) from the statuses of repeated runs. Pure."""
    tests = sorted({t for run in before + after for t in run})
    f2p, p2p, flaky = [], [], []
    for test in tests:
        was = [passed(run.get(test)) for run in before]
        now = [passed(run.get(test)) for run in after]
        if len(set(was)) > 1 or len(set(now)) > 1:
            flaky.append(test)
        elif not any(was) and all(now):
            f2p.append(test)
        elif all(was) and all(now):
            p2p.append(test)
    return f2p, p2p, flaky


def _controls(job: Job, source: _Source, test_patch: str, gold_patch: str, f2p: list[str],
              p2p: list[str]) -> tuple[str | None, list[str]]:
    """Run the task as evaluation will, with the gold patch and with the empty patch (on the
    snapshot: only the repository's own install ran in it, no model's code): the reason it fails
    (None when it passes), and the FAIL_TO_PASS tests that pass in the empty control (flaky: the
    empty control is graded without them; gold, resolved with all of them, is with fewer)."""
    targets = job.targets and test_files(f2p + p2p, job.bed.language)
    unstable: list[str] = []
    for name, patch, should_resolve in (("gold", gold_patch, True), ("empty", "", False)):
        phase = _phase(job, source, [(f"{name}.patch", patch), ("test.patch", test_patch)], 1, f"control-{name}", targets, f2p)
        if phase.apply_error or phase.import_error:
            return f"control-{name}-failed: {phase.apply_error or phase.import_error}", []
        run = phase.runs[0]
        if name == "empty" and not run.infra_error:
            unstable = sorted(t for t in f2p if passed(run.statuses.get(t)))
            if len(unstable) == len(f2p):
                return None, unstable
        verdict = grade(run.statuses, [t for t in f2p if t not in unstable], p2p, run.infra_error)
        if verdict.infra_error:
            return f"control-{name}-failed: {verdict.infra_error}", []
        tampered = run.tampered or canaries.verdict(phase.planted, run.statuses, run.collection_errors, verdict.resolved)
        if tampered:
            return f"control-{name}-tampered: {tampered}", []
        if verdict.resolved != should_resolve:
            return f"control-{name}-{'unresolved' if should_resolve else 'resolved'}: graded as evaluation grades", []
    return None, unstable


# -- outputs -----------------------------------------------------------------------------------


def finish(run_dir: Path) -> dict[str, object]:
    """Write tasks.jsonl (SWE-bench instances) and the funnel from validation.jsonl."""
    results = {}
    # verdicts of candidates that mining no longer keeps (mined again with other options) stay
    # in validation.jsonl but are no part of this run
    current = {row["instance_id"] for row in read_lines(run_dir / "candidates.jsonl") if row.get("kept")}
    for row in read_lines(run_dir / "validation.jsonl"):
        if row["instance_id"] in current:
            results[row["instance_id"]] = row  # a later line for the same id wins (a retried run)
    restate_tasks(run_dir, {i: r["FAIL_TO_PASS"] for i, r in results.items() if r["kept"]})  # statements see F2P
    lines = []
    for instance_id in sorted(results):
        row = results[instance_id]
        if not row["kept"]:
            continue
        task = json.loads((run_dir / instance_id / "task.json").read_text(encoding="utf-8"))
        task.update(FAIL_TO_PASS=row["FAIL_TO_PASS"], PASS_TO_PASS=row["PASS_TO_PASS"])
        task.pop("schema_version", None)
        lines.append(json.dumps(task, ensure_ascii=False))
    write_atomic(run_dir / "tasks.jsonl", "".join(line + "\n" for line in lines))
    summary = funnel(list(results.values()))
    write_json(run_dir / "validation_summary.json", {"schema_version": 1, "swegen_version": __version__, **summary})
    return summary


def funnel(rows: Iterable[dict]) -> dict[str, object]:
    """Counts per funnel step reached, and per rejection reason."""
    rows = list(rows)
    reached = collections.Counter()
    for row in rows:
        last = STEPS.index(row.get("step", "candidates")) if row.get("step") in STEPS else 0
        for step in STEPS[: last + 1]:
            reached[step] += 1
    reasons = collections.Counter((row.get("reason") or "").split(":")[0] for row in rows if not row["kept"])
    return {
        "funnel": {step: reached[step] for step in STEPS},
        "rejections": dict(reasons.most_common()),
        "infra_errors": sum(1 for row in rows if row.get("infra_error")),
        "flaky_tests": sum(len(row.get("flaky", [])) for row in rows),
    }

