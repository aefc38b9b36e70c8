"""A stage killed at any moment (SIGKILL of its whole process group) and run again ends with the
outputs of a run never killed, with no duplicate or torn line; a Docker daemon restarting under a
run turns the jobs in flight into infrastructure errors, never verdicts, and the next run completes them.

Every long stage (mine, validate, solve with the scripted and with a command agent, evaluate)
runs once uninterrupted on the bundled example, then again in a copy of its input folder, killed
at random moments drawn from the uninterrupted run's duration (seeded: set SWEGEN_CRASH_SEED to
replay a failure; the seed and the moments are in every assertion message), resumed by running the
same command again, and compared: byte for byte where the output is deterministic, the same
verdicts where it holds timings. Before the last resume, the JSONL file of validate, solve and
evaluate also gets a torn last line, as a kill in the middle of a long write leaves it. The daemon part runs on a private
dockerd (its own socket, data root, and network and mount namespaces), never on the shared one.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import run_cli

# the time limit is for a loaded machine (the module takes a few minutes on an idle one)
pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

SEED = int(os.environ.get("SWEGEN_CRASH_SEED") or random.SystemRandom().randrange(1_000_000))
#: Kill points per stage (mining is cheap to kill, so it gets more).
KILLS = 3
MINE_KILLS = 5
#: Fields that hold timings, paths of the run folder, or fresh random names: never compared.
VOLATILE = {"seconds", "agent_seconds", "duration", "started", "started_at", "log", "canaries", "at"}
#: Which tests flip is random (the example's flaky test depends on the hash seed of each run), so
#: how many were seen flipping is no verdict; the FAIL_TO_PASS and PASS_TO_PASS lists are.
FLAKY = {"flaky", "flaky_tests"}
#: The strict grade also runs the tests beyond FAIL_TO_PASS and PASS_TO_PASS, the flaky one among
#: them, so it too is decided at random on the example.
STRICT = {"strict_resolved", "strict_reason", "regressions", "strict_resolved_instances", "strict_resolved_ids"}
REPO_NAME = "swegen-example/ledger"
#: Validation runs on these candidates of the example (by the manifest's kind, the first of
#: each): two real fixes and the fix whose test passed before it, which validation rejects. Solve
#: and evaluate run on the tasks they become (`--instance`). Fewer candidates keep the module short.
SUBSET = ("bugfix", "bugfix", "fix-test-already-passes")
#: A command agent whose changes are deterministic (so its predictions compare byte for byte)
#: and that takes long enough to be killed in the middle.
COMMAND_AGENT = 'printf "%s\\n" "$SWEGEN_INSTANCE_ID" >> README.md && sleep 2'
WORKERS = ("--workers", "2")


def _swegen(*args: str) -> list[str]:
    return [sys.executable, "-m", "swegen", *args]


# -- running and killing ------------------------------------------------------------------------


@dataclasses.dataclass
class Stage:
    """One command of the pipeline, as run in a given run folder."""

    name: str
    args: tuple[str, ...]
    env: dict[str, str] = dataclasses.field(default_factory=dict)

    def start(self, log: Path) -> subprocess.Popen:
        # a session of its own: the kill takes the command, its worker processes and its git
        # children at once, and never this test
        handle = open(log, "ab")
        try:
            return subprocess.Popen(_swegen(*self.args), stdout=handle, stderr=subprocess.STDOUT,
                                    env={**os.environ, **self.env}, start_new_session=True)
        finally:
            handle.close()


def _group(pgid: int) -> set[int]:
    """The processes of a process group, from /proc."""
    pids = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == pgid:
            pids.add(int(entry))
    return pids


def _remove_containers_of(pids: set[int], docker_host: str | None = None) -> int:
    """Remove the sandboxes the killed processes left running (only theirs: other people's
    tests share the daemon, so no `swegen clean` here)."""
    import docker

    client = docker.DockerClient(base_url=docker_host) if docker_host else docker.from_env()
    removed = 0
    try:
        for container in client.containers.list(all=True, filters={"label": "swegen.managed=true"}):
            if container.labels.get("swegen.pid", "").isdigit() and int(container.labels["swegen.pid"]) in pids:
                try:
                    container.remove(force=True)
                except docker.errors.NotFound:
                    continue  # gone meanwhile (someone's `swegen clean` saw its owner dead too)
                except docker.errors.APIError as exc:
                    if exc.status_code != 409:  # 409: its removal is under way already
                        raise
                removed += 1
    finally:
        client.close()
    return removed


def _run_to_end(stage: Stage, log: Path, timeout: float = 600) -> float:
    started = time.monotonic()
    proc = stage.start(log)
    code = proc.wait(timeout=timeout)
    assert code == 0, f"{stage.name} failed ({code}), seed {SEED}:\n{log.read_text()[-3000:]}"
    return time.monotonic() - started


def _kill_and_resume(stage: Stage, delays: list[float], log: Path, docker_host: str | None = None) -> list[bool]:
    """Run `stage`, SIGKILL it after each delay in turn (running it again after each kill), then
    run it to the end. Whether each kill found the command still running."""
    landed = []
    for delay in delays:
        proc = stage.start(log)
        try:
            code = proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            pids = _group(proc.pid)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            _remove_containers_of(pids | {proc.pid}, docker_host)
            landed.append(True)
            continue
        assert code == 0, f"{stage.name} failed ({code}) before its kill at {delay:.2f}s, seed {SEED}:\n{log.read_text()[-3000:]}"
        landed.append(False)
    _run_to_end(stage, log)
    return landed


def _cumulative_delays(rng: random.Random, duration: float, kills: int) -> list[float]:
    """Kill moments spread over the stage's work: cumulative points in (5%, 85%) of the
    uninterrupted duration, as delays from each resumed run's start."""
    points = sorted(rng.uniform(0.05, 0.85) * duration for _ in range(kills))
    return [round(b - a, 2) for a, b in zip([0.0, *points], points)]


