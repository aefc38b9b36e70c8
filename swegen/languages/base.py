"""The language boundary: what every stage may ask of a language, and nothing more.

One package per language under `swegen/languages/` implements `Language`. Stages ask the
boundary (`swegen.languages.for_path`, `by_name`, `detect`), never a language module directly;
grading, records and reports stay language-free. A language module imports only what is below
it (records, errors, sandbox, images' EnvRecipe) and never a stage.

The records here are plain, frozen and JSON-able, so that a plan can be shipped to a Ray node
or written to the run folder like every other record.

Status of the move (session 5): JavaScript/TypeScript and Go implement this protocol in their
own packages; the Python code still lives in the flat modules (split, codeindex, envs, runner,
canaries) and is not yet behind it, and no stage asks the boundary yet.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

from swegen.images import EnvRecipe

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


@dataclass(frozen=True)
class TestCommand:
    """One test run in a sandbox: a shell command run from /testbed/<plan.workdir>, and where it
    leaves its machine-readable report (JSON or JUnit; an absolute path in the sandbox, outside
    /testbed), read back with `Language.parse`."""

    command: str
    report_path: str
    #: Seconds the runner may take before the run is stopped (None: the stage's own limit).
    timeout: float | None = None


@dataclass(frozen=True)
class Canary:
    """One planted test (tamper evidence): its id as the runner reports it, and whether it must pass."""

    test_id: str
    must_pass: bool


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

    def test_command(self, plan: Plan, test_files: list[str]) -> TestCommand:
        """The command that runs these test files (paths relative to the checkout) with a
        machine-readable report."""

    def install_command(self, plan: Plan) -> str | None:
        """A command run in every fresh container once the source is in /testbed (and the
        patches applied), before any test: link the dependencies the image holds into the
        checkout, build. None when the image is enough. Offline: the sandbox has no network."""

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
    )
