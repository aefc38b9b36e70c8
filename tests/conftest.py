"""Shared fixtures: the real Docker daemon and swegen's real base image, never mocks.

Tests that need Docker are skipped only when someone runs them locally without a daemon; in CI
(CI=true) a missing daemon or base image is a failure, so Docker tests can never silently vanish.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from swegen.errors import SwegenError

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
TEST_PYTHON = os.environ.get("SWEGEN_TEST_PYTHON", "3.11")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"{reason} (CI must run Docker tests, never skip them)")
    pytest.skip(f"{reason}; start one with `bash scripts/setup.sh`")


@pytest.fixture(scope="session")
def docker_ready() -> None:
    from swegen.docker_sandbox import docker_client

    try:
        docker_client()
    except SwegenError as exc:
        _unavailable(f"no Docker daemon: {exc.message}")


@pytest.fixture(scope="session")
def base_image(docker_ready: None) -> str:
    """swegen's own base image for the test Python (built by scripts/setup.sh)."""
    from swegen.images import base_tag, image_labels

    tag = base_tag(TEST_PYTHON)
    if image_labels(tag) is None:
        _unavailable(f"base image {tag} is missing (`swegen images build-base --python {TEST_PYTHON}`)")
    return tag


def run_cli(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Run the real `swegen` command line in a subprocess, as a user would."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "swegen", *args],
        capture_output=True,
        text=True,
        env=full_env,
        cwd=cwd,
        timeout=timeout,
    )


@pytest.fixture(scope="session")
def demo_run(base_image, tmp_path_factory) -> tuple[Path, str]:
    """One `swegen demo` run (mine, validate, solve, evaluate), shared by the tests that read it."""
    out = tmp_path_factory.mktemp("demo") / "run"
    proc = run_cli("demo", "-o", str(out), "--workers", "2", timeout=1800)
    assert proc.returncode == 0, proc.stderr
    return out, proc.stdout
