"""`swegen demo`: every stage that exists, run on the bundled example repository.

Each stage extends this as it lands; today it creates the example repository, mines its history
into task candidates, builds its environment image and runs its test suite in the sandbox at the
head of main.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable
from xml.etree import ElementTree

from swegen import __version__
from swegen.docker_sandbox import DockerSandbox
from swegen.errors import BadInput, SwegenError
from swegen.example import create_example
from swegen.example import EXAMPLE_REPO_NAME
from swegen.images import EnvRecipe, build_env_image, require_base_image
from swegen.mining import MineConfig, mine
from swegen.records import write_json
from swegen.sandbox import Limits, SandboxSpec

#: Stages that this version does not have yet; the demo names them rather than faking them.
PENDING_STAGES = ("validate", "solve", "evaluate", "report")


@dataclass(frozen=True)
class DemoConfig:
    """How to run the demo."""

    #: A fresh output folder (must not exist, or be empty).
    output: Path
    #: Python version of the base image.
    python: str = "3.11"
    #: An image to use instead of swegen's own base image.
    base_image: str | None = None
    #: CA bundle to inject into images (None: none).
    ca_bundle: Path | None = None


@dataclass
class DemoResult:
    output: Path
    repo: Path
    env_image: str = ""
    funnel: Any = None
    tests: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)


def git_archive(repo: Path, rev: str) -> bytes:
    """The tree at `rev` as a tar stream, without .git: no history is visible from it."""
    proc = subprocess.run(["git", "-C", str(repo), "archive", "--format=tar", rev], capture_output=True)
    if proc.returncode != 0:
        raise SwegenError(f"git archive {rev} failed", detail=proc.stderr.decode(errors="replace"))
    return proc.stdout


def junit_counts(xml_text: str) -> dict[str, int]:
    """Pass/fail/error/skip counts from a pytest JUnit XML report."""
    root = ElementTree.fromstring(xml_text)
    counts = {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for case in root.iter("testcase"):
        tags = {child.tag for child in case}
        key = "failed" if "failure" in tags else "error" if "error" in tags else "skipped" if "skipped" in tags else "passed"
        counts[key] += 1
    return counts


def _fresh(output: Path) -> None:
    if output.exists() and any(output.iterdir()):
        raise BadInput(f"output folder {output} is not empty", hint="pass a new folder with -o, or remove it")
    output.mkdir(parents=True, exist_ok=True)


def run_demo(config: DemoConfig, step: Callable[[str], None] = lambda message: None) -> DemoResult:
    out = config.output
    _fresh(out)
    step("creating the example repository")
    repo = create_example(out / "repo")
    result = DemoResult(out, repo)
    step("mining its history")
    result.funnel = mine(MineConfig(repo=repo, output=out, repo_name=EXAMPLE_REPO_NAME))
    write_json(out / "demo.json", {"swegen_version": __version__, "command": "demo", "repo": str(repo)})
    result.files += [out / "run.json", out / "candidates.jsonl", out / "demo.json"]

    step("checking the base image")
    base = config.base_image or require_base_image(config.python)
    recipe = EnvRecipe(base_image=base, install=("pip install --no-cache-dir pytest",))
    step("building the example's environment image (reused when it exists)")
    log_path = out / "logs" / "env-build.log"
    result.env_image, _ = build_env_image(recipe, ca_bundle=config.ca_bundle, log_path=log_path)

    step("running the example's test suite in the sandbox")
    result.tests = _smoke_run(repo, result.env_image, out / "logs" / "tests-at-main.txt")
    result.files += [log_path, out / "logs" / "tests-at-main.txt"]
    return result


def _smoke_run(repo: Path, image: str, log_path: Path) -> dict[str, int]:
    with DockerSandbox(SandboxSpec(image=image, limits=Limits(memory="2g"), labels={"swegen.stage": "demo"})) as box:
        box.put_archive("/testbed", git_archive(repo, "main"))
        run = box.exec(
            "python -m pytest -q -p no:cacheprovider --junitxml=/tmp/junit.xml",
            timeout=300,
            env={"PYTHONPATH": "/testbed/src:/testbed"},
        )
        log_path.parent.mkdir(parents=True, exist_ok=True)
        log_path.write_text(run.stdout + run.stderr, encoding="utf-8")
        try:
            xml = box.get("/tmp/junit.xml").decode()
        except SwegenError as exc:
            raise SwegenError("the test run wrote no report", hint=f"see {log_path}") from exc
    counts = junit_counts(xml)
    counts["exit_code"] = run.exit_code
    return counts
