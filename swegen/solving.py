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

The agent never sees the gold patch, the test patch, the FAIL_TO_PASS / PASS_TO_PASS lists, or
any later commit: none of them is in its sandbox. Predictions are appended to
RUN_DIR/predictions/<model>.jsonl as they arrive; a resumed run skips the tasks already solved.
"""

from __future__ import annotations

import io
import os
import tarfile
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from swegen.errors import BadInput, SwegenError
from swegen.executor import run_jobs
from swegen.evaluating import load_tasks
from swegen.predictions import model_dir_name
from swegen.records import append_line, read_lines
from swegen.resources import sandbox_file
from swegen.sandbox import Limits
from swegen.testbed import GIT, Container, Environments, Testbed, git_archive, recorded_repo

AGENTS = ("command", "scripted", "openai")
AGENT_DIR = "/swegen/agent"
PROBLEM_FILE = "/swegen/problem_statement.md"

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


def solve(config: SolveConfig, progress: Progress = lambda stage, done, total: None) -> Path:
    """Run the agent on every task not solved yet; returns the predictions file."""
    _check(config)
    tasks = load_tasks(config.run_dir, config.instance_ids)
    out = config.run_dir / "predictions" / f"{model_dir_name(config.name)}.jsonl"
    done = {row["instance_id"] for row in read_lines(out)}
    pending = [t for i, t in sorted(tasks.items()) if i not in done]
    repo = config.repo or recorded_repo(config.run_dir)
    envs = None if config.agent == "openai" else Environments(config.run_dir, repo, config.python, config.base_image, config.ca_bundle, config.config_file)
    jobs = []
    for index, task in enumerate(pending, 1):
        progress(f"{config.name}: preparing", index, len(pending))
        bed = None
        if envs is not None:
            bed, _, error = envs.testbed(task, config.limits)
            if error:
                append_line(out, _line(task["instance_id"], config.name, "", config.agent, error=error))
                continue
        jobs.append(_job(config, task, repo, bed, out))
    progress(f"{config.name}: solving", 0, len(jobs))

    def record(line: str, finished: int) -> None:
        append_line(out, line)
        progress(f"{config.name}: solving", finished, len(jobs))

    run_jobs(run_solve_job, jobs, config.workers, record)
    return out


def _check(config: SolveConfig) -> None:
    if config.agent not in AGENTS:
        raise BadInput(f"unknown agent {config.agent!r}", hint=f"use one of: {', '.join(AGENTS)}")
    if config.agent == "command" and not (config.command or "").strip():
        raise BadInput("the command agent needs a command", hint="pass --cmd 'your-agent --flags' (run in /testbed)")
    if config.agent == "openai" and not (config.base_url and config.model):
        raise BadInput("the openai agent needs an endpoint and a model", hint="pass --base-url URL and --model NAME")
    for path in config.agent_files:
        if not path.exists():
            raise BadInput(f"agent file {path} does not exist", hint="pass existing files with --agent-file")


def _job(config: SolveConfig, task: dict, repo: Path, bed: Testbed | None, out: Path) -> SolveJob:
    command = config.command or ""
    files = tuple(str(p.resolve()) for p in config.agent_files)
    if config.agent == "scripted":
        files = (str(sandbox_file("scripted_agent.py")),)
        command = f"python {AGENT_DIR}/scripted_agent.py --skill {int(config.skill)}"
    log = out.parent / model_dir_name(config.name) / "logs" / f"{task['instance_id']}.txt"
    return SolveJob(
        instance_id=task["instance_id"], repo=str(repo), base_commit=task["base_commit"],
        problem_statement=task["problem_statement"], bed=bed, agent=config.agent, name=config.name,
        command=command, setup=config.setup, agent_files=files, agent_env=dict(config.agent_env),
        allow_network=config.allow_network, timeout=config.timeout, log=str(log),
        base_url=config.base_url, model=config.model, api_key_env=config.api_key_env,
    )


def _line(instance_id: str, name: str, patch: str, agent: str, **extra: object) -> str:
    import json

    record = {"instance_id": instance_id, "model_name_or_path": name, "model_patch": patch, "agent": agent, **extra}
    return json.dumps(record, ensure_ascii=False)


def run_solve_job(job: SolveJob) -> str:
    """Run the agent on one task; the predictions line. An agent's failure is a result, not an error."""
    started = time.monotonic()
    log = Path(job.log)
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        if job.agent == "openai":
            return _openai(job, started)
        return _in_sandbox(job, started, log)
    except SwegenError as exc:
        log.write_text(f"swegen: {exc.one_line()}\n{exc.detail}\n", encoding="utf-8")
        return _line(job.instance_id, job.name, "", job.agent, error=exc.one_line(), seconds=round(time.monotonic() - started, 1))


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
        ran = box.box.exec(["sh", "-c", job.command], timeout=job.timeout, env=env)
        parts.append(f"# agent: {job.command}\n# exit {ran.exit_code}{' (timed out)' if ran.timed_out else ''} after {ran.duration:.1f}s\n{ran.stdout}{ran.stderr}")
        diff = box.git(f"add -A >/dev/null && {GIT} diff --cached --binary --no-color {base}", timeout=300)
        if diff.exit_code != 0:
            raise SwegenError("could not read the agent's changes with git diff", detail=diff.stderr)
    log.write_text("\n".join(parts) + "\n", encoding="utf-8")
    return _line(
        job.instance_id, job.name, diff.stdout, job.agent, exit_code=ran.exit_code, timed_out=ran.timed_out,
        seconds=round(time.monotonic() - started, 1), agent_seconds=round(ran.duration, 1), log=str(log),
    )


def _tar(path: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(str(path), arcname=path.name)
    return buffer.getvalue()


def _openai(job: SolveJob, started: float) -> str:
    from swegen.openai_agent import OpenAIAgentConfig, solve_with_openai

    with tempfile.TemporaryDirectory(prefix="swegen-solve-") as tmp:
        with tarfile.open(fileobj=io.BytesIO(git_archive(job.repo, job.base_commit))) as tar:
            tar.extractall(tmp, filter="data") if hasattr(tarfile, "data_filter") else tar.extractall(tmp)
        config = OpenAIAgentConfig(base_url=job.base_url or "", model=job.model or "", api_key_env=job.api_key_env)
        outcome = solve_with_openai(Path(tmp), job.problem_statement, config)
    Path(job.log).write_text(
        f"# openai agent {job.model} at {job.base_url}\nfiles shown: {', '.join(outcome.files_shown)}\nerror: {outcome.error}\n",
        encoding="utf-8",
    )
    return _line(
        job.instance_id, job.name, outcome.model_patch, job.agent, error=outcome.error,
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



