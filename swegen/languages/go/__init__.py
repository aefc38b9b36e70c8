"""Go behind swegen's language boundary (`swegen.languages.base.Language`).

Test ids are `<import path>::<Test>[/<subtest>]`, the strings `go test -json` gives (Package ::
Test). The import path needs the module path from go.mod, which a file's own text does not hold:
`LANGUAGE` (unbound) names packages by their folder, and `LANGUAGE.at(repo, commit)` gives a
language bound to the repository's go.mod files at that commit, whose ids match the parser's.
Stages that name tests (mining's touched tests, canaries) should ask the bound one.

A package that does not build has no test events: the parser gives the package's own id
(`<import path>`, no `::`) ERROR, and `package_errors(statuses, ids)` spreads it to the asked
tests of that package. A Go id names a package, not a file: `test_files_for(ids, files)` says
which test files hold a package's tests (where canaries go); `test_command` takes ids too.
Modules: env (plan, command, doctor), syntax (tree-sitter), report (parser), roles, constraints
(build tags), canaries, example (a small Go repository with known fixes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field, replace
from pathlib import Path

from swegen.languages.base import Canary, FileRoles, Plan, TestCase, TestCommand
from swegen.languages.go import canaries, env, roles, syntax
from swegen.languages.go import report as go_report
from swegen.languages.go.constraints import builds_here
from swegen.languages.go.env import GoMod, GoModError, import_path, modules_at
from swegen.languages.go.report import package_errors
from swegen.languages.go.roles import is_generated
from swegen.runner import TestRun, run_install, run_language_tests, test_files_of
from swegen.sandbox import Sandbox


@dataclass(frozen=True)
class GoLanguage:
    """Go: `go test -json`, modules from go.mod, Debian's golang-go in the base image."""

    name: str = "go"
    roles: FileRoles = roles.ROLES
    #: The repository's modules (from `at`); empty: packages are named by folder.
    modules: tuple[GoMod, ...] = field(default=(), compare=False, repr=False)
    #: A Go module proxy for requirements that are not vendored (else SWEGEN_GOPROXY, else none).
    goproxy: str | None = None

    def at(self, repo: Path, commit: str) -> "GoLanguage":
        """This language bound to the go.mod files of `repo` at `commit` (ids with module paths)."""
        return replace(self, modules=tuple(modules_at(Path(repo), commit)))

    def package(self, path: str) -> str:
        """The import path of the package a repository file belongs to."""
        return import_path(list(self.modules), path)

    def owns(self, path: str) -> bool:
        return roles.owns(path)

    def is_test(self, path: str) -> bool:
        return roles.is_test(path)

    def is_generated(self, source: bytes) -> bool:
        return is_generated(source)

    def tests_in(self, path: str, source: bytes) -> list[TestCase]:
        if not path.endswith("_test.go") or not builds_here(path, source):
            return []
        return syntax.test_cases(self.package(path), source)

    def touched_tests(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        if not path.endswith("_test.go") or roles.is_excluded(path):
            return []
        old = old if old is None or builds_here(path, old) else None
        new = new if new is None or builds_here(path, new) else None
        if old is None and new is None:
            return []  # a file go test does not compile here: its tests never run
        return syntax.touched_tests(self.package(path), old, new)

    def changed_definitions(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        if not path.endswith(".go") or roles.is_excluded(path):
            return []
        return syntax.definitions_changed(old, new)

    def added_definitions(self, path: str, old: bytes | None, new: bytes | None) -> list[str]:
        if not path.endswith(".go") or roles.is_excluded(path):
            return []
        return syntax.definitions_added(old, new)

    def referenced_names(self, path: str, source: bytes, lines: set[int] | None = None) -> set[str]:
        if not path.endswith(".go"):
            return set()
        return syntax.names_on(source, lines)

    def plan(self, repo: Path, commit: str, as_of: str, paths: list[str] | None = None) -> Plan | None:
        return env.plan(Path(repo), commit, as_of, paths=paths, goproxy=self.goproxy)

    def test_targets(self, files: list[str]) -> list[str]:
        return [f for f in files if self.owns(f)]

    def test_command(self, plan: Plan, test_files: list[str]) -> TestCommand:
        return env.test_command(plan, test_files)

    def run_tests(self, box: Sandbox, plan: Plan, targets: list[str], test_files: list[str], timeout: float,
                  stream: bool = True) -> TestRun:
        return run_language_tests(box, self, plan, test_files_of(self, targets, test_files), timeout)

    def install(self, box: Sandbox, plan: Plan, log: Path | None = None) -> tuple[str, str | None]:
        return run_install(box, self, plan, log)

    def usable(self, box: Sandbox, plan: Plan) -> str | None:
        return None  # a failed install says it (run_install)

    def install_command(self, plan: Plan) -> str | None:
        return env.install_command(plan)

    def test_files_for(self, test_ids: list[str], files: list[str]) -> list[str]:
        """The test files among `files` (a task's test files, or the repository's) of the packages
        these test ids name: where canaries go, since a Go id names a package, not a file."""
        packages = {t.split("::", 1)[0] for t in test_ids}
        return [f for f in dict.fromkeys(files) if f.endswith("_test.go") and self.package(f) in packages]

    def parse(self, report: str, output: str) -> dict[str, str]:
        return go_report.parse(report, output)

    def package_errors(self, statuses: dict[str, str], test_ids: list[str]) -> dict[str, str]:
        return package_errors(statuses, test_ids)

    def missing_dependency(self, plan: Plan, report: str, output: str) -> str | None:
        return go_report.missing_dependency(report, output, dict(plan.test_env).get(env.MODULE_ENV, ""))

    def plant_canaries(self, path: str, source: str, test_ids: list[str], rng: random.Random) -> tuple[str, list[Canary]]:
        if not builds_here(path, source.encode("utf-8", "surrogateescape")):
            return source, []  # go test does not compile this file here: its canaries would never run
        return canaries.plant(path, source, self._package_among(path, test_ids), rng)

    def _package_among(self, path: str, test_ids: list[str]) -> str:
        """The import path of `path`'s package: from the module map when bound, else the one of
        the given ids' packages that ends with the file's folder (the ids carry the module path)."""
        if self.modules:
            return self.package(path)
        folder = roles.package_dir(path)
        prefixes = sorted({t.split("::", 1)[0] for t in test_ids if "::" in t})
        fitting = [p for p in prefixes if folder and (p == folder or p.endswith("/" + folder))]
        if not fitting and len(prefixes) == 1:
            fitting = prefixes  # a file at the module root: its ids' package is the module itself
        return fitting[0] if len(fitting) == 1 else self.package(path)

    def doctor(self) -> list[tuple[str, bool, str]]:
        return env.doctor()

    def toolchain_packages(self) -> tuple[str, ...]:
        return env.TOOLCHAIN_PACKAGES


LANGUAGE = GoLanguage()

__all__ = ["LANGUAGE", "GoLanguage", "GoMod", "GoModError", "package_errors", "is_generated"]
