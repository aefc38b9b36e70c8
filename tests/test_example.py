"""The example repository is rebuilt with identical commits every time, and every change in its
history behaves exactly as manifest.json says (which tests fail before a fix, pass, or are flaky).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path

import pytest

from swegen.errors import SwegenError
from swegen.example import EXAMPLE_REPO_NAME, create_example, load_manifest

MANIFEST = load_manifest()
CHANGES = MANIFEST["changes"]
BUGFIXES = [c for c in CHANGES if c["kind"] == "bugfix"]
ALREADY_PASSING = [c for c in CHANGES if c["kind"] == "fix-test-already-passes"]
FLAKY = [(c, test) for c in CHANGES for test in c.get("flaky_tests", [])]
FLAKY_IDS = [test for _, test in FLAKY]
SEEDS = range(20)

# The commit `main` points at. Two builds on one machine could agree by accident (same second,
# same git config), so the SHA is pinned too; change it only when you change the history on purpose.
MAIN_SHA = "c441e6c6823ab8690dc0f63b6dd29a2d1ee964e0"

_OUTCOME = re.compile(r"^(PASSED|FAILED|ERROR) (\S+)", re.MULTILINE)
_basetemp_numbers = count()


def by_id(changes: list[dict]) -> dict:
    return {"argvalues": changes, "ids": [c["id"] for c in changes]}


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return create_example(tmp_path_factory.mktemp("example") / "ledger")


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True)
    return done.stdout.strip()


def commit_of(repo: Path, subject: str) -> str:
    log = (line.split(" ", 1) for line in git(repo, "log", "--all", "--format=%H %s").splitlines())
    shas = [sha for sha, logged in log if logged == subject]
    assert len(shas) == 1, f"{len(shas)} commits have the subject {subject!r}"
    return shas[0]


def export(repo: Path, rev: str, dest: Path) -> Path:
    """Write the tree of `rev` to `dest` (no .git, so nothing a test run writes can leak back)."""
    dest.mkdir(parents=True)
    tar = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", rev], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=tar.stdout, check=True)
    return dest


def base_with_tests(repo: Path, change: dict, dest: Path) -> Path:
    """The first parent of the change, with the change's test files laid over it."""
    sha = commit_of(repo, change["subject"])
    export(repo, f"{sha}^1", dest)
    for path in change["test_files"]:
        shown = subprocess.run(["git", "-C", str(repo), "show", f"{sha}:{path}"], capture_output=True, check=True)
        (dest / path).write_bytes(shown.stdout)
    return dest


