"""A test that fails in every run without the fix by chance (here: by what else the run loads) is
not FAIL_TO_PASS: the empty control, run as evaluation runs it, passes it, so validation drops it as
flaky and keeps the task on its real FAIL_TO_PASS tests.

Real git repository in tmp_path, real Docker, swegen's own command line.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import run_cli
from tests.gitrepo import GitRepo

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1200)]

LIB = "def value():\n    return 1\n"
#: Imported when a run collects the whole test patch: it marks the module while the bug is there,
#: which fails test_depends; the controls run only the files of FAIL_TO_PASS and PASS_TO_PASS tests.
POISON = "import lib\n\nif lib.value() == 1:\n    lib.poisoned = True\n"
ORDER = "import lib\n\n\ndef test_depends():\n    assert not getattr(lib, 'poisoned', False)\n"
VALUE = "from lib import value\n\n\ndef test_value():\n    assert value() == 2\n"


def test_a_test_that_passes_in_the_empty_control_is_flaky_not_fail_to_pass(base_image: str, tmp_path: Path):
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Initial import", {"lib.py": LIB, "README.md": "# lib\n", "tests/test_lib.py": "def test_nothing():\n    pass\n"})
    repo.commit("Fix value being one too small", {
        "lib.py": LIB.replace("1", "2"), "tests/test_value.py": VALUE, "tests/test_order.py": ORDER, "tests/test_zpoison.py": POISON})
    run = tmp_path / "run"
    proc = run_cli("mine", str(repo.path), "-o", str(run), "--no-validate")
    assert proc.returncode == 0, proc.stderr
    (candidate,) = [json.loads(line) for line in (run / "candidates.jsonl").read_text().splitlines() if json.loads(line)["kept"]]
    proc = run_cli("validate", str(run), "--workers", "1", timeout=1200)
    assert proc.returncode == 0, proc.stderr
    (verdict,) = [json.loads(line) for line in (run / "validation.jsonl").read_text().splitlines()]
    assert verdict["instance_id"] == candidate["instance_id"]
    assert verdict["kept"], verdict["reason"]
    assert verdict["FAIL_TO_PASS"] == ["tests/test_value.py::test_value"]
    assert "tests/test_order.py::test_depends" in verdict["flaky"]
    (task,) = [json.loads(line) for line in (run / "tasks.jsonl").read_text().splitlines()]
    assert task["FAIL_TO_PASS"] == ["tests/test_value.py::test_value"]
