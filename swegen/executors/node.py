"""What a cluster node needs before it runs a job: a Docker daemon, the job's environment image
and its repository, each made once per node behind a file lock.

An image a node lacks is pulled from the registry when the driver pushed it there, or else
built on the node from its recipe (shipped with the job), and tagged with the driver's name
for it, so that every node's results name the same image. A node whose daemon does not answer,
or that cannot make an image, is unfit: the driver runs the job on another node.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from swegen.errors import SwegenError

#: The Ray resource a node offers, one unit per sandbox it may run at once.
RESOURCE = "docker"


class NodeUnfit(SwegenError):
    """This node cannot run sandboxes now (no Docker daemon, no image): run the job elsewhere."""


@dataclass(frozen=True)
class ImageSource:
    """How a node gets an environment image it lacks."""

    #: The image's tag on the driver (swegen-env:<hash>).
    tag: str
    #: The recipe (swegen.images.EnvRecipe) to build it from, and the CA bundle's bytes.
    recipe: Any = None
    ca_bundle: bytes | None = None
    #: registry/repository:tag the driver pushed it to, if any.
    pushed: str | None = None


def cache_dir() -> Path:
    """This node's own cache (images' build logs, repositories, job scratch space)."""
    path = Path(os.environ.get("SWEGEN_NODE_CACHE") or Path(tempfile.gettempdir()) / f"swegen-node-{os.getuid()}")
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """One holder at a time on this node (across its worker processes) for `name`."""
    locks = cache_dir() / "locks"
    locks.mkdir(exist_ok=True)
    with open(locks / f"{hashlib.sha256(name.encode()).hexdigest()[:20]}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def note(event: str, **fields: object) -> None:
    """A line in this node's ledger (cache_dir()/jobs.jsonl): which job started or ended here, in
    which process, so that a person (or a test) can see where each attempt ran."""
    line = json.dumps({"event": event, "time": round(time.time(), 3), "pid": os.getpid(), **fields}, default=str)
    with open(cache_dir() / "jobs.jsonl", "a", encoding="utf-8") as handle:
        handle.write(line + "\n")


def check_docker() -> Any:
    """The node's Docker client; NodeUnfit when its daemon does not answer."""
    from swegen.docker_sandbox import docker_client

    try:
        return docker_client()
    except SwegenError as exc:
        raise NodeUnfit(f"Docker does not answer on this node ({exc.message})") from None


def docker_answers() -> bool:
    try:
        check_docker()
        return True
    except NodeUnfit:
        return False


def ensure_image(source: ImageSource, log: Callable[[str], None] = lambda line: None) -> bool:
    """Make `source.tag` present on this node; True when this call made it (pulled or built)."""
    from swegen.images import image_labels

    if image_labels(source.tag) is not None:
        return False
    with locked(f"image {source.tag}"):
        if image_labels(source.tag) is not None:
            return False  # another worker of this node made it while this one waited
        try:
            if source.pushed:
                _pull(source)
            elif source.recipe is not None:
                _build(source, log)
            else:
                raise SwegenError(f"image {source.tag} is not on this node and nothing says how to make it")
        except SwegenError as exc:
            raise NodeUnfit(f"cannot make image {source.tag} on this node: {exc.one_line()}") from None
    return True


def _pull(source: ImageSource) -> None:
    client = check_docker()
    repository, _, version = source.pushed.rpartition(":")
    try:
        client.images.pull(repository, tag=version).tag(*source.tag.split(":", 1))
    except Exception as exc:  # the SDK raises many types for a failed pull
        raise SwegenError(f"docker pull {source.pushed} failed", detail=str(exc)) from exc


def _build(source: ImageSource, log: Callable[[str], None]) -> None:
    from swegen.images import build_env_image

    client = check_docker()
    with tempfile.TemporaryDirectory(dir=cache_dir()) as scratch:
        ca = None
        if source.ca_bundle is not None:
            ca = Path(scratch) / "ca-bundle.crt"
            ca.write_bytes(source.ca_bundle)
        name = source.tag.replace(":", "-").replace("/", "-")
        built, _ = build_env_image(source.recipe, ca_bundle=ca, log_path=cache_dir() / "builds" / f"{name}.log", log=log)
    if built != source.tag:
        # this node's base image is another build of the same recipe (debootstrap on each node):
        # the environment is the same, and results must name the image as the driver does
        client.images.get(built).tag(*source.tag.split(":", 1))


def ensure_repo(key: str, fetch: Callable[[], bytes]) -> str:
    """This node's copy of a repository's git directory (a bare repository), made once from the
    tar `fetch` returns."""
    target = cache_dir() / "repos" / key
    if (target / ".swegen-complete").exists():
        return str(target)
    with locked(f"repo {key}"):
        if not (target / ".swegen-complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            partial = target.with_name(f"{key}.partial")
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            with tarfile.open(fileobj=io.BytesIO(fetch())) as tar:
                tar.extractall(partial, filter="data")
            subprocess.run(["git", "--git-dir", str(partial), "config", "core.bare", "true"], check=True, capture_output=True)
            (partial / ".swegen-complete").write_text("", encoding="utf-8")
            partial.rename(target)
    return str(target)


def pack_repo(repo: str) -> tuple[str, bytes]:
    """On the driver: (a key of its content, a tar of the repository's git directory). The git
    directory holds what a job reads from the repository: commits, and submodules' modules."""
    found = subprocess.run(["git", "-C", repo, "rev-parse", "--path-format=absolute", "--git-common-dir"],
                           capture_output=True, text=True)
    if found.returncode != 0:
        raise SwegenError(f"{repo} is not a git repository", detail=found.stderr)
    git_dir = Path(found.stdout.strip())
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for path in sorted(git_dir.rglob("*")):
            if path.is_file() and not path.is_symlink() and path.name != "index.lock":
                info = tar.gettarinfo(str(path), arcname=path.relative_to(git_dir).as_posix())
                info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
                with open(path, "rb") as handle:
                    tar.addfile(info, handle)
    data = out.getvalue()
    return hashlib.sha256(data).hexdigest()[:24], data
