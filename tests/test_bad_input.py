"""Every malformed input a user can give ends in exactly one line on stderr that says what to do,
exit code 2, no traceback, and leaves the run folder and every output as they were.

The table below is the inputs; each runs the real command line in a subprocess against a small
world of real files (the example repository, a bare and a shallow clone, a run folder). Docker is
never needed: where a command would use it, DOCKER_HOST points at a socket that does not exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from rich.console import Console

from conftest import run_cli
from gitrepo import GitRepo
from swegen.example import create_example

NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent.sock"}


@dataclass(frozen=True)
class World:
    """The files the cases point at, all under `root`."""

    root: Path
    repo: Path
    run: Path
    head: str

    def file(self, name: str, content: str | bytes) -> Path:
        path = self.root / "inputs" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        return path

    def run_with(self, name: str, files: dict[str, str | bytes | None]) -> Path:
        """A copy of the run folder with some of its files replaced (None: made a folder instead)."""
        folder = self.root / "runs" / name
        if not folder.exists():
            shutil.copytree(self.run, folder)
            for filename, content in files.items():
                target = folder / filename
                target.parent.mkdir(parents=True, exist_ok=True)
                target.unlink(missing_ok=True)
                if content is None:
                    target.mkdir()
                else:
                    target.write_bytes(content if isinstance(content, bytes) else content.encode())
        return folder


def task_line(world_head: str, instance_id: str = "acme__ledger-1") -> str:
    return json.dumps({"instance_id": instance_id, "base_commit": world_head, "patch": "", "test_patch": "", "FAIL_TO_PASS": ["t::a"],
                       "PASS_TO_PASS": [], "problem_statement": "between() leaves out its end date", "repo": "acme/ledger"}) + "\n"


def prediction(instance_id: str = "acme__ledger-1", patch: str = "") -> str:
    return json.dumps({"instance_id": instance_id, "model_name_or_path": "m", "model_patch": patch}) + "\n"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("bad-input")
    repo = create_example(root / "repo")
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["git", "clone", "-q", "--bare", str(repo), str(root / "bare.git")], check=True)
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{repo}", str(root / "shallow")], check=True)
    (root / "plain-folder").mkdir()
    typo = GitRepo(root / "typo-repo")
    typo.commit("Configure swegen", {"swegen.toml": '[tests]\nglob = ["spec/**"]\n', "lib.py": "X = 1\n"})
    mined = run_cli("mine", str(repo), "--no-validate", "-o", str(root / "mined"), timeout=300)
    assert mined.returncode == 0, mined.stderr
    run = root / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"schema_version": 1, "repo_path": str(repo), "stage": "mine"}))
    (run / "tasks.jsonl").write_text(task_line(head))
    return World(root, repo, run, head)


@dataclass(frozen=True)
class Case:
    """One bad input: the command line, what the error must say, and what it must tell to do."""

    name: str
    args: Callable[[World], list[str]]
    says: str
    hint: str
    #: Docker is never used by these cases: where a command would reach it, it finds none.
    env: dict[str, str] = field(default_factory=lambda: dict(NO_DOCKER))


def mine(*extra: str) -> Callable[[World], list[str]]:
    return lambda w: ["mine", str(w.repo), "--no-validate", "-o", str(w.root / "out"), *extra]


def with_file(name: str, content: str | bytes, build: Callable[[World, Path], list[str]]) -> Callable[[World], list[str]]:
    return lambda w: build(w, w.file(name, content))


def evaluate_file(name: str, content: str | bytes) -> Callable[[World], list[str]]:
    return with_file(name, content, lambda w, path: ["evaluate", str(w.run), "-p", str(path)])


def on_run(command: list[str], name: str, files: dict[str, str | bytes | None]) -> Callable[[World], list[str]]:
    return lambda w: [command[0], str(w.run_with(name, files)), *command[1:]]


GH_HINT = "gh issue list"
CASES = [
    # -- mine: dates, repositories, options --------------------------------------------------
    Case("since-garbage", mine("--since", "garbage"), "--since 'garbage' is not a date git understands", "give a date such as"),
    Case("until-garbage", mine("--until", "not a date at all"), "--until 'not a date at all' is not a date", "give a date such as"),
    Case("since-empty", mine("--since", ""), "is not a date git understands", "give a date such as"),
    Case("repo-is-a-file", lambda w: ["mine", str(w.repo / "README.md"), "-o", str(w.root / "out")], "is a file, not a folder", "pass the folder of a git clone"),
    Case("repo-missing", lambda w: ["mine", str(w.root / "nowhere"), "-o", str(w.root / "out")], "does not exist", "pass the path of a git clone"),
    Case("repo-not-git", lambda w: ["mine", str(w.root / "plain-folder"), "-o", str(w.root / "out")], "is not a git repository", "git clone"),
    Case("repo-shallow", lambda w: ["mine", str(w.root / "shallow"), "--no-validate", "-o", str(w.root / "out")], "is a shallow clone", "fetch --unshallow"),
    Case("ref-unknown", mine("--ref", "no-such-branch"), "--ref 'no-such-branch' names no commit", "branch -a"),
    Case("output-is-a-file", lambda w: ["mine", str(w.repo), "--no-validate", "-o", str(w.repo / "README.md")], "is a file", "pass a folder for the run"),
    Case("workers-0", mine("--workers", "0"), "0 is not in the range x>=1", "--help"),
    Case("max-candidates-0", mine("--max-candidates", "0"), "0 is not in the range x>=1", "--help"),
    Case("min-score-2", mine("--min-score", "2"), "not in the range 0<=x<=1", "--help"),
    # -- mine: issues exports of the wrong shape ------------------------------------------------
    Case("issues-object", with_file("issues-object.json", '{"total": 3}', lambda w, p: mine("--issues", str(p))(w)), "no \"issues\" list", GH_HINT),
    Case("issues-numbers", with_file("issues-numbers.json", "[1, 2, 3]", lambda w, p: mine("--issues", str(p))(w)), "not an object", GH_HINT),
    Case("issues-not-json", with_file("issues-broken.json", '[{"number": 1,', lambda w, p: mine("--issues", str(p))(w)), "not valid JSON", GH_HINT),
    Case("issues-a-folder", lambda w: mine("--issues", str(w.root / "plain-folder"))(w), "is a directory", "--help"),
    # -- swegen.toml / --config -----------------------------------------------------------------
    Case("config-unknown-key", with_file("k.toml", '[environment]\npyton = "3.11"\n', lambda w, p: mine("--config", str(p))(w)),
         "unknown setting 'pyton' in [environment]", "[environment] takes python"),
    Case("config-unknown-section", with_file("s.toml", '[enviroment]\npython = "3.11"\n', lambda w, p: mine("--config", str(p))(w)),
         "unknown section [enviroment]", "use only [environment], [tests]"),
    Case("config-float-python", with_file("f.toml", "[environment]\npython = 3.10\n", lambda w, p: mine("--config", str(p))(w)),
         "python must be a string", 'python = "3.11"'),
    Case("config-string-not-list", with_file("l.toml", '[tests]\nglobs = "spec/**"\n', lambda w, p: mine("--config", str(p))(w)),
         "expected a list of strings", 'install = ["pip install ."]'),
    Case("config-not-toml", with_file("t.toml", "[tests\n", lambda w, p: mine("--config", str(p))(w)), "is not valid TOML", "fix the file"),
    Case("repo-swegen-toml-typo", lambda w: ["mine", str(w.root / "typo-repo"), "--no-validate", "-o", str(w.root / "out")],
         "swegen.toml has an unknown setting 'glob' in [tests]", "[tests] takes pytest_args, globs"),
    Case("config-a-folder", lambda w: mine("--config", str(w.root / "plain-folder"))(w), "is a directory", "--help"),
    Case("template-broken", with_file("t.j2", "{{ problem ", lambda w, p: mine("--statement-template", str(p))(w)), "line 1", "fix the Jinja2 syntax"),
    # -- run folders: run.json and tasks.jsonl ----------------------------------------------------
    Case("run-json-corrupt", on_run(["evaluate", "-p", "gold"], "corrupt-json", {"run.json": '{"schema_version": 1, "repo'}),
         "run.json is unreadable or not JSON", "restore it, or mine again"),
    Case("run-json-newer", on_run(["solve", "--agent", "scripted", "--name", "s"], "newer-json", {"run.json": '{"schema_version": 99}'}),
         "written by a newer swegen (run.json schema 99", "upgrade swegen"),
    Case("run-json-not-object", on_run(["report"], "list-json", {"run.json": "[1]"}), "run.json is not a JSON object", "restore it"),
    Case("tasks-empty", on_run(["evaluate", "-p", "gold"], "tasks-empty", {"tasks.jsonl": ""}), "has no validated tasks", "mine a longer history"),
    Case("tasks-truncated", lambda w: on_run(["evaluate", "-p", "gold"], "tasks-cut", {"tasks.jsonl": task_line(w.head)[:70]})(w),
         "tasks.jsonl line 1 is not JSON", "run `swegen validate"),
    Case("tasks-a-folder", on_run(["solve", "--agent", "scripted", "--name", "s"], "tasks-folder", {"tasks.jsonl": None}), "is a folder, not a file", "remove it"),
    Case("tasks-not-a-task", on_run(["evaluate", "-p", "gold"], "tasks-field", {"tasks.jsonl": '{"instance_id": "x"}\n'}), "is not a task (no base_commit)",
         "run `swegen validate"),
    Case("tasks-not-utf8", on_run(["export", "--jsonl-only"], "tasks-bytes", {"tasks.jsonl": b'{"instance_id": "\xff"}\n'}), "is not UTF-8", "run `swegen validate"),
    Case("export-no-tasks", on_run(["export"], "export-empty", {"tasks.jsonl": ""}), "no validated tasks to export", "relax the filters"),
    Case("run-dir-a-file", lambda w: ["validate", str(w.run / "tasks.jsonl")], "is a file", "--help"),
    Case("instance-unknown", lambda w: ["evaluate", str(w.run), "-p", "gold", "--instance", "acme__ledger-404"], "no task acme__ledger-404", "see tasks.jsonl"),
    Case("task-json-corrupt", lambda w: ["env", "show", str(w.run_with("task-json", {"acme__ledger-1/task.json": "{"}) / "acme__ledger-1")], "is not a task record",
         "restore it"),
    # -- predictions -----------------------------------------------------------------------------
    Case("predictions-duplicate", evaluate_file("dup.jsonl", prediction() + prediction()), "a second prediction of m for acme__ledger-1", "keep one prediction"),
    Case("predictions-unknown-id", evaluate_file("unknown.jsonl", prediction("other__repo-7")), "other__repo-7 is not a task of this run folder",
         "made for this run's tasks.jsonl"),
    Case("predictions-not-utf8", evaluate_file("bytes.jsonl", b'{"instance_id": "acme__ledger-1", "model_name_or_path": "m", "model_patch": "diff --git a/x b/x\\n+caf\xe9\\n"}\n'),
         "line 1 is not UTF-8 (byte 0xe9)", "write predictions as UTF-8 JSON"),
    Case("predictions-not-a-diff", evaluate_file("prose.jsonl", prediction(patch="I would change between() to include the end.")),
         "the model_patch of acme__ledger-1 is not a diff", "must be a unified diff"),
    Case("predictions-not-json", evaluate_file("broken.jsonl", prediction() + '{"instance_id": \n'), "line 2 is not JSON", "one JSON object per line"),
    Case("predictions-no-id", evaluate_file("noid.jsonl", '{"model_name_or_path": "m", "model_patch": ""}\n'), "has no instance_id", "needs instance_id"),
    Case("predictions-a-folder", lambda w: ["evaluate", str(w.run), "-p", str(w.root / "plain-folder")], "is a folder", "pass the predictions JSONL file"),
    Case("predictions-empty", evaluate_file("empty.jsonl", ""), "holds no predictions", "one JSON object per line"),
    # -- solve options ---------------------------------------------------------------------------
    Case("solve-ftp-url", lambda w: ["solve", str(w.run), "--agent", "openai", "--name", "m", "--base-url", "ftp://models.example/v1", "--model", "m"],
         "is not an http(s) URL", "OpenAI-compatible endpoint"),
    Case("solve-no-cmd", lambda w: ["solve", str(w.run), "--agent", "command", "--name", "m"], "the command agent needs a command", "pass --cmd"),
    Case("solve-workers-0", lambda w: ["solve", str(w.run), "--agent", "scripted", "--name", "m", "--workers", "0"], "0 is not in the range", "--help"),
    Case("validate-workers-0", lambda w: ["validate", str(w.root / "mined"), "--workers", "0"], "0 is not in the range", "--help"),
    Case("evaluate-timeout-0", lambda w: ["evaluate", str(w.run), "-p", "gold", "--timeout", "0"], "not in the range x>=1", "--help"),
    Case("report-bad-public", lambda w: ["report", str(w.run), "--public", "m=lots"], "--public 'm=lots'", "MODEL=VALUE"),
    # -- Docker missing ----------------------------------------------------------------------------
    Case("docker-missing-mine", lambda w: ["mine", str(w.repo), "-o", str(w.root / "out")], "Docker daemon is not reachable", "start Docker", NO_DOCKER),
    Case("docker-missing-validate", lambda w: ["validate", str(w.root / "mined")], "Docker daemon is not reachable", "start Docker", NO_DOCKER),
    Case("docker-missing-solve", lambda w: ["solve", str(w.run), "--agent", "scripted", "--name", "s"], "Docker daemon is not reachable", "start Docker", NO_DOCKER),
    Case("docker-missing-evaluate", lambda w: ["evaluate", str(w.run), "-p", "gold"], "Docker daemon is not reachable", "start Docker", NO_DOCKER),
    Case("docker-missing-doctor", lambda w: ["doctor", "-o", str(w.root)], "check(s) failed", "start Docker", NO_DOCKER),
    Case("docker-missing-demo", lambda w: ["demo", "-o", str(w.root / "demo")], "Docker daemon is not reachable", "start Docker", NO_DOCKER),
]


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under root with a hash of its content (git's own bookkeeping left out)."""
    state = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if ".git" in rel.split("/") or rel.startswith("bare.git/"):
            continue  # git's own bookkeeping (a refreshed index) is not ours to keep still
        if path.is_symlink() or not path.is_file():
            state[rel] = "dir"
        else:
            state[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return state


def one_line(proc: subprocess.CompletedProcess[str]) -> str:
    """The single line a failed command printed on stderr, after checking it failed as it should."""
    assert proc.returncode == 2, (proc.returncode, proc.stdout[-2000:], proc.stderr[-2000:])
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("swegen: error: "), lines[0]
    return lines[0]


def test_the_table_is_long_enough():
    assert len(CASES) >= 30 and len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case: Case, world: World):
    args = case.args(world)  # builds the case's own input files first
    before = snapshot(world.root)
    line = one_line(run_cli(*args, env=case.env, cwd=world.root, timeout=120))
    assert case.says in line and case.hint in line, line
    assert snapshot(world.root) == before, "the command changed files before it failed"


