"""Python's test run in a sandbox: pytest with a JUnit XML report, read into per-test statuses.

Test ids are pytest node ids (`path::Class::name[param]`), rebuilt from the JUnit report (never
scraped from the log). The exit code is kept, and a report that contradicts it (pytest said
"all passed" but a test failed, or a failure exit with nothing failing) is an infrastructure
error, not a result.

A second channel carries the same outcomes out of the container as each test finishes: swegen's
plugin (sandbox/swegen_stream.py) writes them to a descriptor that is the `docker exec` output
stream, while pytest's own output goes to a log file. Code under test that rewrites the JUnit
file at exit, or forges lines, cannot take back what was sent: a JUnit file that hides failures
the stream saw, or a stream with forged, missing or late lines, is `tampered`.
"""

from __future__ import annotations

import json
import secrets
import shlex
from xml.etree import ElementTree

from swegen.errors import SwegenError
from swegen.grading import FAILING, PASSING
from swegen.resources import sandbox_file
from swegen.runner import TestRun, stopped_run
from swegen.sandbox import Sandbox

JUNIT_PATH = "/tmp/swegen-junit.xml"
#: pytest's own output, while the exec output stream carries the plugin's lines.
OUTPUT_PATH = "/tmp/swegen-pytest-output.txt"
#: Outside the checkout: the plugin's folder is put first on PYTHONPATH for the run.
STREAM_DIR = "/swegen/stream"
STREAM_FD = 3
#: Where read_stream lists test ids that more than one test reported under.
DUPLICATES = "\0duplicates"
#: pytest's cache, kept (plugins such as pytest-randomly need it) but outside the checkout.
CACHE_DIR = "/tmp/swegen-pytest-cache"
#: pytest exit codes: 0 all passed, 1 some failed, 2 interrupted, 3 internal error, 4 usage error,
#: 5 no tests collected.
PYTEST_OK, PYTEST_FAILED, PYTEST_NO_TESTS = 0, 1, 5



def pytest_command(targets: list[str], extra_args: list[str] | None = None, stream: bool = False, rootdir: str = "/testbed") -> str:
    """The shell command that runs pytest on `targets` with a JUnit report swegen can read; with
    `stream`, swegen's plugin also writes each outcome to the command's stdout as it comes, and
    pytest's own output goes to OUTPUT_PATH."""
    args = [
        "python", "-m", "pytest", "-rA", "-o", f"cache_dir={CACHE_DIR}", "-o", "junit_family=xunit1",
        f"--junitxml={JUNIT_PATH}", "--tb=short", "-q", "--continue-on-collection-errors", f"--rootdir={rootdir}",
    ]
    if stream:
        args += ["-p", "swegen_stream"]
    command = " ".join(shlex.quote(a) for a in [*args, *(extra_args or []), *targets])
    if not stream:
        return command
    return (f'PYTHONPATH={STREAM_DIR}${{PYTHONPATH:+:$PYTHONPATH}} SWEGEN_STREAM_FD={STREAM_FD} '
            f'{command} {STREAM_FD}>&1 >{OUTPUT_PATH} 2>&1')


def _node_id(case: ElementTree.Element) -> str:
    """path::Class::name[param] from a JUnit testcase (xunit1 carries the file)."""
    name = case.get("name", "")
    classname = case.get("classname", "")
    path = case.get("file") or ""
    module = path[:-3].replace("/", ".") if path.endswith(".py") else ""
    if path and classname.startswith(module):
        classes = [c for c in classname[len(module):].split(".") if c]
        return "::".join([path, *classes, name])
    if not path:  # a report without files: best effort from the dotted class name
        parts = classname.split(".")
        path = "/".join(parts) + ".py"
    return "::".join([path, name])


def _status(case: ElementTree.Element) -> str:
    tags = {child.tag: child for child in case}
    if "failure" in tags:
        return "XPASS" if "[XPASS(strict)]" in (tags["failure"].get("message") or "") else "FAILED"
    if "error" in tags:
        return "ERROR"
    if "skipped" in tags:
        skipped = tags["skipped"]
        return "XFAIL" if (skipped.get("type") or "") == "pytest.xfail" else "SKIPPED"
    return "PASSED"


