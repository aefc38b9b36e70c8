"""`swegen clean`: remove the containers and snapshots (and, if asked, images) that swegen left behind."""

from __future__ import annotations

import socket
from dataclasses import dataclass, field

from swegen.docker_sandbox import LABEL_HOST, LABEL_PID, docker_client, list_managed
from swegen.records import process_alive


@dataclass
class CleanResult:
    removed_containers: list[str] = field(default_factory=list)
    kept_in_use: list[str] = field(default_factory=list)
    removed_images: list[str] = field(default_factory=list)
    #: Snapshot images (swegen.snapshot) of validations that were killed.
    removed_snapshots: list[str] = field(default_factory=list)
    kept_snapshots: list[str] = field(default_factory=list)


def _owner_alive(labels: dict[str, str]) -> bool:
    """Is the swegen process that started this container still running on this host?"""
    if labels.get(LABEL_HOST) != socket.gethostname():
        return False
    try:
        pid = int(labels.get(LABEL_PID, ""))
    except ValueError:
        return False
    return process_alive(pid)


def _remove(container) -> bool:
    """Remove a container; False when it went away meanwhile (or is being removed already)."""
    import docker.errors

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        return False
    except docker.errors.APIError as exc:
        if exc.status_code == 409:  # "removal already in progress"
            return False
        raise
    return True


def clean(*, everything: bool = False, images: bool = False, dry_run: bool = False) -> CleanResult:
    """Remove leftover containers; with `everything`, also those of running swegen processes.

    Snapshots follow their owner as containers do. With `images`, also remove environment images
    (base images are kept: they are slow to build).
    """
    result = CleanResult()
    for container in list_managed():
        if not everything and LABEL_PID not in container.labels and container.status == "running":
            # not a sandbox: a step of an image build, which inherits the image's labels
            result.kept_in_use.append(container.short_id)
            continue
        if not everything and _owner_alive(container.labels):
            result.kept_in_use.append(container.short_id)
            continue
        if not dry_run and not _remove(container):
            continue
        result.removed_containers.append(container.short_id)
    _clean_snapshots(result, everything, dry_run)
    if images:
        from swegen.images import list_images

        # agent images first: each is a child of an environment image, which Docker keeps while it has one
        for image in list_images("agent") + list_images("env"):
            if not dry_run:
                docker_client().images.remove(image.id, force=True)
            result.removed_images.extend(image.tags or [image.short_id])
    return result


def _clean_snapshots(result: CleanResult, everything: bool, dry_run: bool) -> None:
    """Remove the snapshots whose owner is gone (all of them with `everything`), after the
    containers, since a container a killed run left may still use its snapshot."""
    from swegen.errors import SandboxError
    from swegen.snapshot import owner_alive, remove, snapshots

    for image in snapshots():
        name = (image.tags or [image.short_id])[0]
        if not everything and owner_alive(image.labels or {}, this_host_only=False):
            result.kept_snapshots.append(name)
            continue
        try:
            if not dry_run and not remove(image.id):
                continue
        except SandboxError:
            result.kept_snapshots.append(name)  # a running container of someone's still uses it
            continue
        result.removed_snapshots.append(name)
