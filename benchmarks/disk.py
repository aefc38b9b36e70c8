"""Disk cost of validating N tasks of one repository: one environment image, plus per task at most
the source tree + 5 MB (issue #4). Mines and validates the bundled example from scratch (its
environment image removed first), and prints `docker system df` before and after, the new images,
and the run folder's size per task.
Usage: python benchmarks/disk.py
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from swegen.docker_sandbox import docker_client
from swegen.languages.python.env import available_pythons, plan_environment
from swegen.example import EXAMPLE_REPO_NAME, create_example
from swegen.images import base_image_id, env_fingerprint, env_tag
from swegen.mining import MineConfig, mine
from swegen.validating import ValidateConfig, validate


def df() -> str:
    return subprocess.run(["docker", "system", "df"], capture_output=True, text=True).stdout


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        repo = create_example(Path(tmp) / "repo")
        out = Path(tmp) / "run"
        mine(MineConfig(repo=repo, output=out, repo_name=EXAMPLE_REPO_NAME))
        tags = set()
        for task_file in out.glob("*/task.json"):
            plan = plan_environment(repo, json.loads(task_file.read_text())["base_commit"], available_pythons(), python="3.11")
            tags.add(env_tag(env_fingerprint(plan.recipe, base_image_id(plan.recipe.base_image), None)))
        for tag in tags:
            subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)
        images_before = {i.id for i in docker_client().images.list()}
        before = df()
        summary = validate(ValidateConfig(run_dir=out, repo=repo, python="3.11", workers=2))
        after = df()
        new_images = [i for i in docker_client().images.list() if i.id not in images_before]
        tasks = summary["funnel"]["candidates"]
        source = sum(len(subprocess.run(["git", "-C", str(repo), "archive", "main"], capture_output=True).stdout) for _ in [0])
        per_task = {d.name: size(d) for d in out.iterdir() if (d / "task.json").exists()}
        print("docker system df before:\n" + before)
        print("docker system df after:\n" + after)
        print(json.dumps({
            "tasks_validated": tasks,
            "distinct_recipes": len(tags),
            "new_images": [{"tags": i.tags, "size_mb": round(i.attrs["Size"] / 1e6, 1)} for i in new_images],
            "source_tree_bytes": source,
            "run_folder_bytes_per_task": per_task,
            "containers_left": len(docker_client().containers.list(all=True, filters={"label": "swegen.managed=true"})),
        }, indent=2))


if __name__ == "__main__":
    main()
