"""Reading a repository's history in two streaming git passes.

Pass one (`walk`) lists every commit on the first-parent line of every branch and tag with its
changed files and line counts, cheaply, in one `git log` process. Pass two (`DiffReader`) reads
full patches, only for the commits that survived cheap filters, through long-lived
`git diff-tree --stdin` processes.
A merge is diffed against its first parent, so a pull request is one unit even when its test
arrived in a separate commit of the branch.
"""

from __future__ import annotations

import bisect
import io
import os
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
    #: Filled in by the miner: the merge this unit was found inside (a pull request merged into
    #: a maintenance branch that reached the walked line through another merge), if any.
    nested_in: str | None = None
    #: Filled in by the miner: the units this merge was decomposed into (0: it is one unit).
    inner_units: int = 0
    #: Filled in by the miner: the other commits of a fast-forwarded or rebased pull request
    #: that this commit ends (its first-parent ancestors down to, not including, `base`).
    pr_commits: tuple[str, ...] = ()

    @property
    def is_merge(self) -> bool:
        return len(self.parents) > 1

    #: Filled in by the miner for a rebased pull request of several commits: its base.
    pr_base: str | None = None

    @property
    def base(self) -> str | None:
        """The commit a fix is diffed against: the first parent (None for a root commit), or the
        base of the rebased pull request the commit ends."""
        if self.pr_base is not None:
            return self.pr_base
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
    if not path.exists():
        raise NotAGitRepository(f"{path} does not exist", hint="pass the path of a git repository")
    bare, git_dir = _repo_dirs(path)
    refs = git(path, "for-each-ref", "--format=%(objectname)", "refs/heads", "refs/tags", "refs/remotes").split()
    if not refs:
        raise SwegenError(f"{path} has no commits", hint="commit something first, or pass a repository with history")
    count = int(git(path, "rev-list", "--branches", "--tags", "--remotes", "--count").strip() or 0)
    head = git(path, "rev-parse", "--verify", "-q", "HEAD", check=False).strip() or None
    branch = git(path, "symbolic-ref", "-q", "--short", "HEAD", check=False).strip() or None
    work = None if bare else path
    lfs = bool(work and (work / ".gitattributes").is_file() and "filter=lfs" in (work / ".gitattributes").read_text(errors="replace"))
    return RepoInfo(
        path=path,
        bare=bare,
        shallow=(git_dir / "shallow").exists(),
        commit_count=count,
        head=head,
        default_branch=branch,
        has_submodules=bool(work and (work / ".gitmodules").is_file()),
        uses_lfs=lfs,
    )


def _repo_dirs(path: Path) -> tuple[bool, Path]:
    """(bare?, git directory) of the repository at `path` itself: a clone's top folder or a bare
    repository, not a folder inside a clone (git must not look in the folders above)."""
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(path.resolve().parent)}
    proc = subprocess.run(
        ["git", "-C", str(path), "rev-parse", "--is-bare-repository", "--absolute-git-dir"], env=env, capture_output=True
    )
    lines = proc.stdout.decode(errors="replace").splitlines()
    if proc.returncode != 0 or len(lines) < 2:
        raise NotAGitRepository(
            f"{path} is not a git repository", hint="pass the top folder of a clone (the one that holds .git)"
        )
    return lines[0] == "true", Path(lines[1])


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
            missing = re.search(r"unable to read ([0-9a-f]{7,40})|bad object ([0-9a-f]{7,40})|missing (?:blob|tree|commit) ([0-9a-f]{7,40})", stderr)
            if missing:
                sha = next(g for g in missing.groups() if g)
                raise GitError(f"git log failed: the repository lacks object {sha[:12]} (a partial or damaged clone)",
                               hint="run `git fsck` there, fetch the missing objects (`git fetch --refetch`), or mine a full clone",
                               detail=stderr)
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


