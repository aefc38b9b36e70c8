"""A task's testbed: its environment image, and a fresh container holding its source at the base commit.

Validation, evaluation and solving all start the same way: the environment image (built once per
fingerprint of its recipe, a failed build recorded once), a fresh container from it, the
repository's tree at the base commit copied in as an archive (no history, so no later commit is
visible), patches applied, the project installed offline. This module is that shared start; the
stages decide what to run afterwards.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import random
import re
import shlex
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from swegen import languages
from swegen.canaries import Canary
from swegen.docker_sandbox import DockerSandbox
from swegen.errors import DockerUnavailable, InfrastructureDown, PackageIndexDown, SwegenError
from swegen.images import INDEX_RETRY_WAITS, base_image_id, build_env_image, env_fingerprint, env_tag
from swegen.languages.base import Language, Plan, plan_from_dict
from swegen.records import to_dict, write_atomic
from swegen.runner import TestRun
from swegen.sandbox import ExecResult, Limits, Sandbox, SandboxSpec

if TYPE_CHECKING:
    from swegen.languages.python.env import EnvPlan

#: git as swegen runs it in a sandbox: an identity of its own, no line-ending conversion.
GIT = "git -c user.name=swegen -c user.email=swegen@localhost -c core.autocrlf=false"
#: Build leftovers that are never part of a patch.
ARTIFACTS = ("__pycache__/", "*.pyc", "*.egg-info/", ".pytest_cache/", "build/", "dist/", ".eggs/")
#: A fixed date for the one commit, so that it tells nothing about when the task was made.
_FIXED_DATE = "GIT_AUTHOR_DATE='2000-01-01T00:00:00Z' GIT_COMMITTER_DATE='2000-01-01T00:00:00Z'"


@dataclass(frozen=True)
class Testbed:
    """How to start one task's container and run its tests: a plain record any worker can use."""

    instance_id: str
    repo: str
    base_commit: str
    image: str
    package: str | None
    pretend_version: str
    test_env: dict[str, str]
    pytest_args: list[str]
    limits: dict[str, object] = field(default_factory=lambda: dataclasses.asdict(Limits()))
    #: The task's language: "python", or one of swegen.languages' (whose plan is `plan`).
    language: str = "python"
    #: The plan of a language of swegen.languages, as a plain record ({} for Python).
    plan: dict = field(default_factory=dict)
    #: The task's test files (where another language finds the files of its test ids).
    test_files: list[str] = field(default_factory=list)

    def spec(self, stage: str, network: bool = False) -> SandboxSpec:
        limits = dataclasses.replace(Limits(**self.limits), network=network)  # type: ignore[arg-type]
        return SandboxSpec(image=self.image, limits=limits, labels={"swegen.stage": stage, "swegen.instance": self.instance_id})


