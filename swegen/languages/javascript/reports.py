"""Per-test statuses from the reports JS test runners write, with the ids `tests_in` gives.

Every parser gives `relative/path.test.js > suite > name`: the report's absolute file path made
relative to the checkout (`/testbed` in a sandbox), the enclosing suites' names, the test's own.
A file that fails to load (a syntax error, a missing module) is an ERROR under the file's own
path as id; a failing `beforeAll`/`before` hook makes ERRORs of the tests it stopped. Skipped,
pending and todo tests are SKIPPED.

Reports come from: jest's and vitest's `--json` (same shape), swegen's own mocha reporter and
node:test reporter (JSON lines, see reporters/), ava's and tape's TAP (one section per file,
written by the test command), and any JUnit XML (mocha-junit-reporter, jest-junit)
as a fallback.
"""

from __future__ import annotations

import json
import posixpath
import re
import xml.etree.ElementTree as ET

from swegen.languages.base import ERROR, FAILED, PASSED, SKIPPED
from swegen.languages.javascript.syntax import SEP

#: Where the checkout is in a sandbox.
ROOT = "/testbed"

_JEST_STATUS = {"passed": PASSED, "failed": FAILED, "pending": SKIPPED, "skipped": SKIPPED, "todo": SKIPPED, "disabled": SKIPPED, "focused": PASSED}


def relative(path: str, root: str = ROOT) -> str:
    """A report's file path relative to the checkout (file:// URLs and absolute paths alike)."""
    if not path:
        return ""
    if path.startswith("file://"):
        path = path[len("file://"):]
    root = root.rstrip("/")
    if path == root:
        return ""
    if path.startswith(root + "/"):
        return path[len(root) + 1:]
    return posixpath.normpath(path) if not path.startswith("/") else path


def _id(parts: list[str]) -> str:
    """The id from a file path and titles (a JUnit case without a file has only titles)."""
    return SEP.join(parts[1:] if not parts[0] else parts)


def _merge(results: dict[str, str], test_id: str, status: str) -> None:
    """A test reported twice (retries, duplicate names) keeps its worst status."""
    rank = {PASSED: 0, SKIPPED: 1, FAILED: 2, ERROR: 3}
    if test_id not in results or rank.get(status, 0) > rank.get(results[test_id], 0):
        results[test_id] = status


def parse_jest(report: str, root: str = ROOT) -> dict[str, str]:
    """jest's `--json` and vitest's `--reporter=json` (vitest puts an empty file-level name first
    in ancestorTitles, and leaves the tests of a file whose hook failed as pending)."""
    data = json.loads(report)
    results: dict[str, str] = {}
    for suite in data.get("testResults", []):
        path = relative(suite.get("name") or suite.get("testFilePath") or "", root)
        assertions = suite.get("assertionResults") or []
        failed_file = suite.get("status") == "failed"
        if failed_file and (not assertions or suite.get("testExecError")):
            _merge(results, path, ERROR)  # failed to load or to run at all
        hook_failed = failed_file and assertions and not any(a.get("status") == "failed" for a in assertions)
        if hook_failed:
            _merge(results, path, ERROR)
        for a in assertions:
            titles = [t for t in a.get("ancestorTitles") or [] if t != ""]
            status = _JEST_STATUS.get(a.get("status", ""), FAILED)
            if hook_failed and a.get("status") == "pending":
                status = ERROR  # vitest: a failed beforeAll leaves its tests "pending"
            _merge(results, SEP.join([path] + titles + [a.get("title", "")]), status)
    return results


def _json_lines(report: str) -> list[dict]:
    out = []
    for line in report.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue  # a line cut short by a killed run
    return out


_MOCHA_STATUS = {"passed": PASSED, "failed": FAILED, "pending": SKIPPED, "error": ERROR}
_MOCHA_LOAD_ERROR = re.compile(r"Exception during run:.*?(?:Require stack:\s*\n\s*- (?P<stack>\S+)|\((?P<frame>/[^:()\s]+):\d+:\d+\))", re.S)


