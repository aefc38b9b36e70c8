"""When a dependency released shortly before the base date breaks the package or pytest, the
environment is resolved once more, RETRY_DAYS earlier, and used when it works (said in the plan);
an environment that works is never moved."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from conftest import TEST_PYTHON, run_cli
from swegen.languages.python.env import RETRY_DAYS, earlier_date, plan_environment
from swegen.sandbox import Limits
from swegen.testbed import Container, Environments, _check_path, checked_plan, dependency_failure, git_archive

#: markupsafe 2.1.0 (2022-02-18) removed `soft_unicode`, which every jinja2 2.x imports: a project
#: asking for `jinja2<3` without pinning markupsafe broke for anyone resolving after that day.
BROKEN_DATE = "2022-02-28T12:00:00+00:00"
TINY = {
    "tinypkg/__init__.py": "import jinja2\n\n\ndef render(name):\n    return jinja2.Template('hi {{ n }}').render(n=name)\n",
    "tests/test_tiny.py": "from tinypkg import render\n\n\ndef test_render():\n    assert render('x') == 'hi x'\n",
}


def _repo(path: Path, requirements: str) -> tuple[Path, str]:
    """A real one-commit repository dated `BROKEN_DATE`, its dependencies in requirements.txt."""
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_DATE": BROKEN_DATE, "GIT_COMMITTER_DATE": BROKEN_DATE, "GIT_AUTHOR_NAME": "Dev",
           "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    for name, text in {**TINY, "requirements.txt": requirements}.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "Init"]):
        subprocess.run(["git", "-C", str(path), "-c", "commit.gpgsign=false", *args], check=True, env=env, capture_output=True)
    head = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()
    return path, head


def _task_folder(run_dir: Path, repo: Path, head: str) -> Path:
    """The run folder a mined task of `repo` has: run.json and the task's task.json."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "run.json").write_text(json.dumps({"schema_version": 1, "stage": "mine", "repo_path": str(repo)}))
    task = run_dir / "local__tiny-1"
    task.mkdir()
    (task / "task.json").write_text(json.dumps({"instance_id": "local__tiny-1", "base_commit": head}))
    return task


def test_dependency_failure_blames_only_errors_raised_inside_installed_distributions():
    inside = ("Traceback (most recent call last):\n  File \"/opt/swegen/venv/lib/python3.11/site-packages/jinja2/utils.py\", "
              "line 6, in <module>\n    from markupsafe import soft_unicode\nImportError: cannot import name 'soft_unicode' "
              "from 'markupsafe' (/opt/swegen/venv/lib/python3.11/site-packages/markupsafe/__init__.py)\n")
    assert dependency_failure(inside) == "ImportError: cannot import name 'soft_unicode' from 'markupsafe' (markupsafe/__init__.py)"
    plugin = "INTERNALERROR> File \"/v/lib/python3.9/site-packages/pytest_randomly.py\"\nINTERNALERROR> AttributeError: 'Config' object has no attribute 'cache'"
    assert dependency_failure(plugin) == "AttributeError: 'Config' object has no attribute 'cache'"
    # control: the project's own code failing (no installed distribution on the way) is no reason
    own = "ImportError while loading conftest '/testbed/tests/conftest.py'.\ntests/conftest.py:1: in <module>\nE   ModuleNotFoundError: No module named 'helpers'"
    assert dependency_failure(own) is None
    shadowed = ("  File \"/v/lib/python3.9/site-packages/_pytest/hookspec.py\", line 3\n"
                "ImportError: cannot import name 'HookspecMarker' from 'pluggy' (/testbed/pluggy.py)")
    assert dependency_failure(shadowed) is None, "the checkout's own module broke pytest: an earlier date cannot help"
    assert dependency_failure("") is None


