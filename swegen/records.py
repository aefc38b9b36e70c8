"""Plain records that cross module boundaries, and the atomic file helpers that store them.

Every record is a frozen dataclass that serialises to one JSON line carrying `schema_version`,
so any stage (or any outside tool) can read another stage's files without importing its code.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import threading
from pathlib import Path
from typing import Any, Iterator, TypeVar

SCHEMA_VERSION = 1

T = TypeVar("T")


def to_dict(record: Any) -> dict[str, Any]:
    """A record as a plain dict, with `schema_version` first."""
    data = _flat_dict(record)
    if data is None:
        data = dataclasses.asdict(record)
    return {"schema_version": SCHEMA_VERSION, **data}


_PLAIN = frozenset({str, int, float, bool, type(None)})


def _flat_dict(record: Any) -> dict[str, Any] | None:
    """What dataclasses.asdict gives for a record of plain values and lists of plain values
    (most records; asdict's deep copy made writing candidates.jsonl slow), else None."""
    data = {}
    for name in _field_names(type(record)):
        value = getattr(record, name)
        if type(value) in _PLAIN:
            data[name] = value
        elif type(value) is list and all(type(item) in _PLAIN for item in value):
            data[name] = list(value)
        else:
            return None
    return data


@functools.lru_cache(maxsize=None)
def _field_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))


