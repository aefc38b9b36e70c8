"""Images: one base image per Python version, and environment images tagged by their recipe.

Base images are built offline-friendly: `debootstrap` of the Debian suite that carries a Python
version, then `docker import`; users with a registry name any image instead. Environment images
come from a Jinja2 Dockerfile and are tagged with a hash of everything that built them, so every
task with the same recipe shares one, and a changed recipe gets a new one.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from swegen.docker_sandbox import LABEL_MANAGED, START_HINT, docker_client
from swegen.errors import BadInput, DockerUnavailable, ImageBuildFailed, ImageMissing, PackageIndexDown, SwegenError
from swegen.resources import sandbox_file, template_env, template_source

BASE_REPOSITORY = "swegen-base"
ENV_REPOSITORY = "swegen-env"
LABEL_KIND = "swegen.kind"
LABEL_RECIPE = "swegen.recipe"
LABEL_FINGERPRINT = "swegen.fingerprint"
#: On a base image: the digest of its recipe without the language toolchains, the languages
#: whose toolchains it holds, and every Debian package it was built with.
LABEL_CORE = "swegen.core"
LABEL_TOOLCHAINS = "swegen.toolchains"
LABEL_PACKAGES = "swegen.packages"

#: Debian suites and the Python 3 each ships; a base image per Python comes from its suite.
DEBIAN_SUITES = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
DEFAULT_PYTHON = "3.11"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
#: What every base image holds: Python with venv and pip, the tools the harness runs, and a C
#: compiler with Python's headers, since old dependencies often have no wheel for the Python
#: they run on and must be built (greenlet 0.4 on Python 3.9, for one).
BASE_PACKAGES = (
    "python3", "python3-venv", "python3-pip", "python3-dev", "gcc", "libc6-dev",
    "git", "patch", "ca-certificates",
)

HOST_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
CUSTOM_CA_DIRS = ("/usr/local/share/ca-certificates", "/etc/pki/ca-trust/source/anchors")

ENV_TEMPLATE = "env.Dockerfile.j2"


def base_tag(python: str) -> str:
    return f"{BASE_REPOSITORY}:py{python}"


def _sha256(*parts: bytes | str) -> str:
    digest = hashlib.sha256()
    for part in parts:
        data = part.encode() if isinstance(part, str) else part
        digest.update(len(data).to_bytes(8, "big"))
        digest.update(data)
    return digest.hexdigest()


# -- CA bundle ---------------------------------------------------------------------------------


def host_ca_bundle() -> Path | None:
    """The host's CA bundle when it carries a custom (company) CA, else None.

    A custom CA shows up as a certificate added to the system store, or as SSL_CERT_FILE /
    REQUESTS_CA_BUNDLE pointing at a bundle; either way, containers need the same bundle.
    """
    for variable in ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE"):
        value = os.environ.get(variable)
        if value and Path(value).is_file():
            return Path(value)
    if any(Path(d).is_dir() and any(Path(d).iterdir()) for d in CUSTOM_CA_DIRS):
        return next((Path(p) for p in HOST_CA_BUNDLES if Path(p).is_file()), None)
    return None


def resolve_ca_bundle(option: str | None) -> Path | None:
    """`--ca-bundle` semantics: 'auto' (default) detects, 'none' disables, a path is used as is."""
    if option in (None, "", "auto"):
        return host_ca_bundle()
    if option == "none":
        return None
    path = Path(option).expanduser()
    if not path.is_file():
        raise BadInput(f"CA bundle {path} does not exist", hint="pass a PEM file, or --ca-bundle none")
    return path


# -- base images -------------------------------------------------------------------------------


@dataclass(frozen=True)
class BaseImageRecipe:
    """How one base image is built; its hash goes on the image as a label."""

    python: str
    suite: str
    mirror: str = DEFAULT_MIRROR
    packages: tuple[str, ...] = BASE_PACKAGES
    ca_bundle: str | None = None
    #: Languages of swegen.languages whose toolchains (Debian packages) the image holds too.
    toolchains: tuple[str, ...] = ()
    #: Those toolchains' packages.
    toolchain_packages: tuple[str, ...] = ()

    def core_digest(self) -> str:
        """The digest without the toolchains (what an image built before toolchains has)."""
        script = sandbox_file("base", "build-rootfs.sh").read_bytes()
        ca = Path(self.ca_bundle).read_bytes() if self.ca_bundle else b""
        return _sha256(script, self.python, self.suite, self.mirror, " ".join(self.packages), ca)

    def digest(self) -> str:
        if not self.toolchain_packages:
            return self.core_digest()
        return _sha256(self.core_digest(), " ".join(self.toolchains), " ".join(self.toolchain_packages))

    def all_packages(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(self.packages + self.toolchain_packages))


def base_recipe(python: str, mirror: str = DEFAULT_MIRROR, ca_bundle: Path | None = None,
                toolchains: Mapping[str, Iterable[str]] | None = None) -> BaseImageRecipe:
    """The recipe of the base image for `python`, with the toolchains of these languages (names
    of swegen.languages: "javascript", "go")."""
    if python not in DEBIAN_SUITES:
        known = ", ".join(sorted(DEBIAN_SUITES))
        raise BadInput(
            f"no Debian suite ships Python {python}",
            hint=f"choose one of {known}, or use --base-image with an image from your registry",
        )
    names, packages = _toolchains(toolchains or {})
    return BaseImageRecipe(python, DEBIAN_SUITES[python], mirror, BASE_PACKAGES, str(ca_bundle) if ca_bundle else None,
                           names, packages)


def _toolchains(toolchains: Mapping[str, Iterable[str]]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the languages, sorted; their toolchains' Debian packages, in that order, once each)."""
    chosen = sorted(toolchains)
    return tuple(chosen), tuple(dict.fromkeys(p for name in chosen for p in toolchains[name]))


