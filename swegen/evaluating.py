"""Evaluation: apply each candidate patch in a fresh sandbox and grade it as SWE-bench grades.

For each prediction, in a new container from its task's environment image, with the repository's
tree at the base commit (no history): the model patch is applied (`git apply`, then
`git apply --3way`, then `patch` without fuzz, the tree reset between tries); whatever it changed
in the task's test files, in other test files or in test configuration is reverted and recorded;
the test patch goes on top; the project is installed; the FAIL_TO_PASS and PASS_TO_PASS tests run
(from a JUnit report, never from the log, so printed "PASSED" lines count for nothing); and the
pure `grading.grade` decides. No network, resource limits, a timeout.

An infrastructure failure (Docker, an image) is status "error": counted apart, never
"unresolved", and run again by the next `swegen evaluate`. A test run whose report contradicts
pytest's exit code (or that wrote none) is run again in a fresh container; when it happens again
with this patch, whose gold counterpart ran soundly in validation, the patch is to blame and the
prediction is unresolved (otherwise a patch could escape the rates by breaking the report).
Results are cached by a hash of (task, patch): an unchanged prediction is not run twice.

Code under test runs inside pytest's process and could rewrite what it reports, so every graded
run carries tamper evidence: canary tests planted just before the run (swegen.canaries) and the
outcomes streamed out as the tests ran, cross-checked with the JUnit report (swegen.runner). A run
that fails either is `tampered`: unresolved with the reason, and counted apart in summary.json.
"""

from __future__ import annotations

import configparser
import dataclasses
import hashlib
import json
import secrets
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from swegen import canaries, strict
from swegen.docker_sandbox import SandboxStopped
from swegen.errors import BadInput, SwegenError
from swegen.executor import run_jobs
from swegen.grading import grade
from swegen.patching import apply_model_patch
from swegen.predictions import BASELINES, Prediction, baseline_predictions, model_dir_name, read_predictions
from swegen.records import JsonlWriter, read_lines, read_tasks, write_atomic, write_json
from swegen.sandbox import Limits
from swegen.split import SplitRules
from swegen.testbed import Container, Environments, Testbed, git_archive, recorded_repo, test_files

#: Files whose pytest settings a patch must not change (the whole file is reverted when it does).
TEST_CONFIG_FILES = ("conftest.py", "pytest.ini", ".pytest.ini", "tox.ini", "setup.cfg", "pyproject.toml")
STATUSES = ("resolved", "unresolved", "empty_patch", "error")
#: Marks an error that came from the test run itself (its report), not from Docker or an image.
UNSOUND = "unsound test run: "

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class EvaluateConfig:
    """How to evaluate predictions on a run folder's tasks."""

    run_dir: Path
    #: Predictions files, or the built-in baselines "gold" and "empty".
    predictions: tuple[str, ...]
    #: The repository; default: the one recorded in run.json.
    repo: Path | None = None
    #: Use this model name instead of the files' model_name_or_path.
    model: str | None = None
    workers: int = 1
    #: Seconds the test run of one prediction may take.
    timeout: float = 1800
    #: Only these instances (default: every task).
    instance_ids: tuple[str, ...] = ()
    python: str | None = None
    base_image: str | None = None
    ca_bundle: Path | None = None
    config_file: Path | None = None
    limits: Limits = field(default_factory=lambda: Limits(memory="4g", cpus=2.0, pids=2048))
    #: Canaries and the streamed cross-check. Off only to show, in swegen's own red-team tests,
    #: that an attack they stop would otherwise pass; never for real verdicts.
    tamper_checks: bool = True
    #: Revert what a patch changed in tests and test configuration. Off only for the red-team
    #: tests' controls, like tamper_checks.
    revert_test_edits: bool = True
    #: Also give the strict verdict: a resolved prediction's whole suite against gold's.
    strict: bool = True