class Environments:
    """Plans and builds environment images for the tasks of one run folder, once per recipe."""

    def __init__(
        self,
        run_dir: Path,
        repo: Path,
        python: str | None = None,
        base_image: str | None = None,
        ca_bundle: Path | None = None,
        config_file: Path | None = None,
    ) -> None:
        self.run_dir, self.repo = run_dir, repo
        self.python_version, self.base_image, self.ca_bundle, self.config_file = python, base_image, ca_bundle, config_file
        #: Python's plan is richer than the protocol's Plan (its environment check and retry, below).
        self.python = languages.by_name("python")
        self.pythons = self.python.available_runtimes() if not base_image else []
        if not self.pythons and not base_image:
            raise SwegenError("no base image is present", hint="run `swegen images build-base --python 3.11`")
        self._built: dict[str, tuple[str, str | None]] = {}

    def plan(self, base_commit: str, earlier_because: str | None = None) -> EnvPlan:
        return self.python.environment(
            self.repo, base_commit, self.pythons, python=self.python_version, base_image=self.base_image,
            config_file=self.config_file, earlier_because=earlier_because,
        )

    def image(self, plan: EnvPlan) -> tuple[str, str | None]:
        """(image tag, error): built once per recipe; a failed build is recorded once and reused."""
        key = json.dumps(to_dict(plan.recipe), sort_keys=True)
        if key not in self._built:
            self._built[key] = self._build(plan)
        return self._built[key]

    def _build(self, plan: EnvPlan) -> tuple[str, str | None]:
        envs = self.run_dir / "envs"
        fingerprint = None
        try:
            ca = self.ca_bundle.read_bytes() if self.ca_bundle else None
            fingerprint = env_fingerprint(plan.recipe, base_image_id(plan.recipe.base_image), ca)
            failure = envs / f"{fingerprint[:16]}.failed"
            if failure.exists():
                return env_tag(fingerprint), failure.read_text(encoding="utf-8")
            tag, _ = build_env_image(plan.recipe, ca_bundle=self.ca_bundle, log_path=envs / f"{fingerprint[:16]}.log")
            return tag, None
        except SwegenError as exc:
            if isinstance(exc, PackageIndexDown):
                return "", f"{INFRA_PREFIX}{exc.message} (tried {len(INDEX_RETRY_WAITS) + 1} times)"
            if isinstance(exc, (DockerUnavailable, InfrastructureDown)) or not _daemon_answers():
                # an outage, not the recipe's failure: nothing is recorded, the next run builds
                return "", f"{INFRA_PREFIX}the Docker daemon stopped answering while the environment was built ({exc.message})"
            reason = f"env-build-failed: {exc.message}"
            if fingerprint:
                write_atomic(envs / f"{fingerprint[:16]}.failed", reason)
            return "", reason

    def testbed(self, task: dict, limits: Limits) -> tuple[Testbed | None, EnvPlan, str | None]:
        """The task's testbed, or the reason its environment could not be built. The first time a
        recipe is built its environment is checked on the task's source (see `checked_plan`)."""
        language = task_language(task)
        if language != "python":
            return self._other_testbed(task, language, limits)
        plan = self.plan(task["base_commit"])
        image, error = self.image(plan)
        if error:
            return None, plan, error
        plan = self.checked(plan, image, task["base_commit"], limits, task["instance_id"])
        image, error = self.image(plan)
        if error:
            return None, plan, error
        return self._bed(task, plan, image, limits), plan, None

    def _other_testbed(self, task: dict, language: str, limits: Limits) -> tuple[Testbed | None, object, str | None]:
        """The testbed of a task in a language of swegen.languages: its plan, its image."""
        commit = task["base_commit"]
        lang = languages.by_name(language).at(self.repo, commit)
        as_of = subprocess.run(["git", "-C", str(self.repo), "show", "-s", "--format=%cI", commit],
                               capture_output=True, text=True).stdout.strip()
        plan = lang.plan(self.repo, commit, as_of, paths=[*task.get("source_files", []), *task.get("test_files", [])])
        if plan is None:
            return None, None, f"env-build-failed: no {language} project at {commit[:12]}"
        image, error = self.image(plan)  # type: ignore[arg-type]
        if error:
            return None, plan, error
        bed = Testbed(
            instance_id=task["instance_id"], repo=str(self.repo), base_commit=commit, image=image, package=None,
            pretend_version="", test_env=dict(plan.test_env), pytest_args=[], limits=dataclasses.asdict(limits),
            language=language, plan=to_dict(plan), test_files=list(task.get("test_files", [])),
        )
        return bed, plan, None

    def checked(self, plan: EnvPlan, image: str, commit: str, limits: Limits, for_task: str = "env-check") -> EnvPlan:
        """`plan`, or the plan resolved RETRY_DAYS earlier when, with `plan`'s dependencies, the
        package under test or pytest (its plugins, the root conftest) fails to import inside a
        dependency, and the earlier environment does not. Decided once per recipe, recorded in
        the run folder (envs/<recipe>.check.json) so every stage and `swegen env show` agree."""
        path = _check_path(self.run_dir, plan)
        if not path.exists():
            try:
                failure = self._check(plan, image, commit, limits, for_task)
                record: dict = {"exclude_newer": plan.exclude_newer, "failure": failure}
                if failure:
                    earlier = self.plan(commit, earlier_because=failure)
                    tag, error = self.image(earlier)
                    record["retry"] = {"exclude_newer": earlier.exclude_newer,
                                       "failure": error or self._check(earlier, tag, commit, limits, for_task)}
            except SwegenError:
                return plan  # the sandbox failed, not the environment: checked again next time
            write_atomic(path, json.dumps(record, indent=1))
        return checked_plan(self.run_dir, plan, lambda because: self.plan(commit, earlier_because=because))

    def _check(self, plan: EnvPlan, image: str, commit: str, limits: Limits, for_task: str) -> str | None:
        """Why the environment fails the project inside a dependency, or None. The container is
        labelled with the task it is checked for (an outage under it is that task's)."""
        bed = self._bed({"instance_id": for_task, "base_commit": commit}, plan, image, limits)
        outputs = []
        with Container(bed, git_archive(self.repo, commit), "env-check") as box:
            box.install()
            if bed.package:
                probe = box.box.exec(["python", "-c", f"import {bed.package}"], timeout=120, env=bed.test_env)
                if not probe.ok:
                    outputs.append((f"importing {bed.package}", probe.stdout + probe.stderr))
            # `--help` loads every plugin and the initial conftests, and runs no test
            args = " ".join(shlex.quote(a) for a in bed.pytest_args)
            started = box.box.exec(f"cd /testbed && python -m pytest --help -o cache_dir=/tmp/swegen-check {args}",
                                   timeout=300, env=bed.test_env)
            if not started.ok:
                outputs.append(("starting pytest", started.stdout + started.stderr))
        for what, text in outputs:
            blame = dependency_failure(text)
            if blame:
                return f"{what} failed inside a dependency ({blame})"
        return None

    def _bed(self, task: dict, plan: EnvPlan, image: str, limits: Limits) -> Testbed:
        return Testbed(
            instance_id=task["instance_id"],
            repo=str(self.repo),
            base_commit=task["base_commit"],
            image=image,
            package=plan.package,
            pretend_version=plan.pretend_version,
            test_env=dict(plan.test_env),
            pytest_args=list(plan.pytest_args),
            limits=dataclasses.asdict(limits),
            language="python",
            plan=to_dict(self.python.as_plan(plan)),
        )


