"""Solving: get a candidate patch per task from a model or a coding agent, as SWE-bench predictions.

Three kinds of agent:

- `command`: any command-line agent (aider, Claude Code, codex, mini-swe-agent, a team's own
  script) runs in a fresh sandbox from the task's environment image. /testbed holds the repository
  at the base commit as a one-commit git repository (no other history, no remote), with the
  project installed; the problem statement is in /swegen/problem_statement.md and in
  $SWEGEN_PROBLEM_STATEMENT. No network unless `allow_network`; a time limit. Afterwards
  `git diff` against the base commit is the model patch; exit code, time and output are kept.
- `scripted`: swegen's deterministic scripted agent (sandbox/scripted_agent.py) run the same way.
- `openai`: the built-in baseline for an OpenAI-compatible endpoint (swegen.openai_agent), given a
  plain copy of the tree at the base commit on the host; nothing of the repository is executed.
- a preset (`mini-swe-agent`, `aider`, `codex`; swegen.agents): a real coding agent from its registry,
  installed into an image layer of its own on the environment image, run headless by its driver
  like a `command` agent; its version, turns and tokens go into the prediction, its trajectory
  into the run folder, and a failing endpoint is an infrastructure error.

The agent never sees the gold patch, the test patch, the FAIL_TO_PASS / PASS_TO_PASS lists, or
any later commit: none of them is in its sandbox. Predictions are appended to
RUN_DIR/predictions/<model>.jsonl as they arrive; a resumed run skips the tasks already solved.

An infrastructure failure is not a prediction: a model endpoint that is down (after retries), an
environment image that does not build, a sandbox that breaks, or an agent command that cannot
start (exit 126/127 from sh) is written as a line with `infra_error` and no patch, which
evaluation counts as an error, never against the model. The next `swegen solve` asks again for
exactly those tasks (their lines are replaced, the finished ones kept). After
`max_infra_errors` of them in a row, solve stops (InfrastructureDown): nothing is gained by
running every remaining task into the same outage.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from swegen.agents import AGENT_OUT, AgentRun, preset as agent_preset, presets as agent_presets, unpack_run
from swegen.errors import BadInput, InfrastructureDown, SwegenError
from swegen.executor import run_jobs
from swegen.evaluating import load_tasks
from swegen.predictions import model_dir_name
from swegen.records import append_line, read_lines, repair_tail, write_atomic
from swegen.resources import sandbox_file
from swegen.sandbox import Limits
from swegen.testbed import GIT, Container, Environments, Testbed, git_archive, recorded_repo

if TYPE_CHECKING:
    from swegen.openai_agent import OpenAIAgentConfig

AGENTS = ("command", "scripted", "openai", *agent_presets())
AGENT_DIR = "/swegen/agent"
PROBLEM_FILE = "/swegen/problem_statement.md"
#: What `sh -c` exits with when the command is not found (127) or cannot be executed (126).
CANNOT_START = (126, 127)

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class SolveConfig:
    """How to solve a run folder's tasks with one agent."""

    run_dir: Path
    agent: str
    #: The model name written into the predictions (model_name_or_path).
    name: str
    #: The command line of a `command` agent, run in /testbed with `sh -c`.
    command: str | None = None
    #: Run once in each sandbox before the agent (e.g. install the agent's tool), same network rule.
    setup: str | None = None
    #: Files or folders copied into /swegen/agent/ in the sandbox (the agent's script, config).
    agent_files: tuple[Path, ...] = ()
    #: Environment variables passed to the agent (e.g. its API key's name=value).
    agent_env: dict[str, str] = field(default_factory=dict)
    allow_network: bool = False
    #: Seconds an agent may work on one task.
    timeout: float = 1800
    workers: int = 1
    instance_ids: tuple[str, ...] = ()
    repo: Path | None = None
    #: The scripted agent's skill: how many of the example's bugs it fixes.
    skill: int = 2
    #: The openai agent: endpoint, model and the variable holding the key.
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    python: str | None = None
    base_image: str | None = None
    ca_bundle: Path | None = None
    config_file: Path | None = None
    limits: Limits = field(default_factory=lambda: Limits(memory="4g", cpus=2.0, pids=2048))
    #: The openai agent: retries of a request that failed on the way, and the first pause (doubling).
    retries: int = 4
    backoff: float = 2.0
    #: Stop after this many infrastructure errors in a row.
    max_infra_errors: int = 5
    #: A command run in the background in the agent's sandbox while the agent works (a local
    #: model server, a proxy); what it leaves running is killed with the agent.
    service: str | None = None
    #: A preset: the agent's version to install instead of the pinned one.
    agent_version: str | None = None