def _covers(labels: dict[str, str] | None, recipe: BaseImageRecipe) -> bool:
    """Whether an image with these labels is `recipe`'s, or holds more toolchains than it asks."""
    if labels is None:
        return False
    core = labels.get(LABEL_CORE) or labels.get(LABEL_RECIPE)
    return core == recipe.core_digest() and set(recipe.toolchains) <= set(labels.get(LABEL_TOOLCHAINS, "").split())


def image_labels(tag: str) -> dict[str, str] | None:
    """Labels of a local image, or None when it is absent."""
    import docker.errors

    client = docker_client()
    try:
        return client.images.get(tag).labels or {}
    except docker.errors.ImageNotFound:
        return None
    except Exception as exc:  # the daemon went away after answering the ping
        raise DockerUnavailable("Docker daemon stopped answering", hint=START_HINT, detail=repr(exc)) from exc


def build_base_image(
    recipe: BaseImageRecipe,
    *,
    force: bool = False,
    log: Callable[[str], None] = lambda line: None,
    tag: str | None = None,
) -> tuple[str, bool]:
    """Build the base image for `recipe` (as `tag`, swegen's own base tag for its Python when not
    given) unless an image there already covers it. Returns (tag, built)."""
    tag = tag or base_tag(recipe.python)
    labels = image_labels(tag)
    if _covers(labels, recipe) and not force:
        return tag, False
    if labels is not None and (labels.get(LABEL_CORE) or labels.get(LABEL_RECIPE)) == recipe.core_digest():
        # the same base with other toolchains: rebuilt with those and the asked ones, so that
        # adding a language never takes another one's toolchain away
        # (their packages are the image's own beyond the base ones: no need to ask the languages)
        held = labels.get(LABEL_TOOLCHAINS, "").split()
        held_packages = [p for p in labels.get(LABEL_PACKAGES, "").split() if p not in recipe.packages]
        recipe = replace(recipe, toolchains=tuple(sorted({*recipe.toolchains, *held})),
                         toolchain_packages=tuple(dict.fromkeys((*held_packages, *recipe.toolchain_packages))))
    digest = recipe.digest()
    _check_can_debootstrap()
    with tempfile.TemporaryDirectory(prefix="swegen-base-", dir=_scratch_dir()) as work:
        tar_path = Path(work) / "rootfs.tar"
        script = sandbox_file("base", "build-rootfs.sh")
        args = ["sh", str(script), recipe.suite, recipe.mirror, recipe.ca_bundle or "", work, *recipe.all_packages()]
        with_toolchains = f", toolchains of {', '.join(recipe.toolchains)}" if recipe.toolchains else ""
        log(f"debootstrap {recipe.suite} (Python {recipe.python}{with_toolchains}) from {recipe.mirror}")
        with open(tar_path, "wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.PIPE, text=True)
            assert proc.stderr is not None
            tail: list[str] = []
            for line in proc.stderr:
                log(line.rstrip())
                tail = (tail + [line.rstrip()])[-20:]
            if proc.wait() != 0:
                raise ImageBuildFailed(
                    f"debootstrap of {recipe.suite} failed",
                    hint="check the mirror (--mirror) and the network; the last lines say why",
                    detail="\n".join(tail),
                )
        log(f"docker import as {tag}")
        _import(tar_path, tag, recipe, digest)
        # Drop the root filesystem at once; only the tar was needed.
        shutil.rmtree(Path(work) / "rootfs", ignore_errors=True)
    return tag, True


def _scratch_dir() -> str | None:
    return os.environ.get("SWEGEN_TMPDIR") or None


def _check_can_debootstrap() -> None:
    if shutil.which("debootstrap") is None:
        raise SwegenError(
            "debootstrap is not installed",
            hint="`apt-get install debootstrap`, or use --base-image with an image from your registry",
        )
    if os.geteuid() != 0:
        raise SwegenError(
            "building a base image with debootstrap needs root",
            hint="run `sudo swegen images build-base`, or use --base-image with an image from your registry",
        )


def _import(tar_path: Path, tag: str, recipe: BaseImageRecipe, digest: str) -> None:
    repository, _, version = tag.partition(":")
    env = ["LANG=C.UTF-8", "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    changes = [f"ENV {item}" for item in env] + [
        'CMD ["/bin/bash"]',
        f'LABEL {LABEL_MANAGED}="true" {LABEL_KIND}="base" {LABEL_RECIPE}="{digest}" '
        f'swegen.python="{recipe.python}" swegen.suite="{recipe.suite}" {LABEL_CORE}="{recipe.core_digest()}" '
        f'{LABEL_TOOLCHAINS}="{" ".join(recipe.toolchains)}" {LABEL_PACKAGES}="{" ".join(recipe.all_packages())}"',
    ]
    try:
        docker_client().api.import_image_from_file(str(tar_path), repository=repository, tag=version, changes=changes)
    except Exception as exc:
        raise ImageBuildFailed("docker import of the base image failed", hint="check `swegen doctor`", detail=str(exc)) from exc


# -- environment images ------------------------------------------------------------------------


@dataclass(frozen=True)
class EnvRecipe:
    """Everything that goes into one environment image. Equal recipes share one image."""

    #: The image to start from: swegen's own base (swegen-base:py3.11) or any registry image.
    base_image: str
    #: The Python interpreter in the base image that creates the venv.
    python: str = "python3"
    #: Debian packages to add.
    system_packages: tuple[str, ...] = ()
    #: Commands run before the dependency files are copied in.
    pre_install: tuple[str, ...] = ()
    #: Commands that install dependencies (the dependency files are under /opt/swegen/deps/).
    install: tuple[str, ...] = ()
    #: Environment variables set in the image, as (name, value) pairs.
    env: tuple[tuple[str, str], ...] = ()
    #: Dependency specification files (name -> content), copied to /opt/swegen/deps/.
    files: tuple[tuple[str, str], ...] = field(default=())

    def render(self, ca_bundle: bool, present: Iterable[str] = ()) -> str:
        """The Dockerfile for this recipe; the system packages among `present` (the base image
        holds them: `swegen images build-base --language`) are not installed again."""
        have = set(present)
        return template_env().get_template(ENV_TEMPLATE).render(
            base_image=self.base_image,
            python=self.python,
            system_packages=sorted(set(self.system_packages) - have),
            present_packages=sorted(set(self.system_packages) & have),
            pre_install=self.pre_install,
            install=self.install,
            env=sorted(self.env),
            files=bool(self.files),
            ca_bundle=ca_bundle,
        )


def env_fingerprint(recipe: EnvRecipe, base_image_id: str, ca_bundle: bytes | None) -> str:
    """A hash of everything that builds the image: template, recipe, files, base image, CA.

    Pure: the same inputs always give the same fingerprint, and any change to one gives another.
    """
    files = json.dumps(sorted(recipe.files), ensure_ascii=False)
    return _sha256(
        template_source(ENV_TEMPLATE),
        recipe.render(ca_bundle is not None),
        files,
        base_image_id,
        ca_bundle or b"",
    )


def env_tag(fingerprint: str) -> str:
    return f"{ENV_REPOSITORY}:{fingerprint[:16]}"


def base_image_id(image: str) -> str:
    """The local id of `image`; raises ImageMissing with the command that makes it."""
    import docker.errors

    try:
        return docker_client().images.get(image).id
    except docker.errors.ImageNotFound as exc:
        hint = (
            f"build it with `swegen images build-base --python {image.split(':py')[-1]}`"
            if image.startswith(BASE_REPOSITORY + ":")
            else f"`docker pull {image}`, or use a swegen base image (`swegen images build-base`)"
        )
        raise ImageMissing(f"image {image} is not present", hint=hint) from exc


#: The recipe (and CA bundle) of each environment image this process built or found, by tag:
#: a distributed run ships it to the nodes that lack the image, to build it there.
#: What uv and pip print when the package index does not answer (an extended regular expression
#: that Python's re reads alike): an outage of ours, not the recipe's failure.
INDEX_DOWN = (
    "error sending request|dns error|client error \\(Connect\\)|Connection refused|Connection reset|"
    "operation timed out|Request failed after [0-9]+ retries|NewConnectionError|Max retries exceeded|"
    "ReadTimeoutError|ConnectTimeoutError|Temporary failure in name resolution|"
    "50[234] (Bad Gateway|Service Unavailable|Gateway Time)"
)
#: What an install step says, before it exits INDEX_DOWN_EXIT, when the index did not answer it.
INDEX_DOWN_MARK = "swegen: the package index did not answer"
INDEX_DOWN_EXIT = 75
#: Seconds waited before each new try of a build that the package index broke.
INDEX_RETRY_WAITS = (10.0, 30.0)
#: How many of a failed build's last lines are read for an index outage (a retry warning early in
#: a build that then failed for another reason is not one).
_LAST_LINES = 15

_RECIPES: dict[str, tuple[EnvRecipe, Path | None]] = {}


def recipe_of(tag: str) -> tuple[EnvRecipe, Path | None] | None:
    """The recipe and CA bundle of an environment image this process built or found, if any."""
    return _RECIPES.get(tag)


def build_env_image(
    recipe: EnvRecipe,
    *,
    ca_bundle: Path | None,
    log_path: Path | None = None,
    log: Callable[[str], None] = lambda line: None,
) -> tuple[str, bool]:
    """Build the environment image for `recipe` unless it exists. Returns (tag, built)."""
    ca = ca_bundle.read_bytes() if ca_bundle else None
    fingerprint = env_fingerprint(recipe, base_image_id(recipe.base_image), ca)
    tag = env_tag(fingerprint)
    _RECIPES[tag] = (recipe, ca_bundle)
    if image_labels(tag) is not None:
        if log_path is not None and not log_path.exists():
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text(f"{tag} was already built from this recipe; reused.\n", encoding="utf-8")
        return tag, False
    lines: list[str] = []
    try:
        with tempfile.TemporaryDirectory(prefix="swegen-env-", dir=_scratch_dir()) as context:
            _write_context(Path(context), recipe, ca)
            for wait in (*INDEX_RETRY_WAITS, None):
                try:
                    _docker_build(Path(context), tag, fingerprint, lines, log)
                    break
                except PackageIndexDown:
                    if wait is None:
                        raise
                    lines.append(f"swegen: the package index did not answer; building again in {wait:.0f} s")
                    time.sleep(wait)
    finally:
        if log_path is not None:
            # Kept on success and on failure: a failed build's log is what says why.
            log_path.parent.mkdir(parents=True, exist_ok=True)
            log_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tag, True


def _write_context(context: Path, recipe: EnvRecipe, ca: bytes | None) -> None:
    present = (image_labels(recipe.base_image) or {}).get(LABEL_PACKAGES, "").split() if recipe.system_packages else []
    (context / "Dockerfile").write_text(recipe.render(ca is not None, present), encoding="utf-8")
    if ca is not None:
        (context / "ca-bundle.crt").write_bytes(ca)
    for name, content in recipe.files:
        target = context / "deps" / name
        if ".." in Path(name).parts or Path(name).is_absolute():
            raise BadInput(f"dependency file name {name!r} escapes the build context")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content, encoding="utf-8")