def first_parent_line(repo: Path, ref: str = "HEAD", graph: "CommitGraph | None" = None) -> set[str]:
    """The commits on the first-parent line of `ref` (the main line); from `graph` when given."""
    top = graph.resolve(repo, ref) if graph is not None else None
    if top is None:
        return set(git(repo, "rev-list", "--first-parent", ref).split())
    line: set[str] = set()
    sha: str | None = top
    while sha is not None and sha not in line:
        line.add(sha)
        parents = graph.commits[sha][1]  # type: ignore[union-attr]
        sha = parents[0] if parents else None
    return line


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


def reachable(repo: Path, ref: str = "HEAD", graph: "CommitGraph | None" = None) -> set[str]:
    """Every commit reachable from `ref`; from `graph` when given."""
    top = graph.resolve(repo, ref) if graph is not None else None
    if top is None:
        return set(git(repo, "rev-list", ref).split())
    found, pending = {top}, [top]
    while pending:
        for parent in graph.commits[pending.pop()][1]:  # type: ignore[union-attr]
            if parent not in found:
                found.add(parent)
                pending.append(parent)
    return found


def branch_commits(
    repo: Path, merge: Commit, graph: "CommitGraph | None" = None, objects: "BlobReader | None" = None
) -> list[tuple[str, str]]:
    """(sha, message) of the commits a merge brought in, oldest first: what `git log --reverse
    base..merge` lists. With a commit graph and a cat-file process, the walk runs here instead
    of in a git process per merge (a git process costs more than the walk)."""
    if merge.pr_commits:  # a rebased pull request: its other commits, oldest first
        shas = list(reversed(merge.pr_commits))
        if objects is not None:
            try:
                return list(zip(shas, _messages(objects, shas)))
            except _Unreadable:
                pass
        out = git(repo, "log", "--no-walk=unsorted", "-z", "--format=%H%x1f%B", *shas)
        return [(sha, message.strip()) for sha, _, message in (i.strip("\n").partition(FIELD) for i in out.split("\0") if FIELD in i)]
    if not merge.is_merge:
        return []
    if graph is not None and objects is not None and graph.messages_as_stored:
        try:
            listed = _RangeWalk(graph.commits).run(merge.parents[0], merge.sha)
            shas = [sha for sha in reversed(listed) if sha != merge.sha]
            return list(zip(shas, _messages(objects, shas)))
        except _Unreadable:
            pass  # a commit the graph does not know, or a message git log would convert: ask git
    out = git(repo, "log", "--reverse", "-z", "--format=%H%x1f%B", f"{merge.parents[0]}..{merge.sha}")
    pairs = []
    for item in out.split("\0"):
        item = item.strip("\n")
        if item and FIELD in item:
            sha, message = item.split(FIELD, 1)
            if sha != merge.sha:
                pairs.append((sha, message.strip()))
    return pairs


def read_commits(repo: Path, shas: list[str], paths: Iterable[str] = ()) -> list[Commit]:
    """The commits `shas` with numstat against their first parent, as `walk` gives them, in
    one git process (the order of `shas`; a commit outside `paths` is left out)."""
    if not shas:
        return []
    args = ["log", "--no-walk=unsorted", "--stdin", "-z", "--numstat", "--no-renames", "--diff-merges=first-parent"]
    args += [f"--format={LOG_FORMAT}"]
    args += ["--", *paths] if paths else []
    out = subprocess.run(["git", "-C", str(repo), *args], input="\n".join(shas).encode() + b"\n", capture_output=True)
    if out.returncode != 0:
        raise GitError("git log failed", detail=out.stderr.decode(errors="replace"))
    return list(_parse_log(_records(io.BytesIO(out.stdout))))


def commit_range(repo: Path, bottom: str, top: str, graph: "CommitGraph | None" = None) -> list[str]:
    """The commits of `git log bottom..top`, newest first: on the commit graph when there is one."""
    if graph is not None:
        try:
            return _RangeWalk(graph.commits).run(bottom, top)
        except _Unreadable:
            pass
    return git(repo, "rev-list", f"{bottom}..{top}").split()


