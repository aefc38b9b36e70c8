"""A compiled dependency (numpy, pandas...) whose version as of the dependency date has no wheel
for the image's Python is resolved as of that Python's wheel era, not compiled for many minutes
(tablib's 2019 candidate compiled numpy 1.17 and pandas 0.25 for more than 12 minutes on
Python 3.9); the plan says so, the build log names each package moved."""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
import os
import subprocess
from pathlib import Path

import pytest

from conftest import TEST_PYTHON
from swegen.languages.python.env import COMPILED, WHEEL_ERA, _install_command, plan_environment
from swegen.images import build_env_image, host_ca_bundle


ERA = WHEEL_ERA[TEST_PYTHON]
#: Half a year before the test Python's wheels of numpy and pandas were out.
BEFORE = (dt.datetime.fromisoformat(ERA.replace("Z", "+00:00")) - dt.timedelta(days=170)).strftime("%Y-%m-%dT12:00:00+00:00")


def test_the_wheel_step_comes_only_before_the_pythons_wheel_era():
    reasons: list = []
    early = _install_command("2019-10-04T00:00:00Z", "3.9", reasons)
    assert "uvw()" in early and "--only-binary numpy" in early and "wheels" in dict(reasons)
    assert all(f"--only-binary {name}" in early for name in COMPILED)
    late: list = []
    assert "uvw()" not in _install_command("2021-06-01T00:00:00Z", "3.9", late) and "wheels" not in dict(late)
    assert "uvw()" not in _install_command("2019-10-04T00:00:00Z", "3.7", [])  # no base image, no era known


def _repo(path: Path, date: str, files: dict[str, str]) -> tuple[Path, str]:
    path.mkdir(parents=True)
    env = {**os.environ, "GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date, "GIT_AUTHOR_NAME": "Dev",
           "GIT_AUTHOR_EMAIL": "dev@example.com", "GIT_COMMITTER_NAME": "Dev", "GIT_COMMITTER_EMAIL": "dev@example.com",
           "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"}
    for name, text in files.items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "Init"]):
        subprocess.run(["git", "-C", str(path), "-c", "commit.gpgsign=false", *args], check=True, env=env, capture_output=True)
    return path, subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], check=True, capture_output=True, text=True).stdout.strip()


@pytest.mark.docker
@pytest.mark.parametrize("broken", [False, True], ids=["together", "one-by-one"])
def test_numpy_and_pandas_without_a_wheel_as_of_the_date_come_as_of_the_wheel_era(tmp_path, base_image, broken):
    """Together, and (a requirement the index does not have breaks the whole set, as a missing
    comma in tablib's setup.py made "markuppyxlrd") one by one."""
    from swegen.docker_sandbox import DockerSandbox, docker_client
    from swegen.sandbox import SandboxSpec

    repo, head = _repo(tmp_path / "r", BEFORE, {"requirements.txt": "numpy\npandas\n" + ("swegen-no-such-distribution-zz\n" if broken else ""), "tabs/__init__.py": "import pandas\n",
                                                "tests/test_tabs.py": "def test_import():\n    import tabs\n"})
    plan = plan_environment(repo, head, [TEST_PYTHON], python=TEST_PYTHON)
    assert "wheels" in dict(plan.reasons) and ERA in dict(plan.reasons)["wheels"]
    # built afresh every time (an image of an earlier run would leave no log of its install)
    # (a fresh step before the install, so that docker's layer cache does not hold it either)
    recipe = dataclasses.replace(plan.recipe, pre_install=(f"echo {uuid.uuid4().hex}", *plan.recipe.pre_install))
    tag, built = build_env_image(recipe, ca_bundle=host_ca_bundle(), log_path=tmp_path / "build.log")
    assert built
    # what the build printed, not the Dockerfile steps it echoes (the command names every message)
    log = "\n".join(line for line in (tmp_path / "build.log").read_text().splitlines() if not line.startswith("Step "))
    for name in ("numpy", "pandas"):
        assert f"swegen: {name} has no wheel for Python {TEST_PYTHON} as of" in log and f"resolving it as of {ERA}" in log, log[-3000:]
    assert "Failed to build" not in log and "either: building it" not in log
    assert ("one by one now" in log and "swegen: skipped swegen-no-such-distribution-zz" in log) == broken, log[-3000:]
    try:
        with DockerSandbox(SandboxSpec(image=tag)) as box:
            shown = box.exec("python -c 'import numpy, pandas; print(numpy.__version__, pandas.__version__)'", timeout=120)
    finally:
        docker_client().images.remove(tag, force=True)  # one of its own every run: not kept
    assert shown.exit_code == 0, shown.stderr
    numpy, pandas = (tuple(int(p) for p in v.split(".")[:2]) for v in shown.stdout.split())
    assert numpy >= {"3.9": (1, 19), "3.11": (1, 23), "3.13": (2, 1)}[TEST_PYTHON], shown.stdout
    assert pandas >= {"3.9": (1, 1), "3.11": (1, 5), "3.13": (2, 2)}[TEST_PYTHON], shown.stdout


def _run_uvw(tmp_path, hints_until_moved: dict[str, list[str]]) -> tuple[str, list[str]]:
    """uvw in dash over a stand-in for uv (not swegen's code: the one part a test cannot have
    offline at will): it fails, printing uv's hints in the order given, until every package named
    is moved; returns the output and the argument lists uv got."""
    from swegen.languages.python.env import _wheels_first

    calls = tmp_path / "calls"
    stub = (f'uvi() {{ echo "$*" >> {calls}; : > /tmp/swegen-uv.out; ok=1; '
            + "".join(f'case "$*" in *"--exclude-newer-package {name}=ERA"*) ;; *) ok=0; '
                      + "".join(f'echo "hint: Wheels are required for \\`{h}\\` because building from source is disabled" >> /tmp/swegen-uv.out; ' for h in hints)
                      + ";; esac; " for name, hints in hints_until_moved.items())
            + '[ $ok = 1 ]; }; ')
    script = stub + _wheels_first("uvi", "3.9", "DATE", "ERA") + " uvb -r deps; echo rc=$?"
    done = subprocess.run(["dash", "-c", script], capture_output=True, text=True, timeout=60)
    return done.stdout + done.stderr, calls.read_text().splitlines()


def test_uvw_moves_every_package_uv_names_and_not_one_twice(tmp_path):
    # pandas is named first, and again with numpy after it moved (as uv does for tablib 2019)
    out, calls = _run_uvw(tmp_path, {"pandas": ["pandas", "numpy"], "numpy": ["pandas", "numpy"]})
    assert out.strip().endswith("rc=0"), out
    assert "swegen: pandas has no wheel for Python 3.9 as of DATE: resolving it as of ERA" in out
    assert "swegen: numpy has no wheel for Python 3.9 as of DATE: resolving it as of ERA" in out
    assert "building it" not in out and len(calls) == 2 and "--only-binary pandas" in calls[-1]
