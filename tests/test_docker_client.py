"""The docker client is never shared with a forked worker: two workers writing requests on one
inherited connection interleave them, and the daemon answers both with "400 Bad Request" or
"invalid character 'P'" (seen as every sandbox of a validation with two workers failing to start,
after the parent had checked an environment on the same client)."""

from __future__ import annotations

import concurrent.futures
import multiprocessing

import pytest

from swegen.docker_sandbox import docker_client

pytestmark = pytest.mark.docker

#: The parent's client, kept by this module so that a forked worker still holds it (its address
#: cannot be taken by a new object there).
_PARENT: list = []


def _worker(_: int) -> tuple[bool, bool]:
    """(is this worker's client the parent's?, does it answer?)"""
    client = docker_client()
    return client is _PARENT[0], bool(client.api.version())


def test_a_forked_worker_gets_a_client_and_connection_of_its_own(docker_ready):
    _PARENT[:] = [docker_client()]
    _PARENT[0].api.version()  # an open, pooled connection in the parent, as a stage leaves one before its pool
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("fork")) as pool:
        results = list(pool.map(_worker, range(4)))
    assert results == [(False, True)] * 4
    assert docker_client() is _PARENT[0], "the parent keeps its own client"
