"""Python behind swegen's language boundary (`swegen.languages.base.Language`).

Test ids are pytest's node ids (`path::Class::name[param]`). Modules: syntax (tree-sitter: the
tests a change touches, the definitions it changes), env (the environment plan at a base commit:
Python version, requirements as of the dependency date, uv), run (pytest with a JUnit report and
the streamed second channel), canaries (planted in pytest's style).

Beyond the protocol, Python offers what the stages use for a richer reading than the protocol's
per-file one (each optional for a language, found by name):

- `change_facts(path, new, added_lines, removed_at, removed_text, test_file)`: a file's touched
  tests, changed and added definitions and the names its added lines use, from the fixed
  version and the diff's line numbers alone (mining's fast path: no read of the old version);
- `shared_change` / `tests_using` / `test_ids`: tests in other files touched by a change to
  shared test code (a conftest.py fixture, a helper module);
- `environment(...)`: the full `EnvPlan` (package under test, pretend version, the check of the
  environment and its retry at an earlier date), which `plan` gives as a `Plan`.
"""

from __future__ import annotations

import difflib
import random
import shlex
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from swegen.canaries import Canary
from swegen.languages.base import FileRoles, Plan, TestCase, TestCommand
from swegen.languages.python import canaries, env, run, syntax
from swegen.resources import sandbox_file
from swegen.runner import TestRun, write_log
from swegen.sandbox import Sandbox

#: The test files pytest finds by name; the folders of tests (`tests/`, `test/`) are split's
#: defaults for every language, and a project's swegen.toml adds its own.
ROLES = FileRoles(
    source_extensions=(".py", ".pyi"),
    test_globs=("**/test_*.py", "**/*_test.py", "**/*_tests.py", "**/conftest.py"),
)


def to_plan(plan: env.EnvPlan) -> Plan:
    """The protocol's Plan of an EnvPlan (what a testbed record and `swegen env show` carry)."""
    return Plan(
        language="python",
        recipe=plan.recipe,
        runtime=("python", plan.python),
        manager="uv",
        runner="pytest",
        as_of=plan.exclude_newer,
        test_env=plan.test_env,
        reasons=plan.reasons,
        runner_args=plan.pytest_args,
        package=plan.package or "",
        pretend_version=plan.pretend_version,
    )


def _changed_lines(old: bytes | None, new: bytes | None) -> tuple[set[int], set[int]]:
    """(added lines in new's numbering, removed lines in old's), 1-based, from a line diff."""
    a = (old or b"").splitlines()
    b = (new or b"").splitlines()
    added, removed = set(), set()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag != "equal":
            removed.update(range(i1 + 1, i2 + 1))
            added.update(range(j1 + 1, j2 + 1))
    return added, removed


