"""The language boundary: what every stage may ask of a language, and nothing more.

One package per language under `swegen/languages/` implements `Language`. Stages ask the
boundary (`swegen.languages.for_path`, `by_name`, `detect`), never a language module directly;
grading, records and reports stay language-free. A language module imports only what is below
it (records, errors, sandbox, images' EnvRecipe) and never a stage.

The records here are plain, frozen and JSON-able, so that a plan can be shipped to a Ray node
or written to the run folder like every other record.

Python, JavaScript/TypeScript and Go each implement this protocol in their own package
(swegen/languages/python, javascript, go). Mining asks it for every file (Python's
`change_facts` and `tests_using` are optional extras it uses where a language has them); the
testbed installs, plants canaries and runs tests through it for every language. What is still
Python's alone in the testbed: its environment plan is the richer `EnvPlan`, checked on the
task's source once per recipe and resolved at an earlier date when a dependency breaks the
import (reached through the Python language object, `environment`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from swegen.canaries import Canary  # noqa: F401 - what plant_canaries returns
from swegen.images import EnvRecipe

if TYPE_CHECKING:
    from swegen.runner import TestRun
    from swegen.sandbox import Sandbox

#: The per-test statuses a parser may give (the same words as pytest's JUnit reading, so that
#: grading stays one pure function for every language).
PASSED, FAILED, SKIPPED, ERROR, XFAIL, XPASS = "PASSED", "FAILED", "SKIPPED", "ERROR", "XFAIL", "XPASS"
STATUSES = frozenset({PASSED, FAILED, SKIPPED, ERROR, XFAIL, XPASS})


@dataclass(frozen=True)
class FileRoles:
    """Which files of a repository are this language's source, tests and test data."""

    #: Source files by ending (matched with str.endswith: ".test.ts" works).
    source_extensions: tuple[str, ...]
    #: Tests and their data (fixtures, snapshots), as globs; `**/` matches any depth, none included.
    test_globs: tuple[str, ...]
    #: Never part of a gold patch though they look like code: vendored or generated files, lock files.
    exclude_globs: tuple[str, ...] = ()


@dataclass(frozen=True)
class TestCase:
    """One test found in a source file by tree-sitter: its id as the runner reports it, and the
    lines (1-based, inclusive) its code spans."""

    test_id: str
    start_line: int
    end_line: int


@dataclass(frozen=True)
class Plan:
    """How to build, install and test one repository at one commit, for one language."""

    language: str
    #: The image recipe: base image with the toolchain, then the dependency install as of `as_of`.
    recipe: EnvRecipe
    #: The runtime and its version, e.g. ("node", "18"), ("go", "1.19").
    runtime: tuple[str, str]
    #: The package manager or build tool ("npm", "yarn", "pnpm", "go").
    manager: str
    #: The test runner ("jest", "vitest", "mocha", "node:test", "ava", "tape", "go test").
    runner: str
    #: Date the dependencies are resolved as of (ISO 8601), when no lock file pins them.
    as_of: str
    #: Where the tests run, relative to the checkout ("" for its root; a workspace package's folder).
    workdir: str = ""
    #: Environment for test runs.
    test_env: tuple[tuple[str, str], ...] = ()
    #: Why each part was chosen: (part, reason), shown by `swegen env show`.
    reasons: tuple[tuple[str, str], ...] = field(default=())
    #: Extra arguments for the runner (the project's own configuration: swegen.toml's pytest args).
    runner_args: tuple[str, ...] = ()
    #: The name the project under test is imported by, checked to come from the checkout ("": none).
    package: str = ""
    #: The version handed to build tools that read it from git history (setuptools_scm), which
    #: the sandbox's checkout does not have.
    pretend_version: str = ""


@dataclass(frozen=True)
class TestCommand:
    """One test run in a sandbox: a shell command run from /testbed/<plan.workdir>, and where it
    leaves its machine-readable report (JSON or JUnit; an absolute path in the sandbox, outside
    /testbed), read back with `Language.parse`."""

    command: str
    report_path: str
    #: Seconds the runner may take before the run is stopped (None: the stage's own limit).
    timeout: float | None = None