#: How an environment error that is an outage of ours starts (an infrastructure error, never a verdict).
INFRA_PREFIX = "infrastructure: "


def is_infra(error: str | None) -> bool:
    """Is this error of `Environments.testbed` an outage (retried on the next run), not the recipe's?"""
    return bool(error) and error.startswith(INFRA_PREFIX)


def _daemon_answers() -> bool:
    from swegen.docker_sandbox import docker_client

    try:
        docker_client()
    except SwegenError:
        return False
    return True


def _check_path(run_dir: Path, plan: EnvPlan) -> Path:
    digest = hashlib.sha256(json.dumps(to_dict(plan.recipe), sort_keys=True).encode()).hexdigest()
    return run_dir / "envs" / f"{digest[:16]}.check.json"


def checked_plan(run_dir: Path, plan: EnvPlan, replan) -> EnvPlan:
    """`plan` as the run folder's check of its environment decided (no Docker): the earlier plan
    (`replan(reason)`) when the check failed and the retry worked, else `plan`, saying so."""
    path = _check_path(run_dir, plan)
    if not path.exists():
        return plan
    record = json.loads(path.read_text(encoding="utf-8"))
    failure, retry = record.get("failure"), record.get("retry") or {}
    if not failure:
        return plan
    if not retry.get("failure"):
        return replan(failure)
    why = (f"kept, since {failure}; resolved as of {retry.get('exclude_newer')} instead, "
           f"it failed too ({retry['failure']})")
    return dataclasses.replace(plan, reasons=(*plan.reasons, ("dependencies as of", why)))


#: An error line of a traceback or of pytest's report (`E   ImportError: ...`, `INTERNALERROR> ...`).
_ERROR_LINE = re.compile(r"^(?:E\s+|INTERNALERROR>\s*)?((?:[A-Za-z_][\w.]*\.)?[A-Z]\w*(?:Error|Exception)\b.*)$")


def dependency_failure(output: str) -> str | None:
    """The error of a failed import or pytest start, when a dependency is to blame: the output goes
    through an installed distribution (site-packages), not only through the project's own files,
    so that resolving the dependencies earlier may help. Pure."""
    if "site-packages" not in output and "dist-packages" not in output:
        return None
    errors = [m[1].strip() for line in output.splitlines() if (m := _ERROR_LINE.match(line.strip()))]
    # an error naming the checkout (pytest importing an old pluggy from /testbed) is the project's
    if not errors or "/testbed/" in errors[-1]:
        return None
    return re.sub(r"/\S*/(site|dist)-packages/", "", errors[-1])[:300]


def git_archive(repo: Path | str, rev: str) -> bytes:
    """The tree at `rev` as a tar stream, without .git: no history is visible from it. The
    content of its submodules at the commits `rev` records goes in too, from the clone's own
    copies of them (.git/modules), since tests often keep their data there; a submodule the
    clone never checked out is left empty, as in the clone."""
    main = _archive(Path(repo), rev, "")
    modules = list(_submodules(Path(repo), Path(_git_dir(Path(repo))), rev, ""))
    if not modules:
        return main
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as combined:
        for part in [main, *modules]:
            with tarfile.open(fileobj=io.BytesIO(part)) as tar:
                for member in tar.getmembers():
                    if member.type == tarfile.XGLTYPE:
                        continue  # git's pax header with the commit id
                    combined.addfile(member, tar.extractfile(member) if member.isfile() else None)
    return out.getvalue()


