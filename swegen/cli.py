"""The command line. The only place that turns SwegenError into one line and an exit code.

Options are checked here, before a stage starts, so that a bad one changes nothing on disk:
dates git cannot read, a repository that cannot be mined, a run folder whose run.json is broken
or newer than this swegen. Every text a user gave or a file held is escaped before the console
sees it, so square brackets print as written instead of being read as rich markup.
"""

from __future__ import annotations

import errno
import functools
import json
import os
import signal
import subprocess
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from swegen import __version__
from swegen.errors import BadInput, NotBuiltYet, SwegenError

out = Console()
err = Console(stderr=True)

#: Which issue brings each stage that is not built yet (so the message says where it stands).
PENDING: dict[str, str] = {}
#: Stages whose commands live in their own modules, once built (each has register(cli)).
STAGE_MODULES = ("swegen.cli_report",)


def option(*decls: str, env: str, **kwargs: Any) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """A click option that can also come from the SWEGEN_<env> environment variable."""
    return click.option(*decls, envvar=f"SWEGEN_{env}", show_envvar=True, **kwargs)


python_option = option("--python", env="PYTHON", default="3.11", show_default=True, help="Python version of the base image.")
base_image_option = option(
    "--base-image", env="BASE_IMAGE", default=None, help="Use this image (e.g. python:3.11-slim) instead of swegen's own base image."
)
config_option = option(
    "--config", "config_file", env="CONFIG", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None,
    help="A swegen.toml that overrides the repository's own.",
)
repo_option = option(
    "--repo", env="REPO", type=click.Path(path_type=Path, exists=True), default=None, help="The repository (default: the one run.json names)."
)
instances_option = option("--instance", "instances", env="INSTANCE", multiple=True, help="Only these instance ids (repeatable).")


def executor_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """--executor, --ray-address and --registry: where the command's jobs run (swegen.executor).
    Put it right above the function: the command runs inside `executor.using(...)`."""

    @functools.wraps(command)
    def run(*args: Any, executor: str | None, ray_address: str | None, registry: str | None, **kwargs: Any) -> Any:
        from swegen import config, executor as executors

        table = config.executor_table(kwargs.get("config_file"))
        kind = executor or table.get("kind") or "local"
        if kind == "ray":
            # a job's paths must mean the same on every node: absolute, under the run folder
            kwargs["run_dir"] = Path(kwargs["run_dir"]).resolve()
        settings = executors.ExecutorSettings(kind=kind, ray_address=ray_address or table.get("ray_address"),
                                              registry=registry or table.get("registry"), root=kwargs.get("run_dir"))
        if kind == "ray":
            from swegen.executors import ray_cluster  # BadInput when the extra is missing

            ray_cluster.connect(settings, kwargs.get("workers") or 1)  # a wrong address fails before any work
        with executors.using(settings):
            return command(*args, **kwargs)

    for decorator in (
        option("--registry", env="REGISTRY", default=None,
               help="With Ray: push environment images to this registry (HOST:PORT[/PREFIX]) for the nodes to pull; default: each node builds its own."),
        option("--ray-address", env="RAY_ADDRESS", default=None,
               help="The Ray cluster to join (HOST:6379, ray://HOST:10001, auto); default: a Ray of this machine alone."),
        option("--executor", env="EXECUTOR", type=click.Choice(["local", "ray"]), default=None,
               help="Where jobs run: local (a process pool, the default) or ray (a Ray cluster; pip install 'swegen[ray]')."),
    ):
        run = decorator(run)
    return run
#: The run.json schema this swegen writes and reads; a newer one needs a newer swegen.
RUN_SCHEMA_VERSION = 1