def parse_mocha(report: str, output: str = "", root: str = ROOT) -> dict[str, str]:
    """swegen's mocha reporter (one JSON line per run); a file that stopped mocha while loading
    is an ERROR, found in the console output's 'Exception during run' and its require stack."""
    results: dict[str, str] = {}
    for run in _json_lines(report):
        for r in run.get("results", []):
            _merge(results, SEP.join([relative(r.get("file", ""), root)] + list(r.get("path", []))), _MOCHA_STATUS.get(r.get("status"), FAILED))
    for m in _MOCHA_LOAD_ERROR.finditer(output):
        path = m.group("stack") or m.group("frame")
        if path and "/node_modules/" not in path:
            _merge(results, relative(path, root), ERROR)
    return results


def parse_node_test(report: str, root: str = ROOT) -> dict[str, str]:
    """swegen's node:test reporter (one JSON line per finished test or suite). Suites are left
    out; a top-level failure named after its file is the file failing to load; tests cancelled
    because a hook failed are ERRORs."""
    results: dict[str, str] = {}
    for event in _json_lines(report):
        file = event.get("file") or ""
        path = list(event.get("path") or [])
        rel = relative(file, root)
        if len(path) == 1 and file and path[0] in (file, rel) or (len(path) == 1 and path[0].startswith("/")):
            if event.get("status") == "fail":
                _merge(results, relative(path[0], root), ERROR)
            continue
        if event.get("type") == "suite":
            continue  # its tests carry its outcome (cancelledByParent when its hook failed)
        if event.get("skip") or event.get("todo"):
            status = SKIPPED
        elif event.get("status") == "pass":
            status = PASSED
        elif event.get("failureType") in ("cancelledByParent", "hookFailed"):
            status = ERROR
        else:
            status = FAILED
        _merge(results, SEP.join([rel] + path), status)
    return results


def parse_junit(report: str, root: str = ROOT) -> dict[str, str]:
    """Any JUnit XML (jest-junit, mocha-junit-reporter, node's junit): a testcase's file from its
    own `file` attribute or its suite's, nested testsuites give the suite names, the case's
    `name` its own (node names a file that failed to load by its path: the file's ERROR). Best
    effort: JUnit has no standard place for the describe path."""
    results: dict[str, str] = {}
    tree = ET.fromstring(report)

    def visit(node: ET.Element, file: str, suites: list[str]) -> None:
        for child in node:
            if child.tag == "testsuite":
                name = child.get("name") or ""
                child_file = child.get("file") or file
                is_file = bool(child.get("file")) and name in (child.get("file"), "Root Suite", "")
                visit(child, child_file, suites if is_file or name in ("", "Root Suite") else suites + [name])
            elif child.tag == "testcase":
                case_file = relative(child.get("file") or file, root)
                status = PASSED
                for sub in child:
                    if sub.tag == "skipped":
                        status = SKIPPED
                    elif sub.tag == "failure":
                        status = FAILED
                    elif sub.tag == "error":
                        status = ERROR
                name = child.get("name") or ""
                if name.startswith(("/", "file://")) and not suites and status == FAILED:
                    _merge(results, relative(name, root), ERROR)
                    continue
                _merge(results, _id([case_file] + suites + [name]), status)

    if tree.tag == "testsuite":  # a single suite as the document
        wrapper = ET.Element("testsuites")
        wrapper.append(tree)
        tree = wrapper
    visit(tree, "", [])
    return results


_TAP_LINE = re.compile(r"^(not ok|ok)\b\s*(\d+)?\s*(?:-\s*)?(.*?)\s*(?:#\s*(SKIP|TODO)\b.*)?$", re.I)
#: ava's lines for a file that did not run: its tests are missing, the file is the ERROR.
_AVA_CRASH = re.compile(r"exited with a non-zero exit code|exited due to|No tests found in|Timed out while running tests|^(Uncaught exception|Unhandled rejection)|^(?:[A-Z]\w*)?Error: ")
FILE_MARK = "# swegen-file: "
EXIT_MARK = "# swegen-exit: "


def _tap_sections(report: str) -> list[tuple[str, str, list[str], int | None]]:
    """(runner, file, lines, exit code) for each per-file TAP section the test command wrote."""
    sections: list[tuple[str, str, list[str], int | None]] = []
    for line in report.splitlines():
        if line.startswith(FILE_MARK):
            runner, _, file = line[len(FILE_MARK):].partition(" ")
            sections.append((runner, file.strip(), [], None))
        elif line.startswith(EXIT_MARK) and sections:
            runner, file, lines, _ = sections[-1]
            code = line[len(EXIT_MARK):].strip()
            sections[-1] = (runner, file, lines, int(code) if code.isdigit() else None)
        elif sections:
            sections[-1][2].append(line)
    return sections


