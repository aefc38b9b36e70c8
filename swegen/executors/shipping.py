"""A job's files travel with it, so that a node needs no share of the driver's disk.

A job is a plain record whose paths are the driver's: its run folder (a task's folder, an
evaluation's output folder, a log file), its repository (`repo` fields) and an agent's files
(`agent_files`). Before it leaves, the driver packs what the job reads under the run folder into
a tar; on the node the job is rewritten to point at a scratch copy, runs there, and every file it
created or changed under that copy comes back with the result. Only the driver then writes them
into the run folder, before the result's line, so a job killed anywhere leaves nothing half-done.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import os
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

#: Fields whose strings are a repository of the driver's, replaced by the node's copy.
REPO_FIELDS = ("repo",)
#: Fields whose strings are the driver's files a job only reads (outside the run folder).
INPUT_FIELDS = ("agent_files",)
RUN = "run"
INPUTS = "inputs"


@dataclass(frozen=True)
class Packed:
    """What goes with one job: the job as the driver has it, and its files."""

    job: Any
    #: The driver's run folder.
    root: str
    #: A tar of the files under the run folder that the job refers to, and of its inputs.
    files: bytes
    #: sha256 of each file in `files`, by its name in the tar: what came back unchanged stays.
    digests: dict[str, str]
    #: The driver's paths of `agent_files`-like inputs, by their name in the tar.
    inputs: dict[str, str]


def strings(obj: Any, field: str = "") -> Iterator[tuple[str, str]]:
    """Every (field name, string) of a record, through nested records, lists and dicts."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for item in dataclasses.fields(obj):
            yield from strings(getattr(obj, item.name), item.name)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            yield from strings(value, field)
    elif isinstance(obj, dict):
        for value in obj.values():
            yield from strings(value, field)
    elif isinstance(obj, str):
        yield field, obj


def remap(obj: Any, fn: Callable[[str, str], str], field: str = "") -> Any:
    """The record with each string `s` of field `f` replaced by `fn(f, s)`."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        changes = {item.name: remap(getattr(obj, item.name), fn, item.name) for item in dataclasses.fields(obj)}
        return dataclasses.replace(obj, **changes)
    if isinstance(obj, list):
        return [remap(value, fn, field) for value in obj]
    if isinstance(obj, tuple):
        return tuple(remap(value, fn, field) for value in obj)
    if isinstance(obj, dict):
        return {key: remap(value, fn, field) for key, value in obj.items()}
    if isinstance(obj, str):
        return fn(field, obj)
    return obj


def under(path: str, root: str) -> str | None:
    """`path` relative to `root` ("." for root itself), or None when it lies outside."""
    if path == root:
        return "."
    return path[len(root) + 1:] if path.startswith(root + "/") else None


def repos(job: Any) -> set[str]:
    """The driver's repositories a job uses."""
    return {value for name, value in strings(job) if name in REPO_FIELDS and value}


def pack(job: Any, root: Path) -> Packed:
    """The job and the files it refers to under `root` (whole folders, for a folder)."""
    base = str(root)
    members: dict[str, Path] = {}
    inputs: dict[str, str] = {}
    for name, value in strings(job):
        if name in INPUT_FIELDS and os.path.exists(value):
            key = f"{INPUTS}/{len(inputs)}/{Path(value).name}"
            inputs[key] = value
            members.update(_tree(Path(value), key))
            continue
        relative = under(value, base)
        if relative is not None and name not in REPO_FIELDS:
            members.update(_tree(root / relative, RUN if relative == "." else f"{RUN}/{relative}"))
    data, digests = _tar(members)
    return Packed(job=job, root=base, files=data, digests=digests, inputs=inputs)


def _tree(path: Path, name: str) -> dict[str, Path]:
    if path.is_file():
        return {name: path}
    if not path.is_dir():
        return {}
    return {f"{name}/{item.relative_to(path).as_posix()}": item for item in sorted(path.rglob("*")) if item.is_file()}


def _tar(members: dict[str, Path]) -> tuple[bytes, dict[str, str]]:
    out, digests = io.BytesIO(), {}
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, path in sorted(members.items()):
            data = path.read_bytes()
            digests[name] = hashlib.sha256(data).hexdigest()
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), path.stat().st_mode & 0o777
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue(), digests


def unpack(packed: Packed, scratch: Path, node_repos: dict[str, str]) -> Any:
    """On the node: the files in `scratch`, and the job rewritten to use them and the node's repositories."""
    (scratch / RUN).mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(packed.files)) as tar:
        tar.extractall(scratch, filter="data")
    by_driver_path = {path: key for key, path in packed.inputs.items()}

    def where(field: str, value: str) -> str:
        if field in REPO_FIELDS and value in node_repos:
            return node_repos[value]
        if field in INPUT_FIELDS and value in by_driver_path:
            return str(scratch / by_driver_path[value])
        relative = under(value, packed.root)
        if relative is None:
            return value
        return str(scratch / RUN) if relative == "." else str(scratch / RUN / relative)

    return remap(packed.job, where)


def collect(packed: Packed, scratch: Path) -> dict[str, bytes]:
    """On the node, after the job: the files it created or changed under the run folder, by
    their path relative to it."""
    changed = {}
    run = scratch / RUN
    for path in sorted(run.rglob("*")):
        if not path.is_file() or path.is_symlink():
            continue
        data = path.read_bytes()
        name = f"{RUN}/{path.relative_to(run).as_posix()}"
        if packed.digests.get(name) != hashlib.sha256(data).hexdigest():
            changed[path.relative_to(run).as_posix()] = data
    return changed


def restore(result: Any, scratch: Path, root: str) -> Any:
    """A result whose paths name the scratch copy, with the driver's paths instead."""
    base = str(scratch / RUN)

    def back(field: str, value: str) -> str:
        relative = under(value, base)
        return value if relative is None else (root if relative == "." else f"{root}/{relative}")

    return remap(result, back)


def write_back(root: Path, files: dict[str, bytes]) -> None:
    """On the driver: each file a job sent back, written atomically under the run folder."""
    for relative, data in sorted(files.items()):
        target = root / relative
        if ".." in Path(relative).parts or Path(relative).is_absolute():
            continue  # collect only sends paths from inside the run folder's copy
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