def git_date(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """A --since/--until value, checked with git's own careful date parser.

    `git log --since` reads anything it cannot parse as "now" (so `--since garbage` silently scans
    nothing); `git config --type=expiry-date` parses the same dates but says when it cannot.
    """
    if value is None:
        return None
    try:
        proc = subprocess.run(["git", "-c", f"swegen.date={value}", "config", "--type=expiry-date", "swegen.date"],
                              capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return value  # no git here: mining will say so
    if proc.returncode != 0 or not value.strip():
        raise BadInput(f"--{param.name} {value!r} is not a date git understands",
                       hint="give a date such as 2024-01-31, '2024-01-31 12:00', '6 months ago' or '@1700000000'")
    return value


def checked_run_dir(ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """A RUN_DIR whose run.json (when there is one) is a JSON object this swegen can read."""
    if value is None:
        return None
    record = value / "run.json"
    if not record.exists():
        return value
    try:
        data = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInput(f"{record} is unreadable or not JSON ({_reason(exc)})",
                       hint="restore it, or mine again into a fresh folder with `swegen mine REPO -o RUN_DIR`") from None
    if not isinstance(data, dict):
        raise BadInput(f"{record} is not a JSON object", hint="restore it, or mine again into a fresh folder")
    version = data.get("schema_version", RUN_SCHEMA_VERSION)
    if not isinstance(version, int) or isinstance(version, bool):
        raise BadInput(f"{record} has schema_version {version!r}, not a number", hint="restore it, or mine again into a fresh folder")
    if version > RUN_SCHEMA_VERSION:
        raise BadInput(f"{value} was written by a newer swegen (run.json schema {version}, this swegen reads {RUN_SCHEMA_VERSION})",
                       hint="upgrade swegen (pip install -U swegen) to read it")
    return value


def _reason(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg}, line {exc.lineno} column {exc.colno}"
    if isinstance(exc, UnicodeDecodeError):
        return "not UTF-8"
    return getattr(exc, "strerror", None) or str(exc)


def run_dir_argument() -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """The RUN_DIR argument of the stages after mining: an existing folder with a readable run.json."""
    return click.argument("run_dir", type=click.Path(path_type=Path, exists=True, file_okay=False), callback=checked_run_dir)


def check_repository(repo: Path, allow_shallow: bool = False) -> None:
    """A path `swegen mine` can walk: a git repository (bare is fine) with its whole history
    (or, with `allow_shallow`, what a shallow clone has of it)."""
    if not repo.exists():
        raise BadInput(f"repository {repo} does not exist", hint="pass the path of a git clone")
    if not repo.is_dir():
        raise BadInput(f"repository {repo} is a file, not a folder", hint="pass the folder of a git clone (or a bare repository)")
    try:
        proc = subprocess.run(["git", "-C", str(repo), "rev-parse", "--is-shallow-repository"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return  # no git: mining says so
    if proc.returncode != 0:
        raise BadInput(f"{repo} is not a git repository", hint="pass the folder of a git clone (git clone URL), or a bare repository")
    if proc.stdout.strip() == "true" and not allow_shallow:
        # CI checkouts are often depth 1: mining one would find nothing and look like a finished run
        raise BadInput(f"{repo} is a shallow clone: its history is cut, so most fixes would be missed",
                       hint=f"fetch the whole history first (git -C {repo} fetch --unshallow), or pass --allow-shallow to mine what is there")


def check_refs(repo: Path, refs: tuple[str, ...]) -> None:
    """Every --ref names a commit (else git log fails midway, after the run folder was started)."""
    for ref in refs:
        proc = subprocess.run(["git", "-C", str(repo), "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], capture_output=True, timeout=60)
        if proc.returncode != 0:
            raise BadInput(f"--ref {ref!r} names no commit in {repo}", hint=f"see `git -C {repo} branch -a` and `git -C {repo} tag` for the refs there")


def check_template(path: Path | None) -> None:
    """A --statement-template that Jinja2 can parse, before mining starts writing."""
    if path is not None:
        from swegen.resources import load_template
        from swegen.statements import STATEMENT_TEMPLATE

        load_template(path, STATEMENT_TEMPLATE)


def check_docker() -> None:
    """DockerUnavailable now, before a command that needs Docker has written anything."""
    from swegen.docker_sandbox import docker_client

    docker_client()


def check_output(output: Path) -> None:
    """An output folder path that is not a file (mining writes a folder there)."""
    if output.exists() and not output.is_dir():
        raise BadInput(f"output {output} is a file", hint="pass a folder for the run with -o RUN_DIR")
detect_python_option = option("--python", env="PYTHON", default=None, help="Force this Python version instead of detecting one.")
ca_bundle_option = option(
    "--ca-bundle",
    env="CA_BUNDLE",
    default="auto",
    show_default=True,
    help="CA bundle to inject into images: 'auto' (the host's, when it has a custom CA), 'none', or a PEM file.",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="swegen")
@option("-v", "--verbose", env="VERBOSE", is_flag=True, help="Show details and tracebacks of errors.")
def cli(verbose: bool) -> None:
    """Build a private, SWE-bench-style coding eval from a repository's own git history.

    \b
    Pipeline:  mine -> validate -> solve -> evaluate -> report
    Start with `swegen doctor`, then `swegen demo`.
    """


def _pending(name: str) -> None:
    @cli.command(
        name,
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        help=f"(not built yet: {PENDING[name]})",
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        raise NotBuiltYet(f"swegen {name} is not built yet", hint=PENDING[name])


def _register_stage_modules() -> None:
    import importlib

    for module in STAGE_MODULES:
        importlib.import_module(module).register(cli)
    for name in PENDING:
        if name not in cli.commands:
            _pending(name)


_register_stage_modules()


# -- mine --------------------------------------------------------------------------------------


@cli.command()
@click.argument("repo", type=click.Path(path_type=Path))
@option("-o", "--output", env="OUTPUT", type=click.Path(path_type=Path), default=None, help="Run folder (default: swegen-out/<repo folder name>).")
@option("--ref", "refs", env="REF", multiple=True, help="Walk only these refs (repeatable; default: every branch and tag).")
@option("--since", env="SINCE", default=None, callback=git_date, help="Only commits after this date (a date git understands: 2024-01-31, '6 months ago').")
@option("--until", env="UNTIL", default=None, callback=git_date, help="Only commits before this date.")
@option("--paths", env="PATHS", multiple=True, help="Only commits touching these pathspecs (repeatable).")
@option("--exclude", env="EXCLUDE", multiple=True, help="Ignore files matching these globs, e.g. 'vendor/**' (repeatable).")
@option("--max-candidates", env="MAX_CANDIDATES", type=click.IntRange(min=1), default=None, help="Keep at most this many, newest first.")
@option("--include-features", env="INCLUDE_FEATURES", is_flag=True, help="Keep changes that look like features, not fixes.")
@option("--max-source-lines", env="MAX_SOURCE_LINES", type=click.IntRange(min=1), default=1000, show_default=True, help="Reject fixes changing more source lines.")
@option("--min-score", env="MIN_SCORE", type=click.FloatRange(0, 1), default=0.3, show_default=True, help="Reject candidates whose bug-fix score is lower.")
@option("--repo-name", env="REPO_NAME", default=None, help="owner/name for task records (default: from the origin remote).")
@option("--issues", env="ISSUES", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None, help="Issues export (gh issue list --json ..., GitLab or Jira JSON) to link statements to.")
@option("--statement-template", env="STATEMENT_TEMPLATE", type=click.Path(path_type=Path, exists=True, dir_okay=False), default=None, help="Jinja2 template replacing the built-in problem statement template.")
@option("--rewrite-with", env="REWRITE_WITH", default=None, help="Base URL of an OpenAI-compatible endpoint to rewrite statements (off by default).")
@option("--rewrite-model", env="REWRITE_MODEL", default="gpt-4o-mini", show_default=True, help="Model name for --rewrite-with.")
@config_option
@option("--no-validate", env="NO_VALIDATE", is_flag=True, help="Only mine; validate later with `swegen validate RUN_DIR`.")
@option("--workers", env="WORKERS", type=click.IntRange(min=1), default=1, show_default=True, help="Candidates validated in parallel.")
@option("--allow-shallow", env="ALLOW_SHALLOW", is_flag=True, help="Mine a shallow clone anyway (only the commits it has; a warning says how many).")
@option("--update", "update", env="UPDATE", is_flag=True,
        help="Add to the run folder only what arrived since it was last mined (its options from run.json); existing tasks stay as they are.")
def mine(repo: Path, output: Path | None, refs: tuple[str, ...], since: str | None, until: str | None, paths: tuple[str, ...],
         exclude: tuple[str, ...], max_candidates: int | None, include_features: bool, max_source_lines: int,
         min_score: float, repo_name: str | None, issues: Path | None, statement_template: Path | None, rewrite_with: str | None,
         rewrite_model: str, config_file: Path | None, no_validate: bool, workers: int, allow_shallow: bool, update: bool) -> None:
    """Find the bug fixes in REPO's whole history and write them as SWE-bench-style task candidates."""
    from swegen.mining import MineConfig, mine as run_mine

    check_repository(repo, allow_shallow)
    check_refs(repo, refs)
    check_template(statement_template)
    output = output or Path("swegen-out") / (repo.resolve().name.removesuffix(".git") or "repo")
    check_output(output)
    if not no_validate:
        check_docker()  # before mining, which may take long, not after it
    config = MineConfig(
        repo=repo, output=output, refs=refs, since=since, until=until, paths=paths, exclude=exclude,
        max_candidates=max_candidates, include_features=include_features, max_source_lines=max_source_lines,
        min_score=min_score, repo_name=repo_name, issues=issues, statement_template=statement_template, rewrite_with=rewrite_with,
        rewrite_model=rewrite_model, config_file=config_file,
        rewrite_api_key=os.environ.get("SWEGEN_REWRITE_API_KEY") or os.environ.get("OPENAI_API_KEY"),
    )
    from swegen import update as updating

    with _progress() as progress:
        if update:
            updated = updating.update(config, progress)
        else:
            tips = updating.current_tips(repo)  # before the walk: what arrives during it is the next update's
            funnel = run_mine(config, progress)
            updating.record_mined(output, tips, min_score)
    if update:
        out.print(updating.describe(updated, output), markup=False)
    else:
        print_funnel(funnel, output)
    if no_validate or (updated.kept if update else funnel.kept) == 0:
        return
    from swegen.images import resolve_ca_bundle
    from swegen.validating import ValidateConfig, validate as run_validate

    err.print("validating the kept candidates in Docker (--no-validate skips this)")
    with _progress() as progress:
        validation = ValidateConfig(run_dir=output, workers=workers, ca_bundle=resolve_ca_bundle("auto"), config_file=config_file)
        summary = run_validate(validation, progress)
    print_validation(summary, output)


def print_funnel(funnel: Any, output: Path) -> None:
    for warning in funnel.warnings:
        err.print(f"[yellow]warning:[/] {escape(str(warning))}", highlight=False)
    table = Table(title="mining funnel", show_header=False)
    table.add_column("step")
    table.add_column("count", justify="right")
    for label, value in (("commits scanned", funnel.scanned), ("commits of merged branches (skipped)", funnel.inside_merges),
                         ("units found inside other merges", funnel.nested_units),
                         ("with test changes", funnel.with_tests),
                         ("candidates (source + tests)", funnel.candidates), ("kept", funnel.kept)):
        table.add_row(label, str(value))
    out.print(table)
    if funnel.reasons:
        reasons = Table()
        reasons.add_column("top rejection reasons")
        reasons.add_column("count", justify="right")
        for reason, count in funnel.reasons.most_common(8):
            reasons.add_row(escape(str(reason)), str(count))
        out.print(reasons)
    out.print(f"candidates: {output / 'candidates.jsonl'}", markup=False)
    out.print(f"tasks: one folder per kept candidate under {output}", markup=False)


# -- validate ----------------------------------------------------------------------------------


@cli.command()
@run_dir_argument()
@repo_option
@option("--workers", env="WORKERS", type=click.IntRange(min=1), default=1, show_default=True, help="Candidates validated in parallel.")
@option("--before-runs", env="BEFORE_RUNS", type=click.IntRange(min=1), default=2, show_default=True, help="Runs without the fix.")
@option("--after-runs", env="AFTER_RUNS", type=click.IntRange(min=1), default=3, show_default=True, help="Runs with the fix.")
@option("--p2p", env="P2P", type=click.Choice(["files", "full"]), default="files", show_default=True, help="Run the touched test files, or the whole suite.")
@option("--timeout", env="TIMEOUT", type=click.FloatRange(min=1), default=1800, show_default=True, help="Seconds one test run may take.")
@detect_python_option
@base_image_option
@ca_bundle_option
@config_option
@option("--retry", env="RETRY", is_flag=True, help="Run again the candidates that failed on infrastructure or an image build.")
@executor_options
def validate(run_dir: Path, repo: Path | None, workers: int, before_runs: int, after_runs: int, p2p: str, timeout: float,
             python: str | None, base_image: str | None, ca_bundle: str, config_file: Path | None, retry: bool) -> None:
    """Prove each mined candidate in Docker: FAIL_TO_PASS, PASS_TO_PASS, flaky tests dropped, controls."""
    from swegen.images import resolve_ca_bundle
    from swegen.validating import ValidateConfig, validate as run_validate

    config = ValidateConfig(
        run_dir=run_dir, repo=repo, workers=workers, before_runs=before_runs, after_runs=after_runs, p2p=p2p,
        timeout=timeout, python=python, base_image=base_image, ca_bundle=resolve_ca_bundle(ca_bundle),
        config_file=config_file, retry=retry,
    )
    with _progress() as progress:
        summary = run_validate(config, progress)
    print_validation(summary, run_dir)


def print_validation(summary: dict[str, Any], run_dir: Path) -> None:
    table = Table(title="validation funnel", show_header=False)
    table.add_column("step")
    table.add_column("count", justify="right")
    for step, count in summary["funnel"].items():
        table.add_row(step, str(count))
    table.add_row("infrastructure errors (retry them)", str(summary["infra_errors"]))
    table.add_row("flaky tests dropped", str(summary["flaky_tests"]))
    out.print(table)
    if summary["rejections"]:
        reasons = Table()
        reasons.add_column("rejection reasons")
        reasons.add_column("count", justify="right")
        for reason, count in summary["rejections"].items():
            reasons.add_row(escape(str(reason)), str(count))
        out.print(reasons)
    out.print(f"tasks: {run_dir / 'tasks.jsonl'}; every verdict: {run_dir / 'validation.jsonl'}", markup=False)


# -- solve -------------------------------------------------------------------------------------


@cli.command()
@run_dir_argument()
@option("--agent", env="AGENT", type=click.Choice(["command", "scripted", "openai", "mini-swe-agent", "aider", "codex"]), required=True, help="command: any CLI agent in the sandbox; scripted: swegen's deterministic agent; openai: an OpenAI-compatible endpoint; mini-swe-agent, aider, codex: that agent from its registry, in the sandbox (--model, endpoint via --agent-env).")
@option("--name", env="NAME", required=True, help="Model name written into the predictions (model_name_or_path).")
@option("--cmd", "command", env="CMD", default=None, help="The command agent's command line, run with sh -c in /testbed.")
@option("--setup", env="SETUP", default=None, help="A command run in each sandbox before the agent (e.g. to install it).")
@option("--agent-file", "agent_files", env="AGENT_FILE", multiple=True, type=click.Path(path_type=Path, exists=True), help="Files or folders copied to /swegen/agent/ in the sandbox (repeatable).")
@option("--agent-env", "agent_env", env="AGENT_ENV", multiple=True, help="NAME or NAME=VALUE passed to the agent (repeatable; a bare NAME takes this shell's value).")
@option("--agent-service", "service", env="AGENT_SERVICE", default=None, help="A command run in the background in the agent's sandbox while it works (a local model server or proxy on the sandbox's loopback).")
@option("--agent-version", env="AGENT_VERSION", default=None, help="A preset: the agent's version to install (default: the version swegen pins).")
@option("--allow-network", env="ALLOW_NETWORK", is_flag=True, help="Give the agent's sandbox network access (agents that call hosted models need it; grading never has it).")
@option("--skill", env="SKILL", type=click.IntRange(0, 4), default=2, show_default=True, help="The scripted agent: how many of the example's bugs it fixes.")
@option("--base-url", env="BASE_URL", default=None, help="The openai agent: the endpoint, e.g. https://api.openai.com/v1.")
@option("--model", env="MODEL", default=None, help="The openai agent and the presets: the model to ask.")
@option("--api-key-env", env="API_KEY_ENV", default="OPENAI_API_KEY", show_default=True, help="The openai agent: the variable holding the API key.")
@instances_option
@repo_option
@option("--workers", env="WORKERS", type=click.IntRange(min=1), default=1, show_default=True, help="Tasks solved in parallel.")
@option("--timeout", env="TIMEOUT", type=click.FloatRange(min=1), default=1800, show_default=True, help="Seconds the agent may work on one task.")
@option("--retries", env="RETRIES", type=click.IntRange(min=0), default=4, show_default=True, help="The openai agent: retries of a request that failed on the way (network, timeout, HTTP 5xx or 429).")
@option("--backoff", env="BACKOFF", type=click.FloatRange(min=0), default=2.0, show_default=True, help="The openai agent: seconds before the first retry, doubled each time (a Retry-After header is honoured).")
@option("--max-infra-errors", env="MAX_INFRA_ERRORS", type=click.IntRange(min=0), default=5, show_default=True, help="Stop after this many infrastructure errors in a row (0: never stop).")
@detect_python_option
@base_image_option
@ca_bundle_option
@config_option
@executor_options
def solve(run_dir: Path, agent: str, name: str, command: str | None, setup: str | None, agent_files: tuple[Path, ...],
          agent_env: tuple[str, ...], service: str | None, agent_version: str | None, allow_network: bool, skill: int, base_url: str | None, model: str | None, api_key_env: str,
          instances: tuple[str, ...], repo: Path | None, workers: int, timeout: float, retries: int, backoff: float, max_infra_errors: int,
          python: str | None, base_image: str | None, ca_bundle: str, config_file: Path | None) -> None:
    """Run a model or coding agent on RUN_DIR's tasks; writes RUN_DIR/predictions/NAME.jsonl."""
    from swegen.images import resolve_ca_bundle
    from swegen.predictions import read_predictions
    from swegen.solving import SolveConfig, command_from_env, solve as run_solve

    variables: dict[str, str] = {}
    for item in agent_env:
        variables.update(command_from_env(item))
    config = SolveConfig(
        run_dir=run_dir, agent=agent, name=name, command=command, setup=setup, agent_files=agent_files, agent_env=variables,
        allow_network=allow_network, timeout=timeout, workers=workers, instance_ids=instances, repo=repo, skill=skill,
        base_url=base_url, model=model, api_key_env=api_key_env, python=python, base_image=base_image,
        ca_bundle=resolve_ca_bundle(ca_bundle), config_file=config_file, retries=retries, backoff=backoff,
        max_infra_errors=max_infra_errors, service=service, agent_version=agent_version,
    )
    with _progress() as progress:
        path = run_solve(config, progress)
    predictions = read_predictions(path)
    infra = sum(1 for p in predictions if p.infra_error)
    with_patch = sum(1 for p in predictions if p.model_patch.strip())
    out.print(f"{len(predictions) - infra} predictions ({with_patch} with a patch) in {path}", markup=False)
    if infra:
        err.print(f"{infra} task(s) failed on infrastructure, not counted against the model; run the same command again to retry them",
                  markup=False)
    out.print(f"next: swegen evaluate {run_dir} --predictions {path}", markup=False)


# -- evaluate ----------------------------------------------------------------------------------


@cli.command()
@run_dir_argument()
@option("-p", "--predictions", env="PREDICTIONS", multiple=True, required=True, help="A SWE-bench predictions file (JSONL, or JSON list/dict), or the baselines 'gold' and 'empty' (repeatable).")
@option("--model", env="MODEL", default=None, help="Model name to use instead of the file's model_name_or_path.")
@instances_option
@repo_option
@option("--workers", env="WORKERS", type=click.IntRange(min=1), default=1, show_default=True, help="Predictions evaluated in parallel.")
@option("--timeout", env="TIMEOUT", type=click.FloatRange(min=1), default=1800, show_default=True, help="Seconds the tests of one prediction may take.")
@detect_python_option
@base_image_option
@ca_bundle_option
@config_option
# Hidden, and no environment variable: only swegen's red-team tests switch the tamper checks off,
# to show that an attack they catch would pass without them.
@click.option("--no-tamper-checks", "no_tamper_checks", is_flag=True, hidden=True)
@click.option("--no-test-edit-revert", "no_test_edit_revert", is_flag=True, hidden=True)
@option("--strict/--no-strict", "strict", env="STRICT", default=True, show_default=True,
        help="Also run a resolved prediction's whole test suite against gold's: the strict verdict.")
@executor_options
def evaluate(run_dir: Path, predictions: tuple[str, ...], model: str | None, instances: tuple[str, ...], repo: Path | None, workers: int,
             timeout: float, python: str | None, base_image: str | None, ca_bundle: str, config_file: Path | None,
             no_tamper_checks: bool, no_test_edit_revert: bool, strict: bool) -> None:
    """Grade predictions on RUN_DIR's tasks in the sandbox, as SWE-bench grades them."""
    from swegen.evaluating import EvaluateConfig, evaluate as run_evaluate
    from swegen.images import resolve_ca_bundle

    config = EvaluateConfig(
        run_dir=run_dir, predictions=predictions, repo=repo, model=model, workers=workers, timeout=timeout,
        instance_ids=instances, python=python, base_image=base_image, ca_bundle=resolve_ca_bundle(ca_bundle), config_file=config_file,
        tamper_checks=not no_tamper_checks, revert_test_edits=not no_test_edit_revert, strict=strict,
    )
    with _progress() as progress:
        summaries = run_evaluate(config, progress)
    print_evaluation(summaries, run_dir)
    from swegen.predictions import BASELINES, read_predictions

    unsolved = sum(1 for source in predictions if source not in BASELINES for p in read_predictions(Path(source)) if p.infra_error)
    if unsolved:
        err.print(f"{unsolved} of the errors are tasks solve could not run (infra_error): run `swegen solve` again for them", markup=False)


def print_evaluation(summaries: dict[str, dict[str, Any]], run_dir: Path) -> None:
    table = Table(title="evaluation")
    table.add_column("model", overflow="fold", no_wrap=False, min_width=14)
    for column in ("tasks", "sent", "resolved", "strict", "unres.", "tampered", "empty", "infra", "%"):
        table.add_column(column, justify="right")
    for model, s in summaries.items():
        rate = 100 * s["resolved_instances"] / s["total_instances"] if s["total_instances"] else 0.0
        table.add_row(escape(model), str(s["total_instances"]), str(s["submitted_instances"]), str(s["resolved_instances"]), str(s.get("strict_resolved_instances", "-")),
                      str(s["unresolved_instances"]), str(s.get("tampered_instances", 0)), str(s["empty_patch_instances"]),
                      str(s["error_instances"]), f"{rate:.1f}")
    out.print(table)
    if any(s["error_instances"] for s in summaries.values()):
        err.print("infrastructure errors are not counted as unresolved; run the same command again to retry them")
    out.print(f"reports in {run_dir / 'evaluations'}", markup=False)


@cli.command()
@run_dir_argument()
@option("--format", "formats", env="EXPORT_FORMAT", type=click.Choice(["swebench"]), default="swebench", show_default=True, help="Dataset format.")
@option("-o", "--output", env="EXPORT_OUTPUT", type=click.Path(path_type=Path), default=None, help="Output path without extension (default: RUN_DIR/export/swebench).")
@option("--jsonl-only", env="JSONL_ONLY", is_flag=True, help="Write JSONL only (no parquet).")
def export(run_dir: Path, formats: str, output: Path | None, jsonl_only: bool) -> None:
    """Write the validated tasks as SWE-bench's dataset has them (JSONL and parquet)."""
    from swegen.export import export as do_export

    written = do_export(run_dir, output or run_dir / "export" / "swebench", ("jsonl",) if jsonl_only else ("jsonl", "parquet"))
    for path in written:
        out.print(f"wrote {path}", markup=False)


@cli.group()
def env() -> None:
    """Environment recipes."""


@env.command("show")
@click.argument("task_dir", type=click.Path(path_type=Path, exists=True, file_okay=False))
@option("--python", env="PYTHON", default=None, help="Force this Python version.")
@config_option
def env_show(task_dir: Path, python: str | None, config_file: Path | None) -> None:
    """Print the environment recipe of RUN_DIR/<instance_id> and why each part was chosen."""
    from swegen import languages
    from swegen.history import git
    from swegen.languages.base import describe_plan
    from swegen.testbed import checked_plan, recorded_repo as _recorded_repo, task_language

    task_file = task_dir / "task.json"
    if not task_file.exists():
        raise BadInput(f"{task_dir} holds no task.json", hint="pass a task folder, RUN_DIR/<instance_id>")
    try:
        task = json.loads(task_file.read_text(encoding="utf-8"))
        base_commit = task["base_commit"]
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise BadInput(f"{task_file} is not a task record ({_reason(exc)})", hint="restore it, or mine the run again") from None
    checked_run_dir(click.get_current_context(), click.Argument(["run_dir"]), task_dir.parent)
    repo = _recorded_repo(task_dir.parent)
    language = languages.by_name(task_language(task)).at(repo, base_commit)
    if language.name != "python":
        as_of = git(repo, "show", "-s", "--format=%cI", base_commit).strip()
        other = language.plan(repo, base_commit, as_of, paths=[*task.get("source_files", []), *task.get("test_files", [])])
        if other is None:
            raise BadInput(f"no {language.name} project at {base_commit[:12]}", hint="check the task's base commit")
        out.print(describe_plan(other), markup=False, highlight=False)
        return
    pythons = language.available_runtimes() or ["3.11"]
    plan = language.environment(repo, base_commit, pythons, python=python, config_file=config_file)
    # as validation decided it: resolved earlier when a dependency broke the package or pytest
    plan = checked_plan(task_dir.parent, plan, lambda because: language.environment(
        repo, base_commit, pythons, python=python, config_file=config_file, earlier_because=because))
    out.print(language.describe(plan), markup=False, highlight=False)


def _progress() -> Any:
    """A progress display whose callback takes (stage, done, total)."""
    import contextlib

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    @contextlib.contextmanager
    def manager() -> Any:
        if not err.is_terminal:
            # no live display into a pipe or a log: it only leaves a blank line there
            yield lambda stage, done, total: None
            return
        columns = (TextColumn("{task.description}", markup=False), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
        with Progress(*columns, console=err, transient=True) as bar:
            tasks: dict[str, Any] = {}

            def progress(stage: str, done: int, total: int | None) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total)
                bar.update(tasks[stage], completed=done, total=total)

            yield progress

    return manager()


# -- doctor ------------------------------------------------------------------------------------


@cli.command()
@python_option
@base_image_option
@option("-o", "--output", env="OUTPUT", default=".", type=click.Path(path_type=Path), help="Where runs will write.")
def doctor(python: str, base_image: str | None, output: Path) -> None:
    """Check git, the Docker daemon, base images and free disk; print the fix for each problem."""
    from swegen.doctor import run_checks

    checks = run_checks(python, base_image, output)
    table = Table(show_header=True, header_style="bold")
    for column in ("check", "status", "detail", "fix"):
        table.add_column(column)
    for check in checks:
        status = "[green]ok[/]" if check.ok else ("[red]FAIL[/]" if check.required else "[yellow]warn[/]")
        table.add_row(escape(check.name), status, escape(check.detail), escape(check.fix))
    out.print(table)
    failed = [c for c in checks if c.required and not c.ok]
    if failed:
        raise SwegenError(f"{len(failed)} check(s) failed", hint=failed[0].fix)
    out.print("swegen is ready.")


# -- example -----------------------------------------------------------------------------------


@cli.group()
def example() -> None:
    """The bundled example repository (a small library with real, tested bug fixes)."""


language_option = option("--language", env="LANGUAGE", default="python", show_default=True,
                         help="The example's language: python, javascript (js), typescript (ts) or go.")


@example.command("create")
@click.argument("dest", type=click.Path(path_type=Path))
@language_option
def example_create(dest: Path, language: str) -> None:
    """Write the example repository, with its deterministic history, to DEST."""
    from swegen.example import create_for, language_name, manifest_for

    name = language_name(language)
    repo, repo_name = create_for(name, dest)
    manifest = manifest_for(name)
    out.print(f"example repository {repo_name} written to {repo} ({manifest['commit_count']} commits)", markup=False)


@example.command("manifest")
@language_option
def example_manifest(language: str) -> None:
    """Print the manifest: what each change in the example's history is."""
    from swegen.example import language_name, manifest_for

    click.echo(json.dumps(manifest_for(language_name(language)), indent=2))


# -- images ------------------------------------------------------------------------------------


@cli.group()
def images() -> None:
    """Base and environment images."""


@images.command("build-base")
@python_option
@option("--mirror", env="MIRROR", default="http://deb.debian.org/debian", show_default=True, help="Debian mirror for debootstrap.")
@ca_bundle_option
@option("--force", env="FORCE", is_flag=True, help="Rebuild even when an identical image exists.")
@option("--language", "toolchains", env="TOOLCHAINS", multiple=True, metavar="NAME",
        help="Add this language's toolchain (javascript or js, go), so that its environment images need no "
             "package download for it; repeat for several. Toolchains an image already has are kept.")
def images_build_base(python: str, mirror: str, ca_bundle: str, force: bool, toolchains: tuple[str, ...]) -> None:
    """Build the base image for a Python version offline-friendly (debootstrap + docker import)."""
    from swegen import languages
    from swegen.images import base_recipe, build_base_image, resolve_ca_bundle

    aliases = {"js": "javascript", "ts": "javascript", "typescript": "javascript", "golang": "go"}
    chosen = languages.toolchains(aliases.get(t.lower(), t.lower()) for t in toolchains)
    recipe = base_recipe(python, mirror, resolve_ca_bundle(ca_bundle), chosen)
    with err.status(f"building base image for Python {python} ({recipe.suite})") as status:
        tag, built = build_base_image(recipe, force=force, log=lambda line: status.update(line[:100]))
    out.print(f"{tag} {'built' if built else 'is up to date'}")


@images.command("list")
def images_list() -> None:
    """List the images swegen built."""
    from swegen.images import list_images

    table = Table("tag", "kind", "size (MB)", "created")
    for image in list_images():
        table.add_row(
            ", ".join(image.tags) or image.short_id,
            image.labels.get("swegen.kind", "?"),
            f"{image.attrs.get('Size', 0) / 1e6:.0f}",
            str(image.attrs.get("Created", ""))[:19],
        )
    out.print(table)


# -- clean -------------------------------------------------------------------------------------


@cli.command()
@option("--all", "everything", env="CLEAN_ALL", is_flag=True, help="Also remove containers of swegen runs still going.")
@option("--images", env="CLEAN_IMAGES", is_flag=True, help="Also remove environment images (base images are kept).")
@option("--dry-run", env="DRY_RUN", is_flag=True, help="Only say what would be removed.")
def clean(everything: bool, images: bool, dry_run: bool) -> None:
    """Remove containers (and images) that swegen left behind."""
    from swegen.cleanup import clean as do_clean

    result = do_clean(everything=everything, images=images, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    out.print(f"{verb} {len(result.removed_containers)} container(s), {len(result.removed_snapshots)} snapshot(s), "
              f"{len(result.removed_images)} image(s)")
    if result.kept_in_use or result.kept_snapshots:
        out.print(f"kept {len(result.kept_in_use)} container(s) and {len(result.kept_snapshots)} snapshot(s) of running swegen "
                  "processes (--all removes them)")


# -- demo --------------------------------------------------------------------------------------


@cli.command()
@option(
    "-o",
    "--output",
    env="OUTPUT",
    default=None,
    type=click.Path(path_type=Path),
    help="A fresh output folder (default: a new swegen-out/demo-<time> folder).",
)
@python_option
@base_image_option
@ca_bundle_option
@option("--workers", env="WORKERS", type=click.IntRange(min=1), default=1, show_default=True, help="Candidates validated in parallel.")
@option("--language", env="LANGUAGE", default="python", show_default=True,
        help="The example's language: python, javascript (js), typescript (ts) or go (another language's demo evaluates gold and empty only).")
def demo(output: Path | None, python: str, base_image: str | None, ca_bundle: str, workers: int, language: str) -> None:
    """Run every stage that exists on the bundled example repository."""
    import time

    from swegen.demo import PENDING_STAGES, DemoConfig, run_demo
    from swegen.images import resolve_ca_bundle

    output = output or Path("swegen-out") / time.strftime("demo-%Y%m%d-%H%M%S")
    check_docker()

    from swegen.example import language_name

    config = DemoConfig(output.resolve(), python, base_image, resolve_ca_bundle(ca_bundle), workers, language_name(language))
    with _progress() as progress:
        result = run_demo(config, step=lambda message: err.print(f"- {message}"), progress=progress)
    print_funnel(result.funnel, result.output)
    print_validation(result.validation, result.output)
    print_evaluation(result.evaluation, result.output)
    from swegen.cli_report import print_report

    print_report(result.report.report)
    out.print(f"example repository: {result.repo}", markup=False)
    out.print(f"outputs in {result.output}", markup=False)
    out.print(f"report: {result.report.html}", markup=False)
    if PENDING_STAGES:
        out.print(f"not built yet, so not run: {', '.join(PENDING_STAGES)}")


# -- entry point -------------------------------------------------------------------------------


def _sigterm(signum: int, frame: Any) -> None:
    # Unwind like Ctrl-C so every sandbox's context manager removes its container.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    verbose = "-v" in args or "--verbose" in args or os.environ.get("SWEGEN_VERBOSE", "") not in ("", "0", "false")
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        cli.main(args=args, prog_name="swegen", standalone_mode=False)
    except SwegenError as exc:
        error_line(exc.one_line())
        if verbose:
            if exc.detail:
                err.print(exc.detail, markup=False, highlight=False)
            err.print(traceback.format_exc(), markup=False, highlight=False)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        err.print("swegen: interrupted")
        sys.exit(130)
    except getattr(click.exceptions, "NoArgsIsHelpError", ()) as exc:
        exc.show()  # `swegen` alone: the help, as click prints it
        sys.exit(2)
    except click.ClickException as exc:
        # click's own form is four lines (usage, "Try --help", a blank, the error): keep one
        command = exc.ctx.command_path if getattr(exc, "ctx", None) else "swegen"
        error_line(f"{exc.format_message().rstrip('.')}: see `{command} --help`")
        sys.exit(2)
    except OSError as exc:
        if exc.errno not in DISK_ERRORS:
            raise_internal(exc, verbose)
        where = f" ({exc.filename})" if exc.filename else ""
        error_line(f"{exc.strerror or os.strerror(exc.errno)}{where}: {DISK_ERRORS[exc.errno]}")
        if verbose:
            err.print(traceback.format_exc(), markup=False, highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("swegen: interrupted; finished results are kept, run the same command again to resume")
        sys.exit(130)
    except Exception as exc:  # a bug in swegen: still one line, the traceback on request
        raise_internal(exc, verbose)


#: Errors of the file system a user can fix, and what to do about each.
DISK_ERRORS = {
    errno.ENOSPC: "free some disk space (or write elsewhere), then run the same command again",
    errno.EDQUOT: "free some space within your quota, then run the same command again",
    errno.EROFS: "write somewhere writable (-o DIR), then run the same command again",
    errno.EACCES: "make it readable and writable by this user, or pass another path",
    errno.EPERM: "make it readable and writable by this user, or pass another path",
    errno.EISDIR: "pass a file there, not a folder",
    errno.ENOTDIR: "a path on the way is a file, not a folder: pass another path",
}


def error_line(text: str) -> None:
    """The one line of a failed command, on stderr, with the text escaped (no markup is eaten)."""
    err.print(f"[red]swegen: error:[/] {escape(' '.join(text.split()))}", highlight=False, markup=True, soft_wrap=True)


def raise_internal(exc: BaseException, verbose: bool) -> None:
    """A bug in swegen: one line, the traceback on request, exit 1."""
    err.print(f"swegen: internal error: {exc!r} (rerun with --verbose for the traceback, and please report it)", markup=False)
    if verbose:
        err.print(traceback.format_exc(), markup=False, highlight=False)
    sys.exit(1)
