"""Reading a repository's history in two streaming git passes.

Pass one (`walk`) lists every commit on the first-parent line of every branch and tag with its
changed files and line counts, cheaply, in one `git log` process. Pass two (`diffs`) streams full
patches, only for the commits that survived cheap filters, through one `git diff-tree --stdin`.
A merge is diffed against its first parent, so a pull request is one unit even when its test
arrived in a separate commit of the branch.
"""

from __future__ import annotations

import bisect
import re
import subprocess
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Iterator

from swegen.errors import GitError, NotAGitRepository, SwegenError

RECORD = "\x1e"
FIELD = "\x1f"
LOG_FORMAT = RECORD + FIELD.join(["%H", "%P", "%an", "%ae", "%at", "%ct", "%B"]) + FIELD


@dataclass(frozen=True)
class FileStat:
    """One changed file of a commit, from `--numstat` (binary files have no line counts)."""

    path: str
    added: int
    deleted: int
    binary: bool


@dataclass(frozen=True)
class Commit:
    """One commit on a first-parent line, with its files changed against its first parent."""

    sha: str
    parents: tuple[str, ...]
    author_name: str
    author_email: str
    author_time: int
    commit_time: int
    message: str
    files: tuple[FileStat, ...]
    #: Filled in by the miner: is the commit on the main line, and is its second parent?
    on_main_line: bool = False
    second_parent_on_main_line: bool = False

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    @property
    def base(self) -> str | None:
        """The commit a fix is diffed against: the first parent (None for a root commit)."""
        return self.parents[0] if self.parents else None

    @property
    def subject(self) -> str:
        return self.message.split("\n", 1)[0].strip()


def git(repo: Path, *args: str, input: bytes | None = None, check: bool = True) -> str:
    """Run git in `repo` and return its stdout as text; GitError when it fails."""
    proc = subprocess.run(["git", "-C", str(repo), *args], input=input, capture_output=True)
    if check and proc.returncode != 0:
        raise GitError(f"git {args[0]} failed in {repo}", detail=proc.stderr.decode(errors="replace"))
    return proc.stdout.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class RepoInfo:
    """What mining needs to know about a repository before it walks it."""

    path: Path
    bare: bool
    shallow: bool
    commit_count: int
    head: str | None
    default_branch: str | None
    has_submodules: bool
    uses_lfs: bool


def open_repo(path: Path) -> RepoInfo:
    """Check that `path` is a git repository with history; say what to do when it is not."""
    import git as gitpython

    if not path.exists():
        raise NotAGitRepository(f"{path} does not exist", hint="pass the path of a git repository")
    try:
        repo = gitpython.Repo(path, search_parent_directories=False)
    except (gitpython.InvalidGitRepositoryError, gitpython.NoSuchPathError) as exc:
        raise NotAGitRepository(
            f"{path} is not a git repository", hint="pass the top folder of a clone (the one that holds .git)"
        ) from exc
    refs = git(path, "for-each-ref", "--format=%(objectname)", "refs/heads", "refs/tags", "refs/remotes").split()
    if not refs:
        raise SwegenError(f"{path} has no commits", hint="commit something first, or pass a repository with history")
    count = int(git(path, "rev-list", "--branches", "--tags", "--remotes", "--count").strip() or 0)
    head = git(path, "rev-parse", "--verify", "-q", "HEAD", check=False).strip() or None
    branch = git(path, "symbolic-ref", "-q", "--short", "HEAD", check=False).strip() or None
    root = Path(repo.git_dir)
    work = None if repo.bare else Path(repo.working_tree_dir or path)
    lfs = bool(work and (work / ".gitattributes").is_file() and "filter=lfs" in (work / ".gitattributes").read_text(errors="replace"))
    return RepoInfo(
        path=path,
        bare=repo.bare,
        shallow=(root / "shallow").exists(),
        commit_count=count,
        head=head,
        default_branch=branch,
        has_submodules=bool(work and (work / ".gitmodules").is_file()),
        uses_lfs=lfs,
    )