@dataclass(frozen=True)
class SolveJob:
    """One agent on one task: a plain record any worker can run."""

    instance_id: str
    repo: str
    base_commit: str
    problem_statement: str
    bed: Testbed | None
    agent: str
    name: str
    command: str
    setup: str | None
    agent_files: tuple[str, ...]
    agent_env: dict[str, str]
    allow_network: bool
    timeout: float
    log: str
    base_url: str | None = None
    model: str | None = None
    api_key_env: str = "OPENAI_API_KEY"
    retries: int = 4
    backoff: float = 2.0
    service: str | None = None
    #: A preset's name: its driver's result.json and trajectory are read after the run.
    preset: str | None = None


def solve(config: SolveConfig, progress: Progress = lambda stage, done, total: None) -> Path:
    """Run the agent on every task not solved yet (infrastructure errors included); returns the
    predictions file. Raises InfrastructureDown after `max_infra_errors` of them in a row."""
    _check(config)
    tasks = load_tasks(config.run_dir, config.instance_ids)
    out = config.run_dir / "predictions" / f"{model_dir_name(config.name)}.jsonl"
    repo = config.repo or recorded_repo(config.run_dir)
    envs = None if config.agent == "openai" else Environments(config.run_dir, repo, config.python, config.base_image, config.ca_bundle, config.config_file)
    done = finished_predictions(out, set(tasks))
    pending = [t for i, t in sorted(tasks.items()) if i not in done]
    streak = _Streak(config.max_infra_errors)
    agent_images: dict[str, tuple[str, str | None]] = {}
    jobs = []
    for index, task in enumerate(pending, 1):
        progress(f"{config.name}: preparing", index, len(pending))
        bed = None
        if envs is not None:
            bed, _, error = envs.testbed(task, config.limits)
            if not error and config.agent in agent_presets():
                bed, error = _agent_bed(config, bed, agent_images)
            if error:
                line = _line(task["instance_id"], config.name, "", config.agent, infra_error=f"environment: {error}")
                _append(out, line)
                streak.count(line)
                continue
        jobs.append(_job(config, task, repo, bed, out))
    progress(f"{config.name}: solving", 0, len(jobs))

    def record(line: str, finished: int) -> None:
        _append(out, line)
        progress(f"{config.name}: solving", finished, len(jobs))
        streak.count(line)

    run_jobs(run_solve_job, jobs, config.workers, record)
    streak.finish(len(pending))
    return out


def _agent_bed(config: SolveConfig, bed: Testbed | None, built: dict[str, tuple[str, str | None]]) -> tuple[Testbed | None, str | None]:
    """The testbed on the preset's agent image (built once per environment image), or the error."""
    import dataclasses

    from swegen.agents.images import build_agent_image

    assert bed is not None
    if bed.image not in built:
        preset = agent_preset(config.agent)
        log = config.run_dir / "envs" / f"agent-{preset.name}-{bed.image.rsplit(':', 1)[-1]}.log"
        try:
            built[bed.image] = (build_agent_image(preset, bed.image, version=config.agent_version, ca_bundle=config.ca_bundle, log_path=log)[0], None)
        except SwegenError as exc:
            built[bed.image] = ("", f"agent image: {exc.one_line()} (log: {log})")
    image, error = built[bed.image]
    return (None, error) if error else (dataclasses.replace(bed, image=image), None)


