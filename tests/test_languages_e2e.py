"""The JavaScript, TypeScript and Go examples through the whole pipeline, as a user runs it: `swegen example
create --language`, `mine`, `validate`, `evaluate -p gold` and `-p empty`. Every real fix of the
manifest becomes a task with the manifest's FAIL_TO_PASS, every noise change is rejected with
the manifest's reason (by mining or by validation), gold resolves every task and empty none."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import run_cli

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]


def _expected(language: str, repo: Path) -> dict[str, dict]:
    """The manifest's changes by the commit that reaches main (a merged branch's merge)."""
    if language in ("javascript", "typescript"):
        from swegen.example import _OTHERS
        import importlib

        module = importlib.import_module(_OTHERS[language][0])
        ids = getattr(module, _OTHERS[language][1])(repo.parent / "again")  # the same commits: fixed authors and dates
        return {ids.get(f"{c['id']}:merge", ids[c["id"]]): c for c in module.MANIFEST["changes"]}
    from swegen.languages.go.example import create_go_example

    manifest = create_go_example(repo.parent / "again")  # the same commits: fixed authors and dates
    return {c["commit"]: c for c in manifest["changes"]}


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("language", ["javascript", "typescript", "go"])
def test_the_example_of_another_language_end_to_end(language, base_image, tmp_path):
    repo, run = tmp_path / "repo", tmp_path / "run"
    made = run_cli("example", "create", "--language", language, str(repo))
    assert made.returncode == 0, made.stderr
    expected = _expected(language, repo)
    mined = run_cli("mine", str(repo), "-o", str(run), "--no-validate")
    assert mined.returncode == 0, mined.stderr
    validated = run_cli("validate", str(run), "--workers", "2", timeout=1500)
    assert validated.returncode == 0, validated.stderr[-3000:]
    candidates = {r["fix_commit"]: r for r in _jsonl(run / "candidates.jsonl")}
    verdicts = {r["instance_id"]: r for r in _jsonl(run / "validation.jsonl")}
    tasks = {t["fix_commit"]: t for t in _jsonl(run / "tasks.jsonl")}
    for commit, change in expected.items():
        where = f"{language} {change['id']} ({commit[:10]})"
        if change["expected"] == "task":
            assert commit in tasks, f"{where} is no task: {candidates.get(commit, {}).get('reasons')}, " \
                                    f"{verdicts.get(candidates.get(commit, {}).get('instance_id'), {}).get('reason')}"
            assert sorted(tasks[commit]["FAIL_TO_PASS"]) == sorted(change["fail_to_pass"]), where
            continue
        reason = change["expected"].removeprefix("reject:")
        assert commit not in tasks, f"{where} became a task"
        candidate = candidates.get(commit)
        if candidate is None:
            continue  # not walked as a unit of its own (a root commit, a branch commit inside a merge)
        said = candidate["reasons"][0] if candidate["reasons"] else verdicts[candidate["instance_id"]]["reason"]
        assert said.startswith(reason), f"{where}: {said}"
    assert len(tasks) == sum(c["expected"] == "task" for c in expected.values())
    # `swegen env show` gives the task's own language's plan (it used to plan Python for every task)
    task = next(iter(tasks.values()))
    shown = run_cli("env", "show", str(run / task["instance_id"]))
    assert shown.returncode == 0, shown.stderr
    runtime = "go" if language == "go" else "node"
    assert f"\n{runtime}: " in shown.stdout and "test runner: " in shown.stdout and "python:" not in shown.stdout, shown.stdout
    for model, rate in (("gold", 1.0), ("empty", 0.0)):
        evaluated = run_cli("evaluate", str(run), "-p", model, "--workers", "2", timeout=1500)
        assert evaluated.returncode == 0, evaluated.stderr[-3000:]
        results = _jsonl(run / "evaluations" / model / "results.jsonl")
        assert len(results) == len(tasks) and all(not r.get("infra_error") for r in results), results
        assert sum(r["resolved"] for r in results) == rate * len(tasks), results
        assert all(r["canaries"] and not r["tampered"] for r in results), "every graded run carries canaries"
