"""`swegen mine --update` adds exactly the fixes that arrived since the run was last mined and changes nothing that was there: old candidate lines and task folders stay byte-identical, a second update with nothing new writes nothing, and what it adds is what a fresh mine of the whole history finds."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.gitrepo import GitRepo

LIB = "def total(xs):\n    s = 0\n    for x in xs[1:]:\n        s += x\n    return s\n\n\ndef mean(xs):\n    return total(xs) / (len(xs) - 1)\n"
TEST = "from lib import total\n\n\ndef test_total():\n    assert total([1, 2]) == 3\n"


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under a folder, by relative path, with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def candidates(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines()]


def kept_ids(run: Path) -> set[str]:
    return {c["instance_id"] for c in candidates(run) if c["kept"]}


def mine(*args: str) -> str:
    proc = run_cli("mine", *args, "--no-validate", env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def first_history(tmp_path: Path) -> GitRepo:
    """main with one fix, a maintenance branch 1.x, and noise."""
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Initial import", {"lib.py": LIB, "README.md": "# lib\n", "tests/test_lib.py": "def test_nothing():\n    pass\n"})
    repo.git("branch", "1.x")
    repo.commit("Fix total skipping the first item", {"lib.py": LIB.replace("xs[1:]", "xs"), "tests/test_lib.py": TEST})
    repo.commit("Update the README", {"README.md": "# lib\n\nSums numbers.\n"})
    return repo


def arrive(repo: GitRepo) -> dict[str, str]:
    """What the team does during the week: a plain fix, a pull request merged, a cherry-pick of the
    old fix onto 1.x (the same change again), a feature and a docs change."""
    mean_fix = repo.commit("Fix mean dividing by one less than the count", {
        "lib.py": (repo.path / "lib.py").read_text().replace("(len(xs) - 1)", "len(xs)"),
        "tests/test_mean.py": "from lib import mean\n\n\ndef test_mean():\n    assert mean([2, 4]) == 3\n"})
    repo.branch("fix-empty")
    repo.commit("Fix total of an empty list crashing", {"lib.py": (repo.path / "lib.py").read_text().replace(
        "def total(xs):\n    s = 0\n", "def total(xs):\n    if not xs:\n        return 0\n    s = 0\n")})
    repo.commit("Test the empty list", {"tests/test_empty.py": "from lib import total\n\n\ndef test_empty():\n    assert total([]) == 0\n"})
    repo.checkout("main")
    merge = repo.merge("fix-empty", "Merge pull request #7 from dev/fix-empty")
    repo.commit("Add a median function", {"lib.py": (repo.path / "lib.py").read_text() + "\n\ndef median(xs):\n    return sorted(xs)[len(xs) // 2]\n",
                                           "tests/test_median.py": "from lib import median\n\n\ndef test_median():\n    assert median([3, 1, 2]) == 2\n"})
    repo.checkout("1.x")
    fix = repo.git("log", "--format=%H", "--grep", "Fix total skipping", "main")
    repo.git("cherry-pick", "-x", fix)
    pick = repo.head()
    repo.checkout("main")
    return {"mean": mean_fix, "merge": merge, "pick": pick}


def test_update_adds_only_what_arrived_and_changes_nothing_that_was_there(tmp_path: Path):
    repo = first_history(tmp_path)
    run = tmp_path / "run"
    mine(str(repo.path), "-o", str(run))
    recorded = json.loads((run / "run.json").read_text())["mined"]
    assert recorded["tips"]["refs/heads/main"] == repo.head() and recorded["tips"]["refs/heads/1.x"]
    (old_task,) = kept_ids(run)
    before = snapshot(run)
    old_lines = (run / "candidates.jsonl").read_bytes()

    new = arrive(repo)
    said = mine(str(repo.path), "-o", str(run), "--update")
    assert "new commit(s)" in said and "existing candidates and tasks unchanged" in said

    after = snapshot(run)
    for path, data in before.items():
        if path != "run.json" and path != "candidates.jsonl":
            assert after[path] == data, f"{path} changed"
    assert (run / "candidates.jsonl").read_bytes().startswith(old_lines), "old candidate lines stay as they were"
    added = candidates(run)[len(old_lines.splitlines()):]
    by_commit = {c["fix_commit"]: c for c in added}
    assert by_commit[new["mean"]]["kept"] and by_commit[new["merge"]]["kept"]
    assert not by_commit[new["pick"]]["kept"] and by_commit[new["pick"]]["duplicate_of"] == old_task, "the cherry-pick repeats the old task"
    assert all(c["fix_commit"] not in {x["fix_commit"] for x in candidates(run)[: len(old_lines.splitlines())]} for c in added)
    assert len({c["instance_id"] for c in candidates(run)}) == len(candidates(run)), "every unit once"
    new_tasks = kept_ids(run) - {old_task}
    assert {c["fix_commit"] for c in added if c["kept"]} == {new["mean"], new["merge"]} and len(new_tasks) == 2
    for task in new_tasks:
        assert (run / task / "task.json").exists() and (run / task / "problem_statement.md").exists()
    assert not [p for p in run.iterdir() if p.name.startswith(".update")], "the scratch folder is gone"
    updates = json.loads((run / "run.json").read_text())["updates"]
    assert updates[-1]["kept"] == 2 and updates[-1]["duplicates"] == 1
    first_new = int(repo.git("log", "-1", "--format=%ct", new["mean"]))
    assert updates[-1]["since"] == f"@{first_new - 1}", "only the history since the oldest new commit is walked"

    # control: a fresh mine of the whole history keeps the same tasks, with the same task files
    fresh = tmp_path / "fresh"
    mine(str(repo.path), "-o", str(fresh))
    assert kept_ids(fresh) == kept_ids(run)
    for task in kept_ids(run):
        for name in ("task.json", "gold.patch", "test.patch", "problem_statement.md"):
            assert (fresh / task / name).read_bytes() == (run / task / name).read_bytes(), (task, name)

    # nothing new: nothing written, not even run.json
    settled = snapshot(run)
    said = mine(str(repo.path), "-o", str(run), "--update")
    assert "nothing new" in said
    assert snapshot(run) == settled


def test_update_of_a_run_that_recorded_no_tips_adds_only_units_not_in_it(tmp_path: Path):
    """A run mined before tips were recorded: the whole history is mined again and only new units join."""
    repo = first_history(tmp_path)
    run = tmp_path / "run"
    mine(str(repo.path), "-o", str(run))
    record = json.loads((run / "run.json").read_text())
    del record["mined"]
    (run / "run.json").write_text(json.dumps(record, indent=2) + "\n")
    old = candidates(run)
    new = arrive(repo)
    mine(str(repo.path), "-o", str(run), "--update")
    added = candidates(run)[len(old):]
    assert candidates(run)[: len(old)] == old
    assert {c["fix_commit"] for c in added if c["kept"]} == {new["mean"], new["merge"]}
    assert "tips" in json.loads((run / "run.json").read_text())["mined"], "the next update has tips to start from"


def test_update_refuses_a_folder_that_was_never_mined(tmp_path: Path):
    repo = first_history(tmp_path)
    empty = tmp_path / "nothing"
    empty.mkdir()
    proc = run_cli("mine", str(repo.path), "-o", str(empty), "--update", "--no-validate")
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert proc.returncode == 2 and len(lines) == 1 and "without --update" in lines[0], proc.stderr
    assert list(empty.iterdir()) == []


@pytest.mark.docker
def test_update_validates_only_the_new_fixes_and_keeps_old_evaluations_valid(base_image: str, tmp_path: Path):
    """The example repository cloned as it was at its 0.2.0 release, mined, validated and graded;
    then moved forward to its current main: only the fixes after 0.2.0 are validated and graded."""
    from swegen.example import create_example

    upstream = tmp_path / "upstream"
    create_example(upstream)
    work = tmp_path / "work"
    clone = run_cli_git("clone", "-q", "--no-local", str(upstream), str(work))
    assert clone.returncode == 0, clone.stderr
    release = run_cli_git("-C", str(work), "log", "-1", "--format=%H", "--grep", "^Bump version to 0.2.0").stdout.strip()
    for args in (("remote", "remove", "origin"), ("reset", "-q", "--hard", release)):
        assert run_cli_git("-C", str(work), *args).returncode == 0
    run = tmp_path / "run"
    proc = run_cli("mine", str(work), "-o", str(run), "--workers", "2", timeout=3000)
    assert proc.returncode == 0, proc.stderr
    assert run_cli("evaluate", str(run), "-p", "gold", "--workers", "2", "--no-strict", timeout=3000).returncode == 0
    old_tasks = (run / "tasks.jsonl").read_text().splitlines()
    old_ids = [json.loads(line)["instance_id"] for line in old_tasks]
    assert old_ids, "the 0.2.0 history has fixes"
    old_verdicts = (run / "validation.jsonl").read_bytes()
    old_results = (run / "evaluations" / "gold" / "results.jsonl").read_bytes()
    before = {path: data for path, data in snapshot(run).items() if path.split("/")[0] in old_ids}

    assert run_cli_git("-C", str(work), "pull", "-q", "--ff-only", str(upstream), "main").returncode == 0
    proc = run_cli("mine", str(work), "-o", str(run), "--update", "--workers", "2", timeout=3000)
    assert proc.returncode == 0, proc.stderr
    new_lines = [line for line in (run / "tasks.jsonl").read_text().splitlines() if line not in old_tasks]
    new_ids = {json.loads(line)["instance_id"] for line in new_lines}
    assert set(old_tasks) <= set((run / "tasks.jsonl").read_text().splitlines()), "every old task line is still there as it was"
    assert new_ids and not new_ids & set(old_ids)
    verdicts = (run / "validation.jsonl").read_bytes()
    assert verdicts.startswith(old_verdicts)
    assert {json.loads(line)["instance_id"] for line in verdicts[len(old_verdicts):].splitlines()} >= new_ids
    assert not {json.loads(line)["instance_id"] for line in verdicts[len(old_verdicts):].splitlines()} & set(old_ids), \
        "no old task validated again"
    after = snapshot(run)
    assert {path: after[path] for path in before} == before, "old task folders are byte-identical"

    assert run_cli("evaluate", str(run), "-p", "gold", "--workers", "2", "--no-strict", timeout=3000).returncode == 0
    results = (run / "evaluations" / "gold" / "results.jsonl").read_bytes()
    assert results.startswith(old_results), "the old tasks' results stand (cached by task and patch)"
    graded = [json.loads(line) for line in results[len(old_results):].splitlines()]
    assert {g["instance_id"] for g in graded} == new_ids and all(g["resolved"] for g in graded)

    settled = snapshot(run)
    proc = run_cli("mine", str(work), "-o", str(run), "--update", "--workers", "2")
    assert proc.returncode == 0 and "nothing new" in proc.stdout
    assert snapshot(run) == settled


def run_cli_git(*args: str):
    import subprocess

    env = {**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "GIT_AUTHOR_NAME": "Dev",
           "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com"}
    return subprocess.run(["git", *args], capture_output=True, text=True, env=env, check=False)


DOCS = Path(__file__).resolve().parent.parent / "docs" / "ci"


def test_ci_recipes_run_weekly_publish_the_report_and_use_only_options_swegen_has():
    import re
    import subprocess

    import yaml

    github = yaml.safe_load((DOCS / "github-actions.yml").read_text())
    on = github.get("on", github.get(True))  # YAML 1.1 reads the key `on` as True
    assert on["schedule"][0]["cron"] == "0 3 * * 1"
    steps = github["jobs"]["benchmark"]["steps"]
    assert steps[0]["with"]["fetch-depth"] == 0, "mining needs the whole history"
    assert any(s.get("run") == "bash docs/ci/swegen-weekly.sh" for s in steps)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "swegen-run/report/report.html" in upload["with"]["path"]
    gitlab = yaml.safe_load((DOCS / "gitlab-ci.yml").read_text())["swegen-weekly"]
    assert gitlab["variables"]["GIT_DEPTH"] == "0" and gitlab["script"] == ["bash docs/ci/swegen-weekly.sh"]
    assert "swegen-run/report/report.html" in gitlab["artifacts"]["paths"] and "schedule" in gitlab["rules"][0]["if"]

    script = (DOCS / "swegen-weekly.sh").read_text()
    assert subprocess.run(["bash", "-n", str(DOCS / "swegen-weekly.sh")]).returncode == 0
    assert "--update" in script
    for command in ("mine", "solve", "evaluate", "report"):
        lines = re.findall(rf"(?:swegen {command} |{command}\+=\()[^\n]*", script)
        used = set(re.findall(r"(--[a-z][a-z-]+)", " ".join(lines)))
        assert used, command
        help_text = run_cli(command, "--help", env={"COLUMNS": "300"}).stdout
        for flag in used:
            assert flag in help_text, f"swegen {command} has no {flag}"
    for line in (DOCS.parent / "continuous.md").read_text().splitlines():
        for command, flags in re.findall(r"swegen (mine|solve|evaluate|report|probe) ([^`\n]*)", line):
            help_text = run_cli(command, "--help", env={"COLUMNS": "300"}).stdout
            for flag in re.findall(r"(--[a-z][a-z-]+)", flags):
                assert flag in help_text, f"docs/continuous.md: swegen {command} has no {flag}"