def numstat_between(repo: Path, base: str, tip: str, paths: Iterable[str] = ()) -> tuple[FileStat, ...]:
    """The files changed from `base` to `tip`, as `walk` lists them."""
    out = git(repo, "diff", "-z", "--numstat", "--no-renames", base, tip, "--", *paths)
    return tuple(_parse_numstat(out))


class CommitGraph:
    """The date and parents of every commit, as git's revision walk sees them (shallow
    boundaries, replacements and grafts included), from one `git rev-list --all`."""

    def __init__(self, repo: Path) -> None:
        self.commits: dict[str, tuple[int, tuple[str, ...]]] = {}
        for line in git(repo, "rev-list", "--all", "--parents", "--timestamp").splitlines():
            date, sha, *parents = line.split()
            self.commits[sha] = (int(date), tuple(parents))
        encoding = git(repo, "config", "--get", "i18n.logOutputEncoding", check=False).strip().lower()
        #: False when git log converts messages to another encoding than the one they are stored in.
        self.messages_as_stored = encoding in ("", "utf-8", "utf8")

    def resolve(self, repo: Path, ref: str) -> str | None:
        """The commit `ref` names, when the graph has it."""
        sha = git(repo, "rev-parse", "--verify", "-q", f"{ref}^{{commit}}", check=False).strip()
        return sha if sha in self.commits else None


class _Unreadable(Exception):
    """A commit that the walk here cannot read the way git log would."""


def _messages(objects: "BlobReader", shas: list[str]) -> list[str]:
    """Commit messages as `git log --format=%B` prints them (stripped), from the raw commits."""
    messages = []
    for sha, raw in zip(shas, objects.commits(shas)):
        header, _, message = (raw or b"").partition(b"\n\n")
        if raw is None or b"\nencoding " in header:
            raise _Unreadable(sha)  # git log would convert the message to UTF-8
        messages.append(message.decode("utf-8", errors="replace").strip())
    return messages


class _RangeWalk:
    """The commits `git log bottom..top` lists, in its order (newest first): git's own walk
    (limit_list in revision.c, git 2.39) re-done on the commit graph, flag for flag. Commits
    come out by commit date, parents are queued when their child is taken, the bottom's ancestry
    is painted uninteresting as it is met, and the walk stops a few commits (SLOP) after only
    uninteresting ones are left; commits found uninteresting later are then dropped. Sets and
    order match git's even with clock skew, where git itself is not exact."""

    SLOP = 5

    def __init__(self, graph: dict[str, tuple[int, tuple[str, ...]]]) -> None:
        self._graph = graph
        self._parsed: set[str] = set()  # git only follows the parents of parsed commits
        self._uninteresting: set[str] = set()
        self._seen: set[str] = set()
        self._added: set[str] = set()
        self._queue: list[str] = []  # oldest first, so that the newest pops off the end
        self._dates: list[int] = []  # the queue's dates, ascending

    def run(self, bottom: str, top: str) -> list[str]:
        self._parse(bottom)
        self._uninteresting.add(bottom)
        self._mark_parents_uninteresting(bottom)
        self._parse(top)
        self._seen |= {bottom, top}
        for sha in sorted((bottom, top), key=lambda c: -self._graph[c][0]):  # stable: bottom first on ties
            self._insert(sha)
        date, slop, listed = float("inf"), self.SLOP, []
        while self._queue:
            sha = self._queue.pop()
            self._dates.pop()
            self._process_parents(sha)
            if sha in self._uninteresting:
                self._mark_parents_uninteresting(sha)
                slop = self._still_interesting(date, slop)
                if slop:
                    continue
                break
            date = self._graph[sha][0]
            listed.append(sha)
        return [sha for sha in listed if sha not in self._uninteresting]

    def _parse(self, sha: str) -> tuple[str, ...]:
        if sha not in self._graph:
            raise _Unreadable(sha)
        self._parsed.add(sha)
        return self._graph[sha][1]

    def _insert(self, sha: str) -> None:
        """commit_list_insert_by_date: after every queued commit at least as new."""
        date = self._graph[sha][0]
        at = bisect.bisect_left(self._dates, date)
        self._queue.insert(at, sha)
        self._dates.insert(at, date)

    def _mark_parents_uninteresting(self, sha: str) -> None:
        """Through commits already parsed only, and not through ones already uninteresting."""
        pending = list(self._graph[sha][1])
        while pending:
            commit = pending.pop()
            if commit in self._uninteresting:
                continue
            self._uninteresting.add(commit)
            if commit in self._parsed:
                pending.extend(self._graph[commit][1])

    def _process_parents(self, sha: str) -> None:
        if sha in self._added:
            return
        self._added.add(sha)
        uninteresting = sha in self._uninteresting
        for parent in self._graph[sha][1]:
            if uninteresting:
                self._uninteresting.add(parent)
            if self._parse(parent) and uninteresting:
                self._mark_parents_uninteresting(parent)
            if parent not in self._seen:
                self._seen.add(parent)
                self._insert(parent)

    def _still_interesting(self, date: float, slop: int) -> int:
        if not self._queue:
            return 0
        if date <= self._dates[-1]:
            return self.SLOP
        if any(sha not in self._uninteresting for sha in self._queue):
            return self.SLOP
        return slop - 1


