"""`swegen doctor`: is this machine ready to run swegen, and if not, the one-line fix."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from swegen.errors import SwegenError

#: Below this much free disk a validation run of a real repository will likely fail.
MIN_FREE_GB = 10.0


@dataclass(frozen=True)
class Check:
    """One readiness check: `ok` False with `required` True makes doctor fail."""

    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True


def check_git() -> Check:
    if shutil.which("git") is None:
        return Check("git", False, "not found", "install git (`apt-get install git`)")
    out = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.strip()
    match = re.search(r"(\d+)\.(\d+)", out)
    if match and (int(match[1]), int(match[2])) < (2, 20):
        return Check("git", False, out, "upgrade git to 2.20 or newer")
    return Check("git", True, out)


def check_docker() -> Check:
    from swegen.docker_sandbox import docker_client

    try:
        version = docker_client().version()
    except SwegenError as exc:
        return Check("docker daemon", False, exc.message, exc.hint)
    return Check("docker daemon", True, f"Docker Engine {version.get('Version', '?')} (API {version.get('ApiVersion', '?')})")


def check_base_image(python: str, base_image: str | None) -> Check:
    from swegen.images import base_tag, image_labels

    tag = base_image or base_tag(python)
    try:
        present = image_labels(tag) is not None
    except SwegenError as exc:
        return Check("base image", False, exc.message, exc.hint)
    if present:
        return Check("base image", True, f"{tag} present")
    fix = f"`swegen images build-base --python {python}`" if base_image is None else f"`docker pull {tag}`"
    return Check("base image", False, f"{tag} missing", fix)


def check_disk(path: Path) -> Check:
    probe = path if path.exists() else Path.cwd()
    free_gb = shutil.disk_usage(probe).free / 1e9
    detail = f"{free_gb:.1f} GB free at {probe}"
    if free_gb < MIN_FREE_GB:
        return Check("free disk", False, detail, f"free at least {MIN_FREE_GB:.0f} GB (`swegen clean --images`, `docker system prune`)")
    return Check("free disk", True, detail)


def check_docker_disk() -> Check:
    from swegen.docker_sandbox import docker_client

    try:
        root = Path(docker_client().info().get("DockerRootDir", "/var/lib/docker"))
    except SwegenError as exc:
        return Check("docker disk", False, exc.message, exc.hint)
    check = check_disk(root) if root.exists() else Check("docker disk", True, f"{root} (remote daemon)")
    return Check("docker disk", check.ok, check.detail, check.fix)


def check_debootstrap() -> Check:
    found = shutil.which("debootstrap") is not None
    return Check(
        "debootstrap",
        found,
        "found" if found else "not found (only needed to build base images without a registry)",
        "" if found else "`apt-get install debootstrap`",
        required=False,
    )


def run_checks(python: str, base_image: str | None, output: Path) -> list[Check]:
    checks = [check_git(), check_docker()]
    if checks[-1].ok:
        checks += [check_base_image(python, base_image), check_docker_disk()]
    checks += [check_disk(output), check_debootstrap()]
    return checks + language_checks()


def language_checks() -> list[Check]:
    """What each language of swegen.languages needs (a warning, not a failure: its tests run in
    the environment image, which installs its toolchain; the host's is for trying it out)."""
    from swegen import languages

    return [
        Check(f"{language.name}: {what}", ok, "ok" if ok else "missing", "" if ok else fix, required=False)
        for language in languages.available()
        for what, ok, fix in language.doctor()
    ]
