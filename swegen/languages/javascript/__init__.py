"""JavaScript and TypeScript behind the language boundary (`swegen.languages.base.Language`).

Modules: roles (which files are source, tests, noise), syntax (tests, touched tests and changed
definitions with tree-sitter), reports (jest, vitest, mocha, node:test reports to per-test
statuses), commands (the test command per runner), plan (Node, package manager, install, runner,
workspace package, as of a date), canaries (tamper-evidence tests), doctor (host checks).
Test ids everywhere are `relative/path.test.js > describe > name`.
"""

from __future__ import annotations

import random
from pathlib import Path

from swegen.languages.base import Canary, FileRoles, Plan, TestCase, TestCommand
from swegen.languages.javascript import canaries, commands, doctor, plan, reports, roles, syntax
from swegen.runner import TestRun, run_install, run_language_tests, test_files_of
from swegen.sandbox import Sandbox


class JavaScript:
    """The JS/TS language; stateless, so one instance serves every stage and thread."""

    name = "javascript"
    roles: FileRoles = roles.ROLES

    def owns(self, path: str) -> bool:
        return roles.owns(path)

    def at(self, repo: Path, commit: str) -> "JavaScript":
        return self  # ids are file paths and names: nothing of the repository is needed

    def tests_in(self, path: str, source: bytes) -> list[TestCase]:
        return syntax.tests_in(path, source)

    def touched_tests(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        return syntax.touched_tests(path, old, new)

    def changed_definitions(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        return syntax.changed_definitions(path, old, new)

    # Beyond the protocol (what mining's feature check asks of Python's syntax module):

    def added_definitions(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        return syntax.added_definitions(path, old, new)

    def referenced_names(self, path: str, source: bytes, lines: set[int] | None = None) -> set[str]:
        return syntax.referenced_names(path, source, lines)

    def plan(self, repo: Path, commit: str, as_of: str, paths: list[str] | None = None) -> Plan | None:
        return plan.plan(repo, commit, as_of, changed=paths)

    def test_files_for(self, test_ids: list[str], files: list[str]) -> list[str]:
        """The file of each id (before its first " > "), when it is among `files`, or any file
        this language owns that an id names."""
        named = dict.fromkeys(t.split(" > ", 1)[0] for t in test_ids)
        return [f for f in named if f in files or roles.owns(f)]

    def test_targets(self, files: list[str]) -> list[str]:
        return [f for f in files if self.owns(f)]

    def test_command(self, plan: Plan, test_files: list[str]) -> TestCommand:
        return commands.test_command(plan, test_files)

    def run_tests(self, box: Sandbox, plan: Plan, targets: list[str], test_files: list[str], timeout: float,
                  stream: bool = True) -> TestRun:
        return run_language_tests(box, self, plan, test_files_of(self, targets, test_files), timeout)

    def install(self, box: Sandbox, plan: Plan, log: Path | None = None) -> tuple[str, str | None]:
        return run_install(box, self, plan, log)

    def usable(self, box: Sandbox, plan: Plan) -> str | None:
        return None  # a failed install says it (run_install)

    def install_command(self, plan: Plan) -> str | None:
        return commands.install_command(plan)

    def parse(self, report: str, output: str) -> dict[str, str]:
        return reports.parse(report, output)

    def missing_dependency(self, plan: Plan, report: str, output: str) -> str | None:
        return reports.missing_dependency(report, output)

    def plant_canaries(self, path: str, source: str, test_ids: list[str], rng: random.Random) -> tuple[str, list[Canary]]:
        return canaries.plant(path, source, test_ids, rng)

    def doctor(self) -> list[tuple[str, bool, str]]:
        return doctor.checks()

    def toolchain_packages(self) -> tuple[str, ...]:
        return doctor.TOOLCHAIN


LANGUAGE = JavaScript()

__all__ = ["LANGUAGE", "JavaScript"]
