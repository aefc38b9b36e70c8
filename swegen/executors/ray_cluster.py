"""Jobs as Ray tasks, on the nodes of a cluster that offer the `docker` resource.

Each job is one Ray task that asks for one unit of `docker` (a sandbox slot) and no CPU, so jobs
land only on nodes started with `--resources '{"docker": N}'`, N at a time per node. The task
brings its files (swegen.executors.shipping), gets its image and repository on the node
(swegen.executors.node), runs the stage's own job function and sends back its result and the
files it wrote; this process, the driver, writes them into the run folder as results arrive.

Faults: Ray runs a task again when its worker process or its node dies (`MAX_RETRIES` times at
most); since a task writes nothing of the run folder, a killed attempt leaves no line and no
file behind, and the retry's result is written once. A node whose Docker daemon does not answer
(before the job, or after a job that ended in an infrastructure error) is left out of this run,
and the job runs on another node. A killed driver loses only the jobs in flight: the next run
of the same command resumes from the lines already written.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from swegen.errors import BadInput, SwegenError
from swegen.executor import ExecutorSettings
from swegen.executors import node, shipping

try:
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
except ImportError:  # pragma: no cover - the extra is missing
    raise BadInput("--executor ray needs Ray, which is not installed", hint="pip install 'swegen[ray]'") from None

#: Attempts after the first when a job's worker process or node dies.
MAX_RETRIES = 3
#: Ray's name for swegen's tasks (`ray list tasks --filter name=swegen-job`).
TASK_NAME = "swegen-job"


@dataclass(frozen=True)
class Returned:
    """What a task sends back: the job's result and the files it wrote, or why the node is unfit."""

    result: Any
    files: dict[str, bytes] = field(default_factory=dict)
    node_id: str = ""
    pid: int = 0
    unfit: str | None = None


def _run_on_node(fn: Callable[[Any], Any], packed: shipping.Packed, images: list[node.ImageSource],
                 repos: dict[str, tuple[str, list[Any]]]) -> Returned:
    """The body of every Ray task: get ready on this node, run the job on a scratch copy."""
    here = ray.get_runtime_context().get_node_id()
    label = _label(packed.job)
    node.note("start", job=label, node_id=here)
    try:
        node.check_docker()
        for source in images:
            node.ensure_image(source)
        # the repository travels as an object ref inside a list, so that Ray fetches it only
        # onto a node that has no copy yet
        local = {path: node.ensure_repo(key, lambda ref=ref: ray.get(ref[0])) for path, (key, ref) in repos.items()}
    except node.NodeUnfit as exc:
        node.note("unfit", job=label, node_id=here, reason=exc.message)
        return Returned(None, node_id=here, pid=os.getpid(), unfit=exc.message)
    jobs = node.cache_dir() / "jobs"
    jobs.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(dir=jobs) as scratch:
        result = fn(shipping.unpack(packed, Path(scratch), local))
        if _infra(result) and not node.docker_answers():
            node.note("unfit", job=label, node_id=here, reason="Docker stopped answering")
            return Returned(None, node_id=here, pid=os.getpid(), unfit="Docker stopped answering on this node during the job")
        files = shipping.collect(packed, Path(scratch))
        node.note("end", job=label, node_id=here)
        return Returned(shipping.restore(result, Path(scratch), packed.root), files, here, os.getpid())


_task = ray.remote(num_cpus=0, resources={node.RESOURCE: 1}, max_retries=MAX_RETRIES, retry_exceptions=False)(_run_on_node)


def _label(job: Any) -> str:
    """The task a job is about, for messages and the node's ledger."""
    bed = getattr(job, "bed", None)
    return str(getattr(job, "instance_id", None) or getattr(bed, "instance_id", "") or "")


def _infra(result: Any) -> bool:
    """Whether a stage's result says the infrastructure failed (each stage's own field)."""
    if isinstance(result, str):  # solve's results are JSON lines
        try:
            return bool(json.loads(result).get("infra_error"))
        except (ValueError, AttributeError):
            return False
    return bool(getattr(result, "infra_error", None))


def connect(settings: ExecutorSettings, workers: int) -> None:
    """Join the cluster (or start a Ray of this machine alone), and check that it has sandbox slots."""
    if not ray.is_initialized():
        _check_reachable(settings.ray_address)
        try:
            if settings.ray_address:
                ray.init(address=settings.ray_address, log_to_driver=False, logging_level="ERROR")
            else:
                ray.init(num_cpus=max(1, workers), resources={node.RESOURCE: workers}, include_dashboard=False,
                         log_to_driver=False, logging_level="ERROR")
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise BadInput(f"cannot join the Ray cluster at {settings.ray_address}: {exc}",
                           hint="start it with `ray start --head`, or pass --ray-address HOST:6379") from None
    if not ray.cluster_resources().get(node.RESOURCE):
        raise BadInput(f"no node of the Ray cluster offers the {node.RESOURCE!r} resource (sandbox slots)",
                       hint="""start each node that has Docker with `ray start ... --resources '{"docker": 2}'`""")


def _check_reachable(address: str | None) -> None:
    """A HOST:PORT that refuses connections is a one-line error at once (Ray itself would retry
    for minutes)."""
    if not address or "://" in address or address == "auto" or ":" not in address:
        return
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=10):
            return
    except (OSError, ValueError) as exc:
        raise BadInput(f"no Ray cluster answers at {address} ({getattr(exc, 'strerror', None) or exc})",
                       hint="start it with `ray start --head --port PORT`, or pass the head's --ray-address HOST:PORT") from None


