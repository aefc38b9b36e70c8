"""The shell command that runs some test files with one runner and leaves a machine-readable report.

Every command runs from /testbed/<plan.workdir> with CI=true and colours off, never in watch mode
or with coverage. It first links the image's installed node_modules (built under
/opt/swegen/deps, see plan.py) into the checkout, then runs the runner's own binary from
node_modules/.bin. mocha and node:test use swegen's reporters (reporters/), written into the
sandbox by the command itself, because their own reports lose the describe path or the file.
"""

from __future__ import annotations

import base64
import shlex
from importlib import resources

from swegen.languages.base import Plan, TestCommand
from swegen.languages.javascript.reports import EXIT_MARK, FILE_MARK

REPORT_DIR = "/tmp/swegen-js"
REPORT = f"{REPORT_DIR}/report"
DEPS = "/opt/swegen/deps"
WORKSPACES_VAR = "SWEGEN_JS_WORKSPACES"
#: The runner options the package's test script gives (plan.runner_options), shell-quoted.
OPTIONS_VAR = "SWEGEN_JS_RUNNER_OPTIONS"
ENV = (("CI", "true"), ("FORCE_COLOR", "0"), ("NO_COLOR", "1"), ("NODE_ENV", "test"))

#: Links node_modules of the image into the checkout (root and each workspace package), and the
#: checkout's workspace packages into the image's install (where node_modules' workspace links
#: point), without touching what the checkout already has.
LINK = (
    f'for d in "" ${WORKSPACES_VAR}; do '
    f'if [ -d {DEPS}/$d/node_modules ] && [ ! -e /testbed/$d/node_modules ]; then ln -s {DEPS}/$d/node_modules /testbed/$d/node_modules; fi; done; '
    f"for d in ${WORKSPACES_VAR}; do for e in /testbed/$d/* /testbed/$d/.[!.]*; do "
    f'if [ -e "$e" ] && [ "$(basename "$e")" != node_modules ]; then ln -sfn "$e" {DEPS}/$d/; fi; done; done'
)


def _reporter(name: str) -> str:
    return resources.files("swegen.languages.javascript").joinpath("reporters", name).read_text(encoding="utf-8")


def _write(path: str, text: str) -> str:
    """A shell step writing `text` to `path` (base64: no quoting to get wrong)."""
    return f"echo {base64.b64encode(text.encode()).decode()} | base64 -d > {path}"


def relative_to(workdir: str, path: str) -> str:
    """A checkout-relative path as seen from the workdir (files outside it keep an absolute path)."""
    workdir = workdir.strip("/")
    if not workdir:
        return path
    if path.startswith(workdir + "/"):
        return path[len(workdir) + 1:]
    return "/testbed/" + path


def _env(plan: Plan) -> str:
    pairs = dict(ENV)
    pairs.update(dict(plan.test_env))
    return " ".join(f"{k}={shlex.quote(v)}" for k, v in sorted(pairs.items()))


def runner_command(runner: str, files: list[str], options: str = "") -> str:
    """The runner's own invocation for these files (relative to the workdir), with the test
    script's options (already shell-quoted) before the command's own."""
    args = " ".join(shlex.quote(f) for f in files)
    o = options + " " if options else ""
    if runner == "jest":
        return f"jest {o}--ci --json --outputFile={REPORT} --watchAll=false --coverage=false --colors=false --runTestsByPath {args}"
    if runner == "vitest":
        return f"vitest run {o}--reporter=json --reporter=default --outputFile={REPORT} --coverage.enabled=false --watch=false --color=false {args}"
    if runner == "mocha":
        reporter = f"{REPORT_DIR}/mocha.cjs"
        # mocha 4+ waits for the event loop to empty after the tests (a server a test left open
        # hangs it until the stage's timeout); --exit ends it, on the versions that have it
        once = f"SWEGEN_REPORT={REPORT} mocha {o}$swegen_exit --reporter {reporter} --no-colors"
        exit_flag = "swegen_exit=$(mocha --help 2>/dev/null | grep -q -- '--exit' && echo --exit); "
        # A file that fails to load stops mocha before any report: then each file alone, so the
        # others still report and the broken one shows in the output.
        per_file = f"for f in {args}; do {once} \"$f\"; done"
        return f"{exit_flag}{once} {args}; status=$?; if [ ! -s {REPORT} ]; then {per_file}; fi; exit $status"
    if runner == "node:test":
        reporter = f"{REPORT_DIR}/node-test.mjs"
        return (f"node {o}--test --test-reporter={reporter} --test-reporter-destination={REPORT} "
                f"--test-reporter=spec --test-reporter-destination=stdout {args}")
    if runner in ("ava", "tape"):
        # One file per run: ava prefixes titles with a file's path only when it runs several, and
        # tape's TAP names no file. Each run's section is marked with its file and exit code.
        run = f"ava {o}--tap" if runner == "ava" else f"node {o}".rstrip()
        return (f"for f in {args}; do echo \"{FILE_MARK}{runner} $f\" >> {REPORT}; {run} \"$f\" >> {REPORT} 2>{REPORT_DIR}/stderr; "
                f"code=$?; cat {REPORT_DIR}/stderr; echo \"{EXIT_MARK}$code\" >> {REPORT}; done")
    raise ValueError(f"no command for runner {runner!r}")


def install_command(plan: Plan) -> str:
    """Run once in a fresh container, offline: link the image's node_modules into the checkout
    (idempotent; the test command does it again, so a run without this step still works)."""
    env = " ".join(f"{k}={shlex.quote(v)}" for k, v in plan.test_env if k == WORKSPACES_VAR)
    return (f"export {env}; " if env else "") + LINK


def test_command(plan: Plan, files: list[str]) -> TestCommand:
    """The whole command for a sandbox: link node_modules, write the reporter, run, report."""
    local = [relative_to(plan.workdir, f) for f in files]
    steps = [f"mkdir -p {REPORT_DIR}", f"rm -f {REPORT}", LINK, "export PATH=\"$PWD/node_modules/.bin:/testbed/node_modules/.bin:$PATH\""]
    if plan.runner == "mocha":
        steps.append(_write(f"{REPORT_DIR}/mocha.cjs", _reporter("mocha.cjs")))
    elif plan.runner == "node:test":
        steps.append(_write(f"{REPORT_DIR}/node-test.mjs", _reporter("node-test.mjs")))
    steps.append(f"export {_env(plan)}")
    steps.append(runner_command(plan.runner, local, dict(plan.test_env).get(OPTIONS_VAR, "")))
    return TestCommand(command="; ".join(steps), report_path=REPORT)