@dataclass(frozen=True)
class EvalJob:
    """One prediction on one task: a plain record any worker can run."""

    bed: Testbed
    model: str
    model_patch: str
    #: The empty baseline runs the tests; an empty model patch does not (SWE-bench: "empty_patch").
    run_empty: bool
    test_patch: str
    test_files: list[str]
    fail_to_pass: list[str]
    pass_to_pass: list[str]
    out_dir: str
    timeout: float
    key: str
    tamper_checks: bool = True
    revert_test_edits: bool = True
    strict: bool = False
    gold_patch: str = ""
    #: The task's folder, where gold's whole-suite results are kept for the strict verdict.
    task_dir: str = ""
    #: Tests validation found flaky: never a strict regression.
    flaky: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class EvalResult:
    """One line of evaluations/<model>/results.jsonl."""

    instance_id: str
    model_name_or_path: str
    status: str
    resolved: bool
    patch_exists: bool
    patch_successfully_applied: bool
    #: How the patch went on: "git apply", "git apply --3way", "patch", or "" when it did not.
    apply_method: str = ""
    #: Why it is not resolved (one line), or None.
    reason: str | None = None
    infra_error: str | None = None
    #: Test files and test configuration the patch changed, which were reverted before the tests ran.
    reverted_test_edits: list[str] = field(default_factory=list)
    tests_status: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    #: Hash of (task, patch): a result with the same key is not run again.
    key: str = ""
    seconds: float = 0.0
    #: The run's results were changed from inside it (canaries or the result stream say so).
    tampered: bool = False
    #: The canary tests planted for this run (fresh each run).
    canaries: list[str] = field(default_factory=list)
    #: The strict verdict (resolved, and no test of the whole suite that passes with gold
    #: fails): None when not measured (not resolved, or the suite does not run soundly with gold).
    strict_resolved: bool | None = None
    strict_reason: str | None = None
    #: Tests of the whole suite that pass with gold and fail with this patch.
    regressions: list[str] = field(default_factory=list)


# -- the stage ---------------------------------------------------------------------------------


def evaluate(config: EvaluateConfig, progress: Progress = lambda stage, done, total: None) -> dict[str, dict]:
    """Evaluate every prediction; returns SWE-bench's run summary per model."""
    tasks = load_tasks(config.run_dir, config.instance_ids)
    by_model = _predictions(config, tasks)
    repo = config.repo or recorded_repo(config.run_dir)
    envs = Environments(config.run_dir, repo, config.python, config.base_image, config.ca_bundle, config.config_file)
    summaries = {}
    for model, predictions in by_model.items():
        summaries[model] = _evaluate_model(config, model, predictions, tasks, envs, progress)
    return summaries


def validation_flaky(run_dir: Path) -> dict[str, list[str]]:
    """The tests validation found flaky, by task (its last verdict on each; none for tasks from
    elsewhere): the strict verdict never counts them as regressions."""
    rows = {row["instance_id"]: row for row in read_lines(run_dir / "validation.jsonl") if "instance_id" in row}
    return {i: list(row.get("flaky") or []) for i, row in rows.items()}


def load_tasks(run_dir: Path, only: tuple[str, ...] = ()) -> dict[str, dict]:
    tasks = {t["instance_id"]: t for t in read_tasks(run_dir)}
    if only:
        missing = sorted(set(only) - set(tasks))
        if missing:
            raise BadInput(f"no task {missing[0]} in {run_dir}", hint="see tasks.jsonl for the instance ids")
        tasks = {i: tasks[i] for i in only}
    if not tasks:
        raise BadInput(f"{run_dir} has no validated tasks", hint="nothing to evaluate: mine a longer history or relax the filters")
    return tasks


def _predictions(config: EvaluateConfig, tasks: dict[str, dict]) -> dict[str, list[Prediction]]:
    by_model: dict[str, list[Prediction]] = {}
    known = {t["instance_id"] for t in read_tasks(config.run_dir)}  # all tasks, not only --instance ones
    for source in config.predictions:
        if source in BASELINES:
            predictions = baseline_predictions(source, list(tasks.values()))
        else:
            predictions = read_predictions(Path(source), config.model, known)
        for prediction in predictions:
            by_model.setdefault(prediction.model_name_or_path, []).append(prediction)
    if not by_model:
        raise BadInput("no predictions given", hint="pass --predictions FILE (or gold / empty)")
    return by_model


def task_key(task: dict, patch: str, image: str) -> str:
    """What a result depends on: the task's tests, its environment, and the patch."""
    parts = [task["instance_id"], task["base_commit"], task["test_patch"], json.dumps(task["FAIL_TO_PASS"]), json.dumps(task["PASS_TO_PASS"]), image, patch]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:24]


