"""One test run in a sandbox: pytest with a JUnit XML report, read into per-test statuses.

Test ids are pytest node ids (`path::Class::name[param]`), rebuilt from the JUnit report (never
scraped from the log). The exit code is kept, and a report that contradicts it (pytest said
"all passed" but a test failed, or a failure exit with nothing failing) is an infrastructure
error, not a result.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from xml.etree import ElementTree

from swegen.errors import SwegenError
from swegen.sandbox import Sandbox

JUNIT_PATH = "/tmp/swegen-junit.xml"
#: pytest exit codes: 0 all passed, 1 some failed, 2 interrupted, 3 internal error, 4 usage error,
#: 5 no tests collected.
PYTEST_OK, PYTEST_FAILED, PYTEST_NO_TESTS = 0, 1, 5


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


def pytest_command(targets: list[str], extra_args: list[str] | None = None) -> str:
    """The shell command that runs pytest on `targets` with a JUnit report swegen can read."""
    args = [
        "python", "-m", "pytest", "-rA", "-p", "no:cacheprovider", "-o", "junit_family=xunit1",
        f"--junitxml={JUNIT_PATH}", "--tb=short", "-q", "--continue-on-collection-errors",
    ]
    return " ".join(shlex.quote(a) for a in [*args, *(extra_args or []), *targets])


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


def run_pytest(
    box: Sandbox,
    targets: list[str],
    timeout: float,
    env: dict[str, str] | None = None,
    workdir: str = "/testbed",
    extra_args: list[str] | None = None,
) -> TestRun:
    """Run pytest on `targets` in `box` and read its report."""
    box.exec(f"rm -f {JUNIT_PATH}", timeout=30)
    result = box.exec(pytest_command(targets, extra_args), timeout=timeout, env=env or {}, workdir=workdir)
    output = result.stdout + result.stderr
    if result.timed_out:
        return TestRun(result.exit_code, {}, {}, output, result.duration, True, f"the test run timed out after {timeout:.0f}s")
    try:
        xml = box.get(JUNIT_PATH).decode("utf-8", errors="replace")
        statuses, errors = parse_junit(xml)
    except SwegenError:
        return TestRun(result.exit_code, {}, {}, output, result.duration, False, "pytest wrote no JUnit report")
    except ElementTree.ParseError as exc:
        return TestRun(result.exit_code, {}, {}, output, result.duration, False, f"unreadable JUnit report: {exc}")
    problem = contradiction(result.exit_code, statuses, errors)
    return TestRun(result.exit_code, statuses, errors, output, result.duration, False, problem)
