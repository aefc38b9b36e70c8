"""`swegen demo` runs every stage that exists on the example repository, end to end, for real."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli

pytestmark = pytest.mark.docker


def test_demo_runs_end_to_end(base_image, tmp_path):
    out = tmp_path / "demo"
    proc = run_cli("demo", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"outputs in {out}" in proc.stdout.replace("\n", "")
    assert (out / "repo" / ".git").is_dir()
    assert json.loads((out / "demo.json").read_text())["command"] == "demo"
    assert json.loads((out / "run.json").read_text())["stage"] == "mine"
    kept = [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines() if json.loads(line)["kept"]]
    assert len(kept) == 5, "four real fixes, and the fix whose test already passes (validation will reject it)"
    assert all((out / row["instance_id"] / "task.json").is_file() for row in kept)
    log = (out / "logs" / "tests-at-main.txt").read_text()
    # The example's suite is 40 tests, one of them flaky: at least 39 pass in the sandbox.
    assert " passed" in log
    passed = int(proc.stdout.split("tests at main in the sandbox:")[1].split("passed")[0])
    assert passed >= 39