class DiffReader:
    """Full patches of (commit, base) pairs through one long-lived `git diff-tree --stdin`.

    Rename detection is on, binary changes come as git binary patches (so they can be applied),
    and the bytes are returned as they are: the caller decides what to do with non-UTF-8 text.
    Each request ends with a line that is not an object id: diff-tree prints such a line back
    and flushes, which marks the end of the request's patches.
    """

    #: ":" is in no diff header, and diff lines start with " ", "+", "-" or "\\"; binary patch
    #: lines are base-85, whose alphabet has no ":".
    END = b"swegen:end\n"

    def __init__(self, repo: Path) -> None:
        cmd = ["diff-tree", "--stdin", "-p", "-M", "--binary", "--no-color", "--no-ext-diff", "--full-index"]
        self._proc = subprocess.Popen(["git", "-C", str(repo), *cmd], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def read(self, pairs: list[tuple[str, str]]) -> list[bytes]:
        """The patch of each pair, in order (pairs are few: their lines fit in the pipe)."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        if not pairs:
            return []
        self._proc.stdin.write(b"".join(f"{commit} {base}\n".encode() for commit, base in pairs) + self.END)
        self._proc.stdin.flush()
        # Read in blocks until the output ends with the marker line, the last thing git writes.
        end = b"\n" + self.END  # the newline before it is there, or the output starts with it
        blocks, tail = [], b"\n"
        while not tail.endswith(end):
            block = self._proc.stdout.read1(1 << 16)
            if not block:
                raise GitError("git diff-tree stopped", detail=f"while reading the patches of {pairs[0][0]}")
            blocks.append(block)
            tail = (tail + block)[-len(end) :]
        output = b"".join(blocks)[: -len(self.END)]
        by_sha = dict(_split_diff_stream(io.BytesIO(output).readlines(), [commit for commit, _ in pairs]))
        return [by_sha.get(commit, b"") for commit, _ in pairs]

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait()

    def __enter__(self) -> "DiffReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _split_diff_stream(lines: Iterable[bytes], expected: list[str]) -> Iterator[tuple[str, bytes]]:
    """diff-tree prints each commit id on a line of its own before its patch."""
    headers = {sha.encode() + b"\n" for sha in expected}
    current: str | None = None
    body: list[bytes] = []
    for line in lines:
        if line in headers and (current is None or line.rstrip(b"\n").decode() != current):
            if current is not None:
                yield current, b"".join(body)
            current, body = line.rstrip(b"\n").decode(), []
        else:
            body.append(line)
    if current is not None:
        yield current, b"".join(body)


class BlobReader:
    """File contents at any commit, and commits, through one long-lived `git cat-file --batch` process."""

    def __init__(self, repo: Path) -> None:
        self._proc = subprocess.Popen(
            ["git", "-C", str(repo), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )

    def read(self, commit: str, path: str) -> bytes | None:
        """The file at `commit:path`, or None when it does not exist there."""
        return self.read_many([(commit, path)])[0]

    def read_many(self, files: list[tuple[str, str]]) -> list[bytes | None]:
        """`read` for several (commit, path) pairs, asked for all at once."""
        wanted = [i for i, (_, path) in enumerate(files) if "\n" not in path]
        found: list[bytes | None] = [None] * len(files)
        for i, (kind, data) in zip(wanted, self._objects([f"{files[i][0]}:{files[i][1]}" for i in wanted])):
            found[i] = data if kind == "blob" else None
        return found

    def commits(self, shas: list[str]) -> list[bytes | None]:
        """The raw commit objects (None where there is no such commit), asked for all at once."""
        return [data if kind == "commit" else None for kind, data in self._objects(shas)]

    def _objects(self, names: list[str]) -> list[tuple[str, bytes]]:
        """(type, content) of each object ("missing", b"" when there is none). The requests go
        in batches that fit in the pipe: git stops reading them while its answers wait to be read."""
        found: list[tuple[str, bytes]] = []
        batch: list[str] = []
        size = 0
        for name in names:
            batch.append(name)
            size += len(name) + 1
            if size > 16_000:
                found += self._batch(batch)
                batch, size = [], 0
        return found + self._batch(batch) if batch else found

    def _batch(self, names: list[str]) -> list[tuple[str, bytes]]:
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write("".join(f"{name}\n" for name in names).encode())
        self._proc.stdin.flush()
        found = []
        for _ in names:
            # "<id> <type> <size>", or "<name> missing" (a name may hold spaces)
            header = self._proc.stdout.readline().decode(errors="replace").split()
            if len(header) != 3 or not header[2].isdigit():
                found.append(("missing", b""))
                continue
            data = self._proc.stdout.read(int(header[2]))
            self._proc.stdout.read(1)  # the newline after each object
            found.append((header[1], data))
        return found

    def close(self) -> None:
        if self._proc.stdin:
            self._proc.stdin.close()
        self._proc.wait()

    def __enter__(self) -> "BlobReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class PatchIds:
    """`git patch-id --stable` of (commit, base) diffs, fed one at a time while the caller goes on
    with other work (the history walk): equal ids mean the same change."""

    def __init__(self, repo: Path) -> None:
        self._repo = repo
        self._diff: subprocess.Popen | None = None
        self._lines: list[bytes] = []

    def add(self, commit: str, base: str) -> None:
        if self._diff is None:
            self._start()
        self._diff.stdin.write(f"{commit} {base}\n".encode())  # type: ignore[union-attr]

    def _start(self) -> None:
        cmd = ["git", "-C", str(self._repo)]
        self._diff = subprocess.Popen(
            [*cmd, "diff-tree", "--stdin", "-p", "--no-color", "--no-ext-diff"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self._ids = subprocess.Popen([*cmd, "patch-id", "--stable"], stdin=self._diff.stdout, stdout=subprocess.PIPE)
        self._diff.stdout.close()  # type: ignore[union-attr]  # patch-id owns the pipe now
        # Read the ids as they come, so that neither process ever waits for a full pipe.
        self._reader = threading.Thread(target=lambda: self._lines.extend(self._ids.stdout), daemon=True)  # type: ignore[union-attr]
        self._reader.start()

    def result(self) -> dict[str, str]:
        """{commit: patch id} of everything added."""
        if self._diff is None:
            return {}
        self.close()
        result = {}
        for line in self._lines:
            patch_id, commit = line.decode().split()
            result[commit] = patch_id
        return result

    def close(self) -> None:
        if self._diff is not None and self._diff.stdin and not self._diff.stdin.closed:
            self._diff.stdin.close()
            self._reader.join()
            self._ids.wait()
            self._diff.wait()

    def __enter__(self) -> "PatchIds":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


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
