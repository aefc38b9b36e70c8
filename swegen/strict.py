"""The strict verdict: a resolved patch must also keep the rest of the developer suite as gold does.

SWE-bench's rule looks only at the task's FAIL_TO_PASS and PASS_TO_PASS tests, which come from the
files the fix touched; a patch can pass them and break behaviour elsewhere (audits of SWE-bench
found that several percent of passing patches fail the full suite). So for every resolved
prediction the whole suite runs again, in a fresh container, with the candidate; its results are
compared with the whole suite run with the gold patch (once per task and environment, kept in the
task folder). A test that passes with gold and fails with the candidate three times, is a regression:
the prediction stays "resolved" under the SWE-bench rule and is "resolved, breaks N tests" under
the strict one. Canaries and the result stream guard these runs too.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from swegen import canaries
from swegen.grading import passed
from swegen.records import write_atomic
from swegen.runner import TestRun
from swegen.testbed import Container, Testbed, git_archive


#: Reruns of the tests that fail with the candidate and pass with gold: a regression fails in all
#: of them (the example's planted flaky test, failing in one run in twenty or so, once passed for
#: a regression of gold's against itself with one rerun).
RERUNS = 2


@dataclass(frozen=True)
class StrictVerdict:
    """The strict verdict on a prediction resolved under the SWE-bench rule."""

    resolved: bool | None
    #: Tests that pass with gold and failed three times with the candidate.
    regressions: list[str] = field(default_factory=list)
    reason: str | None = None


@dataclass(frozen=True)
class Suite:
    """One patch's run of the whole suite."""

    statuses: dict[str, str]
    problem: str | None
    #: Tests whose outcome with gold is not stable (validation's flaky tests, and those that
    #: failed with gold when a candidate's regression was confirmed): never a regression.
    flaky: list[str] = field(default_factory=list)


def whole_suite(bed: Testbed, prepare: Callable[[Container], str | None], fail_to_pass: list[str], timeout: float,
                against: Suite | None = None) -> Suite:
    """Every test of the project, in a fresh container that `prepare` patched (its error, if any,
    is the suite's problem), with canaries. With `against` (gold's suite), the tests that pass there
    and fail here run once more with the canaries, and only those failing again count as failing."""
    with Container(bed, git_archive(bed.repo, bed.base_commit), "strict") as box:
        problem = prepare(box)
        if problem:
            return Suite({}, problem)
        _, broken = box.install()
        if broken:
            return Suite({}, broken)
        planted = box.plant_canaries(fail_to_pass, secrets.randbits(64))
        run = box.run_tests([], timeout)
        problem = _problem(run, planted)
        if problem:
            return Suite({}, problem)
        own = {c.test_id for c in planted}
        statuses = {t: s for t, s in run.statuses.items() if t not in own}
        for _ in range(RERUNS):
            unstable = set(against.flaky) if against else set()
            failing = sorted(t for t, s in (against.statuses if against else {}).items()
                             if passed(s) and t not in unstable and not passed(statuses.get(t)))
            if not failing or not statuses:
                break
            # again, with the canaries beside them, so that a flaky test is not a regression and
            # a patch cannot pass the rerun by rewriting it
            again = box.run_tests(failing + sorted(own), timeout)
            problem = _problem(again, planted)
            if problem:
                return Suite({}, problem)
            statuses.update({t: s for t, s in again.statuses.items() if t in failing})
        return Suite(statuses, None)


def _problem(run: TestRun, planted: list[canaries.Canary]) -> str | None:
    if run.timed_out:
        return f"the whole suite timed out after {run.duration:.0f}s"
    if run.infra_error:
        return run.infra_error
    tampered = run.tampered or canaries.verdict(planted, run.statuses, run.collection_errors, resolved=False)
    return f"tampered: {tampered}" if tampered else None


