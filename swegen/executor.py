"""Where units of work run: each is a plain record and a function of it, with no shared state.

Two implementations behind one function, `run_jobs`: the local process pool (the default) and a
Ray cluster (`--executor ray`, swegen.executors.ray_cluster, imported only when chosen). Either
way only this process, the driver, writes the run folder: `on_result` is called here as each
result arrives, so resume, `--retry` and the caches behave the same on both.

The command line picks the executor once for a command (`using`), so that the stages keep one
call, `run_jobs(fn, jobs, workers, on_result)`, and never know where their jobs run.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence, TypeVar

from swegen.errors import BadInput

J = TypeVar("J")
R = TypeVar("R")

#: The implementations, by the name `--executor` takes.
KINDS = ("local", "ray")


@dataclass(frozen=True)
class ExecutorSettings:
    """Where a command's jobs run."""

    #: "local" (a process pool on this machine) or "ray" (a Ray cluster).
    kind: str = "local"
    #: The Ray cluster to join ("auto", "ray://host:10001", "host:6379"); None starts a Ray of
    #: this machine alone, with `workers` sandboxes.
    ray_address: str | None = None
    #: A container registry (host:port[/prefix]): environment images are built once, pushed
    #: there, and pulled by the nodes that lack them; without one each node builds its own.
    registry: str | None = None
    #: The run folder: paths under it in a job are the driver's, so a Ray job gets its own copy
    #: of what it reads there and sends back what it writes.
    root: Path | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise BadInput(f"unknown executor {self.kind!r}", hint=f"use one of {', '.join(KINDS)}")


_current: contextvars.ContextVar[ExecutorSettings] = contextvars.ContextVar("swegen_executor", default=ExecutorSettings())


@contextlib.contextmanager
def using(settings: ExecutorSettings) -> Iterator[None]:
    """Run the `run_jobs` calls inside this block with `settings`."""
    token = _current.set(settings)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> ExecutorSettings:
    """The settings `run_jobs` uses now."""
    return _current.get()


def run_jobs(fn: Callable[[J], R], jobs: Sequence[J], workers: int, on_result: Callable[[R, int], None]) -> None:
    """Run `fn` on every job, `workers` at a time. `on_result(result, finished)` is called in this
    process as soon as each result is ready (to write it down at once), in the order they finish,
    with how many have finished so far."""
    settings = current()
    if settings.kind == "ray" and jobs:
        from swegen.executors import ray_cluster  # Ray is an optional extra: imported only when chosen

        ray_cluster.run_jobs(fn, jobs, workers, on_result, settings)
        return
    run_local(fn, jobs, workers, on_result)


def run_local(fn: Callable[[J], R], jobs: Sequence[J], workers: int, on_result: Callable[[R, int], None]) -> None:
    """`run_jobs` on a process pool of this machine."""
    if workers <= 1 or len(jobs) <= 1:
        for finished, job in enumerate(jobs, 1):
            on_result(fn(job), finished)
        return
    with concurrent.futures.ProcessPoolExecutor(workers) as pool:
        futures = [pool.submit(fn, job) for job in jobs]
        try:
            for finished, future in enumerate(concurrent.futures.as_completed(futures), 1):
                on_result(future.result(), finished)
        except BaseException:
            # on_result may stop the stage (too many infrastructure errors): jobs not started
            # yet must not run on, unseen, while the pool shuts down
            for future in futures:
                future.cancel()
            raise
