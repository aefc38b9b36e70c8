"""Where units of work run: each is a plain record and a function of it, with no shared state.

A local process pool now; a distributed engine (Ray) can take the same records later.
"""

from __future__ import annotations

import concurrent.futures
from typing import Callable, Sequence, TypeVar

J = TypeVar("J")
R = TypeVar("R")


def run_jobs(fn: Callable[[J], R], jobs: Sequence[J], workers: int, on_result: Callable[[R, int], None]) -> None:
    """Run `fn` on every job, `workers` at a time. `on_result(result, finished)` is called in this
    process as soon as each result is ready (to write it down at once), in the order they finish,
    with how many have finished so far."""
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