def walk(
    repo: Path,
    refs: Iterable[str] = ("--branches", "--tags", "--remotes"),
    since: str | None = None,
    until: str | None = None,
    paths: Iterable[str] = (),
) -> Iterator[Commit]:
    """Every commit on the first-parent line of `refs`, newest first, with numstat. One git process."""
    args = ["log", "--first-parent", "-z", "--numstat", "--no-renames", "--diff-merges=first-parent", f"--format={LOG_FORMAT}"]
    args += [f"--since={since}"] if since else []
    args += [f"--until={until}"] if until else []
    args += list(refs)
    args += ["--", *paths] if paths else []
    proc = subprocess.Popen(["git", "-C", str(repo), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    try:
        yield from _parse_log(_records(proc.stdout))
    finally:
        proc.stdout.close()
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0 and not stderr.startswith("fatal: your current branch"):
            raise GitError("git log failed", hint="check --ref, --since and --until", detail=stderr)


def _records(stream) -> Iterator[str]:
    """Split the log stream on the record separator, without holding it all in memory."""
    pending = ""
    while True:
        chunk = stream.read(1 << 16)
        if not chunk:
            break
        pending += chunk.decode("utf-8", errors="replace")
        *complete, pending = pending.split(RECORD)
        yield from (record for record in complete if record)
    if pending:
        yield pending


def _parse_log(records: Iterable[str]) -> Iterator[Commit]:
    for record in records:
        sha, parents, name, email, atime, ctime, message, stats = record.split(FIELD, 7)
        yield Commit(
            sha=sha,
            parents=tuple(parents.split()),
            author_name=name,
            author_email=email,
            author_time=int(atime),
            commit_time=int(ctime),
            message=message.strip(),
            files=tuple(_parse_numstat(stats)),
        )


def _parse_numstat(text: str) -> Iterator[FileStat]:
    for entry in text.split("\0"):
        entry = entry.strip("\n")
        if not entry:
            continue
        added, deleted, path = entry.split("\t", 2)
        binary = added == "-"
        yield FileStat(path, 0 if binary else int(added), 0 if binary else int(deleted), binary)


def first_parent_line(repo: Path, ref: str = "HEAD") -> set[str]:
    """The commits on the first-parent line of `ref` (the main line)."""
    return set(git(repo, "rev-list", "--first-parent", ref).split())


def main_line_ref(repo: Path) -> str | None:
    """The default branch: origin's HEAD when known, else main/master/trunk/develop, else HEAD."""
    remote_head = git(repo, "symbolic-ref", "-q", "refs/remotes/origin/HEAD", check=False).strip()
    if remote_head:
        return remote_head
    for name in ("main", "master", "trunk", "develop"):
        if git(repo, "rev-parse", "--verify", "-q", f"refs/heads/{name}", check=False).strip():
            return f"refs/heads/{name}"
    head = git(repo, "rev-parse", "--verify", "-q", "HEAD", check=False).strip()
    return "HEAD" if head else None


def reachable(repo: Path, ref: str = "HEAD") -> set[str]:
    """Every commit reachable from `ref`."""
    return set(git(repo, "rev-list", ref).split())


def branch_commits(repo: Path, merge: Commit) -> list[tuple[str, str]]:
    """(sha, message) of the commits a merge brought in, oldest first."""
    if not merge.is_merge:
        return []
    out = git(repo, "log", "--reverse", "-z", "--format=%H%x1f%B", f"{merge.parents[0]}..{merge.sha}")
    pairs = []
    for item in out.split("\0"):
        item = item.strip("\n")
        if item and FIELD in item:
            sha, message = item.split(FIELD, 1)
            if sha != merge.sha:
                pairs.append((sha, message.strip()))
    return pairs


def diffs(repo: Path, pairs: list[tuple[str, str]]) -> Iterator[tuple[str, bytes]]:
    """Full patches for (commit, base) pairs, in the order given, through one git process.

    Rename detection is on, binary changes come as git binary patches (so they can be applied),
    and the bytes are returned as they are: the caller decides what to do with non-UTF-8 text.
    """
    if not pairs:
        return
    cmd = ["git", "-C", str(repo), "diff-tree", "--stdin", "-p", "-M", "--binary", "--no-color", "--no-ext-diff", "--full-index"]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None and proc.stdout is not None

    def feed() -> None:
        try:
            for commit, base in pairs:
                proc.stdin.write(f"{commit} {base}\n".encode())  # type: ignore[union-attr]
            proc.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    try:
        yield from _split_diff_stream(proc.stdout, [commit for commit, _ in pairs])
    finally:
        proc.stdout.close()
        writer.join()
        err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        if proc.wait() != 0:
            raise GitError("git diff-tree failed", detail=err)


def _split_diff_stream(stream, expected: list[str]) -> Iterator[tuple[str, bytes]]:
    """diff-tree prints each commit id on a line of its own before its patch."""
    headers = {sha.encode() + b"\n" for sha in expected}
    current: str | None = None
    body: list[bytes] = []
    for line in stream:
        if line in headers and (current is None or line.rstrip(b"\n").decode() != current):
            if current is not None:
                yield current, b"".join(body)
            current, body = line.rstrip(b"\n").decode(), []
        else:
            body.append(line)
    if current is not None:
        yield current, b"".join(body)


class BlobReader:
    """File contents at any commit through one long-lived `git cat-file --batch` process."""

    def __init__(self, repo: Path) -> None:
        self._proc = subprocess.Popen(
            ["git", "-C", str(repo), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    def read(self, commit: str, path: str) -> bytes | None:
        """The file at `commit:path`, or None when it does not exist there."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        if "\n" in path:
            return None
        self._proc.stdin.write(f"{commit}:{path}\n".encode())
        self._proc.stdin.flush()
        header = self._proc.stdout.readline().decode(errors="replace").split()
        if len(header) < 3 or header[1] == "missing":
            return None
        size = int(header[2])
        data = self._proc.stdout.read(size)
        self._proc.stdout.read(1)  # the newline after each object
        return data if header[1] == "blob" else None

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait()

    def __enter__(self) -> "BlobReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def patch_ids(repo: Path, pairs: list[tuple[str, str]]) -> dict[str, str]:
    """`git patch-id --stable` of each (commit, base) diff: equal ids mean the same change."""
    if not pairs:
        return {}
    feed = "".join(f"{commit} {base}\n" for commit, base in pairs).encode()
    diff = subprocess.Popen(
        ["git", "-C", str(repo), "diff-tree", "--stdin", "-p", "--no-color", "--no-ext-diff"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    ids = subprocess.Popen(["git", "-C", str(repo), "patch-id", "--stable"], stdin=diff.stdout, stdout=subprocess.PIPE)
    assert diff.stdin is not None and diff.stdout is not None
    diff.stdout.close()  # patch-id owns the pipe now
    writer = threading.Thread(target=lambda: (diff.stdin.write(feed), diff.stdin.close()), daemon=True)  # type: ignore[union-attr]
    writer.start()
    out, _ = ids.communicate()
    writer.join()
    diff.wait()
    result = {}
    for line in out.decode().splitlines():
        patch_id, commit = line.split()
        result[commit] = patch_id
    return result


class TagTimeline:
    """Tags by the time of the commit they point at, to name the version a commit belongs to.

    One git call for the whole run; "the newest tag made before the commit" is what a task's
    version means in practice, without an ancestry query per task.
    """

    def __init__(self, repo: Path) -> None:
        out = git(repo, "for-each-ref", "refs/tags", "--format=%(*committerdate:unix)%(committerdate:unix) %(refname:short)")
        pairs = []
        for line in out.splitlines():
            stamp, _, name = line.partition(" ")
            if stamp.isdigit():
                pairs.append((int(stamp), name))
        pairs.sort()
        self._times = [t for t, _ in pairs]
        self._names = [n for _, n in pairs]

    def version_at(self, commit_time: int) -> str | None:
        index = bisect.bisect_right(self._times, commit_time)
        return self._names[index - 1] if index else None


def remote_name(repo: Path) -> str | None:
    """owner/name from the origin remote's URL, when there is one."""
    url = git(repo, "config", "--get", "remote.origin.url", check=False).strip()
    if "://" not in url and not re.match(r"^[\w.-]+@[\w.-]+:", url):
        return None  # a local path is no hosting name; the folder name serves better
    if url.startswith("file://"):
        return None
    match = re.search(r"[:/]([^/:]+)/([^/]+?)(?:\.git)?/?$", url)
    return f"{match[1]}/{match[2]}" if match else None