def _evaluate_model(config: EvaluateConfig, model: str, predictions: list[Prediction], tasks: dict[str, dict], envs: Environments, progress: Progress) -> dict:
    out = config.run_dir / "evaluations" / model_dir_name(model)
    out.mkdir(parents=True, exist_ok=True)
    done = {row["instance_id"]: row for row in read_lines(out / "results.jsonl")}
    submitted = [p for p in predictions if p.instance_id in tasks]
    unknown = sorted(p.instance_id for p in predictions if p.instance_id not in tasks)
    jobs, instant = [], []
    flaky = validation_flaky(config.run_dir)
    for index, prediction in enumerate(submitted, 1):
        progress(f"{model}: preparing", index, len(submitted))
        task = tasks[prediction.instance_id]
        instance_out = out / prediction.instance_id
        if prediction.infra_error:
            # solve could not run the agent here: no answer of the model's, so an error, never empty or unresolved
            reason = f"solve: {prediction.infra_error}"
            result = EvalResult(prediction.instance_id, model, "error", False, False, False, reason=reason, infra_error=reason,
                                key=task_key(task, "\0infra:" + prediction.infra_error, ""))
            _write_instance(instance_out, "", result, "")
            instant.append(result)
            continue
        if not prediction.model_patch.strip() and model != "empty":
            result = EvalResult(prediction.instance_id, model, "empty_patch", False, False, False, reason="the prediction has no patch", key=task_key(task, "", ""))
            if done.get(prediction.instance_id, {}).get("key") != result.key:
                _write_instance(instance_out, prediction.model_patch, result, "")
                instant.append(result)
            continue
        bed, _, error = envs.testbed(task, config.limits)
        key = task_key(task, prediction.model_patch, bed.image if bed else "") + ("" if config.tamper_checks else "-unchecked") + ("" if config.revert_test_edits else "-unreverted")
        key += "-strict1" if config.strict else ""
        previous = done.get(prediction.instance_id)
        if previous and previous.get("key") == key and previous.get("status") != "error":
            continue  # cached: the same patch on the same task
        if error or bed is None:
            result = EvalResult(prediction.instance_id, model, "error", False, True, False, reason=error, infra_error=error, key=key)
            _write_instance(instance_out, prediction.model_patch, result, "")
            instant.append(result)
            continue
        jobs.append(EvalJob(
            bed=bed, model=model, model_patch=prediction.model_patch, run_empty=model == "empty",
            test_patch=task["test_patch"], test_files=task.get("test_files") or _patch_files(task["test_patch"]),
            fail_to_pass=list(task["FAIL_TO_PASS"]), pass_to_pass=list(task["PASS_TO_PASS"]),
            out_dir=str(instance_out), timeout=config.timeout, key=key, tamper_checks=config.tamper_checks,
            revert_test_edits=config.revert_test_edits, strict=config.strict, gold_patch=task["patch"],
            task_dir=str(config.run_dir / prediction.instance_id), flaky=flaky.get(prediction.instance_id, []),
        ))
    with JsonlWriter(out / "results.jsonl") as sink:
        for result in instant:
            sink.write(result)
        _run(jobs, config.workers, sink, lambda done_, total: progress(f"{model}: evaluating", done_, total))
    summary = summarise(out, model, list(tasks), [p.instance_id for p in submitted], unknown)
    return summary


def _run(jobs: list[EvalJob], workers: int, sink: JsonlWriter, progress: Callable[[int, int], None]) -> None:
    progress(0, len(jobs))

    def record(result: EvalResult, finished: int) -> None:
        sink.write(result)
        progress(finished, len(jobs))

    run_jobs(run_eval_job, jobs, workers, record)


def _patch_files(patch: str) -> list[str]:
    return [line.split(" b/", 1)[1] for line in patch.splitlines() if line.startswith("diff --git ") and " b/" in line]


# -- one prediction ----------------------------------------------------------------------------


