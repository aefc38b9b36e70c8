"""The command line lists every stage, and turns every user-fixable problem into one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import run_cli

COMMANDS = ["mine", "validate", "solve", "evaluate", "report", "scores", "doctor", "demo", "example", "images", "clean", "env", "export", "probe"]
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def one_line_error(proc: subprocess.CompletedProcess[str]) -> str:
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_help_lists_every_command():
    proc = run_cli("--help")
    assert proc.returncode == 0
    listed = {line.split()[0] for line in proc.stdout.split("Commands:")[1].splitlines() if line.strip()}
    assert listed == set(COMMANDS)


def test_docker_not_running_is_one_line_with_the_fix():
    line = one_line_error(run_cli("images", "list", env=NO_DOCKER))
    assert "Docker daemon is not reachable" in line and "scripts/setup.sh" in line


def test_doctor_fails_with_the_fix_when_docker_is_missing():
    proc = run_cli("doctor", env=NO_DOCKER)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "docker daemon" in proc.stdout and "FAIL" in proc.stdout


def test_verbose_shows_the_details():
    proc = run_cli("--verbose", "images", "list", env=NO_DOCKER)
    assert proc.returncode == 2
    assert "Traceback" in proc.stderr and "DockerException" in proc.stderr


def test_options_come_from_swegen_environment_variables():
    line = one_line_error(run_cli("images", "build-base", env={"SWEGEN_PYTHON": "2.7"}))
    assert "no Debian suite ships Python 2.7" in line


def test_bad_ca_bundle_path_is_one_line(tmp_path):
    line = one_line_error(run_cli("images", "build-base", "--ca-bundle", str(tmp_path / "missing.pem")))
    assert "CA bundle" in line


def test_example_into_a_non_empty_folder_is_one_line(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    one_line_error(run_cli("example", "create", str(tmp_path)))
    assert (tmp_path / "keep.txt").read_text() == "precious"


def test_demo_into_a_non_empty_folder_is_one_line(tmp_path):
    (tmp_path / "keep.txt").write_text("precious")
    line = one_line_error(run_cli("demo", "-o", str(tmp_path)))
    assert "not empty" in line


@pytest.mark.docker
def test_doctor_passes_on_a_ready_machine(base_image):
    proc = run_cli("doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "swegen is ready." in proc.stdout


def test_wheel_ships_assets_and_works_from_any_directory(tmp_path):
    """A non-editable install finds its sandbox scripts, templates and example manifest."""
    root = Path(__file__).resolve().parents[1]
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels), str(root)],
        check=True,
        capture_output=True,
    )
    (wheel,) = wheels.glob("swegen-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for asset in ("swegen/_sandbox/base/build-rootfs.sh", "swegen/_templates/env.Dockerfile.j2", "swegen/example/manifest.json"):
        assert asset in names
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)], check=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    probe = "import swegen, swegen.resources as r; print(swegen.__file__); print(r.template_dir()); print(r.sandbox_file('base', 'build-rootfs.sh').is_file())"
    proc = subprocess.run(
        [sys.executable, "-c", probe], cwd=elsewhere, env={"PYTHONPATH": str(site)}, capture_output=True, text=True, check=True
    )
    module, templates, script_ok = proc.stdout.split()
    assert module.startswith(str(site)) and templates.startswith(str(site)) and script_ok == "True"
    created = subprocess.run(
        [sys.executable, "-m", "swegen", "example", "create", str(tmp_path / "repo")],
        cwd=elsewhere, env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, capture_output=True, text=True,
    )
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "repo" / ".git").is_dir()
