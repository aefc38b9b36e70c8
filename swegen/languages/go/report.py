"""Per-test statuses from `go test -json` (test2json events), the way grading reads them.

Each JSON line is one event: `Action` run/pause/cont/pass/fail/skip/output/bench (and, from Go
1.24, start and build-output/build-fail), for a `Package` (import path) and, when it is about a
test, a `Test` (`TestX` or `TestX/sub/name`). The id is `<Package>::<Test>`.

What the events leave out, and how it is read here:
- A package that does not build, or whose imports cannot be found, has no test events at all:
  go (1.19) prints `FAIL\t<pkg> [build failed]` or `[setup failed]` as a plain line among the
  JSON (Go 1.24 says it in an output event and marks the package's fail with FailedBuild). That
  package gets the id `<pkg>` (no `::`) with ERROR; `package_errors` gives the same ERROR to each
  asked-for test of such a package (the tests themselves are never named, so they would otherwise
  just be missing, which grading already counts as failing).
- A test that started and never ended (the binary panicked outside it, called os.Exit, or the
  -timeout stopped it) is FAILED; so is each unfinished parent of a subtest.
- A package that failed before any test started (an init or TestMain panic) is an ERROR as `<pkg>`.
"""

from __future__ import annotations

import json
import re

from swegen.languages.base import ERROR, FAILED, PASSED, SKIPPED

#: go's own line for a package it could not build or set up (stdout, Go 1.19 to 1.23).
BUILD_FAILED = re.compile(r"^FAIL\s+(\S+)\s+\[(build|setup) failed\]\s*$", re.MULTILINE)
_FINAL = {"pass": PASSED, "fail": FAILED, "skip": SKIPPED}


def _events(report: str) -> tuple[list[dict], list[str]]:
    """(the JSON events, the other lines)."""
    events, others = [], []
    for line in report.splitlines():
        text = line.strip()
        if text.startswith("{"):
            try:
                event = json.loads(text)
            except ValueError:
                others.append(line)
                continue
            if isinstance(event, dict):
                events.append(event)
                continue
        others.append(line)
    return events, others


def test_id(package: str, test: str) -> str:
    return f"{package}::{test}"


def parse(report: str, output: str = "") -> dict[str, str]:
    """Statuses by id from a `go test -json` report, plus the build failures its console shows."""
    events, others = _events(report)
    statuses: dict[str, str] = {}
    started: dict[str, None] = {}
    package_tests: dict[str, int] = {}
    failed_packages: set[str] = set()
    broken: set[str] = set()
    for event in events:
        package = event.get("Package") or event.get("ImportPath") or ""
        action, test = event.get("Action"), event.get("Test")
        if not isinstance(package, str) or not isinstance(action, str):
            continue
        if action == "build-fail":
            broken.add(package.split(" ")[0])
        if not test:
            if action == "output":
                broken.update(m.group(1) for m in BUILD_FAILED.finditer(str(event.get("Output", ""))))
            elif action == "fail":
                if event.get("FailedBuild"):
                    broken.add(package)
                failed_packages.add(package)
            continue
        key = test_id(package, str(test))
        if action == "run":
            started[key] = None
            package_tests[package] = package_tests.get(package, 0) + 1
        elif action in _FINAL:
            statuses[key] = _FINAL[action]
            package_tests[package] = package_tests.get(package, 0) + 1
    for key in started:
        statuses.setdefault(key, FAILED)  # started, never ended: a panic, os.Exit or the timeout
    for text in ("\n".join(others), output):
        broken.update(m.group(1) for m in BUILD_FAILED.finditer(text))
    for package in failed_packages - set(package_tests):
        broken.add(package)
    for package in broken:
        statuses[package] = ERROR
    return statuses


def package_errors(statuses: dict[str, str], test_ids: list[str]) -> dict[str, str]:
    """`statuses` with ERROR for each of `test_ids` missing from it whose package is an ERROR
    (did not build, could not be set up, or failed before any test ran)."""
    out = dict(statuses)
    for test in test_ids:
        package = test.split("::", 1)[0]
        if test not in out and out.get(package) == ERROR:
            out[test] = ERROR
    return out


# -- dependencies the environment cannot give ------------------------------------------------

#: go's words for a package or module it could not have, each with the package or module named
#: (group "what") when the line names it. A package under the main module's own path is the
#: code's own (a package the fix adds), not a dependency, and is left out.
_MISSING = tuple(re.compile(p) for p in (
    r"cannot find module providing package (?P<what>[^\s:;]+)",
    r"no required module provides package (?P<what>[^\s:;]+)",
    r"missing go\.sum entry for module providing package (?P<what>[^\s:;]+)",
    r"(?P<what>[^\s:;]+@[^\s:;]+): (?:missing go\.sum entry|module lookup disabled|reading |Get |unrecognized import path|"
    r"invalid version|unknown revision)",
    r"cannot find package \"(?P<what>[^\"]+)\"",
    r"package (?P<what>[^\s:;]+) is not in (?:GOROOT|std)",
    r"(?P<what>)module lookup disabled by GOPROXY=off",
    r"(?P<what>)import lookup disabled by -mod=",
    r"(?P<what>)dial tcp: lookup proxy\.golang\.org",
))
_DOWNLOADING = re.compile(r"^go: downloading (\S+) (\S+)\s*$", re.MULTILINE)


def missing_dependency(report: str, output: str, module: str = "") -> str | None:
    """What a `go test` run could not build for, when it is a module or standard package this
    environment does not have (no proxy reachable, no vendor/ copy, a Go too old for the code):
    a line saying which and go's own words; None otherwise.

    Only go's own lines count: the console, and the report's lines that are no test's output
    (the build-output events of Go 1.24 among them). A test's output can hold these words (a test
    of a tool that runs `go build`) and says nothing about this environment."""
    events, others = _events(report)
    lines = [*output.splitlines(), *others]
    for event in events:
        if event.get("Action") in ("build-output", "build-fail") or (event.get("Action") == "output" and not event.get("Test")
                                                                     and BUILD_FAILED.search(str(event.get("Output", ""))) is None
                                                                     and "[setup failed]" not in str(event.get("Output", ""))):
            lines += str(event.get("Output", "")).splitlines()
    downloading = [m.group(1) for m in _DOWNLOADING.finditer("\n".join(lines))]
    for line in lines:
        for pattern in _MISSING:
            match = pattern.search(line)
            if match is None:
                continue
            what = match.group("what")
            name = what.split("@", 1)[0]
            if name and module and (name == module or name.startswith(module + "/")):
                break  # the code's own package: what the fix may add
            if not name:
                what = ", ".join(dict.fromkeys(downloading)) or "a required module"
            if "is not in" in match.group(0):
                return f"the standard library of this Go has no package {what} (a newer Go is needed): {line.strip()}"
            return f"{what} cannot be had here (no Go module proxy reachable, no vendor/ copy): {line.strip()}"
    return None