def test_a_bare_repository_is_not_an_error_it_is_mined(world: World, tmp_path: Path):
    """The control for the repository rows: bare is fine, only a cut (shallow) history is refused."""
    proc = run_cli("mine", str(world.root / "bare.git"), "--no-validate", "-o", str(tmp_path / "bare-run"), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert sum(1 for line in (tmp_path / "bare-run" / "candidates.jsonl").read_text().splitlines() if '"kept": true' in line) >= 4


def test_a_shallow_clone_is_mined_when_asked_for(world: World, tmp_path: Path):
    """The control for the shallow row: the refusal is the default, not an inability."""
    proc = run_cli("mine", str(world.root / "shallow"), "--no-validate", "--allow-shallow", "-o", str(tmp_path / "cut"), timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "shallow clone" in proc.stderr and (tmp_path / "cut" / "candidates.jsonl").exists()


def test_a_date_git_understands_is_accepted(world: World, tmp_path: Path):
    """The control for the date rows: the check refuses only what git cannot read."""
    proc = run_cli("mine", str(world.repo), "--no-validate", "--since", "2000-01-01", "--until", "10 years ago", "-o", str(tmp_path / "dated"))
    assert proc.returncode == 0, proc.stderr


def test_a_hint_with_brackets_prints_literally(world: World, tmp_path: Path):
    """The parquet hint names the extra `swegen[parquet]`; rich would read `[parquet]` as markup."""
    shim = tmp_path / "shim" / "pyarrow"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('pyarrow is not installed here')\n")
    out = tmp_path / "export" / "swebench"
    line = one_line(run_cli("export", str(world.run), "-o", str(out), env={"PYTHONPATH": str(shim.parent)}))
    assert "pip install 'swegen[parquet]'" in line, line
    # the control: printed as markup, the same hint loses its brackets
    console = Console(record=True, width=200)
    console.print("pip install 'swegen[parquet]'")
    assert "swegen[parquet]" not in console.export_text()


def test_a_predictions_file_nobody_may_read(world: World, tmp_path: Path):
    """Unreadable input, as a user without the permission. Root reads everything, so the command runs
    as root without the capabilities that bypass file permissions (a switch to another user would also
    need every folder above the checkout to be open to it, which a CI clone in a private temporary
    folder is not)."""
    drop = ["setpriv", "--bounding-set=-dac_override,-dac_read_search"]
    probe = subprocess.run([*drop, "true"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot drop the file-permission capabilities here: {probe.stderr.decode(errors='replace').strip()}")
    shutil.copytree(world.run, tmp_path / "run")
    secret = tmp_path / "predictions.jsonl"
    secret.write_text(prediction())
    secret.chmod(0o000)
    before = snapshot(tmp_path)
    proc = subprocess.run(
        [*drop, os.sys.executable, "-m", "swegen", "evaluate", str(tmp_path / "run"), "-p", str(secret)],
        capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )
    line = one_line(proc)
    assert "cannot read predictions file" in line and "Permission denied" in line and "make it readable" in line, line
    assert snapshot(tmp_path) == before


@pytest.fixture()
def full_disk(tmp_path: Path):
    """A 200 KiB tmpfs, unmounted afterwards."""
    mount = tmp_path / "full"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def big_run(world: World, folder: Path) -> Path:
    """A run folder whose one task is bigger than the small disk (a 300 kB gold patch)."""
    shutil.copytree(world.run, folder)
    task = json.loads(task_line(world.head))
    task["patch"] = "diff --git a/x b/x\n--- a/x\n+++ b/x\n@@ -0,0 +1 @@\n+" + "x" * 300_000 + "\n"
    (folder / "tasks.jsonl").write_text(json.dumps(task) + "\n")
    return folder


def test_export_onto_a_full_disk_is_one_line_and_leaves_no_torn_file(world: World, tmp_path: Path, full_disk: Path):
    run = big_run(world, tmp_path / "big")
    for extra in (["--jsonl-only"], []):
        line = one_line(run_cli("export", str(run), "-o", str(full_disk / "swebench"), *extra))
        assert "No space left on device" in line and "free some disk space" in line, line
        assert list(full_disk.iterdir()) == [], "no half-written export and no temporary file is left"


def test_solve_onto_a_full_disk_is_one_line_and_leaves_no_torn_line(world: World, full_disk: Path):
    from swegen.fake_model import FakeModelServer

    run = full_disk / "run"
    shutil.copytree(world.run, run)
    huge = "diff --git a/README.md b/README.md\n--- a/README.md\n+++ b/README.md\n@@ -1 +1,2 @@\n"
    first = (world.repo / "README.md").read_text().splitlines()[0]
    reply = "```diff\n" + huge + f" {first}\n+" + "y" * 300_000 + "\n```\n"
    with FakeModelServer(lambda messages, model: reply) as server:
        proc = run_cli("solve", str(run), "--agent", "openai", "--name", "big-model", "--base-url", server.base_url, "--model", "m")
    line = one_line(proc)
    assert "No space left on device" in line, line
    predictions = run / "predictions" / "big-model.jsonl"
    assert not predictions.exists() or predictions.read_text() == "", "no torn prediction line is left"


def test_mine_onto_a_full_disk_is_one_line_and_leaves_no_torn_file(world: World, tmp_path: Path):
    """Mining fills a small disk part way: one line, exit 2, and every file it leaves is whole."""
    done = {}
    for size in ("8k", "16k", "32k", "64k"):  # some size fills up part way through the output
        mount = tmp_path / f"disk-{size}"
        mount.mkdir()
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.strip()}")
        try:
            out = mount / "out"
            mined = run_cli("mine", str(world.repo), "--no-validate", "-o", str(out))
            if mined.returncode == 0:
                continue
            line = one_line(mined)
            assert "No space left on device" in line and "free some disk space" in line, line
            for path in out.rglob("*"):
                if path.is_file():
                    assert not path.name.endswith(".tmp"), f"temporary file left: {path}"
                    if path.suffix == ".jsonl":
                        text = path.read_text()
                        assert text == "" or text.endswith("\n"), f"torn last line in {path}"
                        for row in text.splitlines():
                            json.loads(row)
                    if path.suffix == ".patch":
                        assert path.stat().st_size > 0, f"empty patch left: {path}"
            done[size] = sum(1 for _ in out.rglob("*"))
        finally:
            subprocess.run(["umount", "-l", str(mount)], check=False)
    assert done, "no disk size made mining fail: the test did not test anything"


def test_a_repository_missing_objects_is_named_as_such(tmp_path):
    """A partial or damaged clone (a blob gone from .git/objects): one line that says so and
    what to do, exit 2, not "check --ref, --since and --until"."""
    from gitrepo import GitRepo

    repo = GitRepo(tmp_path / "repo")
    repo.commit("one", {"a.py": "x = 1\n"})
    repo.commit("two", {"a.py": "x = 2\n"})
    blob = subprocess.run(["git", "-C", str(repo.path), "rev-parse", "HEAD~1:a.py"], capture_output=True, text=True, check=True).stdout.strip()
    (repo.path / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    result = run_cli("mine", str(repo.path), "-o", str(tmp_path / "run"), "--no-validate")
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "lacks object" in result.stderr and "git fsck" in result.stderr and "Traceback" not in result.stderr, result.stderr
    assert len(lines) <= 3, result.stderr
