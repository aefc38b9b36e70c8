"""The package under test is one that pytest itself imports (more-itertools under pytest 3.5 to
5.4): with the checkout first on sys.path, the dated pytest would start on the checkout's old
copy and stop before any test ("cannot import name 'always_iterable'", more-itertools 2016).
The plan takes the first pytest line that no longer imports it, and says so."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from swegen.languages.python.env import PYTEST_IMPORTS, _install_command, plan_environment
from test_env_wheels import _repo

#: A more_itertools of 2018 without what pytest 3.5 to 5.4 take from the real one (`collapse`,
#: `always_iterable`), tested on Python 3.9, where swegen's pytest floor (3.5) is such a pytest.
DATE, PACKAGE, DISTRIBUTION, PYTHON = "2018-06-01T12:00:00+00:00", "more_itertools", "more-itertools", "3.9"
PROJECT = {
    "setup.py": f"from setuptools import setup\nsetup(name='{DISTRIBUTION}', version='1.0.0', packages=['{PACKAGE}'])\n",
    f"{PACKAGE}/__init__.py": "def first(iterable, default=None):\n    return next(iter(iterable), default)\n",
    "tests/test_first.py": f"from {PACKAGE} import first\n\n\ndef test_first():\n    assert first([3, 4]) == 3\n\n\n"
                           "def test_first_default():\n    assert first([], 'x') == 'x'\n",
    "requirements.txt": "pytest\n",
}


def test_only_a_package_pytest_imports_moves_the_runner():
    moved: list = []
    text = _install_command("2016-12-23T00:00:00Z", "3.9", moved, "more_itertools")
    assert '"pytest>=6.0,<7"' in text and "more_itertools, the package under test" in dict(moved)["test runner"]
    other: list = []
    assert '"pytest>=3.5,<3.7"' in _install_command("2016-12-23T00:00:00Z", "3.9", other, "tablib")
    assert "package under test" not in dict(other)["test runner"]
    # where the floor is newer already, nothing changes
    assert _install_command("2016-12-23T00:00:00Z", "3.11", [], "more_itertools") == _install_command("2016-12-23T00:00:00Z", "3.11", [], "tablib")
    assert "more_itertools" in PYTEST_IMPORTS


@pytest.mark.docker
def test_a_project_pytest_imports_is_tested_with_a_pytest_that_does_not(tmp_path, docker_ready):
    from swegen.images import base_tag, image_labels
    from swegen.sandbox import Limits
    from swegen.testbed import Container, Environments, git_archive

    if image_labels(base_tag(PYTHON)) is None:
        pytest.skip(f"needs {base_tag(PYTHON)} (swegen images build-base --python {PYTHON}): on 3.11 the pytest floor "
                    f"(6.2.5) imports no more_itertools already")
    repo, head = _repo(tmp_path / DISTRIBUTION, DATE, PROJECT)
    plan = plan_environment(repo, head, [PYTHON], python=PYTHON)
    assert plan.package == PACKAGE and "the package under test" in dict(plan.reasons)["test runner"]
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    bed, plan, error = Environments(run_dir, repo, python=PYTHON).testbed({"instance_id": "x", "base_commit": head}, Limits())
    assert error is None and bed is not None, error
    with Container(bed, git_archive(repo, head), "test") as box:
        _, import_error = box.install()
        assert import_error is None
        run = box.run_tests(["tests/test_first.py"], 300)
    assert run.infra_error is None, run.output[-2000:]
    assert sorted(run.statuses.values()) == ["PASSED", "PASSED"], run.output[-2000:]