def parse_junit(xml_text: str) -> tuple[dict[str, str], dict[str, str]]:
    """(statuses by node id, collection errors by file) from a pytest JUnit XML report."""
    root = ElementTree.fromstring(xml_text)
    statuses: dict[str, str] = {}
    errors: dict[str, str] = {}
    for case in root.iter("testcase"):
        if not case.get("name") and case.find("error") is not None:
            continue
        error = case.find("error")
        if error is not None and (error.get("message") or "").startswith("collection failure"):
            errors[case.get("file") or case.get("classname", "")] = (error.text or "")[-2000:]
            continue
        statuses[_node_id(case)] = _status(case)
    return statuses, errors


def contradiction(exit_code: int, statuses: dict[str, str], collection_errors: dict[str, str]) -> str | None:
    """Why a report cannot be trusted given the exit code, or None."""
    failing = [t for t, s in statuses.items() if s in ("FAILED", "ERROR", "XPASS")]
    if exit_code == PYTEST_OK and (failing or collection_errors):
        return f"pytest exited 0 but the report has {len(failing)} failing tests"
    if exit_code == PYTEST_FAILED and not failing and not collection_errors:
        return "pytest exited 1 but the report has no failing test"
    if exit_code not in (PYTEST_OK, PYTEST_FAILED, PYTEST_NO_TESTS) and not collection_errors:
        return f"pytest exited {exit_code} (interrupted, internal or usage error)"
    return None


def read_stream(text: str, nonce: str) -> tuple[dict[str, str], str | None]:
    """(statuses by node id, why the stream cannot be trusted or None) from the plugin's lines.

    Lines must carry the run's nonce, numbered 1, 2, 3... with nothing after the session's end;
    a test's status combines its phases as the JUnit report does (a failed call is FAILED, a failed
    setup or teardown ERROR), and a phase reported again (a rerun plugin) replaces the earlier one.
    """
    phases: dict[str, dict[str, str]] = {}
    duplicates: set[str] = set()
    failed_subtests: set[str] = set()
    expected, ended, started = 1, False, False
    for raw in text.splitlines():
        try:
            line = json.loads(raw)
        except ValueError:
            return {}, f"the result stream has a line that is not swegen's: {raw[:80]!r}"
        if not isinstance(line, dict) or line.get("n") != nonce or line.get("seq") != expected:
            return {}, "the result stream has a forged or out-of-order line"
        if ended:
            return {}, "the result stream has lines after the session ended"
        expected += 1
        event = line.get("event")
        started = started or event == "start"
        ended = event == "end"
        if event == "report" and line.get("sub"):
            if line.get("outcome") == "failed":
                failed_subtests.add(str(line.get("nodeid")))
        elif event == "report" and line.get("outcome") != "rerun":
            seen = phases.setdefault(str(line.get("nodeid")), {})
            if str(line.get("when")) in seen:
                duplicates.add(str(line.get("nodeid")))
            seen[str(line.get("when"))] = str(line.get("outcome"))
        elif event == "report":
            phases.get(str(line.get("nodeid")), {}).pop(str(line.get("when")), None)
    if not started or not ended:
        return {}, "the result stream " + ("never started" if not started else "stops before the session's end")
    statuses = {nodeid: _combine(p) for nodeid, p in phases.items()}
    for nodeid in failed_subtests:  # a test with a failing subtest fails, as in the JUnit file
        if statuses.get(nodeid) in PASSING:
            statuses[nodeid] = "FAILED"
    if duplicates:
        statuses[DUPLICATES] = ", ".join(sorted(duplicates))
    return statuses, None


def _combine(phases: dict[str, str]) -> str:
    call = phases.get("call")
    if call == "failed":
        return "FAILED"
    if "failed" in (phases.get("setup"), phases.get("teardown")):
        return "ERROR"
    if "xfailed" in (call, phases.get("setup")):
        return "XFAIL"
    if call == "xpassed":
        return "XPASS"
    if call == "passed":
        return "PASSED"
    return "SKIPPED"