def _append(out: Path, line: str) -> None:
    """Append one prediction; a write that fails (a full disk) leaves no half line behind."""
    try:
        append_line(out, line)
    except OSError:
        try:
            repair_tail(out)  # drops the fragment; truncating needs no free space
        except OSError:
            pass
        raise


def finished_predictions(out: Path, retrying: set[str]) -> set[str]:
    """Instance ids with a prediction in `out`. Lines of infrastructure errors of the tasks in
    `retrying` are dropped from the file (rewritten whole, atomically), so that the run about to
    start asks again for exactly those and the file keeps one line per task."""
    repair_tail(out)  # a run killed mid-line leaves a torn line: whole again even when nothing is left to solve
    rows = {row["instance_id"]: row for row in read_lines(out) if isinstance(row, dict) and "instance_id" in row}
    kept = {i: row for i, row in rows.items() if not (row.get("infra_error") and i in retrying)}
    if len(kept) != len(rows):
        write_atomic(out, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in kept.values()))
    return set(kept)


class _Streak:
    """Counts infrastructure errors in a row, in the order results arrive; too many stop the stage."""

    HINT = "fix the endpoint or Docker, then run the same command again: finished predictions are kept, the failed ones are retried"

    def __init__(self, limit: int) -> None:
        self.limit, self.run, self.last = limit, 0, ""

    def count(self, line: str) -> None:
        error = json.loads(line).get("infra_error")
        self.run = self.run + 1 if error else 0
        self.last = error or self.last
        if error and self.limit and self.run >= self.limit:
            raise InfrastructureDown(f"solve stopped after {self.run} infrastructure errors in a row (last: {error})", hint=self.HINT)

    def finish(self, attempted: int) -> None:
        """Fewer tasks than the limit, every one failed: that is an outage too, not a finished run."""
        if self.limit and attempted and self.run == attempted:
            raise InfrastructureDown(f"every one of the {attempted} task(s) failed on infrastructure (last: {self.last})", hint=self.HINT)


def _check(config: SolveConfig) -> None:
    if config.agent not in AGENTS:
        raise BadInput(f"unknown agent {config.agent!r}", hint=f"use one of: {', '.join(AGENTS)}")
    if config.agent == "command" and not (config.command or "").strip():
        raise BadInput("the command agent needs a command", hint="pass --cmd 'your-agent --flags' (run in /testbed)")
    if config.agent == "openai" and not (config.base_url and config.model):
        raise BadInput("the openai agent needs an endpoint and a model", hint="pass --base-url URL and --model NAME")
    if config.agent in agent_presets() and not config.model:
        raise BadInput(f"the {config.agent} agent needs a model", hint="pass --model NAME, and the endpoint with --agent-env OPENAI_API_BASE=URL")
    if config.agent == "openai":
        _openai_config(config.base_url or "", config.model or "", config.api_key_env, config.retries, config.backoff)
    if config.workers < 1:
        raise BadInput(f"workers is {config.workers}", hint="give --workers 1 or more")
    if config.max_infra_errors < 0:
        raise BadInput(f"max_infra_errors is {config.max_infra_errors}", hint="give 1 or more (0: never stop)")
    for path in config.agent_files:
        if not path.exists():
            raise BadInput(f"agent file {path} does not exist", hint="pass existing files with --agent-file")