def run_eval_job(job: EvalJob) -> EvalResult:
    """Evaluate one prediction. Never raises for a problem of the patch: that is a verdict."""
    started = time.monotonic()
    out = Path(job.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log: list[str] = []
    try:
        result, output = _attempt(job, log)
        if result.status == "error" and (result.infra_error or "").startswith(UNSOUND):
            # A report that contradicts pytest's exit code, or none at all. The gold patch ran
            # soundly on this task in validation, so when a fresh container gives the same with
            # this patch, the patch's code did it (exiting early, overwriting the report): that
            # is a failed run, not an infrastructure error that would leave the rates.
            log.append(f"{result.infra_error}; running again in a fresh container")
            result, output = _attempt(job, log)
            if result.status == "error" and (result.infra_error or "").startswith(UNSOUND):
                reason = f"{result.infra_error.removeprefix(UNSOUND)} (twice, with this patch only)"
                result = dataclasses.replace(result, status="unresolved", resolved=False, infra_error=None, reason=reason)
    except SwegenError as exc:
        result = _result(job, "error", patch_applied=False, reason=f"infrastructure: {exc.one_line()}", infra_error=exc.one_line())
        output = ""
    if result.status == "resolved" and job.strict:
        result = _strict(job, result, log)
    result = dataclasses.replace(result, seconds=round(time.monotonic() - started, 1))
    (out / "eval.log").write_text("\n".join(log) + "\n", encoding="utf-8")
    _write_instance(out, job.model_patch, result, output)
    return result


def _attempt(job: EvalJob, log: list[str]) -> tuple[EvalResult, str]:
    """One evaluation in a fresh container. A container that stopped under the tests is an
    unsound run: run again (a daemon restart is not the patch's fault), but when it stops again
    with this patch, the patch stopped it (killing the container's init) and it is unresolved."""
    try:
        return _evaluate_one(job, log)
    except SandboxStopped as exc:
        return _result(job, "error", False, reason=exc.one_line(), infra_error=UNSOUND + exc.message), ""


def _result(job: EvalJob, status: str, patch_applied: bool, **fields) -> EvalResult:
    return EvalResult(
        instance_id=job.bed.instance_id,
        model_name_or_path=job.model,
        status=status,
        resolved=status == "resolved",
        patch_exists=bool(job.model_patch.strip()),
        patch_successfully_applied=patch_applied,
        key=job.key,
        **fields,
    )


def _strict(job: EvalJob, result: EvalResult, log: list[str]) -> EvalResult:
    """The strict verdict on a resolved prediction (never changes its SWE-bench verdict)."""
    try:
        gold = strict.gold_suite(Path(job.task_dir), job.bed, job.gold_patch, job.test_patch, job.fail_to_pass, job.timeout, job.flaky)
        candidate = strict.Suite({}, None)
        if not gold.problem:
            candidate = strict.whole_suite(job.bed, lambda box: _patched(job, box, [])[2], job.fail_to_pass, job.timeout, against=gold)
        verdict = strict.compare(gold, candidate)
        if verdict.regressions:
            # a regression must also pass with gold every time, or it is a flaky test of gold's
            gold = strict.confirm(Path(job.task_dir), job.bed, job.gold_patch, job.test_patch, job.fail_to_pass, job.timeout,
                                  gold, verdict.regressions)
            verdict = strict.compare(gold, candidate)
    except SwegenError as exc:
        verdict = strict.StrictVerdict(None, [], f"not measured: infrastructure: {exc.one_line()}")
    log.append(f"strict: {verdict.resolved} {verdict.reason or ''}")
    return dataclasses.replace(result, strict_resolved=verdict.resolved, strict_reason=verdict.reason, regressions=verdict.regressions)


def _incomplete(tampered: str) -> bool:
    """Is this tamper evidence only something missing (which a crash also leaves)?"""
    return any(word in tampered for word in ("missing from the report", "never started", "stops before"))


def _patched(job: EvalJob, box: Container, log: list[str]) -> tuple[str, list[str], str | None, bool]:
    """Apply the model patch, revert its test edits, apply the test patch: (how the patch went
    on, the paths reverted, the problem or None, whether the problem is ours)."""
    box.commit_tree()  # the base tree as one commit: to apply with --3way and see what changed
    method = ""
    if job.model_patch.strip():
        method, errors = apply_model_patch(box, job.model_patch)
        log.extend(errors)
        if not method:
            return "", [], "the patch does not apply: " + (errors[-1] if errors else ""), False
        log.append(f"model patch applied with {method}")
    reverted = _revert_test_edits(box, job.test_files) if job.revert_test_edits else []
    if reverted:
        log.append("reverted test edits: " + ", ".join(reverted))
    box.box.exec("rm -rf /testbed/.git", timeout=60)
    error = box.apply("test.patch", job.test_patch)
    return method, reverted, error, bool(error)


def _evaluate_one(job: EvalJob, log: list[str]) -> tuple[EvalResult, str]:
    archive = git_archive(job.bed.repo, job.bed.base_commit)
    with Container(job.bed, archive, "evaluate") as box:
        method, reverted, problem, ours = _patched(job, box, log)
        if problem and not ours:
            return _result(job, "unresolved", False, reason=problem), ""
        if problem:
            return _result(job, "error", True, apply_method=method, reverted_test_edits=reverted, reason=problem, infra_error=problem), ""
        mode, broken = box.install(Path(job.out_dir) / "install.txt")
        log.append(f"installed: {mode}")
        if broken:
            reason = f"the project does not install with the patch: {broken}"
            return _result(job, "unresolved", True, apply_method=method, reverted_test_edits=reverted, reason=reason), ""
        targets = test_files(job.fail_to_pass + job.pass_to_pass, job.bed.language)
        planted = box.plant_canaries(job.fail_to_pass, secrets.randbits(64)) if job.tamper_checks else []
        run = box.run_tests(targets, job.timeout, stream=job.tamper_checks)
    log.append(f"pytest exit code {run.exit_code}, {len(run.statuses)} results, {run.duration:.1f}s, {len(planted)} canaries")
    planted_ids = [c.test_id for c in planted]
    if run.timed_out:
        verdict = grade({}, job.fail_to_pass, job.pass_to_pass)
        return _result(job, "unresolved", True, apply_method=method, reverted_test_edits=reverted,
                       reason=f"the tests timed out after {job.timeout:.0f}s", tests_status=verdict.tests_status()), run.output
    if run.limit:
        # the patch's code filled the disk (or the like): its failure, not an outage
        verdict = grade({}, job.fail_to_pass, job.pass_to_pass)
        return _result(job, "unresolved", True, apply_method=method, reverted_test_edits=reverted,
                       reason=f"the tests went past the sandbox's {run.limit} limit", tests_status=verdict.tests_status()), run.output
    verdict = grade(run.statuses, job.fail_to_pass, job.pass_to_pass, run.infra_error)
    tampered = run.tampered or canaries.verdict(planted, run.statuses, run.collection_errors, verdict.resolved)
    if tampered and (not verdict.infra_error or not _incomplete(tampered)):
        # a rewritten report, a passing must-fail canary, forged stream lines: evidence against
        # the patch even when the run also looks unsound
        return _result(job, "unresolved", True, apply_method=method, reverted_test_edits=reverted, reason=f"tampered: {tampered}",
                       tests_status=verdict.tests_status(), tampered=True, canaries=planted_ids), run.output
    if verdict.infra_error:
        # a run that died or wrote no sound report is run again (and billed to the patch only
        # when it happens again), so that an outage is never taken for tampering
        return _result(job, "error", True, apply_method=method, reverted_test_edits=reverted, reason=verdict.infra_error,
                       infra_error=UNSOUND + verdict.infra_error, tests_status=verdict.tests_status()), run.output
    failing = verdict.FAIL_TO_PASS.failure + verdict.PASS_TO_PASS.failure
    reason = None if verdict.resolved else f"{len(failing)} required tests fail, e.g. {failing[0]}" if failing else "no FAIL_TO_PASS test"
    status = "resolved" if verdict.resolved else "unresolved"
    return _result(job, status, True, apply_method=method, reverted_test_edits=reverted, reason=reason,
                   tests_status=verdict.tests_status(), canaries=planted_ids), run.output


def _changed_paths(box: Container) -> list[tuple[str, str]]:
    """(status, path) of every file the patch changed, added or deleted."""
    result = box.git("status --porcelain=v1 -z --untracked-files=all --no-renames")
    entries = []
    for item in result.stdout.split("\0"):
        if len(item) > 3:
            entries.append((item[:2], item[3:]))
    return entries


def is_test_edit(path: str, test_files: list[str], rules: SplitRules = SplitRules()) -> bool:
    """Is this a file a patch must not change: the task's tests, any test file, or test configuration."""
    name = path.rsplit("/", 1)[-1]
    return path in test_files or rules.role(path) == "test" or name in ("conftest.py", "pytest.ini", ".pytest.ini")


def _revert_test_edits(box: Container, test_files: list[str]) -> list[str]:
    """Undo what the patch did to tests and test configuration; the paths undone."""
    reverted = []
    for status, path in _changed_paths(box):
        name = path.rsplit("/", 1)[-1]
        if is_test_edit(path, test_files):
            pass
        elif name in ("tox.ini", "setup.cfg", "pyproject.toml"):
            if not _pytest_settings_changed(box, path):
                continue
        else:
            continue
        if status.strip() == "??":
            box.box.exec(["rm", "-rf", "--", f"/testbed/{path}"], timeout=60)
        else:
            box.git(f"checkout -q HEAD -- {shlex.quote(path)}")
        reverted.append(path)
    return reverted


def _pytest_settings_changed(box: Container, path: str) -> bool:
    """Did the patch change the pytest sections of tox.ini, setup.cfg or pyproject.toml?"""
    try:
        now = box.box.get(f"/testbed/{path}").decode("utf-8", errors="replace")
    except SwegenError:
        return True  # deleted
    before = box.git(f"show HEAD:{shlex.quote(path)}").stdout
    return pytest_settings(path, before) != pytest_settings(path, now)


def pytest_settings(path: str, text: str) -> object:
    """The pytest part of a configuration file (anything unreadable counts as all of it)."""
    if path.endswith(".toml"):
        try:
            import tomllib
        except ModuleNotFoundError:  # Python 3.10
            import tomli as tomllib  # type: ignore[no-redef]
        try:
            return tomllib.loads(text).get("tool", {}).get("pytest")
        except Exception:
            return text
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return text
    return {s: dict(parser[s]) for s in parser.sections() if s in ("pytest", "tool:pytest")}


# -- outputs -----------------------------------------------------------------------------------


def _write_instance(out: Path, patch: str, result: EvalResult, output: str) -> None:
    """report.json (SWE-bench's per-instance report), patch.diff and test_output.txt."""
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "patch.diff", patch)
    write_atomic(out / "test_output.txt", output)
    report = {
        result.instance_id: {
            "patch_is_None": not result.patch_exists,
            "patch_exists": result.patch_exists,
            "patch_successfully_applied": result.patch_successfully_applied,
            "resolved": result.resolved,
            "tests_status": result.tests_status,
            "swegen": {"status": result.status, "reason": result.reason, "apply_method": result.apply_method,
                       "reverted_test_edits": result.reverted_test_edits, "infra_error": result.infra_error,
                       "tampered": result.tampered, "canaries": result.canaries,
                       "strict_resolved": result.strict_resolved, "strict_reason": result.strict_reason,
                       "regressions": result.regressions},
        }
    }
    write_json(out / "report.json", report)


