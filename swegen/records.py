"""Plain records that cross module boundaries, and the atomic file helpers that store them.

Every record is a frozen dataclass that serialises to one JSON line carrying `schema_version`,
so any stage (or any outside tool) can read another stage's files without importing its code.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Iterator, TypeVar

SCHEMA_VERSION = 1

T = TypeVar("T")


def to_dict(record: Any) -> dict[str, Any]:
    """A record as a plain dict, with `schema_version` first."""
    data = dataclasses.asdict(record)
    return {"schema_version": SCHEMA_VERSION, **data}


def to_json_line(record: Any) -> str:
    return json.dumps(to_dict(record), sort_keys=False, ensure_ascii=False)


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build a record from a dict, ignoring keys it does not know (newer or foreign writers)."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    return cls(**{k: v for k, v in data.items() if k in names})


def write_atomic(path: Path, text: str) -> None:
    """Write a whole file so that a reader sees either the old file or the new one, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: Path, data: Any) -> None:
    write_atomic(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def append_line(path: Path, line: str) -> None:
    """Append one JSON line in one write, so a killed run keeps every finished line whole.

    No fsync: a killed process loses nothing the OS already has, and a torn last line after a
    machine crash is skipped by `read_lines`.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(line.rstrip("\n") + "\n")


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    """Read a JSONL file, skipping a torn last line left by a crash."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as handle:
        for raw in handle:
            raw = raw.strip()
            if not raw:
                continue
            try:
                yield json.loads(raw)
            except json.JSONDecodeError:
                continue


class JsonlWriter:
    """An open JSONL file that appends one whole line per record and flushes it at once.

    For stages that write thousands of lines: one open file instead of one open per line.
    """

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._handle = open(path, "a", encoding="utf-8")

    def write(self, record: Any) -> None:
        self._handle.write(to_json_line(record) + "\n")
        self._handle.flush()

    def close(self) -> None:
        self._handle.close()

    def __enter__(self) -> "JsonlWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def read_tasks(run_dir: Path) -> list[dict[str, Any]]:
    """A run folder's validated tasks (tasks.jsonl, SWE-bench instances), for the stages after validation."""
    from swegen.errors import BadInput

    path = run_dir / "tasks.jsonl"
    if not path.exists():
        raise BadInput(f"{run_dir} has no tasks.jsonl", hint=f"run `swegen validate {run_dir}` first")
    return list(read_lines(path))