def _job(config: SolveConfig, task: dict, repo: Path, bed: Testbed | None, out: Path) -> SolveJob:
    command = config.command or ""
    files = tuple(str(p.resolve()) for p in config.agent_files)
    if config.agent == "scripted":
        files = (str(sandbox_file("scripted_agent.py")),)
        command = f"python {AGENT_DIR}/scripted_agent.py --skill {int(config.skill)}"
    env = dict(config.agent_env)
    if config.agent in agent_presets():
        preset = agent_preset(config.agent)
        files += (str(sandbox_file("agent_common.py")), str(sandbox_file(preset.driver)))
        command = preset.command(AGENT_DIR)
        env = {"SWEGEN_MODEL": config.model or "", "SWEGEN_AGENT_OUT": AGENT_OUT, **env}
    log = out.parent / model_dir_name(config.name) / "logs" / f"{task['instance_id']}.txt"
    return SolveJob(
        instance_id=task["instance_id"], repo=str(repo), base_commit=task["base_commit"],
        problem_statement=task["problem_statement"], bed=bed, agent=config.agent, name=config.name,
        command=command, setup=config.setup, agent_files=files, agent_env=env,
        allow_network=config.allow_network, timeout=config.timeout, log=str(log),
        base_url=config.base_url, model=config.model, api_key_env=config.api_key_env,
        retries=config.retries, backoff=config.backoff, service=config.service,
        preset=config.agent if config.agent in agent_presets() else None,
    )


def _line(instance_id: str, name: str, patch: str, agent: str, **extra: object) -> str:
    record = {"instance_id": instance_id, "model_name_or_path": name, "model_patch": patch, "agent": agent, **extra}
    return json.dumps(record, ensure_ascii=False)