def run_jobs(fn: Callable[[Any], Any], jobs: Sequence[Any], workers: int, on_result: Callable[[Any, int], None],
             settings: ExecutorSettings) -> None:
    """`swegen.executor.run_jobs` on Ray: at most `workers` jobs in flight, results handed to
    `on_result` here as they arrive, after the files each job wrote are in the run folder."""
    if settings.root is None:
        raise SwegenError("the Ray executor needs the run folder", hint="this is a bug of swegen's")
    connect(settings, workers)
    root = Path(settings.root)
    images = _image_sources(jobs, settings.registry)
    repos = _ship_repos(jobs)
    Driver(fn, jobs, workers, on_result, root, images, repos).run()


class Driver:
    """Submits jobs, at most `workers` in flight, and takes their results as they come."""

    def __init__(self, fn, jobs, workers, on_result, root, images, repos) -> None:
        self.fn, self.jobs, self.workers, self.on_result, self.root = fn, list(jobs), max(1, workers), on_result, root
        self.images, self.repos = images, repos
        self.inflight: dict[Any, tuple[int, str | None]] = {}
        self.unfit: dict[str, str] = {}
        self.finished = 0

    def run(self) -> None:
        pending = list(range(len(self.jobs)))[::-1]
        try:
            while pending or self.inflight:
                while pending and len(self.inflight) < self.workers:
                    self._submit(pending.pop())
                ready, _ = ray.wait(list(self.inflight), num_returns=1)
                self._take(ready[0])
        except BaseException:
            # the stage stopped (too many infrastructure errors, Ctrl-C): jobs in flight must
            # not run on unseen; a cancelled task's sandboxes are closed as it unwinds
            for ref in self.inflight:
                ray.cancel(ref)
            raise

    def _submit(self, index: int) -> None:
        job = self.jobs[index]
        packed = shipping.pack(job, self.root)
        images = [self.images[tag] for tag in _image_tags(job) if tag in self.images]
        repos = {path: self.repos[path] for path in shipping.repos(job) if path in self.repos}
        target = self._target()
        strategy = NodeAffinitySchedulingStrategy(target, soft=False) if target else "SPREAD"
        ref = _task.options(name=TASK_NAME, scheduling_strategy=strategy).remote(self.fn, packed, images, repos)
        self.inflight[ref] = (index, target)

    def _target(self) -> str | None:
        """None (Ray spreads the jobs) while every node is fit; else the fit node with the fewest
        of this run's jobs in flight."""
        if not self.unfit:
            return None
        fit = [n["NodeID"] for n in ray.nodes() if n.get("Alive") and n.get("Resources", {}).get(node.RESOURCE)
               and n["NodeID"] not in self.unfit]
        if not fit:
            reasons = "; ".join(sorted(set(self.unfit.values())))
            raise SwegenError(f"no node of the Ray cluster can run sandboxes now ({reasons})",
                              hint="start Docker on the nodes, then run the same command again: finished results are kept")
        load = {n: 0 for n in fit}
        for _, target in self.inflight.values():
            if target in load:
                load[target] += 1
        return min(fit, key=lambda n: (load[n], n))

    def _take(self, ref: Any) -> None:
        index, _ = self.inflight.pop(ref)
        try:
            returned: Returned = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            # the job function itself raised: as on the local pool, that stops the stage
            cause = getattr(exc, "cause", None)
            raise cause if isinstance(cause, BaseException) else exc
        except ray.exceptions.RayError as exc:
            label = _label(self.jobs[index]) or f"job {index}"
            raise SwegenError(f"{label} failed {MAX_RETRIES + 1} times on the Ray cluster ({type(exc).__name__})",
                              hint="check the nodes with `ray status`, then run the same command again: finished results are kept",
                              detail=str(exc)) from None
        if returned.unfit is not None:
            self.unfit[returned.node_id] = returned.unfit
            self._submit(index)  # elsewhere: _target leaves this node out from now on
            return
        shipping.write_back(self.root, returned.files)
        self.finished += 1
        self.on_result(returned.result, self.finished)


def _image_tags(job: Any) -> list[str]:
    return sorted({value for name, value in shipping.strings(job) if name == "image" and value})


def _image_sources(jobs: Sequence[Any], registry: str | None) -> dict[str, node.ImageSource]:
    """How a node gets each image the jobs use: the registry the driver pushed it to, or its recipe."""
    from swegen.images import recipe_of

    sources = {}
    for tag in sorted({tag for job in jobs for tag in _image_tags(job)}):
        recipe, ca_bundle = recipe_of(tag) or (None, None)
        ca = ca_bundle.read_bytes() if ca_bundle else None
        sources[tag] = node.ImageSource(tag, recipe, ca, push(tag, registry) if registry else None)
    return sources


def push(tag: str, registry: str) -> str:
    """Push a local image to `registry` (host:port[/prefix]); its name there."""
    client = node.check_docker()
    name, _, version = tag.partition(":")
    repository = f"{registry.rstrip('/')}/{name}"
    try:
        client.images.get(tag).tag(repository, version)
        for chunk in client.images.push(repository, tag=version, stream=True, decode=True):
            if "error" in chunk:
                raise SwegenError(f"docker push {repository}:{version} failed: {chunk['error']}",
                                  hint="check --registry (docker login; a plain-HTTP registry must be in the daemon's insecure-registries)")
    except SwegenError:
        raise
    except Exception as exc:  # the SDK raises many types for an unreachable registry
        raise SwegenError(f"docker push {repository}:{version} failed", hint="check --registry", detail=str(exc)) from exc
    return f"{repository}:{version}"


def _ship_repos(jobs: Sequence[Any]) -> dict[str, tuple[str, list[Any]]]:
    """Each repository the jobs use, put once into Ray's object store: (key, [its ref])."""
    shipped = {}
    for path in sorted({path for job in jobs for path in shipping.repos(job)}):
        key, data = node.pack_repo(path)
        shipped[path] = (key, [ray.put(data)])
    return shipped
