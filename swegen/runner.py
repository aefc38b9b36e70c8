"""One test run in a sandbox, as every language reports it: `TestRun`, and the run of a
language's own runner that writes a machine-readable report (`run_language_tests`).

pytest's run, with its streamed second channel, is Python's (swegen.languages.python.run).
Nothing here knows a language: it sits below swegen.languages, which import it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from xml.etree import ElementTree

from swegen.errors import SwegenError
from swegen.sandbox import ExecResult, Sandbox

if TYPE_CHECKING:
    from swegen.languages.base import Language, Plan


@dataclass(frozen=True)
class TestRun:
    """What one pytest run reported."""

    exit_code: int
    statuses: dict[str, str]
    #: Test files that failed to import, with the error (a new API the fix adds shows up here).
    collection_errors: dict[str, str] = field(default_factory=dict)
    output: str = ""
    duration: float = 0.0
    timed_out: bool = False
    infra_error: str | None = None
    #: Why the results cannot be the tests' own (the stream and the report disagree), or None.
    tampered: str | None = None
    #: Statuses by pytest's own node id, as streamed while the tests ran.
    streamed: dict[str, str] = field(default_factory=dict)
    #: The sandbox limit that stopped the tests ("disk"), or None.
    limit: str | None = None
    #: What the run could not load because the environment does not have it (another language's
    #: runner: Language.missing_dependency), or None.
    missing_dependency: str | None = None


#: How much of another language's report goes into a run's log.
REPORT_IN_LOG = 500_000


def workdir_of(plan: "Plan") -> str:
    """Where a plan's commands run in the sandbox: the checkout, or its workspace package's folder."""
    return f"/testbed/{plan.workdir}".rstrip("/") if plan.workdir else "/testbed"


def stopped_run(result: "ExecResult", output: str, timeout: float) -> TestRun | None:
    """The run of a test command the sandbox stopped (its timeout, a resource limit), or None."""
    if result.timed_out:
        return TestRun(result.exit_code, {}, {}, output, result.duration, True, f"the test run timed out after {timeout:.0f}s")
    if result.limit:
        return TestRun(result.exit_code, {}, {}, output, result.duration, False, f"the tests went past the sandbox's {result.limit} limit",
                       limit=result.limit)
    return None


def test_files_of(language: "Language", targets: list[str], test_files: list[str]) -> list[str]:
    """The files a language's runner is pointed at for `targets` (its own files as they are, test
    ids through `Language.test_files_for` among the task's `test_files`), in order, once each."""
    files = [t for t in targets if language.owns(t)]
    files += language.test_files_for([t for t in targets if t not in files], test_files)
    return list(dict.fromkeys(files))


def run_language_tests(box: Sandbox, language: "Language", plan: "Plan", test_files: list[str], timeout: float) -> TestRun:
    """Run the tests of a language of swegen.languages (JavaScript, Go) with its own runner and
    read the statuses from the report it writes. There is no second channel as for pytest: the
    canaries planted beside the FAIL_TO_PASS tests are the tamper evidence."""
    command = language.test_command(plan, test_files)
    workdir = workdir_of(plan)
    box.exec(f"rm -f {shlex.quote(command.report_path)}", timeout=30)
    result = box.exec(command.command, timeout=command.timeout or timeout, env=dict(plan.test_env), workdir=workdir)
    output = result.stdout + result.stderr
    stopped = stopped_run(result, output, timeout)
    if stopped:
        return stopped
    try:
        report = box.get(command.report_path).decode("utf-8", errors="replace")
    except SwegenError:
        return TestRun(result.exit_code, {}, {}, output, result.duration, False, f"{plan.runner} wrote no report",
                       missing_dependency=language.missing_dependency(plan, "", output))
    missing = language.missing_dependency(plan, report, output)
    try:
        statuses = language.parse(report, output)
    except (ValueError, ElementTree.ParseError) as exc:
        return TestRun(result.exit_code, {}, {}, output, result.duration, False, f"unreadable {plan.runner} report: {exc}",
                       missing_dependency=missing)
    # the log keeps the report too: `go test -json` puts its build errors there, not on the console
    shown = report if len(report) <= REPORT_IN_LOG else report[:REPORT_IN_LOG] + "\n[... report cut ...]\n"
    return TestRun(result.exit_code, statuses, {}, f"{output}\n--- {plan.runner} report ({command.report_path}) ---\n{shown}", result.duration,
                   missing_dependency=missing)


def run_install(box: Sandbox, language: "Language", plan: "Plan", log: Path | None = None) -> tuple[str, str | None]:
    """A language's own install command (`Language.install_command`: linking the dependencies the
    image holds into the checkout, building) run in `box`; (the package manager, or "image" when
    there is nothing to run; why the project is unusable: the command failed)."""
    command = language.install_command(plan)
    if not command:
        return "image", None
    workdir = workdir_of(plan)
    result = box.exec(command, timeout=900, env=dict(plan.test_env), workdir=workdir)
    write_log(log, result.stdout + result.stderr)
    if not result.ok:
        tail = (result.stdout + result.stderr).strip().splitlines()[-1:]
        return plan.manager, f"the {plan.manager} install in the sandbox failed: {tail}"
    return plan.manager, None


def write_log(log: Path | None, text: str) -> None:
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(text, encoding="utf-8")