def run_solve_job(job: SolveJob) -> str:
    """Run the agent on one task; the predictions line. An agent's failure is a result, not an
    error; a failure of the sandbox or of Docker is a line with `infra_error`."""
    started = time.monotonic()
    log = Path(job.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        if job.agent == "openai":
            return _openai(job, started)
        return _in_sandbox(job, started, log)
    except SwegenError as exc:
        log.write_text(f"swegen: {exc.one_line()}\n{exc.detail}\n", encoding="utf-8")
        return _line(job.instance_id, job.name, "", job.agent, infra_error=f"sandbox: {exc.one_line()}",
                     seconds=round(time.monotonic() - started, 1), log=str(log))


def _in_sandbox(job: SolveJob, started: float, log: Path) -> str:
    assert job.bed is not None
    archive = git_archive(job.repo, job.base_commit)
    env = {
        "SWEGEN_PROBLEM_FILE": PROBLEM_FILE,
        "SWEGEN_PROBLEM_STATEMENT": job.problem_statement,
        "SWEGEN_INSTANCE_ID": job.instance_id,
        "SWEGEN_AGENT_DIR": AGENT_DIR,
        **job.bed.test_env,
        **job.agent_env,
    }
    with Container(job.bed, archive, "solve", network=job.allow_network) as box:
        box.commit_tree()
        install, _ = box.install()
        # files the install wrote into the tree (a generated _version.py) join the one commit,
        # so that the agent's diff holds only the agent's changes
        base = box.commit_tree(amend=True)
        box.box.put(PROBLEM_FILE, job.problem_statement.encode("utf-8"))
        for path in job.agent_files:
            box.box.put_archive(AGENT_DIR, _tar(Path(path)))
        parts = [f"# swegen solve: {job.name} on {job.instance_id} (install: {install})"]
        if job.setup:
            setup = box.box.exec(["sh", "-c", job.setup], timeout=job.timeout, env=env)
            parts.append(f"# setup exit {setup.exit_code}\n{setup.stdout}{setup.stderr}")
        command = job.command
        if job.service:
            # in the agent's own exec: a command's leftovers are killed when it returns
            command = f"( {job.service} ) >/swegen/service.log 2>&1 &\n{job.command}"
        ran = box.box.exec(["sh", "-c", command], timeout=job.timeout, env=env)
        parts.append(f"# agent: {job.command}\n# exit {ran.exit_code}{' (timed out)' if ran.timed_out else ''} after {ran.duration:.1f}s\n{ran.stdout}{ran.stderr}")
        diff = box.git(f"add -A >/dev/null && {GIT} diff --cached --binary --no-color {base}", timeout=300)
        if diff.exit_code != 0:
            raise SwegenError("could not read the agent's changes with git diff", detail=diff.stderr)
        run = _preset_run(job, box, log) if job.preset else None
    log.write_text("\n".join(parts) + "\n", encoding="utf-8")
    extra: dict[str, object] = {}
    if job.preset:
        extra.update(_preset_fields(run, ran.exit_code, ran.timed_out), trajectory=str(log.with_suffix("")))
    if ran.exit_code in CANNOT_START and not ran.timed_out:
        # sh could not find or run the agent: the model was never asked (an uninstalled tool, a typo)
        said = (ran.stderr.strip().splitlines() or [""])[-1][:200]
        extra["infra_error"] = f"the agent command could not start (exit {ran.exit_code}: {said})"
    patch = "" if "infra_error" in extra else diff.stdout
    return _line(
        job.instance_id, job.name, patch, job.agent, exit_code=ran.exit_code, timed_out=ran.timed_out,
        seconds=round(time.monotonic() - started, 1), agent_seconds=round(ran.duration, 1), log=str(log), **extra,
    )


def _preset_run(job: SolveJob, box: Container, log: Path) -> AgentRun | None:
    """Copy the driver's output (result.json, the trajectory) next to the task's log; its result."""
    try:
        archive = box.box.get_archive(AGENT_OUT)
    except SwegenError:
        return None  # the driver never started
    return unpack_run(archive, log.with_suffix(""))


def _preset_fields(run: AgentRun | None, exit_code: int, timed_out: bool) -> dict[str, object]:
    """The prediction's agent figures; infra_error when the endpoint failed or the driver never
    reported (a crash of the agent's tooling is not the model's answer)."""
    if run is None:
        if timed_out:
            return {}
        return {"infra_error": f"the agent wrote no result (exit {exit_code}); see its log"}
    fields = run.fields()
    if run.infra_error:
        fields["infra_error"] = run.infra_error
    return fields


def _tar(path: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(str(path), arcname=path.name)
    return buffer.getvalue()


def _openai_config(base_url: str, model: str, api_key_env: str, retries: int, backoff: float) -> "OpenAIAgentConfig":
    """The openai agent's config (BadInput for a bad URL or policy, so solve fails before any task)."""
    from swegen.llm import RetryPolicy
    from swegen.openai_agent import OpenAIAgentConfig

    retry = RetryPolicy(retries=retries, backoff=backoff, max_backoff=max(60.0, backoff))
    return OpenAIAgentConfig(base_url=base_url, model=model, api_key_env=api_key_env, retry=retry)


def _openai(job: SolveJob, started: float) -> str:
    from swegen.openai_agent import solve_with_openai

    with tempfile.TemporaryDirectory(prefix="swegen-solve-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(git_archive(job.repo, job.base_commit))) as tar:
            tar.extractall(tmp, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(tmp)
        config = _openai_config(job.base_url or "", job.model or "", job.api_key_env, job.retries, job.backoff)
        outcome = solve_with_openai(Path(tmp), job.problem_statement, config)
    Path(job.log).write_text(
        f"# openai agent {job.model} at {job.base_url}\nfiles shown: {', '.join(outcome.files_shown)}\n"
        f"error: {outcome.error}\ninfrastructure error: {outcome.infra_error}\n",
        encoding="utf-8",
    )
    extra = {"infra_error": outcome.infra_error} if outcome.infra_error else {"error": outcome.error}
    return _line(
        job.instance_id, job.name, outcome.model_patch, job.agent, **extra,
        seconds=round(time.monotonic() - started, 1), prompt_tokens=outcome.prompt_tokens,
        completion_tokens=outcome.completion_tokens, files_shown=outcome.files_shown,
    )


def command_from_env(name: str) -> dict[str, str]:
    """NAME or NAME=VALUE items for --agent-env: a bare name takes the host's value."""
    if "=" in name:
        key, value = name.split("=", 1)
        return {key: value}
    if name not in os.environ:
        raise BadInput(f"--agent-env {name}: no such variable in this shell", hint="export it, or pass NAME=VALUE")
    return {name: os.environ[name]}