def parse_tap(report: str, root: str = ROOT) -> dict[str, str]:
    """TAP of ava (`--tap`, one file per run: a test per line, titles unprefixed) and tape (a
    `# name` comment starts each test, its assertions follow: failed when one fails). Tape's
    subtests are reported under their own name only (its TAP does not nest them)."""
    results: dict[str, str] = {}
    for runner, file, lines, code in _tap_sections(report):
        path = relative(file, root)
        found = _ava(path, lines, results) if runner == "ava" else _tape(path, lines, results)
        if code not in (None, 0) and not found:
            _merge(results, path, ERROR)
    return results


def _ava(path: str, lines: list[str], results: dict[str, str]) -> int:
    found = 0
    for line in lines:
        m = _TAP_LINE.match(line)
        if not m:
            continue
        ok, title, directive = m.group(1).lower() == "ok", m.group(3), (m.group(4) or "").upper()
        if not ok and not directive and _AVA_CRASH.search(title):
            _merge(results, path, ERROR)
            continue
        status = SKIPPED if directive else (PASSED if ok else FAILED)
        _merge(results, SEP.join([path, title]), status)
        found += 1
    return found


def _tape(path: str, lines: list[str], results: dict[str, str]) -> int:
    current: str | None = None
    found = 0
    for line in lines:
        if line.startswith("# ") and not re.match(r"# (tests|pass|fail|ok|todo|skip)\s+\d*\s*$", line.rstrip() + " "):
            name = line[2:].strip()
            if name.startswith("SKIP "):
                _merge(results, SEP.join([path, name[5:]]), SKIPPED)
                current = None
                found += 1
                continue
            current = SEP.join([path, name])
            _merge(results, current, PASSED)
            found += 1
            continue
        m = _TAP_LINE.match(line)
        if m and current is not None and m.group(1).lower() == "not ok" and (m.group(4) or "").upper() != "TODO":
            _merge(results, current, FAILED)
    return found


def parse(report: str, output: str = "", root: str = ROOT) -> dict[str, str]:
    """Whichever of the shapes above the report is; {} for an empty or unreadable one (a run that
    wrote nothing: every test it should have run is missing, which grading counts as not passed)."""
    text = report.strip()
    if not text:
        return parse_mocha("", output, root)
    if text.startswith(FILE_MARK):
        return parse_tap(text, root)
    if text.startswith("<"):
        try:
            return parse_junit(text, root)
        except ET.ParseError:
            return {}
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        data = None
    if isinstance(data, dict) and "testResults" in data:
        return parse_jest(text, root)
    lines = _json_lines(text)
    if lines and lines[0].get("reporter") == "swegen-mocha":
        return parse_mocha(text, output, root)
    if lines and "path" in lines[0]:
        return parse_node_test(text, root)
    return {}


#: Node's words for a module it could not load, with the module's name.
_MISSING_MODULE = re.compile(r"(?:Cannot find (?:module|package) '(?P<name>[^']+)'|ERR_MODULE_NOT_FOUND\]?:? Cannot find package '(?P<esm>[^']+)')")


def missing_dependency(report: str, output: str) -> str | None:
    """A package that the test runner itself could not load (the runner, its config or a setup
    file needs a module the image does not have), when the run reported no test at all; None
    otherwise. A missing module while tests ran is a test file's ERROR (it may be what the test is
    about, or what the fix adds) and is read as such, not here."""
    try:
        if report.strip() and parse(report, output):
            return None
    except (ValueError, ET.ParseError):
        pass
    for match in _MISSING_MODULE.finditer(output):
        name = match.group("name") or match.group("esm") or ""
        if name and not name.startswith((".", "/", "node:", "file:")):
            line = output[output.rfind("\n", 0, match.start()) + 1 : (output.find("\n", match.end()) + 1 or len(output) + 1) - 1]
            return f"the package {name} is not installed, and the test runner cannot start without it: {line.strip()}"
    return None
