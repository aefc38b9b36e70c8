"""The sandbox: where untrusted code (tests, candidate patches, agents) runs.

A sandbox has three verbs and a close: `exec` a command under a timeout, `put` and `get` files
(or whole tar streams). A broken sandbox raises `SandboxError`; a failing command is just a
result. Every implementation passes the same conformance suite (tests/test_sandbox_conformance.py).

Calls on one sandbox do not overlap: when a command returns, whatever it left running is killed,
so no process of an untrusted command outlives it (and none can touch what the next one reads).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, Sequence, runtime_checkable

#: Exit codes GNU `timeout` uses when it had to stop the command (TERM, then KILL).
TIMEOUT_EXIT_CODES = (124, 137)


@dataclass(frozen=True)
class ExecResult:
    """What one command did inside a sandbox."""

    exit_code: int
    stdout: str
    stderr: str
    #: True when the command was stopped because it ran past its timeout.
    timed_out: bool = False
    #: Wall-clock seconds, measured on the host.
    duration: float = 0.0
    #: Processes the command left running, killed when it returned (nothing outlives its command).
    strays: int = 0
    #: The limit that stopped the command's processes ("disk"), or None.
    limit: str | None = None

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


@dataclass(frozen=True)
class Limits:
    """Resource limits for one sandbox. Candidate patches are untrusted: keep these tight."""

    #: Memory limit in Docker's notation ("2g", "512m"); swap is not allowed on top of it.
    memory: str = "4g"
    #: How many CPUs the sandbox may use (fractions allowed).
    cpus: float = 2.0
    #: Most processes and threads alive at once (stops fork bombs).
    pids: int = 1024
    #: Network access; off unless a stage explicitly asks (agents calling hosted models).
    network: bool = False
    #: Most bytes the sandbox may add to its file system; past it, its processes are killed.
    disk: str = "10g"
    #: Largest file a process may write (a write past it fails and the writer gets SIGXFSZ).
    file_size: str = "4g"


def size_bytes(size: str) -> int:
    """Bytes in Docker's size notation ("512m", "4g", "1024k", or a plain number of bytes)."""
    text = size.strip().lower().removesuffix("b")
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
    scale = units.get(text[-1:], 1)
    number = text[:-1] if text[-1:] in units else text
    try:
        return int(float(number) * scale)
    except ValueError:
        raise ValueError(f"not a size: {size!r} (expected e.g. 512m or 4g)") from None


@dataclass(frozen=True)
class SandboxSpec:
    """Everything needed to start one sandbox."""

    image: str
    limits: Limits = field(default_factory=Limits)
    workdir: str = "/testbed"
    env: dict[str, str] = field(default_factory=dict)
    #: Extra labels, for example the run or instance the sandbox works for.
    labels: dict[str, str] = field(default_factory=dict)


@runtime_checkable
class Sandbox(Protocol):
    """A place to run untrusted commands. Use as a context manager: it is removed on exit."""

    def exec(
        self,
        cmd: str | Sequence[str],
        timeout: float,
        *,
        workdir: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        """Run `cmd` (a shell string, or an argv list) and wait at most `timeout` seconds."""
        ...

    def put(self, path: str, data: bytes, mode: int = 0o644) -> None:
        """Write one file (parents created)."""
        ...

    def get(self, path: str) -> bytes:
        """Read one file; raises SandboxError when it does not exist."""
        ...

    def put_archive(self, dest: str, tar_bytes: bytes) -> None:
        """Unpack a tar stream into the directory `dest` (created if needed)."""
        ...

    def get_archive(self, path: str) -> bytes:
        """A tar stream of `path` (a file or a directory)."""
        ...

    def close(self) -> None:
        """Stop and remove the sandbox. Safe to call twice."""
        ...

    def __enter__(self) -> "Sandbox": ...

    def __exit__(self, *exc: object) -> None: ...