def _failing_cases(xml_text: str) -> int:
    """How many test cases of a JUnit report fail (collection errors not counted)."""
    count = 0
    for case in ElementTree.fromstring(xml_text).iter("testcase"):
        if not case.get("name"):
            continue
        error = case.find("error")
        if error is not None and (error.get("message") or "").startswith("collection failure"):
            continue
        count += _status(case) in FAILING
    return count


def cross_check(streamed: dict[str, str], reported: dict[str, str], reported_failing: int) -> str | None:
    """Why the JUnit report hides what the stream saw, or None. One-sided, since tampering pays
    only when it turns failures into passes: a test the report has passing that did not pass when
    it ran, fewer failing cases in the report than failed, or more passing tests than passed."""
    for test, status in streamed.items():
        if status not in PASSING and reported.get(test) in PASSING:
            return f"the report says {test} passed; it did not when it ran"
    streamed_failing = sum(1 for s in streamed.values() if s in FAILING)
    if reported_failing < streamed_failing:
        return f"the report has {reported_failing} failing tests; {streamed_failing} failed when they ran"
    streamed_passing = sum(1 for s in streamed.values() if s in PASSING)
    reported_passing = sum(1 for s in reported.values() if s in PASSING)
    if reported_passing > streamed_passing:
        return f"the report has {reported_passing} passing tests; {streamed_passing} passed when they ran"
    return None


def run_pytest(
    box: Sandbox,
    targets: list[str],
    timeout: float,
    env: dict[str, str] | None = None,
    workdir: str = "/testbed",
    extra_args: list[str] | None = None,
    stream: bool = True,
) -> TestRun:
    """Run pytest on `targets` in `box` and read its report (and, with `stream`, cross-check it
    with the outcomes streamed while the tests ran)."""
    nonce = secrets.token_hex(16)
    nonce_file = f"/tmp/.swegen-{secrets.token_hex(8)}"
    box.exec(f"rm -f {JUNIT_PATH} {OUTPUT_PATH}", timeout=30)
    env = dict(env or {})
    if stream:
        box.put(f"{STREAM_DIR}/swegen_stream.py", sandbox_file("swegen_stream.py").read_bytes())
        box.put(nonce_file, nonce.encode(), mode=0o600)
        env["SWEGEN_STREAM_NONCE_FILE"] = nonce_file
    result = box.exec(pytest_command(targets, extra_args, stream, rootdir=workdir), timeout=timeout, env=env, workdir=workdir)
    output = result.stdout + result.stderr
    streamed, stream_problem = {}, None
    if stream:
        output = _pytest_output(box) + result.stderr
        streamed, stream_problem = read_stream(result.stdout, nonce)
    stopped = stopped_run(result, output, timeout)
    if stopped:
        return stopped
    try:
        xml = box.get(JUNIT_PATH).decode("utf-8", errors="replace")
        statuses, errors = parse_junit(xml)
    except SwegenError:
        return TestRun(result.exit_code, {}, {}, output, result.duration, False, "pytest wrote no JUnit report")
    except ElementTree.ParseError as exc:
        return TestRun(result.exit_code, {}, {}, output, result.duration, False, f"unreadable JUnit report: {exc}")
    duplicates = streamed.pop(DUPLICATES, None)
    tampered = stream_problem or (cross_check(streamed, statuses, _failing_cases(xml)) if stream else None)
    if stream and not stream_problem:
        # pytest's own node ids (the JUnit file names a test by where its function is defined,
        # so tests a class inherits from another module would share one id there)
        statuses = streamed
    problem = contradiction(result.exit_code, statuses, errors)
    if duplicates:
        problem = f"several tests reported under one id ({duplicates[:200]}): swegen cannot tell them apart"
    return TestRun(result.exit_code, statuses, errors, output, result.duration, False, problem, tampered, streamed)


def _pytest_output(box: Sandbox) -> str:
    try:
        return box.get(OUTPUT_PATH).decode("utf-8", errors="replace")
    except SwegenError:
        return ""