def _docker_build(
    context: Path, tag: str, fingerprint: str, lines: list[str], log: Callable[[str], None]
) -> None:
    labels = {LABEL_MANAGED: "true", LABEL_KIND: "env", LABEL_FINGERPRINT: fingerprint}
    try:
        stream: Iterable[dict[str, Any]] = docker_client().api.build(
            path=str(context), tag=tag, rm=True, forcerm=True, decode=True, labels=labels, network_mode="host"
        )
        for chunk in stream:
            text = chunk.get("stream") or chunk.get("status") or ""
            if text.strip():
                lines.append(text.rstrip())
                log(text.rstrip())
            if "error" in chunk:
                lines.append(chunk["error"])
                if index_down("\n".join(lines[-_LAST_LINES:])):
                    raise PackageIndexDown(
                        f"building environment image {tag} failed: the package index did not answer",
                        hint="check the network (or the index the install uses) and run again; it is not recorded as the recipe's failure",
                        detail="\n".join(lines[-30:]),
                    )
                raise ImageBuildFailed(
                    f"building environment image {tag} failed",
                    hint="see the build log; override the recipe in swegen.toml if detection was wrong",
                    detail="\n".join(lines[-30:]),
                )
    except ImageBuildFailed:
        raise
    except Exception as exc:
        raise ImageBuildFailed(f"building environment image {tag} failed", detail=str(exc)) from exc


def index_down(output: str) -> bool:
    """Does this install output say the package index did not answer? Docker's echo of the step's
    command ("Step 3/9 : RUN ...", "The command '...' returned") holds the very patterns, so it is
    not read."""
    said = [line.strip() for line in output.splitlines() if not line.startswith(("Step ", "The command '"))]
    return INDEX_DOWN_MARK in said or any(re.search(INDEX_DOWN, line, re.IGNORECASE) for line in said)


def list_images(kind: str | None = None) -> list[Any]:
    """Local images that swegen built (optionally only 'base' or 'env')."""
    filters = {"label": [f"{LABEL_MANAGED}=true"] + ([f"{LABEL_KIND}={kind}"] if kind else [])}
    return docker_client().images.list(filters=filters)


def require_base_image(python: str) -> str:
    """The base image tag for `python`, or ImageMissing saying how to build it."""
    tag = base_tag(python)
    if image_labels(tag) is None:
        raise ImageMissing(f"base image {tag} is missing", hint=f"run `swegen images build-base --python {python}`")
    return tag
