"""Jobs run on a real multi-node Ray cluster give exactly the local pool's tasks, verdicts and
reports, land on every node that offers sandboxes, and a job whose Ray worker dies (or whose node
has no Docker) runs again elsewhere with no line lost or doubled.

The cluster is real: `ray start --head` and `ray start --address` on this machine, each node with
one sandbox slot (`docker: 1`), a resource of its own and its own node cache (SWEGEN_NODE_CACHE),
stopped in teardown by the ids of the processes it started. Both nodes share this machine's Docker
daemon, so what reaches a node through swegen (its files, its repository) is checked on the node's
own cache, and only the driver writes the run folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import IN_CI, run_cli

pytestmark = [pytest.mark.docker, pytest.mark.ray]

if not IN_CI:
    pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")

RAY = str(Path(sys.executable).with_name("ray"))
#: Two of the example's candidates (the newest), so that the module's runtime stays modest.
SUBSET = ("--max-candidates", "2")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cluster:
    """Ray nodes started on this machine; `stop` ends exactly the processes they started."""

    def __init__(self, root: Path) -> None:
        self.root, self.port = root, _free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.temp = root / "ray"
        self.caches: dict[str, Path] = {}

    def start(self, name: str, head: bool = False, env: dict[str, str] | None = None) -> None:
        cache = self.root / f"cache-{name}"
        cache.mkdir()
        self.caches[name] = cache
        where = ["--head", "--port", str(self.port), "--temp-dir", str(self.temp), "--include-dashboard", "false",
                 "--dashboard-port", str(_free_port()), "--ray-client-server-port", str(_free_port())] if head else ["--address", self.address]
        # every port of its own: other Ray clusters may run on this machine
        ports = [f"--{option}-port={_free_port()}" for option in ("dashboard-agent-listen", "dashboard-agent-grpc", "metrics-export", "runtime-env-agent")]
        resources = json.dumps({"docker": 1, f"node_{name}": 1})
        command = [RAY, "start", *where, *ports, "--num-cpus", "1", "--resources", resources, "--object-store-memory", "80000000",
                   "--disable-usage-stats"]
        node_env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "SWEGEN_NODE_CACHE": str(cache), **(env or {})}
        with open(self.root / f"start-{name}.log", "w") as log:
            proc = subprocess.run(command, env=node_env, stdout=log, stderr=subprocess.STDOUT, timeout=180)
        assert proc.returncode == 0, (self.root / f"start-{name}.log").read_text()
        self._wait_for(len(self.caches))

    def _wait_for(self, nodes: int) -> None:
        probe = ("import ray, sys; ray.init(address=sys.argv[1], logging_level='ERROR'); "
                 "print(sum(1 for n in ray.nodes() if n['Alive']))")
        for _ in range(60):
            out = subprocess.run([sys.executable, "-c", probe, self.address], capture_output=True, text=True, timeout=120)
            if out.stdout.strip().splitlines()[-1:] == [str(nodes)]:
                return
            time.sleep(1)
        raise AssertionError(f"the cluster did not reach {nodes} nodes")

    def ledger(self, name: str) -> list[dict]:
        path = self.caches[name] / "jobs.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def pids(self) -> list[int]:
        """This cluster's processes: those naming its temp dir or port, and their descendants."""
        table = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                table[int(entry.name)] = (parent, args)
        mine = {pid for pid, (_, args) in table.items() if str(self.temp) in args or f":{self.port} " in f"{args} "}
        mine.discard(os.getpid())
        grew = True
        while grew:
            more = {pid for pid, (parent, _) in table.items() if parent in mine} - mine
            mine |= more
            grew = bool(more)
        return sorted(mine)

    def stop(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in self.pids():
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
            time.sleep(3)


@pytest.fixture(scope="module")
def cluster(base_image, tmp_path_factory):
    cluster = Cluster(tmp_path_factory.mktemp("cluster"))
    try:
        cluster.start("a", head=True)
        cluster.start("b")
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture(scope="module")
def example(base_image, tmp_path_factory) -> Path:
    repo = tmp_path_factory.mktemp("example") / "repo"
    proc = run_cli("example", "create", str(repo))
    assert proc.returncode == 0, proc.stderr
    return repo


def _mined(example: Path, out: Path) -> Path:
    proc = run_cli("mine", str(example), "-o", str(out), "--no-validate", *SUBSET)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture(scope="module")
def local(example, tmp_path_factory) -> Path:
    """The subset validated and evaluated on the local pool: what Ray must give."""
    run = _mined(example, tmp_path_factory.mktemp("local") / "run")
    proc = run_cli("validate", str(run), "--workers", "1", timeout=1800)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("evaluate", str(run), "-p", "gold", "-p", "empty", "--no-strict", "--workers", "1", timeout=1800)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("solve", str(run), "--agent", "scripted", "--name", "scripted", "--workers", "1", timeout=1800)
    assert proc.returncode == 0, proc.stderr
    return run


def _ray(cluster: Cluster, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(*args, "--executor", "ray", "--ray-address", cluster.address, env={"RAY_USAGE_STATS_ENABLED": "0"}, timeout=1800)


#: Timings and fresh random names: never compared.
VOLATILE = {"seconds", "agent_seconds", "duration", "started", "started_at", "log", "canaries"}
#: Which tests flip is random on the example (its flaky test depends on each run's hash seed), so
#: how many were seen flipping is no verdict; the FAIL_TO_PASS and PASS_TO_PASS lists are.
FLAKY = {"flaky", "flaky_tests"}
#: The environment image's tag (and the evaluation cache key made from it) hash the swegen code
#: that renders the image, which other sessions edit in this shared checkout while the module
#: runs: compared only when both runs built the same image (see _same_images).
IMAGE = {"env_image", "key"}


def _strip(value, drop: set[str]):
    if isinstance(value, dict):
        return {k: _strip(v, drop) for k, v in value.items() if k not in drop}
    if isinstance(value, list):
        return [_strip(v, drop) for v in value]
    return value


def _rows(path: Path, drop: set[str] = VOLATILE | FLAKY | IMAGE) -> dict[str, dict]:
    """The lines of a JSONL file by instance id, each once, without what is never compared."""
    rows = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        assert row["instance_id"] not in rows, f"two lines for {row['instance_id']} in {path}"
        rows[row["instance_id"]] = _strip(row, drop)
        if row.get("reason") and "kept" in row:  # a rejection's wording may name the flaky test
            rows[row["instance_id"]]["reason"] = row["reason"].split(":")[0]
    return rows


def _same_images(run: Path, reference: Path) -> bool:
    images = [{r.get("env_image") for r in _rows(p / "validation.jsonl", set()).values()} for p in (run, reference)]
    return images[0] == images[1]


def _files(run: Path) -> list[str]:
    return sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if p.is_file() and not p.relative_to(run).as_posix().startswith("envs/"))


def assert_same_validation(run: Path, reference: Path) -> None:
    drop = VOLATILE | FLAKY | (set() if _same_images(run, reference) else IMAGE)
    assert _rows(run / "validation.jsonl", drop) == _rows(reference / "validation.jsonl", drop)
    assert _rows(run / "tasks.jsonl", drop) == _rows(reference / "tasks.jsonl", drop)
    summary = [_strip(json.loads((p / "validation_summary.json").read_text()), FLAKY) for p in (run, reference)]
    assert summary[0] == summary[1]
    for instance in _rows(run / "tasks.jsonl"):  # the logs the jobs wrote reached the run folder
        assert (run / instance / "problem_statement.md").is_file()
        assert sorted(p.name for p in (run / instance / "logs").iterdir()) == sorted(p.name for p in (reference / instance / "logs").iterdir())


def test_validation_and_evaluation_through_ray_equal_the_local_pool(cluster, local, example, tmp_path):
    run = _mined(example, tmp_path / "run")
    proc = _ray(cluster, "validate", str(run), "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert_same_validation(run, local)
    assert len(_rows(run / "validation.jsonl")) == 2

    proc = _ray(cluster, "evaluate", str(run), "-p", "gold", "-p", "empty", "--no-strict", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    drop = VOLATILE | (set() if _same_images(run, local) else IMAGE)
    for model in ("gold", "empty"):
        out, ref = run / "evaluations" / model, local / "evaluations" / model
        assert _rows(out / "results.jsonl", drop) == _rows(ref / "results.jsonl", drop)
        assert json.loads((out / "summary.json").read_text()) == json.loads((ref / "summary.json").read_text())
        for instance in _rows(ref / "results.jsonl"):
            reports = [_strip(json.loads((p / instance / "report.json").read_text()), drop) for p in (out, ref)]
            assert reports[0] == reports[1]
    assert _rows(run / "evaluations" / "gold" / "results.jsonl")  # a control: there was something to compare

    # the evaluation cache works as on the local pool: the same predictions again run nothing
    ledgers = {name: len(cluster.ledger(name)) for name in cluster.caches}
    results = (run / "evaluations" / "gold" / "results.jsonl").read_text()
    proc = _ray(cluster, "evaluate", str(run), "-p", "gold", "--no-strict", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    assert {name: len(cluster.ledger(name)) for name in cluster.caches} == ledgers
    assert (run / "evaluations" / "gold" / "results.jsonl").read_text() == results

    proc = _ray(cluster, "solve", str(run), "--agent", "scripted", "--name", "scripted", "--workers", "2")
    assert proc.returncode == 0, proc.stderr
    predictions = [_rows(p / "predictions" / "scripted.jsonl", drop) for p in (run, local)]
    assert predictions[0] == predictions[1] and len(predictions[0]) == 2
    assert _files(run) == _files(local)

    # every job ran on a node, each node ran some, and each node made its own copy of the repository
    ran = {name: [e for e in cluster.ledger(name) if e["event"] == "end"] for name in ("a", "b")}
    assert all(ran.values()), {name: len(events) for name, events in ran.items()}
    assert sum(len(events) for events in ran.values()) == 2 + 4 + 2  # validate, evaluate gold and empty, solve
    for name in ("a", "b"):
        assert list((cluster.caches[name] / "repos").iterdir()), f"node {name} has no copy of the repository"
        assert not list((cluster.caches[name] / "jobs").iterdir())  # the jobs' scratch copies are gone


def _sandboxes_of(pid: int) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=swegen.pid={pid}"], capture_output=True, text=True)
    return out.stdout.split()


def test_a_worker_killed_mid_validation_is_retried_and_the_outputs_equal_an_uninterrupted_run(cluster, local, example, tmp_path):
    run = _mined(example, tmp_path / "run")
    before = {name: len(cluster.ledger(name)) for name in cluster.caches}
    driver = subprocess.Popen(
        [sys.executable, "-m", "swegen", "validate", str(run), "--workers", "1", "--executor", "ray", "--ray-address", cluster.address],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )
    victim = None
    try:
        deadline = time.monotonic() + 900
        while victim is None and time.monotonic() < deadline and driver.poll() is None:
            for name in cluster.caches:
                for event in cluster.ledger(name)[before[name]:]:
                    # the job's own ledger line names its worker; its sandbox up means it is mid-job
                    if event["event"] == "start" and _sandboxes_of(event["pid"]):
                        victim = event
            time.sleep(0.5)
        assert victim is not None, "no validation job was seen running"
        assert not (run / "validation.jsonl").exists() or victim["job"] not in (run / "validation.jsonl").read_text()
        os.kill(victim["pid"], signal.SIGKILL)
        stdout, stderr = driver.communicate(timeout=1800)
    finally:
        if driver.poll() is None:
            driver.kill()
        if victim:
            for container in _sandboxes_of(victim["pid"]):  # the killed worker's sandbox: ours to remove
                subprocess.run(["docker", "rm", "-f", container], capture_output=True)
    assert driver.returncode == 0, stderr

    starts = sorted((e for name in cluster.caches for e in cluster.ledger(name)[before[name]:] if e["event"] == "start" and e["job"] == victim["job"]),
                    key=lambda e: e["time"])
    # the killed attempt, then one retry in another worker process
    assert [s["pid"] for s in starts][:1] == [victim["pid"]] and len(starts) == 2 and starts[1]["pid"] != victim["pid"], starts
    assert_same_validation(run, local)


def _orphans(cluster: Cluster, since: dict[str, int]) -> None:
    """Remove the sandboxes of the attempts killed in a test (started, never ended): ours alone."""
    for name in cluster.caches:
        events = cluster.ledger(name)[since.get(name, 0):]
        ended = {(e["pid"], e["job"]) for e in events if e["event"] == "end"}
        for event in events:
            if event["event"] == "start" and (event["pid"], event["job"]) not in ended:
                for container in _sandboxes_of(event["pid"]):
                    subprocess.run(["docker", "rm", "-f", container], capture_output=True)


def test_a_killed_driver_resumes_on_the_next_run(cluster, local, example, tmp_path):
    run = _mined(example, tmp_path / "run")
    before = {name: len(cluster.ledger(name)) for name in cluster.caches}
    driver = subprocess.Popen(
        [sys.executable, "-m", "swegen", "validate", str(run), "--workers", "1", "--executor", "ray", "--ray-address", cluster.address],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
    )
    verdicts = run / "validation.jsonl"
    try:
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline and driver.poll() is None and not (verdicts.exists() and verdicts.read_text().count("\n") >= 1):
            time.sleep(0.2)
        assert driver.poll() is None, "the driver ended before it could be killed"
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=60)
    finally:
        if driver.poll() is None:
            driver.kill()
    first = _rows(verdicts)
    assert len(first) == 1  # the second job was in flight: killed with its driver, no line
    proc = _ray(cluster, "validate", str(run), "--workers", "1")
    assert proc.returncode == 0, proc.stderr
    _orphans(cluster, before)
    assert_same_validation(run, local)
    rerun = [e for name in cluster.caches for e in cluster.ledger(name)[before[name]:] if e["event"] == "end"]
    assert sorted(e["job"] for e in rerun) == sorted(_rows(verdicts))  # the finished job did not run again


def test_a_node_without_docker_is_left_out_and_its_job_runs_elsewhere(cluster, local, tmp_path):
    import ray

    run = tmp_path / "run"
    subprocess.run(["cp", "-a", str(local), str(run)], check=True)
    subprocess.run(["rm", "-rf", str(run / "evaluations")], check=True)
    instance = sorted(_rows(local / "tasks.jsonl"))[0]
    ray.init(address=cluster.address, logging_level="ERROR")
    try:
        # every sandbox slot of the nodes with Docker held, so that the job must go to the new node first
        holder = ray.remote(num_cpus=0)(type("Holder", (), {"ready": lambda self: True}))
        held = [holder.options(resources={"docker": 1, f"node_{name}": 1}).remote() for name in ("a", "b")]
        ray.get([h.ready.remote() for h in held], timeout=120)
        cluster.start("c", env={"DOCKER_HOST": f"unix://{tmp_path}/no-daemon.sock"})
        driver = subprocess.Popen(
            [sys.executable, "-m", "swegen", "evaluate", str(run), "-p", "gold", "--instance", instance, "--no-strict", "--workers", "1",
             "--executor", "ray", "--ray-address", cluster.address],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
        )
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline and not any(e["event"] == "unfit" for e in cluster.ledger("c")) and driver.poll() is None:
            time.sleep(0.5)
        for h in held:
            ray.kill(h)
        _, stderr = driver.communicate(timeout=1200)
    finally:
        ray.shutdown()
    assert driver.returncode == 0, stderr
    unfit = [e for e in cluster.ledger("c") if e["event"] == "unfit"]
    assert unfit and "Docker does not answer" in unfit[0]["reason"], cluster.ledger("c")
    assert not [e for e in cluster.ledger("c") if e["event"] == "end"]
    ran = [e for name in ("a", "b") for e in cluster.ledger(name) if e["event"] == "end" and e["job"] == instance]
    assert ran, "the job did not run on a node with Docker"
    rows = _rows(run / "evaluations" / "gold" / "results.jsonl")
    assert rows == {instance: _rows(local / "evaluations" / "gold" / "results.jsonl")[instance]}
    assert rows[instance]["status"] == "resolved"  # not an infrastructure error: it ran where Docker answers


def _ensure_on(cluster: Cluster, name: str, source, copies: int = 1) -> list[bool]:
    """node.ensure_image(source) in Ray tasks on node `name` (several at once with `copies`)."""
    import ray

    def ensure(source):  # defined here, so that Ray ships it by value (the workers cannot import tests/)
        from swegen.executors import node

        return node.ensure_image(source)

    ray.init(address=cluster.address, logging_level="ERROR")
    try:
        task = ray.remote(num_cpus=0)(ensure)
        return ray.get([task.options(resources={f"node_{name}": 1 / copies}).remote(source) for _ in range(copies)], timeout=900)
    finally:
        ray.shutdown()


def test_an_image_a_node_lacks_is_built_there_once_from_the_recipe_the_job_carries(cluster, base_image):
    from swegen.executors.node import ImageSource
    from swegen.images import EnvRecipe, base_image_id, env_fingerprint, env_tag, image_labels

    recipe = EnvRecipe(base_image=base_image, env=(("SWEGEN_RAY_TEST", os.urandom(8).hex()),))
    tag = env_tag(env_fingerprint(recipe, base_image_id(base_image), None))
    assert image_labels(tag) is None
    try:
        # two workers of one node at once: one builds, the other waits on the node's lock and finds it
        made = _ensure_on(cluster, "a", ImageSource(tag, recipe), copies=2)
        assert sorted(made) == [False, True]
        assert image_labels(tag) is not None
        assert len(list((cluster.caches["a"] / "builds").iterdir())) == 1
        # the other node shares this machine's daemon: the image is there, nothing to make
        assert _ensure_on(cluster, "b", ImageSource(tag, recipe)) == [False]
    finally:
        subprocess.run(["docker", "rmi", "-f", tag], capture_output=True)


@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry (the reference registry, registry:2's code) on a free loopback port."""
    binary = shutil.which("docker-registry")
    if not binary:
        if IN_CI:
            pytest.fail("docker-registry is missing (scripts/setup.sh installs it)")
        pytest.skip("no docker-registry here (scripts/setup.sh installs it)")
    port = _free_port()
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {tmp_path / 'blobs'}\nhttp:\n  addr: 127.0.0.1:{port}\n")
    proc = subprocess.Popen([binary, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_with_a_registry_the_driver_pushes_an_image_and_a_node_that_lacks_it_pulls_it(cluster, registry, tmp_path):
    from swegen.executors.node import ImageSource
    from swegen.executors.ray_cluster import push
    from swegen.images import image_labels

    # a tiny image of our own under an environment image's name (what is pushed does not matter here)
    tag = f"swegen-env:raytest{os.urandom(4).hex()}"
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "marker").write_text("pushed\n")
    subprocess.run(["tar", "-C", str(tmp_path / "root"), "-cf", str(tmp_path / "image.tar"), "."], check=True)
    subprocess.run(["docker", "import", str(tmp_path / "image.tar"), tag], check=True, capture_output=True)
    pushed = push(tag, registry)
    assert pushed == f"{registry}/{tag}"
    try:
        subprocess.run(["docker", "rmi", tag, pushed], check=True, capture_output=True)
        assert image_labels(tag) is None
        # no recipe: only the registry can give it
        assert _ensure_on(cluster, "b", ImageSource(tag, None, None, pushed)) == [True]
        assert image_labels(tag) is not None
        assert not (cluster.caches["b"] / "builds").exists()
    finally:
        subprocess.run(["docker", "rmi", "-f", tag, pushed], capture_output=True)


def test_a_cluster_that_does_not_answer_is_one_line_and_exit_2_before_any_work(example, tmp_path):
    run = _mined(example, tmp_path / "run")
    before = _files(run)
    proc = run_cli("validate", str(run), "--executor", "ray", "--ray-address", f"127.0.0.1:{_free_port()}", timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "no Ray cluster answers at 127.0.0.1:" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert _files(run) == before and not (run / "envs").exists()


def test_the_executor_also_comes_from_the_environment_and_from_the_config_file(example, tmp_path):
    run = _mined(example, tmp_path / "run")
    port = _free_port()
    proc = run_cli("validate", str(run), env={"SWEGEN_EXECUTOR": "ray", "SWEGEN_RAY_ADDRESS": f"127.0.0.1:{port}"}, timeout=120)
    assert proc.returncode == 2 and f"no Ray cluster answers at 127.0.0.1:{port}" in proc.stderr, proc.stderr
    config = tmp_path / "swegen.toml"
    config.write_text(f'[executor]\nkind = "ray"\nray_address = "127.0.0.1:{port}"\n')
    proc = run_cli("validate", str(run), "--config", str(config), timeout=120)
    assert proc.returncode == 2 and f"no Ray cluster answers at 127.0.0.1:{port}" in proc.stderr, proc.stderr
    # a flag wins over the file
    proc = run_cli("validate", str(run), "--config", str(config), "--ray-address", f"127.0.0.1:{port + 1 if port < 65535 else port - 1}", timeout=120)
    assert proc.returncode == 2 and f"127.0.0.1:{port} " not in proc.stderr, proc.stderr
    config.write_text("[executor]\nkind = 1\n")
    proc = run_cli("validate", str(run), "--config", str(config), timeout=120)
    assert proc.returncode == 2 and "executor.kind must be a string" in proc.stderr, proc.stderr
    config.write_text('[executor]\nkind = "slurm"\n')
    proc = run_cli("validate", str(run), "--config", str(config), timeout=120)
    assert proc.returncode == 2 and "unknown executor 'slurm'" in proc.stderr, proc.stderr
    assert not (run / "validation.jsonl").exists()