@dataclass(frozen=True)
class PythonLanguage:
    """Python: pytest, requirements resolved with uv as of the dependency date."""

    name: str = "python"
    roles: FileRoles = ROLES

    def owns(self, path: str) -> bool:
        return syntax.language_for(path) is not None

    def at(self, repo: Path, commit: str) -> "PythonLanguage":
        return self  # a node id is the file's path: nothing of the repository is needed

    def tests_in(self, path: str, source: bytes) -> list[TestCase]:
        return [TestCase(test_id, start, end) for test_id, start, end in syntax.test_spans(path, source)]

    def test_ids(self, path: str, source: bytes) -> list[str]:
        return syntax.test_node_ids(path, source)

    def touched_tests(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        added, removed = _changed_lines(old, new)
        return syntax.touched_tests(path, old, new, added, removed)

    def changed_definitions(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        added, removed = _changed_lines(old, new)
        return syntax.changed_definitions(path, old, new, added, removed)

    def added_definitions(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        return syntax.added_definitions(path, old, new)

    def referenced_names(self, path: str, source: bytes, lines: set[int] | None = None) -> set[str]:
        return syntax.referenced_names(path, source, lines)

    def change_facts(self, path: str, new: bytes | None, added_lines: set[int], removed_at: set[int],
                     removed_text: Sequence[str], test_file: bool = True) -> syntax.ChangeFacts:
        return syntax.change_facts(path, new, added_lines, removed_at, removed_text, test_file=test_file)

    def shared_change(self, path: str, new: bytes | None, lines: set[int]) -> syntax.SharedChange:
        return syntax.shared_change(path, new, lines)

    def tests_using(self, path: str, source: bytes | None, change: syntax.SharedChange) -> list[str]:
        return syntax.tests_using(path, source, change)

    def environment(self, repo: Path, commit: str, pythons: list[str], **options) -> env.EnvPlan:
        return env.plan_environment(repo, commit, pythons, **options)

    def available_runtimes(self) -> list[str]:
        """The Python versions whose base image is present."""
        return env.available_pythons()

    def as_plan(self, plan: env.EnvPlan) -> Plan:
        return to_plan(plan)

    def describe(self, plan: env.EnvPlan) -> str:
        return env.describe(plan)

    def plan(self, repo: Path, commit: str, as_of: str, paths: list[str] | None = None) -> Plan | None:
        pythons = env.available_pythons()
        if not pythons:
            return None
        return to_plan(env.plan_environment(repo, commit, pythons))

    def test_files_for(self, test_ids: list[str], files: list[str]) -> list[str]:
        return list(dict.fromkeys(test.split("::")[0] for test in test_ids))

    def test_targets(self, files: list[str]) -> list[str]:
        """Its Python files but a package's `__init__.py` (pytest collects the whole package for
        it, the patch's test files in it once more: one id reported twice) and conftest.py (no
        tests of its own); when only those changed, their folders."""
        python = [f for f in files if f.endswith(".py")]
        tests = [f for f in python if f.rsplit("/", 1)[-1] not in ("__init__.py", "conftest.py")]
        return tests or list(dict.fromkeys(f.rsplit("/", 1)[0] if "/" in f else "." for f in python))

    def test_command(self, plan: Plan, test_files: list[str]) -> TestCommand:
        return TestCommand(run.pytest_command(test_files, list(plan.runner_args)), run.JUNIT_PATH)

    def run_tests(self, box: Sandbox, plan: Plan, targets: list[str], test_files: list[str], timeout: float,
                  stream: bool = True) -> TestRun:
        return run.run_pytest(box, targets, timeout, env=dict(plan.test_env), extra_args=list(plan.runner_args), stream=stream)

    def install_command(self, plan: Plan) -> str | None:
        script = sandbox_file("install_project.sh").read_text(encoding="utf-8")
        return f"SWEGEN_PRETEND_VERSION={shlex.quote(plan.pretend_version)} sh -c {shlex.quote(script)}"

    def install(self, box: Sandbox, plan: Plan, log: Path | None = None) -> tuple[str, str | None]:
        """swegen's install script (an editable install, then the ways old build backends need; a
        tree with no packaging files runs as it is): its last line says which way worked. Its
        failure alone is not the verdict: the import check of the package under test is."""
        result = box.exec(self.install_command(plan), timeout=900)
        write_log(log, result.stdout + result.stderr)
        mode = (result.stdout.strip().splitlines() or ["swegen-install: unknown"])[-1].removeprefix("swegen-install: ")
        return mode, self.usable(box, plan)

    def usable(self, box: Sandbox, plan: Plan) -> str | None:
        """Why the package under test does not import from the checkout, or None."""
        package = plan.package
        if not package:
            return None
        probe = box.exec(
            ["python", "-u", "-c", f"import {package}, os; print('swegen-location=' + os.path.realpath({package}.__file__), flush=True)"],
            timeout=120,
            env=dict(plan.test_env),
        )
        # marked: importing the package may print anything (a patch under evaluation may make it)
        marked = [line for line in probe.stdout.splitlines() if line.startswith("swegen-location=")]
        location = marked[-1].removeprefix("swegen-location=") if marked else ""
        if not probe.ok:
            return f"the package {package} does not import: {probe.stderr.strip().splitlines()[-1:]}"
        if not location.startswith("/testbed/"):
            return f"the package {package} is imported from {location}, not from the checkout"
        return None

    def parse(self, report: str, output: str) -> dict[str, str]:
        return run.parse_junit(report)[0]

    def missing_dependency(self, plan: Plan, report: str, output: str) -> str | None:
        return None  # an import that fails inside a dependency is the environment check's (testbed)

    def plant_canaries(self, path: str, source: str, test_ids: list[str], rng: random.Random) -> tuple[str, list[Canary]]:
        return canaries.plant(path, source, test_ids, rng)

    def doctor(self) -> list[tuple[str, bool, str]]:
        grammar = syntax.language_for("x.py") is not None and _grammar_loads()
        return [
            ("tree-sitter Python grammar", grammar, "pip install tree-sitter-python"),
            ("python3 on the host (git hooks and helper scripts)", shutil.which("python3") is not None, "apt-get install python3"),
        ]

    def toolchain_packages(self) -> tuple[str, ...]:
        return ()  # every base image is a Python one


def _grammar_loads() -> bool:
    try:
        syntax.test_node_ids("test_x.py", b"def test_x():\n    pass\n")
    except Exception:  # noqa: BLE001 - any failure means the grammar is unusable
        return False
    return True


LANGUAGE = PythonLanguage()
