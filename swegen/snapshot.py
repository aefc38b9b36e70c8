"""Snapshots: a task's testbed with the project installed, committed to a local image.

Installing the project is most of what a validation run costs on a real repository (a fresh
container, the source copied in, an offline install, an import check), and each of a task's runs
used to pay it. A snapshot pays it once per task: its container is committed (`docker commit`)
to a local image labelled `swegen.kind=snapshot`, and each run starts a container from it.

Only the repository's own install at the base commit has run in a snapshot: no patch, no test,
no model's code. A container started from it is copy-on-write, so what one run changes never
reaches the next; the image is removed when the task is done, and one that a killed process left
behind carries its owner's pid and host, so that `swegen clean` (and the next validation on this
host) removes it.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
from pathlib import Path
from typing import Any

from swegen.docker_sandbox import LABEL_HOST, LABEL_MANAGED, LABEL_PID, _daemon_calls, _daemon_gone, docker_client
from swegen.errors import SandboxError, SwegenError
from swegen.images import LABEL_KIND, list_images
from swegen.records import process_alive
from swegen.testbed import Container, Testbed

#: Where snapshots are tagged, and their `swegen.kind` label.
REPOSITORY = "swegen-snapshot"
KIND = "snapshot"
LABEL_INSTANCE = "swegen.instance"
#: Compiled files of the install would be older than a patch applied within the same second (pyc
#: files record the source's mtime in whole seconds), and Python would run them instead.
_CLEAR_COMPILED = "find /testbed -name __pycache__ -type d -prune -exec rm -rf {} +"


class Snapshot:
    """A task's source at the base commit with its project installed, as a local image that each
    run starts from. Use as a context manager; `usable` is False when the install failed (then
    runs install for themselves, as they would without snapshots)."""

    def __init__(self, bed: Testbed, archive: bytes, stage: str, log: Path | None = None) -> None:
        self.bed, self.stage = bed, stage
        self.image: str | None = None
        self._first: Container | None = Container(bed, archive, stage)
        try:
            self.install_mode, self.import_error = self._first.install(log)
            if self.import_error is None:
                self.image = _commit(self._first, bed.instance_id)
            else:
                self.close()  # of no use: each run installs for itself
        except BaseException:
            self.close()
            raise

    @property
    def usable(self) -> bool:
        return self.image is not None

    def take(self) -> Container:
        """A container in the snapshot's state that nothing ran in since: the committed one
        first, then new ones from the image."""
        if not self.usable:
            raise SwegenError("the snapshot failed to install; a run must install for itself")
        if self._first is not None:
            first, self._first = self._first, None
            return first
        return Container(self.bed, None, self.stage, image=self.image)

    def close(self) -> None:
        """Remove the committed container (if never taken) and the image. Safe to call twice."""
        try:
            if self._first is not None:
                first, self._first = self._first, None
                first.box.close()
        finally:
            if self.image is not None:
                image, self.image = self.image, None
                remove(image)

    def __enter__(self) -> "Snapshot":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _commit(container: Container, instance_id: str) -> str:
    """Commit `container` to a new snapshot image; its tag."""
    cleared = container.box.exec(_CLEAR_COMPILED, timeout=120)
    if not cleared.ok:
        raise SandboxError("could not clear compiled files before a snapshot", detail=cleared.stderr)
    slug = re.sub(r"[^a-z0-9_.-]+", "-", instance_id.lower()).lstrip(".-")[:100]
    tag = f"{slug}-{secrets.token_hex(4)}"
    labels = {LABEL_MANAGED: "true", LABEL_KIND: KIND, LABEL_PID: str(os.getpid()), LABEL_HOST: socket.gethostname(),
              LABEL_INSTANCE: instance_id}
    # the container's own labels (its stage, the environment image's fingerprint) would be kept
    changes = [f"LABEL {key}={json.dumps(value)}" for key, value in labels.items()]
    with _daemon_calls("committing a snapshot"):
        docker_client().api.commit(container.box.container_id, repository=REPOSITORY, tag=tag, changes=changes, pause=True)  # type: ignore[attr-defined]
    return f"{REPOSITORY}:{tag}"


def remove(image: str) -> bool:
    """Remove a snapshot image; False when it is gone already or the daemon is down (then it
    stays for `swegen clean`)."""
    import docker.errors

    try:
        docker_client().images.remove(image, force=True)
    except docker.errors.ImageNotFound:
        return False
    except Exception as exc:
        if _daemon_gone(exc):
            return False
        raise SandboxError(f"could not remove the snapshot {image}", detail=str(exc)) from exc
    return True


def snapshots() -> list[Any]:
    """Every snapshot image on the daemon (SandboxError when the daemon fails)."""
    with _daemon_calls("listing snapshots"):
        return list_images(KIND)


def owner_alive(labels: dict[str, str], this_host_only: bool = True) -> bool:
    """Is the process that made a snapshot still running? One made on another host counts as
    alive unless `this_host_only` is False (then it counts as dead, as `swegen clean` has it)."""
    if labels.get(LABEL_HOST) != socket.gethostname():
        return this_host_only
    pid = labels.get(LABEL_PID, "")
    return pid.isdigit() and process_alive(int(pid))


def remove_abandoned() -> int:
    """Remove the snapshots that processes of this host left behind when they were killed; how many.
    Nothing when the daemon does not answer: the jobs that need it will say so, as infrastructure
    errors."""
    removed = 0
    try:
        images = snapshots()
    except SwegenError:  # the daemon failed, or never answered
        return 0
    for image in images:
        if not owner_alive(image.labels or {}):
            try:
                removed += remove(image.id)
            except SandboxError:
                continue  # still used by a container a killed run left: `swegen clean` removes both
    return removed