def _gold_cache(task_dir: Path, bed: Testbed, gold_patch: str, test_patch: str) -> Path:
    key = hashlib.sha256("\0".join([bed.image, bed.base_commit, gold_patch, test_patch]).encode()).hexdigest()[:16]
    return task_dir / f"gold_suite-{key}.json"


def _save(cache: Path, suite: Suite) -> None:
    write_atomic(cache, json.dumps({"statuses": suite.statuses, "problem": suite.problem, "flaky": sorted(suite.flaky)}, sort_keys=True))


def gold_suite(task_dir: Path, bed: Testbed, gold_patch: str, test_patch: str, fail_to_pass: list[str], timeout: float,
               flaky: list[str] = ()) -> Suite:
    """The whole suite with the gold patch, run once per task and environment image; `flaky`
    (validation's flaky tests) never count."""
    cache = _gold_cache(task_dir, bed, gold_patch, test_patch)
    if cache.exists():
        data = json.loads(cache.read_text(encoding="utf-8"))
        return Suite(data["statuses"], data["problem"], sorted(set(data.get("flaky", [])) | set(flaky)))

    def prepare(box: Container) -> str | None:
        return box.apply("gold.patch", gold_patch) or box.apply("test.patch", test_patch)

    suite = whole_suite(bed, prepare, fail_to_pass, timeout)
    suite = Suite(suite.statuses, suite.problem, sorted(flaky))
    if suite.problem is None:
        _save(cache, suite)
    return suite


#: Runs of a would-be regression with gold before it counts: one lucky pass of a flaky test in
#: gold's whole-suite run must not make every candidate that draws the common outcome "break" it.
GOLD_CONFIRMATIONS = 3


def confirm(task_dir: Path, bed: Testbed, gold_patch: str, test_patch: str, fail_to_pass: list[str], timeout: float,
            gold: Suite, tests: list[str]) -> Suite:
    """Gold's suite, with those of `tests` that do not pass with gold in each of GOLD_CONFIRMATIONS
    more runs (in a fresh container, canaries beside them) marked flaky, kept in the cache so that
    no later candidate is charged with them. A run that is not sound leaves gold as it was."""
    flaky = set(gold.flaky)
    with Container(bed, git_archive(bed.repo, bed.base_commit), "strict-gold") as box:
        problem = box.apply("gold.patch", gold_patch) or box.apply("test.patch", test_patch)
        if problem or box.install()[1]:
            return gold
        planted = box.plant_canaries(fail_to_pass, secrets.randbits(64))
        own = sorted(c.test_id for c in planted)
        for _ in range(GOLD_CONFIRMATIONS):
            pending = [t for t in tests if t not in flaky]
            if not pending:
                break
            run = box.run_tests(pending + own, timeout)
            if _problem(run, planted):
                return gold
            flaky |= {t for t in pending if not passed(run.statuses.get(t))}
    confirmed = Suite(gold.statuses, gold.problem, sorted(flaky))
    if flaky != set(gold.flaky) and gold.problem is None:
        _save(_gold_cache(task_dir, bed, gold_patch, test_patch), confirmed)
    return confirmed


def compare(gold: Suite, candidate: Suite) -> StrictVerdict:
    """Regressions of the candidate against gold (pure)."""
    if gold.problem:
        return StrictVerdict(None, [], f"not measured: the whole suite does not run soundly with gold ({gold.problem})")
    if candidate.problem:
        if candidate.problem.startswith("tampered"):
            return StrictVerdict(False, [], candidate.problem)
        return StrictVerdict(False, [], f"the whole suite does not run with this patch: {candidate.problem}")
    unstable = set(gold.flaky)
    broken = sorted(t for t, s in gold.statuses.items() if passed(s) and t not in unstable and not passed(candidate.statuses.get(t)))
    if broken:
        return StrictVerdict(False, broken, f"resolved, breaks {len(broken)} tests that pass with gold, e.g. {broken[0]}")
    return StrictVerdict(True, [], None)