def run_pytest(project: Path, args: list[str], seed: int = 0) -> tuple[dict[str, str], str]:
    """Run the example's own tests with this interpreter; returns (node id -> outcome, output)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(PYTHONHASHSEED=str(seed), PYTHONPATH="src", PYTHONDONTWRITEBYTECODE="1")
    # The example needs no plugins; one that reorders or reseeds tests (pytest-randomly) would
    # change what the flaky test does, and skipping them all also starts pytest faster.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    # Each run gets its own basetemp so parallel runs never share or clean up each other's.
    basetemp = project.parent / f"basetemp-{project.name}-{next(_basetemp_numbers)}"
    cmd = [sys.executable, "-m", "pytest", "-q", "-rA", "-p", "no:cacheprovider", f"--basetemp={basetemp}", *args]
    done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=120)
    output = done.stdout + done.stderr
    return {node: outcome for outcome, node in _OUTCOME.findall(done.stdout)}, output


def run_many(jobs: list[tuple[Path, list[str], int]]) -> list[tuple[dict[str, str], str]]:
    """run_pytest for several (project, args, seed) at once: each run is mostly interpreter start-up."""
    with ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 2)) as pool:
        return list(pool.map(lambda job: run_pytest(*job), jobs))


def assert_outcomes(result: tuple[dict[str, str], str], ids: list[str], expected: str, where: str) -> None:
    outcomes, output = result
    wrong = {node: outcomes.get(node, "not run") for node in ids if outcomes.get(node) != expected}
    assert not wrong, f"{where}: expected {expected}, got {wrong}\n{output}"


# --- the repository itself --------------------------------------------------------------------


def test_two_builds_have_identical_commits(tmp_path: Path) -> None:
    empty_dir = tmp_path / "b"
    empty_dir.mkdir()  # an existing empty directory is as good as a new path
    first = create_example(tmp_path / "a")
    second = create_example(empty_dir)
    assert git(first, "rev-parse", "main") == git(second, "rev-parse", "main") == MAIN_SHA
    log = ["log", "--all", "--format=%H %s"]
    assert git(first, *log) == git(second, *log)
    assert len(git(first, *log).splitlines()) == MANIFEST["commit_count"]


def test_commit_dates_are_the_fixed_ones_and_increase_along_main(repo: Path) -> None:
    dates = git(repo, "log", "--first-parent", "--reverse", "--format=%aI %cI", "main").splitlines()
    authored = [line.split()[0] for line in dates]
    assert all(line.split()[0] == line.split()[1] for line in dates)
    assert all(date.startswith("2024-0") for date in authored)
    instants = git(repo, "log", "--first-parent", "--reverse", "--format=%at", "main").split()
    assert instants == sorted(instants, key=int) and len(set(instants)) == len(instants)


def test_repository_is_on_a_clean_main_with_everything_reachable(repo: Path) -> None:
    assert git(repo, "symbolic-ref", "HEAD") == f"refs/heads/{MANIFEST['default_branch']}"
    assert git(repo, "for-each-ref", "--format=%(refname)") == "refs/heads/main"
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    total = int(git(repo, "rev-list", "--count", "main"))
    assert total >= 15
    assert total == MANIFEST["commit_count"] == int(git(repo, "rev-list", "--count", "--all"))


def test_manifest_is_shipped_but_not_in_the_repository(repo: Path) -> None:
    assert MANIFEST["repo"] == EXAMPLE_REPO_NAME
    tracked = git(repo, "ls-files").splitlines()
    assert "src/ledger/money.py" in tracked
    assert not [path for path in tracked if "manifest" in path or "swegen" in path]


def test_manifest_describes_every_first_parent_commit(repo: Path) -> None:
    subjects = git(repo, "log", "--first-parent", "--reverse", "--format=%s", "main").splitlines()
    assert subjects == [c["subject"] for c in CHANGES if not c.get("reaches_main_through")]
    for change in CHANGES:  # the others reach main only through the merge they name
        if change.get("reaches_main_through"):
            outer = commit_of(repo, change["reaches_main_through"])
            inner = commit_of(repo, change["subject"])
            assert inner in git(repo, "rev-list", f"{outer}^1..{outer}^2").split(), change["id"]
    everything = git(repo, "log", "--all", "--format=%s").splitlines()
    assert len(everything) == len(set(everything)), "subjects identify commits, so they must be unique"


@pytest.mark.parametrize("change", **by_id(CHANGES))
def test_change_has_the_parents_and_files_the_manifest_says(repo: Path, change: dict) -> None:
    sha = commit_of(repo, change["subject"])
    parents = git(repo, "rev-list", "--parents", "-n", "1", sha).split()[1:]
    assert len(parents) == {"root": 0, "plain": 1, "merge": 2}[change["arrives_as"]]
    if change["arrives_as"] == "merge":
        branch = git(repo, "log", "--reverse", "--format=%s", f"{sha}^1..{sha}^2").splitlines()
        assert branch == change["branch_subjects"]
    if parents:
        changed = git(repo, "diff", "--name-only", parents[0], sha).splitlines()
    else:
        changed = git(repo, "diff-tree", "--root", "--no-commit-id", "--name-only", "-r", sha).splitlines()
    assert sorted(changed) == sorted(change["source_files"] + change["test_files"] + change["other_files"])
    assert all(path.startswith("tests/") for path in change["test_files"])
    assert all(path.startswith("src/") for path in change["source_files"])


# --- how the changes behave under their tests ----------------------------------------------------


@pytest.mark.parametrize("change", **by_id(BUGFIXES))
def test_bugfix_tests_fail_before_and_pass_after(repo: Path, tmp_path: Path, change: dict) -> None:
    sha = commit_of(repo, change["subject"])
    ids = change["fail_to_pass"]
    assert ids and not set(ids) & set(change.get("flaky_tests", []))
    before = base_with_tests(repo, change, tmp_path / "before")
    after = export(repo, sha, tmp_path / "after")
    result_before, result_after = run_many([(before, ids, 0), (after, ids, 0)])
    assert_outcomes(result_before, ids, "FAILED", "at the first parent with the fix's tests")
    assert_outcomes(result_after, ids, "PASSED", "at the fix")


@pytest.mark.parametrize("change", **by_id(ALREADY_PASSING))
def test_fix_whose_new_test_already_passed_before(repo: Path, tmp_path: Path, change: dict) -> None:
    sha = commit_of(repo, change["subject"])
    ids = change["new_tests"]
    assert ids and change["fail_to_pass"] == []
    before = base_with_tests(repo, change, tmp_path / "before")
    after = export(repo, sha, tmp_path / "after")
    result_before, result_after = run_many([(before, ids, 0), (after, ids, 0)])
    assert_outcomes(result_before, ids, "PASSED", "at the first parent with the fix's tests")
    assert_outcomes(result_after, ids, "PASSED", "at the fix")


@pytest.mark.parametrize(("change", "test"), FLAKY, ids=FLAKY_IDS)
def test_flaky_test_depends_only_on_the_hash_seed(repo: Path, tmp_path: Path, change: dict, test: str) -> None:
    after = export(repo, commit_of(repo, change["subject"]), tmp_path / "after")
    results = run_many([(after, [test], seed) for seed in SEEDS])
    outcomes = {seed: result[0].get(test, "not run") for seed, result in zip(SEEDS, results)}
    passing = [seed for seed, outcome in outcomes.items() if outcome == "PASSED"]
    failing = [seed for seed, outcome in outcomes.items() if outcome == "FAILED"]
    assert passing and failing and len(passing) + len(failing) == len(SEEDS), outcomes
    assert len(failing) > len(passing), "a validator running it a few times should rarely see it pass every time"
    # Same seed, same outcome, even before the fix: the flakiness has nothing to do with the fix.
    before = base_with_tests(repo, change, tmp_path / "before")
    again = run_many([(before, [test], passing[0]), (before, [test], failing[0])])
    assert [result[0].get(test, "not run") for result in again] == ["PASSED", "FAILED"]


def test_suite_at_main_passes_apart_from_the_flaky_test(repo: Path, tmp_path: Path) -> None:
    head = export(repo, "main", tmp_path / "main")
    outcomes, output = run_pytest(head, [f"--deselect={test}" for test in FLAKY_IDS])
    assert outcomes and set(outcomes.values()) == {"PASSED"}, output
    added = [test for c in CHANGES for test in c.get("new_tests", []) if test not in FLAKY_IDS]
    assert_outcomes((outcomes, output), added, "PASSED", "at main")


# --- errors ------------------------------------------------------------------------------------


def test_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(SwegenError) as raised:
        create_example(tmp_path)
    assert raised.value.hint
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_refuses_a_path_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "ledger"
    target.write_text("")
    with pytest.raises(SwegenError):
        create_example(target)