def _archive(git_dir_or_repo: Path, rev: str, prefix: str, bare: bool = False) -> bytes:
    where = ["--git-dir", str(git_dir_or_repo)] if bare else ["-C", str(git_dir_or_repo)]
    command = ["git", *where, "archive", "--format=tar", *([f"--prefix={prefix}"] if prefix else []), rev]
    proc = subprocess.run(command, capture_output=True)
    if proc.returncode != 0:
        raise SwegenError(f"git archive {rev} failed", detail=proc.stderr.decode(errors="replace"))
    return proc.stdout


def _git_dir(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "--absolute-git-dir"], capture_output=True, text=True).stdout.strip()


def _submodules(repo: Path, git_dir: Path, rev: str, prefix: str, bare: bool = False):
    """Archives of the submodules that `rev` records, recursively, each under its path."""
    where = ["--git-dir", str(git_dir)] if bare else ["-C", str(repo)]
    listing = subprocess.run(["git", *where, "ls-tree", "-r", "-z", rev], capture_output=True, text=True).stdout
    links = [(item.split("\t", 1)[1], item.split()[2]) for item in listing.split("\0") if item.startswith("160000 ")]
    if not links:
        return
    names = _module_names(subprocess.run(["git", *where, "show", f"{rev}:.gitmodules"], capture_output=True, text=True).stdout)
    for path, commit in links:
        module = git_dir / "modules" / names.get(path, path)
        if not (module / "HEAD").exists():
            continue
        present = subprocess.run(["git", "--git-dir", str(module), "cat-file", "-e", f"{commit}^{{commit}}"], capture_output=True)
        if present.returncode != 0:
            continue
        yield _archive(module, commit, f"{prefix}{path}/", bare=True)
        yield from _submodules(module, module, commit, f"{prefix}{path}/", bare=True)


def _module_names(gitmodules: str) -> dict[str, str]:
    """Submodule names by path, from a .gitmodules file (the name is where .git/modules keeps it)."""
    names, current = {}, None
    for line in gitmodules.splitlines():
        line = line.strip()
        found = re.match(r'\[submodule\s+"(.+)"\]', line)
        if found:
            current = found.group(1)
        elif current and re.match(r"path\s*=", line):
            names[line.split("=", 1)[1].strip()] = current
    return names


def recorded_repo(run_dir: Path) -> Path:
    """The repository a run folder was mined from, as run.json records it."""
    from swegen.errors import BadInput

    run = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    repo = Path(run.get("repo_path", ""))
    if not repo.exists():
        raise BadInput(f"the repository {repo} recorded in run.json is gone", hint="pass --repo PATH")
    return repo