@runtime_checkable
class Language(Protocol):
    """What a language gives the stages."""

    #: "python", "javascript", "go".
    name: str
    roles: FileRoles

    def owns(self, path: str) -> bool:
        """Is this path this language's source or test code?"""

    def at(self, repo: Path, commit: str) -> "Language":
        """This language as it reads `repo` at `commit` (Go's test ids need go.mod's module
        path); itself when it needs nothing of the repository. Stages ask the bound one."""

    def tests_in(self, path: str, source: bytes) -> list[TestCase]:
        """Every test that tree-sitter finds in one test file, with the runner's id for it."""

    def touched_tests(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        """Ids of the tests whose code (or whose data, fixture or helper) a change of this file
        touched; `old` or `new` is None for a file added or deleted."""

    def changed_definitions(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        """Qualified names of the functions, methods and classes a change of this file touched."""

    def added_definitions(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        """Qualified names of the definitions the change adds (a new API: with tests that use it,
        the change is more likely a feature than a fix)."""

    def referenced_names(self, path: str, source: bytes, lines: set[int] | None = None) -> set[str]:
        """Identifiers used on these lines (1-based; all lines when None) of a file."""

    def plan(self, repo: Path, commit: str, as_of: str, paths: list[str] | None = None) -> Plan | None:
        """The environment at `commit` (dependencies as of `as_of`) for the project that holds
        `paths` (a task's files: in a monorepo, the workspace package or module they are in), or
        None when the repository holds no project of this language there."""

    def test_files_for(self, test_ids: list[str], files: list[str]) -> list[str]:
        """The test files among `files` (a task's test files) that hold the tests of these ids:
        what a run of those tests is pointed at, and where their canaries go."""

    def test_targets(self, files: list[str]) -> list[str]:
        """What the runner is pointed at to run the tests of a test patch that changes `files`
        (this language's test files among them; Python: not a package's `__init__.py` or a
        conftest.py, their folders when only those changed)."""

    def test_command(self, plan: Plan, test_files: list[str]) -> TestCommand:
        """The command that runs these test files (paths relative to the checkout) with a
        machine-readable report."""

    def run_tests(self, box: "Sandbox", plan: Plan, targets: list[str], test_files: list[str], timeout: float,
                  stream: bool = True) -> "TestRun":
        """Run `targets` (test files or test ids; [] for the whole suite) in `box`, whose /testbed
        holds the checkout, and read the statuses; `test_files` are the task's test files (where
        an id's file is found). `stream`: the second channel where the runner has one (pytest).
        Most languages: `swegen.runner.run_language_tests` with `test_command` and `parse`."""

    def install_command(self, plan: Plan) -> str | None:
        """A command run in every fresh container once the source is in /testbed (and the
        patches applied), before any test: link the dependencies the image holds into the
        checkout, build. None when the image is enough. Offline: the sandbox has no network."""

    def install(self, box: "Sandbox", plan: Plan, log: Path | None = None) -> tuple[str, str | None]:
        """Install the project in `box` (its /testbed holds the checkout, patches applied), offline;
        (how it was installed, why the project is unusable or None), its output written to `log`.
        Most languages: `swegen.runner.run_install` with `install_command`."""

    def usable(self, box: "Sandbox", plan: Plan) -> str | None:
        """Why the project installed in `box` cannot be what its tests run (Python: the package
        under test does not import, or not from the checkout), or None: asked again after a patch
        is applied to an installed tree."""

    def parse(self, report: str, output: str) -> dict[str, str]:
        """Per-test statuses (one of STATUSES) by test id, from the report the command wrote
        (and its console output, for runners whose report leaves out load errors)."""

    def missing_dependency(self, plan: Plan, report: str, output: str) -> str | None:
        """What a test run (its report, "" when it wrote none, and its console output) could not
        load because this environment does not have it (a module no proxy or registry serves
        here, a runtime too old for the code), in one line; None when nothing says so. Validation
        rejects such a task as an environment verdict rather than reading the run's statuses."""

    def plant_canaries(self, path: str, source: str, test_ids: list[str], rng: random.Random) -> tuple[str, list[Canary]]:
        """(the test file with canary tests added, the canaries): fresh random names in the file's
        own style, some that must pass and some that must fail; unchanged and [] when the file
        cannot be parsed."""

    def doctor(self) -> list[tuple[str, bool, str]]:
        """What this language needs on the host and in the base image: (check, ok, how to fix)."""

    def toolchain_packages(self) -> tuple[str, ...]:
        """Debian packages a base image needs for this language (nodejs, npm; golang-go)."""


def describe_plan(plan: Plan) -> str:
    """A plan as text for `swegen env show`."""
    lines = [f"image base: {plan.recipe.base_image}", f"{plan.runtime[0]}: {plan.runtime[1]}",
             f"package manager: {plan.manager}", f"test runner: {plan.runner}", f"dependencies as of: {plan.as_of}"]
    if plan.workdir:
        lines.append(f"tests run in: {plan.workdir}")
    if plan.recipe.install:
        lines += ["install:"] + ["  " + step for step in plan.recipe.install]
    lines += ["why:"] + [f"  {part}: {why}" for part, why in plan.reasons]
    return "\n".join(lines)


def plan_from_dict(data: dict) -> Plan:
    """A Plan back from its JSON form (lists where the record has tuples), as a job carries it."""
    recipe = data["recipe"]
    pairs = lambda items: tuple(tuple(item) for item in items)  # noqa: E731
    return Plan(
        language=data["language"],
        recipe=EnvRecipe(
            base_image=recipe["base_image"],
            python=recipe.get("python", "python3"),
            system_packages=tuple(recipe.get("system_packages", ())),
            pre_install=tuple(recipe.get("pre_install", ())),
            install=tuple(recipe.get("install", ())),
            env=pairs(recipe.get("env", ())),
            files=pairs(recipe.get("files", ())),
        ),
        runtime=tuple(data["runtime"]),  # type: ignore[arg-type]
        manager=data["manager"],
        runner=data["runner"],
        as_of=data["as_of"],
        workdir=data.get("workdir", ""),
        test_env=pairs(data.get("test_env", ())),
        reasons=pairs(data.get("reasons", ())),
        runner_args=tuple(data.get("runner_args", ())),
        package=data.get("package", ""),
        pretend_version=data.get("pretend_version", ""),
    )