# -- reading outputs ----------------------------------------------------------------------------


def _strip(data: Any, also: set[str] = set()) -> Any:
    if isinstance(data, dict):
        return {k: _strip(v, also) for k, v in data.items() if k not in VOLATILE | also}
    if isinstance(data, list):
        return [_strip(v, also) for v in data]
    return data


def _jsonl(path: Path, unique: bool = True) -> dict[str, list[dict]]:
    """Every line of a JSONL file by instance id; fails on a torn or unparsable line, and (with
    `unique`) on a second line for one instance."""
    raw = path.read_bytes()
    assert raw.endswith(b"\n"), f"{path} ends in a torn line, seed {SEED}"
    rows: dict[str, list[dict]] = {}
    for number, line in enumerate(raw.split(b"\n")[:-1], 1):
        try:
            row = json.loads(line.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise AssertionError(f"{path} line {number} does not parse ({exc}), seed {SEED}: {line[:200]!r}") from None
        rows.setdefault(row["instance_id"], []).append(row)
    if unique:
        twice = sorted(i for i, lines in rows.items() if len(lines) > 1)
        assert not twice, f"{path} has more than one line for {twice}, seed {SEED}"
    return rows


def _last(rows: dict[str, list[dict]], also: set[str] = set()) -> dict[str, dict]:
    return {i: _strip(lines[-1], also) for i, lines in rows.items()}


def _verdicts(path: Path, unique: bool = True) -> dict[str, dict]:
    """validation.jsonl's last verdicts, without what the flaky test decides at random: which
    tests were seen flipping, and so the wording of a rejection (its code after "reason" stays)."""
    rows = _last(_jsonl(path, unique), FLAKY)
    for row in rows.values():
        if row.get("reason"):
            row["reason"] = row["reason"].split(":")[0]
    return rows


def _files(root: Path, skip: tuple[str, ...] = ()) -> dict[str, bytes]:
    """Every file under `root` by relative path (folders in `skip` left out)."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not any(rel == s or rel.startswith(s + "/") for s in skip):
            found[rel] = path.read_bytes()
    return found


def _summary(folder: Path) -> dict:
    return _strip(json.loads((folder / "summary.json").read_text()), STRICT)


def _no_debris(root: Path) -> None:
    debris = [p.relative_to(root).as_posix() for p in root.rglob("*.tmp")]
    assert not debris, f"temporary files left in {root}: {debris}, seed {SEED}"


def _tear(path: Path, rng: random.Random, whole: bool = False) -> str:
    """Leave `path` as a kill in the middle of writing its last line does: cut inside that line
    (inside a UTF-8 sequence when it has one), or with `whole` only its newline dropped."""
    data = path.read_bytes()
    assert data.endswith(b"\n") and data.count(b"\n") >= 2, f"{path} is too short to tear"
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    line = data[start:-1]
    if whole:
        path.write_bytes(data[:-1])
        return "newline dropped"
    multibyte = [i for i, byte in enumerate(line) if byte >= 0xC0]
    cut = multibyte[0] + 1 if multibyte else rng.randrange(1, len(line) - 1)
    path.write_bytes(data[: start + cut])
    return f"cut at byte {cut} of {len(line)}"


# -- the file helpers every stage writes with (no Docker needed) -------------------------------


@dataclasses.dataclass(frozen=True)
class _Row:
    instance_id: str


def test_a_torn_last_line_is_dropped_and_the_next_append_is_whole(tmp_path):
    from swegen.records import JsonlWriter, append_line, read_lines

    for writer in ("append_line", "JsonlWriter"):
        path = tmp_path / f"{writer}.jsonl"
        path.write_bytes('{"instance_id": "a", "x": "é"}\n{"instance_id": "b", "x": "é'.encode()[:-1])  # cut inside é
        assert [r["instance_id"] for r in read_lines(path)] == ["a"]  # the reader neither stops nor counts b
        if writer == "append_line":
            append_line(path, json.dumps({"instance_id": "b"}))
        else:
            with JsonlWriter(path) as sink:
                sink.write(_Row("b"))
        assert [r["instance_id"] for r in read_lines(path)] == ["a", "b"], path.read_bytes()
        assert path.read_bytes().count(b"\n") == 2 and path.read_bytes().endswith(b"\n")


def test_a_whole_last_line_without_its_newline_is_kept_once(tmp_path):
    from swegen.records import append_line, read_lines

    path = tmp_path / "p.jsonl"
    path.write_text('{"instance_id": "a"}\n{"instance_id": "b"}')
    assert [r["instance_id"] for r in read_lines(path)] == ["a", "b"]
    append_line(path, json.dumps({"instance_id": "c"}))
    assert path.read_text() == '{"instance_id": "a"}\n{"instance_id": "b"}\n{"instance_id": "c"}\n'


def test_a_killed_writers_temporary_file_is_removed_and_a_live_ones_kept(tmp_path):
    from swegen.records import write_atomic

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".task.json.{dead.stdout.strip()}.abc.tmp"
    live = tmp_path / f".task.json.{os.getppid()}.abc.tmp"
    stale.write_text("{")
    live.write_text("{")
    write_atomic(tmp_path / "task.json", "{}\n")
    assert not stale.exists() and live.exists()
    assert (tmp_path / "task.json").read_text() == "{}\n"


# -- the uninterrupted run ----------------------------------------------------------------------


@dataclasses.dataclass
class Baseline:
    root: Path
    repo: Path
    mined: Path
    #: `mined` with only the SUBSET of candidates left to validate.
    subset: Path
    validated: Path
    solved: Path
    evaluated: Path
    #: The tasks solve and evaluate run on.
    instances: tuple[str, ...]
    seconds: dict[str, float]
    #: Seconds from the start of `swegen mine` until it wrote run.json (interpreter start, imports).
    mine_start: float


def _mine_stage(repo: Path, out: Path) -> Stage:
    return Stage("mine", ("mine", str(repo), "-o", str(out), "--repo-name", REPO_NAME, "--no-validate"))


def _validate_stage(run: Path) -> Stage:
    return Stage("validate", ("validate", str(run), *WORKERS))


def _only(instances: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(a for i in instances for a in ("--instance", i))


def _solve_stages(run: Path, instances: tuple[str, ...]) -> list[Stage]:
    only = (*_only(instances), *WORKERS)
    return [
        Stage("solve scripted", ("solve", str(run), "--agent", "scripted", "--name", "scripted-agent", *only)),
        Stage("solve command", ("solve", str(run), "--agent", "command", "--cmd", COMMAND_AGENT, "--name", "command-agent", *only)),
    ]


def _evaluate_stage(run: Path, instances: tuple[str, ...], *predictions: str) -> Stage:
    sources = predictions or ("gold", "empty", str(run / "predictions" / "scripted-agent.jsonl"), str(run / "predictions" / "command-agent.jsonl"))
    return Stage("evaluate", ("evaluate", str(run), *(a for p in sources for a in ("-p", p)), *_only(instances), *WORKERS))


@pytest.fixture(scope="module")
def baseline(base_image, tmp_path_factory) -> Baseline:
    root = tmp_path_factory.mktemp("crash")
    repo = root / "repo"
    made = run_cli("example", "create", str(repo))
    assert made.returncode == 0, made.stderr
    run, log, seconds = root / "run", root / "baseline.log", {}
    started = time.monotonic()
    proc = _mine_stage(repo, run).start(log)
    while not (run / "run.json").exists() and proc.poll() is None:
        time.sleep(0.002)
    mine_start = time.monotonic() - started
    assert proc.wait(timeout=300) == 0, log.read_text()
    seconds["mine"] = time.monotonic() - started
    mined = shutil.copytree(run, root / "mined")
    _keep_candidates(run, _subset_ids(run))
    subset = shutil.copytree(run, root / "subset")
    seconds["validate"] = _run_to_end(_validate_stage(run), log)
    validated = shutil.copytree(run, root / "validated")
    instances = tuple(sorted(_jsonl(run / "tasks.jsonl"))) if (run / "tasks.jsonl").stat().st_size else ()
    verdicts = {i: {k: rows[-1].get(k) for k in ("kept", "reason", "infra_error")} for i, rows in _jsonl(run / "validation.jsonl").items()}
    assert len(instances) == 2, f"validation kept {instances}: {verdicts}\n{log.read_text()[-3000:]}"
    for stage in _solve_stages(run, instances):
        seconds[stage.name] = _run_to_end(stage, log)
    solved = shutil.copytree(run, root / "solved")
    seconds["evaluate"] = _run_to_end(_evaluate_stage(run, instances), log)
    return Baseline(root, repo, mined, subset, validated, solved, run, instances, seconds, mine_start)


def _subset_ids(run: Path) -> list[str]:
    """The instance ids of the SUBSET candidates, matched to the manifest by commit subject."""
    from swegen.example import load_manifest

    kinds = {change["subject"]: change["kind"] for change in load_manifest()["changes"]}
    kept = [row for rows in _jsonl(run / "candidates.jsonl", unique=False).values() for row in rows if row.get("kept")]
    chosen = []
    for kind in SUBSET:
        match = [r["instance_id"] for r in kept if kinds.get(r.get("subject")) == kind and r["instance_id"] not in chosen]
        assert match, f"no kept candidate of kind {kind} in the example"
        chosen.append(match[0])
    return chosen


def _keep_candidates(run: Path, ids: list[str]) -> None:
    """Leave only these kept candidates in candidates.jsonl (validate has no --instance)."""
    lines = (run / "candidates.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)
    keep = [line for line in lines if not json.loads(line).get("kept") or json.loads(line)["instance_id"] in ids]
    (run / "candidates.jsonl").write_text("".join(keep), encoding="utf-8")


def _copy(source: Path, dest: Path) -> Path:
    return Path(shutil.copytree(source, dest))


# -- the kills ----------------------------------------------------------------------------------


def _kill_mine(stage: Stage, out: Path, rng: random.Random, work: float, log: Path) -> list[str]:
    """Kill `swegen mine` MINE_KILLS times at random moments of its work (after it wrote run.json:
    before, only the interpreter is starting). Mining takes a second, and how long depends on the
    machine's load, so a moment the run did not live to see is drawn again from what it took."""
    kills: list[str] = []
    for _ in range(4 * MINE_KILLS):
        if len(kills) == MINE_KILLS:
            break
        before = (out / "run.json").stat().st_ino if (out / "run.json").exists() else None
        delay = round(rng.uniform(0.0, 0.9) * work, 3)
        proc = stage.start(log)
        while proc.poll() is None and (not (out / "run.json").exists() or (out / "run.json").stat().st_ino == before):
            time.sleep(0.001)
        anchored = time.monotonic()
        try:
            proc.wait(timeout=delay)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
            kills.append(f"{delay}s")
            continue
        assert proc.returncode == 0, log.read_text()[-3000:]
        work = time.monotonic() - anchored
    return kills


def test_mine_killed_anywhere_resumes_to_the_same_candidates_and_task_folders(baseline, tmp_path):
    rng = random.Random(f"{SEED}-mine")
    out = tmp_path / "run"
    stage = _mine_stage(baseline.repo, out)
    kills = _kill_mine(stage, out, rng, baseline.seconds["mine"] - baseline.mine_start, tmp_path / "log")
    _run_to_end(stage, tmp_path / "log")
    where = f"seed {SEED}, killed {kills} after run.json was written"
    assert len(kills) == MINE_KILLS, where
    _no_debris(out)
    want, got = _files(baseline.mined), _files(out)
    assert sorted(got) == sorted(want), where
    for rel in want:
        if rel == "run.json":
            assert _strip(json.loads(got[rel])) == _strip(json.loads(want[rel])), where
        else:
            assert got[rel] == want[rel], f"{rel} differs, {where}"
    _jsonl(out / "candidates.jsonl", unique=False)  # every line whole (rejections share no id rule)


def test_validate_killed_anywhere_resumes_to_the_same_tasks(baseline, tmp_path):
    rng = random.Random(f"{SEED}-validate")
    delays = _cumulative_delays(rng, baseline.seconds["validate"], KILLS)
    run = _copy(baseline.subset, tmp_path / "run")
    stage = _validate_stage(run)
    # killed runs, then a torn last verdict before the last resume
    landed = _kill_and_resume(dataclasses.replace(stage), delays, tmp_path / "log")
    where = f"seed {SEED}, kill delays {delays}s (landed: {landed})"
    assert sum(landed) >= 2, where
    torn = _tear(run / "validation.jsonl", rng)
    _run_to_end(stage, tmp_path / "log")
    where += f", validation.jsonl {torn}"
    _no_debris(run)
    want = baseline.validated
    assert (run / "tasks.jsonl").read_bytes() == (want / "tasks.jsonl").read_bytes(), where
    summary = json.loads((run / "validation_summary.json").read_text())
    assert _strip(summary, FLAKY) == _strip(json.loads((want / "validation_summary.json").read_text()), FLAKY), where
    assert _verdicts(run / "validation.jsonl") == _verdicts(want / "validation.jsonl"), where
    # the same files (a log per run of each candidate), the same bytes but in logs
    skip = ("envs",)
    got, expected = _files(run, skip), _files(want, skip)
    assert sorted(got) == sorted(expected), where
    for rel, data in expected.items():
        assert "/logs/" in rel or rel in ("run.json", "validation.jsonl", "validation_summary.json") or got[rel] == data, f"{rel} differs, {where}"


def test_solve_killed_anywhere_resumes_to_the_same_predictions(baseline, tmp_path):
    rng = random.Random(f"{SEED}-solve")
    run = _copy(baseline.validated, tmp_path / "run")
    report = []
    for stage, whole in zip(_solve_stages(run, baseline.instances), (True, False)):
        delays = _cumulative_delays(rng, baseline.seconds[stage.name], KILLS)
        landed = _kill_and_resume(stage, delays, tmp_path / "log")
        name = stage.args[stage.args.index("--name") + 1]
        path = run / "predictions" / f"{name}.jsonl"
        torn = _tear(path, rng, whole=whole)
        _run_to_end(stage, tmp_path / "log")
        report.append(f"{stage.name}: kill delays {delays}s (landed: {landed}), {torn}")
        where = f"seed {SEED}, " + "; ".join(report)
        assert sum(landed) >= 2, where
        got, want = _jsonl(path), _jsonl(baseline.solved / "predictions" / f"{name}.jsonl")
        assert _last(got) == _last(want), where
        assert all(rows[-1]["model_patch"].strip() for rows in got.values()), where
        logs = run / "predictions" / name / "logs"
        assert sorted(p.name for p in logs.iterdir()) == sorted(f"{i}.txt" for i in want), where
    _no_debris(run)


def test_evaluate_killed_anywhere_resumes_to_the_same_verdicts(baseline, tmp_path):
    rng = random.Random(f"{SEED}-evaluate")
    delays = _cumulative_delays(rng, baseline.seconds["evaluate"], KILLS)
    run = _copy(baseline.solved, tmp_path / "run")
    stage = _evaluate_stage(run, baseline.instances)
    landed = _kill_and_resume(stage, delays, tmp_path / "log")
    where = f"seed {SEED}, kill delays {delays}s (landed: {landed})"
    assert sum(landed) >= 2, where
    models = sorted(p.name for p in (baseline.evaluated / "evaluations").iterdir())
    assert models == ["command-agent", "empty", "gold", "scripted-agent"], where
    torn_model = rng.choice(models)
    torn = _tear(run / "evaluations" / torn_model / "results.jsonl", rng)
    _run_to_end(stage, tmp_path / "log")
    where += f", {torn_model}/results.jsonl {torn}"
    _no_debris(run)
    for model in models:
        got, want = run / "evaluations" / model, baseline.evaluated / "evaluations" / model
        assert _last(_jsonl(got / "results.jsonl"), STRICT) == _last(_jsonl(want / "results.jsonl"), STRICT), f"{model}: {where}"
        assert _summary(got) == _summary(want), f"{model}: {where}"
        for report in sorted(want.glob("*/report.json")):
            mine = got / report.parent.name / "report.json"
            assert _strip(json.loads(mine.read_text()), STRICT) == _strip(json.loads(report.read_text()), STRICT), f"{mine}: {where}"
            assert (mine.parent / "patch.diff").read_bytes() == (report.parent / "patch.diff").read_bytes(), where
        assert sorted(_files(got)) == sorted(_files(want)), f"{model}: {where}"


# -- the Docker daemon restarting under a run -------------------------------------------------


class PrivateDaemon:
    """A dockerd of this test's own: its socket, data and exec roots, and its own network and
    mount namespaces (a daemon with --bridge=none deletes the host's docker0 bridge, which the
    shared daemon needs, unless it has a network namespace of its own). Stopping and starting it
    is a daemon restart that no one else sees."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = f"unix://{root}/docker.sock"
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        import docker

        r = self.root
        argv = ["unshare", "--net", "--mount", "--fork", "dockerd", "-H", self.host, "--data-root", f"{r}/data",
                "--exec-root", f"{r}/exec", "--pidfile", f"{r}/docker.pid", "--bridge=none", "--iptables=false",
                "--ip6tables=false", "--ip-masq=false", "--storage-driver=overlay2", f"--cgroup-parent=swegen-test-{os.getpid()}"]
        with open(r / "dockerd.log", "ab") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (r / "dockerd.log").read_text()[-2000:]
            try:
                client = docker.DockerClient(base_url=self.host, timeout=5)
                client.ping()
                client.close()
                return
            except Exception:
                time.sleep(0.2)
        raise AssertionError("the private dockerd did not answer in 60s:\n" + (r / "dockerd.log").read_text()[-2000:])

    def stop(self) -> None:
        """A daemon restart's first half, as `systemctl restart docker` does it (SIGTERM)."""
        assert self.proc is not None
        pid = int((self.root / "docker.pid").read_text().strip())
        os.kill(pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def client(self) -> Any:
        import docker

        return docker.DockerClient(base_url=self.host, timeout=120)

    def load(self, images: list[str]) -> None:
        """Copy images from the shared daemon (read only there) into this one."""
        save = subprocess.Popen(["docker", "save", *images], stdout=subprocess.PIPE)
        load = subprocess.run(["docker", "load"], stdin=save.stdout, capture_output=True, env={**os.environ, "DOCKER_HOST": self.host})
        assert save.stdout is not None
        save.stdout.close()
        assert save.wait() == 0 and load.returncode == 0, load.stderr


@pytest.fixture(scope="module")
def private_daemon(baseline, base_image) -> Any:
    if not (shutil.which("dockerd") and shutil.which("unshare") and shutil.which("docker")) or os.geteuid() != 0:
        pytest.skip("a private Docker daemon needs root, dockerd, unshare and the docker CLI")
    root = Path(tempfile.mkdtemp(prefix="swegen-dockerd-", dir="/tmp"))  # a short path: a socket's limit is 107 bytes
    daemon = PrivateDaemon(root)
    daemon.start()
    try:
        envs = {row["env_image"] for rows in _jsonl(baseline.validated / "validation.jsonl").values() for row in rows if row.get("env_image")}
        daemon.load([base_image, *sorted(envs)])
        yield daemon
    finally:
        if daemon.proc is None:
            daemon.start()
        with contextlib.closing(daemon.client()) as client:
            for container in client.containers.list(all=True):
                container.remove(force=True)
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


def _in_flight(daemon: PrivateDaemon) -> set[str]:
    with contextlib.closing(daemon.client()) as client:
        return {c.labels.get("swegen.instance", "") for c in client.containers.list(filters={"label": "swegen.managed=true"})}


def _clean(daemon: PrivateDaemon) -> None:
    """`swegen clean` removes the sandboxes the restart stopped (their owners have exited)."""
    cleaned = run_cli("clean", env={"DOCKER_HOST": daemon.host})
    assert cleaned.returncode == 0, cleaned.stdout + cleaned.stderr
    with contextlib.closing(daemon.client()) as client:
        left = client.containers.list(all=True, filters={"label": "swegen.managed=true"})
    assert left == [], f"`swegen clean` left {left}: {cleaned.stdout}"


def _restart_under(stage: Stage, daemon: PrivateDaemon, rng: random.Random, log: Path) -> tuple[set[str], float]:
    """Run `stage` on the private daemon and stop the daemon a random moment after the first
    sandbox started, at a moment a sandbox runs (between two sandboxes, as when a snapshot is
    being committed, the stop waits for the next); the instances whose sandboxes were running
    then. Starts the daemon again once the stage has ended."""
    proc = stage.start(log)

    def running() -> set[str]:
        deadline = time.monotonic() + 120
        while not (flying := _in_flight(daemon)):
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        return flying

    running()
    delay = round(rng.uniform(1.0, 5.0), 2)
    time.sleep(delay)
    flying = running()
    daemon.stop()
    code = proc.wait(timeout=300)
    output = log.read_text()
    assert code in (0, 2) and "internal error" not in output and "Traceback" not in output, output[-3000:]
    daemon.start()
    return flying, delay


def test_a_daemon_restart_under_evaluate_is_an_infrastructure_error_that_the_next_run_completes(baseline, private_daemon, tmp_path):
    rng = random.Random(f"{SEED}-daemon-evaluate")
    run = _copy(baseline.solved, tmp_path / "run")
    stage = dataclasses.replace(_evaluate_stage(run, baseline.instances, "gold", "empty"), env={"DOCKER_HOST": private_daemon.host})
    flying, delay = _restart_under(stage, private_daemon, rng, tmp_path / "log")
    where = f"seed {SEED}, daemon stopped {delay}s after the first sandbox, in flight: {sorted(flying)}"
    assert flying, where
    errors = set()
    for model in ("gold", "empty"):
        want = _last(_jsonl(baseline.evaluated / "evaluations" / model / "results.jsonl"))
        for instance, row in _last(_jsonl(run / "evaluations" / model / "results.jsonl")).items():
            if row["status"] == "error":
                assert row["infra_error"] and not row["resolved"], where
                errors.add(instance)
            else:  # finished before the restart: the verdict it had without one
                assert _strip(row, STRICT) == _strip(want[instance], STRICT), f"{model} {instance}: {where}"
    assert flying <= errors, f"a job in flight got a verdict: {where}"
    _clean(private_daemon)
    _run_to_end(stage, tmp_path / "log")
    for model in ("gold", "empty"):
        got, want = run / "evaluations" / model, baseline.evaluated / "evaluations" / model
        rows = _jsonl(got / "results.jsonl", unique=False)
        # a line per instance, and before it only the infrastructure error it retried
        assert all(all(r["status"] == "error" for r in lines[:-1]) and len(lines) <= 2 for lines in rows.values()), where
        assert _last(rows, STRICT) == _last(_jsonl(want / "results.jsonl"), STRICT), f"{model}: {where}"
        assert _summary(got) == _summary(want), f"{model}: {where}"
    with contextlib.closing(private_daemon.client()) as client:
        assert client.containers.list(all=True, filters={"label": "swegen.managed=true"}) == [], "sandboxes left behind"


def test_a_daemon_restart_under_validate_is_an_infrastructure_error_that_the_next_run_completes(baseline, private_daemon, tmp_path):
    rng = random.Random(f"{SEED}-daemon-validate")
    run = _copy(baseline.subset, tmp_path / "run")
    verdicts = _verdicts(baseline.validated / "validation.jsonl")
    # two candidates keep it short: one that becomes a task and the one validation rejects
    kept = sorted(i for i, v in verdicts.items() if v["kept"])[:1] + sorted(i for i, v in verdicts.items() if not v["kept"])[:1]
    assert len(kept) == 2, verdicts
    _keep_candidates(run, kept)
    stage = dataclasses.replace(_validate_stage(run), env={"DOCKER_HOST": private_daemon.host})
    flying, delay = _restart_under(stage, private_daemon, rng, tmp_path / "log")
    where = f"seed {SEED}, daemon stopped {delay}s after the first sandbox, in flight: {sorted(flying)}"
    assert flying, where
    first = _verdicts(run / "validation.jsonl")
    for instance in flying:
        assert first[instance]["infra_error"] and not first[instance]["kept"], f"{instance} got a verdict: {where}"
    for instance, row in first.items():
        assert row["infra_error"] or row == verdicts[instance], f"{instance}: {where}"
    _clean(private_daemon)
    _run_to_end(stage, tmp_path / "log")  # no --retry: an infrastructure error is no verdict
    rows = _jsonl(run / "validation.jsonl", unique=False)
    assert all(all(r["infra_error"] for r in lines[:-1]) for lines in rows.values()), where
    assert _verdicts(run / "validation.jsonl", unique=False) == {i: verdicts[i] for i in kept}, where
    want = [line for line in (baseline.validated / "tasks.jsonl").read_text().splitlines(keepends=True) if json.loads(line)["instance_id"] in kept]
    assert (run / "tasks.jsonl").read_text() == "".join(want), where


def test_mine_run_again_after_a_kill_in_its_validation_keeps_the_verdicts_and_their_logs(baseline, tmp_path):
    """`swegen mine` validates too. Killed there and run again, it mines afresh (cheap) but keeps
    the verdicts already written and the logs that go with them, and validation goes on from there.
    (Mining and validating are run apart here so that only the SUBSET is validated.)"""
    run = _copy(baseline.validated, tmp_path / "run")
    # as a kill during the validation of the last candidate leaves the folder
    lines = (run / "validation.jsonl").read_text().splitlines(keepends=True)
    (run / "validation.jsonl").write_text("".join(lines[:-1]))
    (run / "tasks.jsonl").unlink()
    (run / "validation_summary.json").unlink()
    logs = {rel: data for rel, data in _files(run).items() if "/logs/" in rel}
    assert logs
    _run_to_end(_mine_stage(baseline.repo, run), tmp_path / "log")
    assert {rel: data for rel, data in _files(run).items() if "/logs/" in rel} == logs, "mining again lost validation logs"
    for rel, data in _files(baseline.mined).items():
        assert rel == "run.json" or (run / rel).read_bytes() == data, f"{rel} is not what mining writes"
    _keep_candidates(run, _subset_ids(run))
    _run_to_end(_validate_stage(run), tmp_path / "log")
    where = f"{json.loads(lines[-1])['instance_id']} validated again"
    assert (run / "tasks.jsonl").read_bytes() == (baseline.validated / "tasks.jsonl").read_bytes(), where
    assert _verdicts(run / "validation.jsonl") == _verdicts(baseline.validated / "validation.jsonl"), where
    skip = ("envs",)
    assert sorted(_files(run, skip)) == sorted(_files(baseline.validated, skip)), where


def test_verdicts_of_candidates_mined_no_more_are_left_out(baseline, tmp_path):
    """Mining again with other options keeps validation.jsonl: a verdict on a candidate that is no
    longer mined (its folder gone) neither stops validation nor enters tasks.jsonl or the funnel."""
    run = _copy(baseline.validated, tmp_path / "run")
    kept = next(rows[-1] for rows in _jsonl(run / "validation.jsonl").values() if rows[-1]["kept"])
    with open(run / "validation.jsonl", "a", encoding="utf-8") as handle:
        handle.write(json.dumps({**kept, "instance_id": "swegen-example__ledger-000000000000"}) + "\n")
    _run_to_end(_validate_stage(run), tmp_path / "log")
    assert (run / "tasks.jsonl").read_bytes() == (baseline.validated / "tasks.jsonl").read_bytes()
    summary = json.loads((run / "validation_summary.json").read_text())
    want = json.loads((baseline.validated / "validation_summary.json").read_text())
    assert _strip(summary, FLAKY) == _strip(want, FLAKY)
