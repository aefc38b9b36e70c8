"""Replay the example history into a fresh git repository, byte-for-byte the same every time."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from swegen.errors import BadInput, GitError, SwegenError
from swegen.example.history import STEPS, Branch, Checkout, Commit, Merge, Person, Step

DEFAULT_BRANCH = "main"

# Settings that would otherwise come from the user's or the system's git config and change
# the bytes of a commit (signing, line endings) or run code we did not write (hooks).
_GIT_CONFIG = (
    "commit.gpgsign=false",
    "tag.gpgsign=false",
    "core.autocrlf=false",
    "core.safecrlf=false",
    "core.hooksPath=" + os.devnull,
    "init.defaultBranch=" + DEFAULT_BRANCH,
    "merge.ff=false",
    "gc.auto=0",
    "maintenance.auto=false",
    "user.name=swegen example",
    "user.email=example@swegen.invalid",
)


def create_example(dest: Path) -> Path:
    """Create a new git repository at `dest` holding the example project and its history.

    `dest` must not exist yet, or be an empty directory. The same commits (same SHAs) come out
    on every machine and every run. On failure nothing is left behind in `dest`.
    """
    dest = Path(dest)
    _check_destination(dest)
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        git = _Git(dest)
        git.run("init", "-q")
        # `git init -b` needs git 2.28; pointing HEAD at the branch works with any version.
        git.run("symbolic-ref", "HEAD", f"refs/heads/{DEFAULT_BRANCH}")
        for step in STEPS:
            _apply(git, step)
        git.run("checkout", "-q", DEFAULT_BRANCH)
    except BaseException:
        _discard(dest, created)
        raise
    return dest


def _check_destination(dest: Path) -> None:
    hint = "give a path that does not exist yet (or an empty directory), e.g. ./ledger-example"
    if dest.exists() and not dest.is_dir():
        raise BadInput(f"{dest} exists and is not a directory", hint=hint)
    if dest.is_dir() and any(dest.iterdir()):
        raise BadInput(f"{dest} is not empty", hint=hint)


def _discard(dest: Path, created: bool) -> None:
    """Remove a half-built repository; `dest` held nothing of the user's, we checked."""
    if created:
        shutil.rmtree(dest, ignore_errors=True)
        return
    for child in dest.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink()


def _apply(git: _Git, step: Step) -> None:
    if isinstance(step, Commit):
        _commit(git, step)
    elif isinstance(step, Branch):
        git.run("checkout", "-q", "-b", step.name)
    elif isinstance(step, Checkout):
        git.run("checkout", "-q", step.name)
    elif isinstance(step, Merge):
        env = _identity(step.author, step.date)
        git.run("merge", "-q", "--no-ff", "-m", step.message, step.branch, env=env)
        git.run("branch", "-q", "-d", step.branch)
    else:  # pragma: no cover - a new step type without a handler is a programming error
        raise TypeError(f"unknown step {step!r}")


def _commit(git: _Git, step: Commit) -> None:
    for path, text in step.files.items():
        _write(git.repo / path, text)
    for path, old, new in step.edits:
        _edit(git.repo / path, old, new)
    git.run("add", "-A")
    git.run("commit", "-q", "--no-verify", "-F", "-", input=step.message, env=_identity(step.author, step.date))


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # Bytes, not text mode: on Windows text mode would turn \n into \r\n and change the blobs.
    path.write_bytes(text.encode("utf-8"))


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_bytes().decode("utf-8")
    count = text.count(old)
    if count != 1:
        # The history is data shipped with swegen, so this is a bug in swegen, not the user's.
        raise SwegenError(f"example history is broken: {path.name} has {count} copies of an edit's old text")
    _write(path, text.replace(old, new))


def _identity(person: Person, date: str) -> dict[str, str]:
    return {
        "GIT_AUTHOR_NAME": person.name,
        "GIT_AUTHOR_EMAIL": person.email,
        "GIT_AUTHOR_DATE": date,
        "GIT_COMMITTER_NAME": person.name,
        "GIT_COMMITTER_EMAIL": person.email,
        "GIT_COMMITTER_DATE": date,
    }


class _Git:
    """Runs git in one repository, isolated from the caller's git config and environment."""

    def __init__(self, repo: Path) -> None:
        self.repo = repo
        # Any inherited GIT_* variable (GIT_DIR from a hook, GIT_AUTHOR_DATE, ...) could point
        # git elsewhere or change the commits, so none are passed on.
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
        self.env.update(
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_CONFIG_NOSYSTEM="1",
            GIT_TERMINAL_PROMPT="0",
            GIT_EDITOR="true",
            GIT_MERGE_AUTOEDIT="no",
        )

    def run(self, *args: str, input: str | None = None, env: dict[str, str] | None = None) -> str:
        config = [part for item in _GIT_CONFIG for part in ("-c", item)]
        cmd = ["git", "-C", str(self.repo), *config, *args]
        try:
            done = subprocess.run(
                cmd,
                input=input.encode("utf-8") if input is not None else None,
                capture_output=True,
                env={**self.env, **(env or {})},
                check=False,
            )
        except FileNotFoundError:
            raise SwegenError("git is not installed", hint="install git and put it on PATH") from None
        if done.returncode != 0:
            stderr = done.stderr.decode("utf-8", "replace").strip()
            raise GitError(
                f"git {args[0]} failed while building the example repository",
                hint="check that git >= 2.32 is installed and the destination is writable",
                detail=stderr,
            )
        return done.stdout.decode("utf-8", "replace")