class Container:
    """A fresh container of a testbed with the source at /testbed. Use as a context manager."""

    def __init__(self, bed: Testbed, archive: bytes | None, stage: str, network: bool = False, image: str | None = None) -> None:
        """`image` starts it from a snapshot (swegen.snapshot) that holds the source already: then
        `archive` is None."""
        self.bed = bed
        self._language: Language | None = None
        spec = bed.spec(stage, network)
        self.box: Sandbox = DockerSandbox(dataclasses.replace(spec, image=image) if image else spec)
        try:
            if archive is not None:
                self.box.put_archive("/testbed", archive)
        except BaseException:
            self.box.close()
            raise

    def __enter__(self) -> "Container":
        return self

    def __exit__(self, *exc: object) -> None:
        self.box.close()

    def apply(self, name: str, text: str) -> str | None:
        """Apply a patch with `git apply`; the error (one line) when it does not apply."""
        if not text.strip():
            return None
        self.box.put(f"/tmp/{name}", text.encode())
        applied = self.box.exec(f"git apply --whitespace=nowarn /tmp/{name}", timeout=120)
        if not applied.ok:
            return f"{name} does not apply: {' '.join(applied.stderr.split())[:300]}"
        return None

    def git(self, args: str, timeout: float = 120) -> ExecResult:
        """Run git in /testbed (`args` is shell text: quote paths)."""
        return self.box.exec(f"cd /testbed && {GIT} {args}", timeout=timeout)

    def commit_tree(self, amend: bool = False) -> str:
        """Make /testbed a git repository whose only commit is its current tree (build leftovers
        ignored); with `amend`, fold what changed since (install output) into that one commit.
        Returns the commit id."""
        if amend:
            steps = f"{GIT} add -A && {_FIXED_DATE} {GIT} commit -q --amend --allow-empty --no-verify -m 'base commit'"
        else:
            exclude = "\\n".join(ARTIFACTS)
            steps = (f"git init -q && printf '{exclude}\\n' >> .git/info/exclude && {GIT} add -A -f && "
                     f"{_FIXED_DATE} {GIT} commit -q --allow-empty --no-verify -m 'base commit'")
        made = self.box.exec(f"cd /testbed && {steps} && git rev-parse HEAD", timeout=300)
        if not made.ok:
            raise SwegenError("could not commit the tree in the sandbox", detail=made.stderr)
        return made.stdout.strip().splitlines()[-1]

    def kill_strays(self) -> None:
        """Kill whatever earlier commands left running (a patch's install may start a daemon that
        watches the tree), so nothing of the patch's outlives into what runs next."""
        self.box.exec(["python3", "-c", _KILL_STRAYS], timeout=60)

    def plant_canaries(self, fail_to_pass: list[str], seed: int) -> list[Canary]:
        """Write canary tests into the files of the FAIL_TO_PASS tests, now; the canaries planted."""
        self.kill_strays()
        rng = random.Random(seed)
        planted: list[Canary] = []
        language = self.language()
        for path in language.test_files_for(fail_to_pass, self.bed.test_files):
            try:
                source = self.box.get(f"/testbed/{path}").decode("utf-8")
            except (SwegenError, UnicodeDecodeError):
                continue
            text, canaries = language.plant_canaries(path, source, fail_to_pass, rng)
            if canaries:
                self.box.put(f"/testbed/{path}", text.encode("utf-8"))
                planted += canaries
        return planted

    def run_tests(self, targets: list[str], timeout: float, stream: bool = True) -> TestRun:
        """Run the tests `targets` (files, or test ids; [] for the whole suite) with the task's
        language's runner (pytest's with its streamed second channel: `stream`)."""
        return self.language().run_tests(self.box, self.plan(), targets, self.bed.test_files, timeout, stream=stream)

    def plan(self) -> Plan:
        """The task's plan as its language gave it (a Python testbed recorded before plans were
        kept in it: made from its own fields)."""
        bed = self.bed
        if bed.plan:
            return plan_from_dict(bed.plan)
        return plan_from_dict({"language": bed.language, "recipe": {"base_image": bed.image}, "runtime": ["python", ""],
                               "manager": "uv", "runner": "pytest", "as_of": "", "test_env": sorted(bed.test_env.items()),
                               "runner_args": bed.pytest_args, "package": bed.package or "", "pretend_version": bed.pretend_version})

    def language(self) -> Language:
        """The task's language (swegen.languages), bound to its repository at the base commit."""
        if self._language is None:
            self._language = languages.by_name(self.bed.language).at(Path(self.bed.repo), self.bed.base_commit)
        return self._language

    def install(self, log: Path | None = None) -> tuple[str, str | None]:
        """Install the project offline, as its language does; (how it was installed, why the
        project is unusable or None)."""
        return self.language().install(self.box, self.plan(), log)

    def import_problem(self) -> str | None:
        """Why the installed project is unusable now (after a patch on an installed tree), or None."""
        return self.language().usable(self.box, self.plan())


#: Kills every process of the container but its init, its main process and this one's ancestors.
_KILL_STRAYS = r"""
import os, signal
mine = {os.getpid(), os.getppid()}
def parent(pid):
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return -1
for _ in range(20):
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    main = min((p for p in pids if p != 1 and parent(p) == 1), default=None)
    strays = [p for p in pids if p not in (1, main) and p not in mine]
    if not strays:
        break
    for pid in strays:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
print(len(strays))
"""


def task_language(task: dict) -> str:
    """A task's language, from the files it changes: Python when any is a Python file (or none
    is another language's), else the language of most of them."""
    files = [*task.get("source_files", []), *task.get("test_files", [])]
    if any(languages.by_name("python").owns(f) for f in files):
        return "python"
    found = languages.detect(files)
    return found[0] if found else "python"


def test_targets(files: list[str], language: str = "python") -> list[str]:
    """The files of a test patch that the task's runner is pointed at (its language's own
    choice, among the files it owns: `Language.test_targets`). Pure."""
    lang = languages.by_name(language)
    return lang.test_targets([f for f in files if languages.for_path(f) is lang])


def test_files(tests: list[str], language: str = "python") -> list[str]:
    """What a run of these tests is pointed at, in order, once each: a pytest node id's file
    (before its "::"); another language's ids as they are (its Container.run_tests finds their
    files through the language)."""
    if language != "python":
        return list(dict.fromkeys(tests))
    return list(dict.fromkeys(test.split("::")[0] for test in tests))