def test_the_earlier_date_is_recorded_in_the_plan_with_the_reason(tmp_path):
    repo, head = _repo(tmp_path / "r", "jinja2<3\n")
    plan = plan_environment(repo, head, ["3.11"])
    assert plan.exclude_newer == "2022-03-01T00:00:00Z"
    earlier = plan_environment(repo, head, ["3.11"], earlier_because="importing tinypkg failed inside a dependency (X)")
    assert earlier.exclude_newer == earlier_date(plan.exclude_newer) == "2021-08-31T00:00:00Z"
    assert f"--exclude-newer {earlier.exclude_newer}" in earlier.recipe.install[0]
    why = dict(earlier.reasons)["dependencies as of"]
    assert f"{RETRY_DAYS} days before 2022-03-01" in why and "importing tinypkg failed inside a dependency (X)" in why


def test_a_retry_that_failed_too_keeps_the_plan_and_says_so(tmp_path):
    repo, head = _repo(tmp_path / "r", "jinja2<3\n")
    plan = plan_environment(repo, head, ["3.11"])
    run_dir = tmp_path / "run"
    assert checked_plan(run_dir, plan, lambda why: pytest.fail("no record: nothing to retry")) == plan
    path = _check_path(run_dir, plan)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"failure": "starting pytest failed inside a dependency (E1)",
                                "retry": {"exclude_newer": "2021-08-31T00:00:00Z", "failure": "E2"}}))
    kept = checked_plan(run_dir, plan, lambda why: pytest.fail("the retry failed: it must not be used"))
    assert kept.exclude_newer == plan.exclude_newer and kept.recipe == plan.recipe
    assert "it failed too (E2)" in dict(kept.reasons[-1:])["dependencies as of"]


@pytest.mark.docker
def test_a_broken_dependency_release_is_retried_earlier_and_the_package_imports(tmp_path, base_image):
    repo, head = _repo(tmp_path / "r", "jinja2<3\n")
    run_dir = tmp_path / "run"
    task = _task_folder(run_dir, repo, head)
    envs = Environments(run_dir, repo, python=TEST_PYTHON)
    bed, plan, error = envs.testbed({"instance_id": "local__tiny-1", "base_commit": head}, Limits())
    assert error is None and bed is not None
    record = json.loads(next((run_dir / "envs").glob("*.check.json")).read_text())
    assert record["exclude_newer"] == "2022-03-01T00:00:00Z"
    assert "soft_unicode" in record["failure"], "as of the base date, jinja2 2.x does not import with markupsafe 2.1"
    assert record["retry"] == {"exclude_newer": "2021-08-31T00:00:00Z", "failure": None}
    assert plan.exclude_newer == "2021-08-31T00:00:00Z" and "soft_unicode" in dict(plan.reasons)["dependencies as of"]
    with Container(bed, git_archive(repo, head), "test") as box:
        _, import_error = box.install()
        assert import_error is None
        assert box.box.exec("cd /testbed && python -m pytest -q -p no:cacheprovider tests", timeout=300, env=bed.test_env).ok
    # every later stage (a new Environments on the same run folder) and `swegen env show` agree
    again = Environments(run_dir, repo, python=TEST_PYTHON).testbed({"instance_id": "x", "base_commit": head}, Limits())
    assert again[0].image == bed.image
    shown = run_cli("env", "show", str(task), "--python", TEST_PYTHON)
    assert shown.returncode == 0, shown.stderr
    assert "dependencies as of: 2021-08-31" in shown.stdout and f"{RETRY_DAYS} days before" in shown.stdout


@pytest.mark.docker
def test_control_an_environment_that_works_is_not_moved(tmp_path, base_image):
    repo, head = _repo(tmp_path / "r", "jinja2<3\nmarkupsafe<2.1\n")
    run_dir = tmp_path / "run"
    envs = Environments(run_dir, repo, python=TEST_PYTHON)
    bed, plan, error = envs.testbed({"instance_id": "local__tiny-1", "base_commit": head}, Limits())
    assert error is None and bed is not None
    assert plan.exclude_newer == "2022-03-01T00:00:00Z"
    record = json.loads(next((run_dir / "envs").glob("*.check.json")).read_text())
    assert record == {"exclude_newer": "2022-03-01T00:00:00Z", "failure": None}
    assert "days before" not in dict(plan.reasons)["dependencies as of"]