def to_json_line(record: Any) -> str:
    return json.dumps(to_dict(record), sort_keys=False, ensure_ascii=False)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build a record from a dict, ignoring keys it does not know (newer or foreign writers)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def write_atomic(path: Path, text: str, fresh: bool = False) -> None:
    """Write a whole file so that a reader sees either the old file or the new one, never half.

    The temporary file is named after this process (and thread), so that the next writer of the
    same path can remove what a killed writer left behind (a run folder gathers no debris from
    crashes). `fresh`: the caller has just made the folder, so there is none to make and no
    debris to look for (mining writes thousands of files into new folders).
    """
    if not fresh:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_stale_temporaries(path)
    tmp = os.path.join(path.parent, f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    data = memoryview(text.encode("utf-8"))
    try:
        # 0o600, as tempfile.mkstemp made them; O_TRUNC: a same-named file is a dead writer's
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        try:
            while data:
                data = data[os.write(fd, data):]
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _remove_stale_temporaries(path: Path) -> None:
    """Remove the temporary files of `path` whose writing process is gone (killed mid-write)."""
    prefix = f".{path.name}."
    try:
        names = [entry.name for entry in os.scandir(path.parent) if entry.name.startswith(prefix) and entry.name.endswith(".tmp")]
    except FileNotFoundError:
        return
    for name in names:
        pid = name[len(prefix):].split(".", 1)[0]
        if pid.isdigit() and not process_alive(int(pid)):
            (path.parent / name).unlink(missing_ok=True)


def process_alive(pid: int) -> bool:
    """Is a process with this id running on this host (or one we may not signal)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def write_json(path: Path, data: Any, fresh: bool = False) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n", fresh)


def repair_tail(path: Path) -> None:
    """Make a JSONL file end with a whole line before anything is appended to it.

    A process killed in the middle of a write leaves a last line without its newline. Appending
    after it would glue the next record onto the fragment, and both would be lost to readers. A
    fragment that parses is a whole record that only lacks its newline: it gets one. Anything
    else is dropped, so the record is written again by the resumed run and counted once.
    """
    try:
        handle = open(path, "r+b")
    except FileNotFoundError:
        return
    with handle:
        size = handle.seek(0, os.SEEK_END)
        if size == 0:
            return
        handle.seek(size - 1)
        if handle.read(1) == b"\n":
            return
        start = _last_line_start(handle, size)
        handle.seek(start)
        if _parse_line(handle.read()) is not None:
            handle.seek(size)
            handle.write(b"\n")
        else:
            handle.truncate(start)


def _last_line_start(handle: Any, size: int) -> int:
    """Offset just past the last newline of an open binary file (0 when there is none)."""
    position = size
    while position > 0:
        step = min(65536, position)
        handle.seek(position - step)
        chunk = handle.read(step)
        newline = chunk.rfind(b"\n")
        if newline >= 0:
            return position - step + newline + 1
        position -= step
    return 0


def _parse_line(raw: bytes) -> dict[str, Any] | None:
    """One JSONL record, or None for a torn or foreign line (cut in a UTF-8 sequence included)."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def append_line(path: Path, line: str) -> None:
    """Append one JSON line in one write, so a killed run keeps every finished line whole.

    No fsync: a killed process loses nothing the OS already has. A torn last line (a kill in the
    middle of a long write, a machine crash) is skipped by `read_lines` and repaired here before
    the next line goes on.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    repair_tail(path)
    with open(path, "ab") as handle:
        handle.write((line.rstrip("\n") + "\n").encode("utf-8"))


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Read a JSONL file's records, skipping a torn last line left by a crash.

    Read as bytes: a line torn inside a UTF-8 sequence must not stop the reader.
    """
    if not path.exists():
        return
    with open(path, "rb") as handle:
        for raw in handle:
            record = _parse_line(raw)
            if record is not None:
                yield record


class JsonlWriter:
    """An open JSONL file that appends one whole line per record and flushes it at once.

    For stages that write thousands of lines: one open file instead of one open per line. A torn
    last line left by a killed run is repaired when the file is opened (see `repair_tail`).
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(path)
        # unbuffered binary, one write per line: a line never reaches the file in pieces
        # because a buffer filled up in the middle of it
        self._handle = open(path, "ab", buffering=0)

    def write(self, record: Any) -> None:
        data = (to_json_line(record) + "\n").encode("utf-8")
        end = self._handle.seek(0, os.SEEK_END)
        try:
            written = self._handle.write(data)
            while written is not None and written < len(data):  # a short write (a signal, a full pipe)
                data = data[written:]
                written = self._handle.write(data)
        except OSError:
            # a full disk took part of the line: take it back, so the file holds whole lines only
            try:
                os.truncate(self._handle.fileno(), end)
            except OSError:
                pass
            raise

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


#: What every stage after validation reads from a task; a line without them is not a task.
TASK_FIELDS = ("instance_id", "base_commit", "patch", "test_patch", "FAIL_TO_PASS", "PASS_TO_PASS")


def read_tasks(run_dir: Path) -> list[dict[str, Any]]:
    """A run folder's validated tasks (tasks.jsonl, SWE-bench instances), for the stages after validation.

    Strict, unlike `read_lines`: validation writes tasks.jsonl whole and atomically, so a torn or
    malformed line is damage, and skipping it would silently drop a task from every rate.
    """
    from swegen.errors import BadInput

    path = run_dir / "tasks.jsonl"
    redo = f"run `swegen validate {run_dir}` again to rewrite it"
    if not path.exists():
        raise BadInput(f"{run_dir} has no tasks.jsonl", hint=f"run `swegen validate {run_dir}` first")
    try:
        text = path.read_bytes().decode("utf-8")
    except IsADirectoryError:
        raise BadInput(f"{path} is a folder, not a file", hint=f"remove it, then {redo}") from None
    except OSError as exc:
        raise BadInput(f"cannot read {path} ({exc.strerror})", hint="make it readable by this user") from None
    except UnicodeDecodeError:
        raise BadInput(f"{path} is not UTF-8 text", hint=redo) from None
    tasks, seen = [], set()
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        try:
            task = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path} line {number} is not JSON ({exc.msg}, column {exc.colno}): the file is damaged or truncated", hint=redo) from None
        missing = [name for name in TASK_FIELDS if name not in task] if isinstance(task, dict) else list(TASK_FIELDS)
        if missing:
            raise BadInput(f"{path} line {number} is not a task (no {missing[0]})", hint=redo)
        if task["instance_id"] in seen:
            raise BadInput(f"{path} line {number} repeats the task {task['instance_id']}", hint=redo)
        seen.add(task["instance_id"])
        tasks.append(task)
    return tasks


def finite(value: Any) -> Any:
    """`value` with NaN and infinity as null: JSON has no such numbers, and readers choke on them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value
