"""Sandbox overhead per test run: a fresh container each time against one already running.

Target (issue #4): create + copy + exec + collect + remove costs at most 1.5 s more than running
the same tests in an already-running container. Uses the bundled example repository and its
environment image (built if missing). Usage: python benchmarks/sandbox_overhead.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from swegen.testbed import git_archive
from swegen.docker_sandbox import DockerSandbox
from swegen.languages.python.env import available_pythons, plan_environment
from swegen.example import create_example
from swegen.images import build_env_image
from swegen.languages.python.run import run_pytest
from swegen.sandbox import SandboxSpec

TARGETS = ["tests/test_money.py", "tests/test_ledger.py"]


def fresh_run(image: str, archive: bytes) -> float:
    start = time.perf_counter()
    with DockerSandbox(SandboxSpec(image=image, labels={"swegen.stage": "benchmark"})) as box:
        box.put_archive("/testbed", archive)
        run = run_pytest(box, TARGETS, 300, env={"PYTHONPATH": "/testbed/src"})
    assert run.statuses, run.output
    return time.perf_counter() - start


def warm_run(box: DockerSandbox) -> float:
    start = time.perf_counter()
    run = run_pytest(box, TARGETS, 300, env={"PYTHONPATH": "/testbed/src"})
    assert run.statuses, run.output
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = create_example(Path(tmp) / "repo")
        head = archive_rev = "main"
        plan = plan_environment(repo, head, available_pythons(), python="3.11")
        image, _ = build_env_image(plan.recipe, ca_bundle=None)
        archive = git_archive(repo, archive_rev)
        fresh_run(image, archive)  # warm the image cache
        fresh = [fresh_run(image, archive) for _ in range(args.runs)]
        with DockerSandbox(SandboxSpec(image=image, labels={"swegen.stage": "benchmark"})) as box:
            box.put_archive("/testbed", archive)
            warm_run(box)
            warm = [warm_run(box) for _ in range(args.runs)]
    result = {
        "runs": args.runs,
        "fresh_container_s": round(statistics.median(fresh), 3),
        "running_container_s": round(statistics.median(warm), 3),
        "overhead_s": round(statistics.median(fresh) - statistics.median(warm), 3),
        "target_s": 1.5,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