def latest_results(out: Path) -> dict[str, dict]:
    """The last result line per instance (a retried or re-run prediction's newer line wins)."""
    return {row["instance_id"]: row for row in read_lines(out / "results.jsonl")}


def summarise(out: Path, model: str, task_ids: list[str], submitted: list[str], unknown: list[str]) -> dict:
    """SWE-bench's run summary for one model, written to summary.json."""
    rows = {i: r for i, r in latest_results(out).items() if i in set(submitted)}
    ids = {status: sorted(i for i, r in rows.items() if r["status"] == status) for status in STATUSES}
    completed = sorted(ids["resolved"] + ids["unresolved"])
    tampered = sorted(i for i, r in rows.items() if r.get("tampered"))
    strict_ok = sorted(i for i in ids["resolved"] if rows[i].get("strict_resolved"))
    summary = {
        "model_name_or_path": model,
        "total_instances": len(task_ids),
        "submitted_instances": len(submitted),
        "completed_instances": len(completed),
        "resolved_instances": len(ids["resolved"]),
        "unresolved_instances": len(ids["unresolved"]),
        "empty_patch_instances": len(ids["empty_patch"]),
        "error_instances": len(ids["error"]),
        "completed_ids": completed,
        "incomplete_ids": sorted(set(task_ids) - set(rows)),
        "empty_patch_ids": ids["empty_patch"],
        "submitted_ids": sorted(submitted),
        "resolved_ids": ids["resolved"],
        "unresolved_ids": ids["unresolved"],
        "error_ids": ids["error"],
        "unknown_ids": unknown,
        "reverted_test_edits": {i: r["reverted_test_edits"] for i, r in rows.items() if r.get("reverted_test_edits")},
        "tampered_instances": len(tampered),
        "tampered_ids": tampered,
        "strict_resolved_instances": len(strict_ok),
        "strict_resolved_ids": strict_ok,
        "breaks_tests_ids": sorted(i for i in ids["resolved"] if rows[i].get("strict_resolved") is False),
        "schema_version": 3,
    }
    write_json(out / "summary.json", summary)
    return summary
