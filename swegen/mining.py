"""Mining: turn a repository's whole history into SWE-bench-style task candidates.

Public entry: `mine(config, progress)`. It walks the first-parent line of every branch and tag
once (a merged pull request is one unit, diffed against its first parent), drops what cheap
filters can tell from file lists alone, removes changes reached through several paths by patch
identity (keeping the earliest), and reads full diffs, runs tree-sitter and writes problem
statements only for what is left. Every commit considered gets a line in candidates.jsonl with
its reasons; every kept one gets a folder with task.json, gold.patch, test.patch and
problem_statement.md.

Mining is CPU-bound: the analysis runs in worker processes, and starts on the newest
candidates while the walk (mostly git's work) is still running.
"""

from __future__ import annotations

import collections
import concurrent.futures
import gc
import os
import datetime as dt
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

from swegen import __version__, languages
from swegen.classify import Evidence, release_reason, score_bugfix
from swegen import config as project_config
from swegen.errors import BadInput
from swegen.history import (
    BlobReader,
    Commit,
    CommitGraph,
    DiffReader,
    PatchIds,
    RepoInfo,
    TagTimeline,
    branch_commits,
    commit_range,
    git,
    first_parent_line,
    main_line_ref,
    open_repo,
    reachable,
    numstat_between,
    read_commits,
    remote_name,
    walk,
)
from swegen.records import JsonlWriter, to_dict, write_atomic, write_json
from swegen.languages.base import Language
from swegen.split import DiffError, FileDiff, Split, SplitRules, parse_diff, split_diff
from swegen.restate import ORIGINAL, STATEMENT, restated_fields
from swegen.statements import FixContext, IssueIndex, build_statement, issue_refs, rewrite_statement

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Merges that bring a main branch's other copy in ("git pull" merges), not a pull request.
SYNC_SUBJECT = re.compile(
    r"^Merge (?:remote-tracking )?branch '(?:[\w.-]+/)?(?:master|main|develop|dev|trunk)'(?: of \S+)?(?: into \S+)?$"
)
#: Every branch (local and remote-tracking) and tag; not refs/pull/* and other hosting refs.
DEFAULT_REFS = ("--branches", "--tags", "--remotes")


@dataclass(frozen=True)
class MineConfig:
    """How to mine one repository."""

    #: The repository (a clone, or a bare repository).
    repo: Path
    #: The run folder to write.
    output: Path
    #: Refs to walk; empty means every branch and tag.
    refs: tuple[str, ...] = ()
    #: Only commits after / before these dates (anything `git log --since` understands).
    since: str | None = None
    until: str | None = None
    #: Only commits that touch these pathspecs.
    paths: tuple[str, ...] = ()
    #: Files matching these globs are ignored (neither source nor test).
    exclude: tuple[str, ...] = ()
    #: Stop after this many kept candidates (newest first); None for no limit.
    max_candidates: int | None = None
    #: Keep changes that look like features rather than fixes.
    include_features: bool = False
    #: Source lines changed above which a candidate is rejected as too large.
    max_source_lines: int = 1000
    #: Bug-fix score below which a candidate is rejected as an unlikely fix.
    min_score: float = 0.3
    #: The `owner/name` to put in task records; default from the origin remote or the folder name.
    repo_name: str | None = None
    #: An issues (and pull requests) export to link statements to.
    issues: Path | None = None
    #: A Jinja2 template to replace the built-in problem statement template.
    statement_template: Path | None = None
    #: OpenAI-compatible endpoint (base URL) for an optional statement rewrite.
    rewrite_with: str | None = None
    rewrite_model: str = "gpt-4o-mini"
    rewrite_api_key: str | None = None
    #: A swegen.toml whose settings override the repository's own ([tests] globs).
    config_file: Path | None = None
    #: How files are sorted into source, tests and other.
    rules: SplitRules = field(default_factory=SplitRules)
    #: Processes that analyse candidates (tree-sitter, statements) in parallel.
    workers: int = field(default_factory=lambda: min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class Candidate:
    """One line of candidates.jsonl: a change considered, kept or not, and why."""

    instance_id: str
    repo: str
    base_commit: str | None
    fix_commit: str
    kind: str  # merge | commit
    subject: str
    created_at: str
    kept: bool
    reasons: list[str]
    bugfix_score: float
    score_reasons: list[str]
    source_files: list[str]
    test_files: list[str]
    other_files: list[str]
    source_lines_changed: int
    test_lines_changed: int
    duplicate_of: str | None = None
    #: The merge this unit was found inside (it reached the walked line through that merge).
    nested_in: str | None = None


@dataclass(frozen=True)
class Task:
    """task.json: SWE-bench's instance fields, then swegen's own."""

    instance_id: str
    repo: str
    base_commit: str
    patch: str
    test_patch: str
    problem_statement: str
    hints_text: str
    created_at: str
    version: str
    environment_setup_commit: str
    FAIL_TO_PASS: list[str]
    PASS_TO_PASS: list[str]
    fix_commit: str
    kind: str
    statement_source: str
    leakage_score: float
    leaked: list[str]
    bugfix_score: float
    score_reasons: list[str]
    issue_refs: list[str]
    touched_tests: list[str]
    changed_functions: list[str]
    added_functions: list[str]
    source_files: list[str]
    test_files: list[str]
    other_files: list[str]
    branch_commits: list[str]


@dataclass
class Funnel:
    """Counts for the summary screen."""

    scanned: int = 0
    #: Commits of merged branches, counted in their merge rather than on their own.
    inside_merges: int = 0
    #: Units found inside other merges (pull requests merged into a maintenance branch, ...).
    nested_units: int = 0
    #: Merges decomposed into such inner units (and not units themselves).
    decomposed_merges: int = 0
    with_tests: int = 0
    candidates: int = 0
    kept: int = 0
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "commits_scanned": self.scanned,
            "branch_commits_inside_merges": self.inside_merges,
            "units_from_nested_merges": self.nested_units,
            "merges_decomposed": self.decomposed_merges,
            "with_test_changes": self.with_tests,
            "candidates": self.candidates,
            "kept": self.kept,
            "rejections": dict(self.reasons.most_common()),
            "warnings": self.warnings,
        }


Progress = Callable[[str, int, int | None], None]


def _iso(timestamp: int) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).isoformat().replace("+00:00", "Z")


def repo_slug(info: RepoInfo, configured: str | None) -> str:
    if configured:
        if "/" not in configured:
            raise BadInput(f"--repo-name {configured!r} is not owner/name", hint="for example --repo-name acme/billing")
        return configured
    name = info.path.resolve().name.removesuffix(".git")
    return remote_name(info.path) or f"local/{name}"


def instance_id(repo: str, commit: str) -> str:
    """Stable across runs: it depends only on the repository name and the fix commit."""
    owner, _, name = repo.partition("/")
    return f"{owner}__{name}-{commit[:12]}"


def mine(config: MineConfig, progress: Progress = lambda stage, done, total: None) -> Funnel:
    """Mine `config.repo` into `config.output`; returns the funnel counts."""
    info = open_repo(config.repo)
    slug = repo_slug(info, config.repo_name)
    issues = IssueIndex.load(config.issues) if config.issues else None
    funnel = Funnel(warnings=_warnings(info))
    rules = _rules(config)  # before the output is touched: a bad swegen.toml must leave it as it was
    _prepare_output(config.output)
    write_json(config.output / "run.json", _run_record(config, info, slug))
    # One git process lists every commit with its parents: the main line, the merged branches
    # and the branch commits of each merge are all found here rather than by a git process each.
    graph = CommitGraph(config.repo) if info.commit_count <= GRAPH_MAX_COMMITS else None
    ctx = _Context(config, slug, rules, issues, config.output, graph)
    # The pool starts now: its processes must not inherit the pipes of the git processes below
    # (they inherit the graph instead).
    with _Analysis(ctx) as analysis, _SameChanges(config.repo) as same:
        commits, cheap = [], {}
        for commit in _scan(config, info, graph, funnel, progress):
            commits.append(commit)
            cheap[commit.sha] = reasons = _cheap_reasons(commit, _roles(commit, rules), config)
            if not reasons:
                # Both run while the walk goes on: the walk is mostly git's work on one core.
                same.add(commit)
                analysis.start_early(commit)
        commits = _with_rebased_prs(config, rules, graph, commits, cheap, funnel, same, analysis)
        commits.sort(key=lambda c: (c.commit_time, c.author_time))
        survivors = [c for c in commits if not cheap[c.sha]]
        duplicates = _duplicates(survivors, same.patch_ids())
        # Pass two: newest first, so that --max-candidates keeps the most recent fixes. The
        # workers start on it before the rejections are written.
        fresh = [c for c in survivors if c.sha not in duplicates][::-1]
        analysis.start(fresh)
        versions = _Versions(TagTimeline(config.repo), {c.sha: c.commit_time for c in commits})
        with JsonlWriter(config.output / "candidates.jsonl") as sink:
            _record_cheap(commits, cheap, ctx, funnel, sink)
            _record_duplicates(survivors, duplicates, ctx, funnel, sink)
            _record_analysed(analysis, versions, ctx, funnel, sink, progress)
    return funnel


#: "(#123)" at the end of a subject: GitHub's squash and rebase merges name their pull request so.
PR_NUMBER = re.compile(r"\(#(\d+)\)\s*$")
#: Hosting refs that name pull request heads: used to find where a pull request ends, never walked.
PR_HEAD_REFS = ("refs/pull/*/head", "refs/merge-requests/*/head")
#: A fast-forwarded or rebased pull request is looked for up to this many commits back.
MAX_PR_COMMITS = 30


def _with_rebased_prs(
    config: MineConfig,
    rules: SplitRules,
    graph: CommitGraph | None,
    commits: list[Commit],
    cheap: dict[str, list[str]],
    funnel: Funnel,
    same: "_SameChanges",
    analysis: "_Analysis",
) -> list[Commit]:
    """Pull requests that landed as several commits without a merge (rebased, or fast-forwarded)
    become one unit: its newest commit, diffed against the parent of its oldest. Their commits
    are found by a shared "(#123)" subject suffix, or by a pull request head ref of the clone."""
    groups = _pr_groups(config.repo, graph, commits)
    if not groups:
        return commits
    members = {sha for group in groups.values() for sha in group[1:]}
    regrouped = []
    for commit in commits:
        if commit.sha in members:
            funnel.scanned -= 1
            funnel.inside_merges += 1
            continue
        if commit.sha in groups:
            oldest = groups[commit.sha][-1]
            base = next(c for c in commits if c.sha == oldest).base or ""
            files = numstat_between(config.repo, base, commit.sha, config.paths)
            commit = replace(commit, pr_base=base, pr_commits=tuple(groups[commit.sha][1:]), files=files)
            cheap[commit.sha] = reasons = _cheap_reasons(commit, _roles(commit, rules), config)
            analysis.forget(commit.sha)  # an early analysis had the single commit's base
            if not reasons:
                same.add(commit, again=True)
        regrouped.append(commit)
    return regrouped


def _pr_groups(repo: Path, graph: CommitGraph | None, commits: list[Commit]) -> dict[str, list[str]]:
    """{newest commit: the pull request's commits, newest first} for pull requests of more than
    one commit that have no merge commit."""
    by_sha = {c.sha: c for c in commits if not c.is_merge and c.nested_in is None}
    groups: dict[str, list[str]] = {}
    # "(#123)" on consecutive commits of one line
    child_numbers = {c.parents[0]: PR_NUMBER.search(c.subject) for c in by_sha.values() if c.parents}
    for c in by_sha.values():
        number = PR_NUMBER.search(c.subject)
        above = child_numbers.get(c.sha)
        if number is None or (above is not None and above[1] == number[1]):
            continue  # not a pull request's newest commit
        chain = [c.sha]
        while len(chain) < MAX_PR_COMMITS:
            parent = by_sha.get(by_sha[chain[-1]].base or "")
            found = PR_NUMBER.search(parent.subject) if parent else None
            if parent is None or found is None or found[1] != number[1]:
                break
            chain.append(parent.sha)
        if len(chain) > 1:
            groups[c.sha] = chain
    heads = git(repo, "for-each-ref", "--format=%(objectname)", *PR_HEAD_REFS).split()
    if heads:
        taken = {sha for chain in groups.values() for sha in chain}
        for chain in _head_groups(repo, graph, by_sha, set(heads), taken):
            groups[chain[0]] = chain
            taken |= set(chain)
    return groups


def _head_groups(repo: Path, graph: CommitGraph | None, by_sha: dict[str, Commit], heads: set[str], taken: set[str]) -> Iterator[list[str]]:
    """Pull requests found by their head refs: a head on a walked line was fast-forwarded (see
    _fast_forwarded); a head elsewhere may have been rebased (its commits are then found on a
    walked line by author, author time and subject, one after the other)."""
    elsewhere = []
    tagged = set(git(repo, "for-each-ref", "--format=%(objectname) %(*objectname)", "refs/tags").split())
    merges = {sha for sha, (_, parents) in graph.commits.items() if len(parents) > 1} if graph is not None else set()
    for head in sorted(heads):
        if head in taken:
            continue
        if head not in by_sha:
            elsewhere.append(head)
            continue
        chain = _fast_forwarded(by_sha, head, heads | taken | tagged, merges)
        if len(chain) > 1:
            yield chain
    if graph is not None and elsewhere:
        yield from _rebased_copies(repo, graph, by_sha, elsewhere)


def _fast_forwarded(by_sha: dict[str, Commit], head: str, boundaries: set[str], merges: set[str]) -> list[str]:
    """The commits of a pull request whose head is on a walked line, newest first: the head and
    the commits below it by the same author, when they end on a known boundary (a merge, another
    pull request's head or its "(#123)" commit, a tag); [head] when they do not (a root, another
    author, too many commits): where the pull request began is then unknown."""
    chain = [head]
    while len(chain) <= MAX_PR_COMMITS:
        parent_sha = by_sha[chain[-1]].base or ""
        parent = by_sha.get(parent_sha)
        if parent_sha in merges or parent_sha in boundaries or (parent is not None and PR_NUMBER.search(parent.subject)):
            return chain
        if parent is None or parent.base is None or parent.author_email != by_sha[head].author_email:
            return [head]
        chain.append(parent_sha)
    return [head]


def _rebased_copies(repo: Path, graph: CommitGraph, by_sha: dict[str, Commit], heads: list[str]) -> Iterator[list[str]]:
    """For each head off the walked lines, the walked commits a rebase of its pull request made,
    newest first, when all of them are found one after the other."""
    originals = {}
    for head in heads:
        chain, sha = [], head
        while sha in graph.commits and sha not in by_sha and len(chain) < MAX_PR_COMMITS:
            parents = graph.commits[sha][1]
            if len(parents) != 1:
                break
            chain.append(sha)
            sha = parents[0]
        if len(chain) > 1:
            originals[head] = chain
    wanted = sorted({sha for chain in originals.values() for sha in chain})
    if not wanted:
        return
    with BlobReader(repo) as objects:
        keys = dict(zip(wanted, map(_author_key, objects.commits(wanted))))
    by_key = {(c.author_email, c.author_time, c.subject): c.sha for c in by_sha.values()}
    for chain in originals.values():
        copies: list[str] = []
        for sha in chain:
            copy = by_key.get(keys[sha]) if keys[sha] else None
            if copy is None or (copies and by_sha[copies[-1]].base != copy):
                copies = []
                break
            copies.append(copy)
        if len(copies) > 1:
            yield copies


def _author_key(raw: bytes | None) -> tuple[str, int, str] | None:
    """(author email, author time, subject) of a raw commit object."""
    if not raw:
        return None
    header, _, message = raw.partition(b"\n\n")
    for line in header.split(b"\n"):
        if line.startswith(b"author "):
            match = re.match(rb"author .*<([^>]*)> (\d+) ", line)
            if match:
                subject = message.decode("utf-8", errors="replace").strip().split("\n", 1)[0].strip()
                return match[1].decode("utf-8", errors="replace"), int(match[2]), subject
    return None


def _rules(config: MineConfig) -> SplitRules:
    """Default globs, plus the test globs of the repository's swegen.toml (at the main line's
    head) and of --config, minus --exclude."""
    main_ref = main_line_ref(config.repo)
    text = git(config.repo, "show", f"{main_ref}:{project_config.FILE_NAME}", check=False) if main_ref else ""
    settings = project_config.load(text or None, config.config_file)
    return replace(
        config.rules,
        test_globs=config.rules.test_globs + settings.test_globs,
        exclude_globs=config.rules.exclude_globs + config.exclude,
    )


def _scan(
    config: MineConfig, info: RepoInfo, graph: CommitGraph | None, funnel: Funnel, progress: Progress
) -> Iterator[Commit]:
    """Pass one: the commits to consider, in the walk's order (newest first, roughly), then the
    units found inside merges (see _Nesting)."""
    main_ref = main_line_ref(config.repo)
    mainline = first_parent_line(config.repo, main_ref, graph) if main_ref else set()
    # Commits of branches already merged into the main line are part of their merge (the pull
    # request is the unit); only the first-parent line of the main line and unmerged work count,
    # and the units that _Nesting finds inside merges.
    merged = reachable(config.repo, main_ref, graph) - mainline if main_ref else set()
    nesting = _Nesting(config.repo, graph, main_ref, mainline)
    early = _EarlyRecords(config.repo, config.paths, None if config.refs else _walked_lines(config.repo, graph))
    nesting._found = early.found
    # Commits of merged branches that the walk met on another ref's line (a maintenance branch):
    # kept, as they may be units of a decomposed merge that then need no other git process.
    skipped: dict[str, Commit] = {}
    walked: set[str] = set()
    try:
        for commit in walk(config.repo, config.refs or DEFAULT_REFS, config.since, config.until, config.paths):
            if commit.sha in merged:
                skipped[commit.sha] = commit
                continue
            walked.add(commit.sha)
            yield _placed(nesting.decompose(commit), mainline)
            funnel.scanned += 1
            if funnel.scanned % 200 == 0:
                progress("scanning history", funnel.scanned, info.commit_count)
        nesting.finish()
        inner = {sha: (outer, n) for sha, outer, n in nesting.units if sha not in walked}
        read = early.result()
        unread = [sha for sha in inner if sha not in skipped and sha not in read]
        read.update((c.sha, c) for c in read_commits(config.repo, unread, config.paths))
        for sha, (outer, n) in inner.items():
            commit = skipped.get(sha) or read.get(sha)
            if commit is None:
                continue  # outside --paths
            yield _placed(replace(commit, nested_in=outer, inner_units=n), mainline)
            funnel.scanned += 1
            funnel.nested_units += 1
    finally:
        nesting.close()
        early.close()
    funnel.inside_merges = len(skipped.keys() - inner.keys())
    funnel.decomposed_merges = nesting.decomposed
    progress("scanning history", funnel.scanned, funnel.scanned)


def _walked_lines(repo: Path, graph: CommitGraph | None) -> set[str] | None:
    """The commits on the first-parent line of every branch and tag (what the walk lists), from
    the graph; None without one."""
    if graph is None:
        return None
    tips = git(repo, "for-each-ref", "--format=%(objectname) %(*objectname)", "refs/heads", "refs/remotes", "refs/tags").split()
    line: set[str] = set()
    for tip in tips:
        sha: str | None = tip
        while sha is not None and sha in graph.commits and sha not in line:
            line.add(sha)
            parents = graph.commits[sha][1]
            sha = parents[0] if parents else None
    return line


class _EarlyRecords:
    """The commit records (numstat) of units that the walk will not list, read by a thread while
    the walk goes on, in batches: the walk does not wait for them."""

    BATCH = 200

    def __init__(self, repo: Path, paths: tuple[str, ...], walked: set[str] | None) -> None:
        self._repo, self._paths, self._walked = repo, paths, walked
        self._batch: list[str] = []
        self._futures: list[concurrent.futures.Future] = []
        self._pool = concurrent.futures.ThreadPoolExecutor(1)

    def found(self, sha: str) -> None:
        if self._walked is not None and sha not in self._walked:
            self._batch.append(sha)
            if len(self._batch) >= self.BATCH:
                self._flush()

    def _flush(self) -> None:
        if self._batch:
            self._futures.append(self._pool.submit(read_commits, self._repo, self._batch, self._paths))
            self._batch = []

    def result(self) -> dict[str, Commit]:
        self._flush()
        return {c.sha: c for future in self._futures for c in future.result()}

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _placed(commit: Commit, mainline: set[str]) -> Commit:
    """The commit with where it stands against the main line filled in."""
    on_main = commit.sha in mainline
    second_on_main = commit.is_merge and commit.parents[1] in mainline
    if on_main == commit.on_main_line and second_on_main == commit.second_parent_on_main_line:
        return commit  # dataclasses.replace costs more than the walk's parsing of the commit
    return replace(commit, on_main_line=on_main, second_parent_on_main_line=second_on_main)


class _Nesting:
    """Pull requests merged into another branch (a maintenance or release line, a remote copy of
    main) that reached the walked line only through a merge of that branch.

    A merge is decomposed when the branch it brings in has merges of its own that bring in work
    (not syncs of the base into the branch), or when it merges a release or maintenance line or
    a copy of a main branch: every commit of the branch's first-parent line is then a unit of its
    own, diffed against its first parent, and inner merges are decomposed the same way,
    recursively. An ordinary pull request (its branch has no such merges) stays one unit.
    """

    def __init__(self, repo: Path, graph: CommitGraph | None, main_ref: str | None, mainline: set[str]) -> None:
        self._repo, self._graph, self._mainline = repo, graph, mainline
        self._objects: BlobReader | None = None  # started only when an inner merge needs its message
        #: (unit, outer merge, units it was decomposed into), in the order they were found.
        self.units: list[tuple[str, str, int]] = []
        self._seen: set[str] = set()
        self.decomposed = 0
        self._brought = self._brought_in(main_ref) if graph is not None and main_ref else {}
        self._pending: list[tuple[int, dict[str, tuple[str, ...]]]] = []  # inner merges to decompose
        #: Called with each unit found (to start reading its record while the walk goes on).
        self._found: Callable[[str], None] = lambda sha: None

    def _brought_in(self, main_ref: str) -> dict[str, set[str]]:
        """{merge on the main line: the commits it brought in}, in one pass over the graph: the
        commits reachable from a main-line merge and not from its first parent are those no
        older main-line merge brought in (what `git log M^1..M` lists, without a walk per merge)."""
        assert self._graph is not None
        top = self._graph.resolve(self._repo, main_ref)
        order, sha = [], top
        while sha is not None and sha in self._graph.commits:
            order.append(sha)
            parents = self._graph.commits[sha][1]
            sha = parents[0] if parents else None
        owned: set[str] = set()
        brought = {}
        for merge in reversed(order):
            parents = self._graph.commits[merge][1]
            if len(parents) < 2:
                continue
            found, pending = set(), [p for p in parents[1:] if p not in self._mainline and p not in owned]
            while pending:
                commit = pending.pop()
                if commit in found or commit in owned or commit in self._mainline or commit not in self._graph.commits:
                    continue
                found.add(commit)
                pending.extend(self._graph.commits[commit][1])
            owned |= found
            brought[merge] = found
        return brought

    def decompose(self, commit: Commit) -> Commit:
        """`commit`, with the number of units it was decomposed into when it is decomposed."""
        if not commit.is_merge or commit.sha in self._seen or commit.parents[1] in self._mainline:
            return commit  # a merge of the main line into a branch brings nothing of its own
        if commit.sha in self._brought:
            assert self._graph is not None
            inside = {c: self._graph.commits[c][1] for c in self._brought[commit.sha]}
        else:
            inside = self._range(commit.parents[0], commit.sha)
        count = self._units_of(commit.sha, commit.parents, commit.message, inside)
        return replace(commit, inner_units=count) if count else commit

    def _units_of(self, sha: str, parents: tuple[str, ...], message: str, inside: dict[str, tuple[str, ...]]) -> int:
        """Record the units of the merge `sha`, whose range is `inside` ({commit: parents});
        how many (0: the merge is one unit)."""
        line: list[str] = []
        for tip in parents[1:]:
            commit = tip
            while commit in inside and commit not in line:
                line.append(commit)
                own = inside[commit]
                commit = own[0] if own else ""
        inner = {c for c in line if any(p in inside for p in inside[c][1:])}
        if not inner and not _long_lived(message, True):
            return 0
        self._seen.add(sha)
        self.decomposed += 1
        count = 0
        for commit in line:
            if commit in self._mainline or commit in self._seen or (len(inside[commit]) > 1 and commit not in inner):
                continue  # on the walked main line already, or a sync of the base into the branch
            self._seen.add(commit)
            if commit in inner:  # decomposed too, in finish(): its message is read with the others'
                self._pending.append((len(self.units), inside))
            self.units.append((commit, sha, 0))
            self._found(commit)
            count += 1
        return count

    def finish(self) -> None:
        """Decompose the inner merges found so far, level by level: one read of their messages
        per level of nesting, rather than one per merge."""
        while self._pending:
            pending, self._pending = self._pending, []
            messages = self._messages([self.units[entry][0] for entry, _ in pending])
            for entry, inside in pending:
                commit, outer, _ = self.units[entry]
                nested = self._units_of(commit, inside[commit], messages.get(commit, ""), _within(inside, commit))
                self.units[entry] = (commit, outer, nested)

    def _range(self, bottom: str, top: str) -> dict[str, tuple[str, ...]]:
        """{commit: parents} of `git log bottom..top`."""
        shas = commit_range(self._repo, bottom, top, self._graph)
        if self._graph is not None and all(sha in self._graph.commits for sha in shas):
            return {sha: self._graph.commits[sha][1] for sha in shas}
        lines = git(self._repo, "rev-list", "--parents", f"{bottom}..{top}").split("\n")
        return {line.split()[0]: tuple(line.split()[1:]) for line in lines if line.strip()}

    def _messages(self, shas: list[str]) -> dict[str, str]:
        if self._objects is None:
            self._objects = BlobReader(self._repo)
        found = {}
        for sha, raw in zip(shas, self._objects.commits(shas)):
            found[sha] = (raw or b"").partition(b"\n\n")[2].decode("utf-8", errors="replace").strip()
        return found

    def close(self) -> None:
        if self._objects is not None:
            self._objects.close()


def _within(inside: dict[str, tuple[str, ...]], merge: str) -> dict[str, tuple[str, ...]]:
    """The range of the inner merge `merge` (what it brought in), within its outer merge's range
    `inside`: what is outside it was already on the line the outer merge went into."""
    def ancestors(starts: Iterable[str]) -> set[str]:
        found, pending = set(), [c for c in starts if c in inside]
        while pending:
            commit = pending.pop()
            if commit not in found:
                found.add(commit)
                pending.extend(p for p in inside[commit] if p in inside)
        return found

    parents = inside[merge]
    brought = ancestors(parents[1:]) - ancestors(parents[:1])
    return {c: inside[c] for c in brought}


def _long_lived(message: str, is_merge: bool) -> bool:
    """Does the merge bring in a line whose commits are changes of their own: a release or
    maintenance branch, or a copy of a main branch (a pull)?"""
    subject = message.split("\n", 1)[0].strip()
    reason = release_reason(message, is_merge)
    return bool(SYNC_SUBJECT.match(subject) or (reason and reason.startswith("release")))


def _roles(commit: Commit, rules: SplitRules) -> list[str]:
    return [rules.role(f.path) for f in commit.files]


def _record_cheap(
    commits: list[Commit], cheap: dict[str, list[str]], ctx: "_Context", funnel: Funnel, sink: JsonlWriter
) -> None:
    """What the file lists alone reject is recorded, oldest first."""
    for commit in commits:
        roles = _roles(commit, ctx.rules)
        funnel.with_tests += "test" in roles
        if cheap[commit.sha]:
            _record(sink, funnel, _rejected(commit, ctx.slug, cheap[commit.sha], roles))
        else:
            funnel.candidates += 1


def _record_duplicates(
    survivors: list[Commit], duplicates: dict[str, str], ctx: "_Context", funnel: Funnel, sink: JsonlWriter
) -> None:
    for commit in survivors:
        if commit.sha in duplicates:
            rejected = _rejected(commit, ctx.slug, ["duplicate"], _roles(commit, ctx.rules))
            _record(sink, funnel, replace(rejected, duplicate_of=instance_id(ctx.slug, duplicates[commit.sha])))


def _record_analysed(
    analysis: "_Analysis", versions: "_Versions", ctx: "_Context", funnel: Funnel, sink: JsonlWriter, progress: Progress
) -> None:
    """Full diffs, tree-sitter and statements, in the order the analysis was started with."""
    limit = ctx.config.max_candidates
    # Task folders are written by another thread: creating a file can take milliseconds (on a
    # busy disk, or when many files were just deleted), and this loop must go on handing work
    # to the analysis.
    with concurrent.futures.ThreadPoolExecutor(1) as writer:
        written = []
        for done, (commit, (candidate, task)) in enumerate(analysis.results(), 1):
            progress("analysing candidates", done, analysis.total)
            if limit is not None and funnel.kept >= limit:
                candidate, task = _rejected(commit, ctx.slug, ["over-limit"], _roles(commit, ctx.rules)), None
            _record(sink, funnel, candidate)
            if task is not None:
                written.append(writer.submit(_write_task, ctx.out, task, versions.at(commit)))
        for future in written:
            future.result()  # a failed write fails the run


@dataclass(frozen=True)
class _Versions:
    """A task's version: the newest tag before its base commit. Known once the walk is done (it
    needs the base's commit time), so the main process fills it in."""

    tags: TagTimeline
    commit_times: dict[str, int]

    def at(self, commit: Commit) -> str:
        base = commit.base or ""
        return self.tags.version_at(self.commit_times.get(base, commit.commit_time)) or "0.0"


# -- analysis, in worker processes when there is more than one core ------------------------------

#: Candidates go to a worker in chunks: consecutive ones touch nearby versions of the same files,
#: which tree-sitter then reparses incrementally. Each chunk is a share of what is left, within
#: these bounds: long chunks while there is much to do, short ones at the end so that no worker
#: is left with a long chunk while the others wait.
MIN_CHUNK, MAX_CHUNK = 3, 24
#: Chunks per worker, and their length, handed over while the walk still runs.
EARLY_CHUNKS, EARLY_CHUNK = 6, 12
#: Candidates in flight per worker (submitted, their results not yet taken): results are taken
#: in order, so the window holds the early chunks and two long ones more, or a worker would wait
#: for the first of them to be taken; bounded, so a huge history never holds all its results.
WINDOW = EARLY_CHUNKS * EARLY_CHUNK + 2 * MAX_CHUNK

_worker: dict[str, object] = {}


def _init_worker(ctx: "_Context") -> None:
    # Analysis allocates many short-lived objects and few cycles: collect less often, and never
    # look at the objects inherited from the parent again.
    gc.freeze()
    gc.set_threshold(10_000, 20, 20)
    _worker["ctx"] = ctx
    _worker["git"] = _Readers(ctx)


def _analyse_chunk(chunk: list[Commit]) -> list[tuple[Candidate, "_NewTask | None"]]:
    return _worker["git"].analyse(chunk)  # type: ignore[attr-defined]


class _Readers:
    """The git processes one analysing process reads through."""

    def __init__(self, ctx: "_Context") -> None:
        self.ctx = ctx
        self.blobs = BlobReader(ctx.config.repo)
        self.diffs = DiffReader(ctx.config.repo)

    def analyse(self, chunk: list[Commit]) -> list[tuple[Candidate, "_NewTask | None"]]:
        raws = self.diffs.read([(c.sha, c.base or "") for c in chunk])
        return [_analyse(commit, raw, self, self.ctx) for commit, raw in zip(chunk, raws)]

    def branch_commits(self, merge: Commit) -> list[tuple[str, str]]:
        return branch_commits(self.ctx.config.repo, merge, self.ctx.graph, self.blobs)

    def close(self) -> None:
        self.blobs.close()
        self.diffs.close()


#: Up to this many commits, the whole commit graph (a few MB) is read once; beyond, git is asked
#: for the main line, and for the branch commits of each merge.
GRAPH_MAX_COMMITS = 200_000


class _Analysis:
    """Candidates analysed in a process pool (in this process with one worker), in the order
    asked for, with a bounded number of chunks in flight (so a huge history never holds all its
    results in memory).

    `start_early` hands over candidates while the walk still runs; the few that turn out to be
    duplicates are analysed for nothing and their results dropped.
    """

    def __init__(self, ctx: "_Context") -> None:
        self._ctx = ctx
        self._workers = ctx.config.workers
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        if self._workers > 1:
            self._pool = concurrent.futures.ProcessPoolExecutor(self._workers, initializer=_init_worker, initargs=(ctx,))
            self._pool.submit(int)  # forks all the processes now, before any pipe is open here
        self._futures: dict[str, tuple[concurrent.futures.Future, int]] = {}
        self._early: list[Commit] = []
        self._early_left = EARLY_CHUNKS * self._workers if self._pool else 0

    def forget(self, sha: str) -> None:
        """Drop what an early analysis of `sha` gives: the commit changed (a rebased pull request
        it ends was found), and `start` submits it again."""
        self._futures.pop(sha, None)

    def start_early(self, commit: Commit) -> None:
        if self._early_left <= 0:
            return
        self._early.append(commit)
        if len(self._early) == EARLY_CHUNK:
            self._submit(self._early)
            self._early, self._early_left = [], self._early_left - 1

    def start(self, fresh: list[Commit]) -> None:
        """Analyse `fresh`, in this order: the first chunks go to the workers now."""
        self._fresh, self._ahead = fresh, 0  # fresh[:ahead] are all submitted
        self.total = len(fresh)
        self._top_up(0)

    def results(self) -> Iterator[tuple[Commit, tuple[Candidate, "_NewTask | None"]]]:
        if self._pool is None:
            yield from self._serial(self._fresh)
            return
        for done, commit in enumerate(self._fresh):
            self._top_up(done)
            future, index = self._futures.pop(commit.sha)
            yield commit, future.result()[index]

    def _top_up(self, done: int) -> None:
        """Submit chunks until the window ahead of `done` is full."""
        if self._pool is None:
            return
        fresh, window = self._fresh, WINDOW * self._workers  # candidates in flight
        # In flight: submitted and not yet taken, the early ones too (they are taken first).
        # fresh[done] must be submitted whatever the window, or results() would wait forever.
        while self._ahead < len(fresh) and (self._ahead <= done or len(self._futures) < window):
            size = max(MIN_CHUNK, min(MAX_CHUNK, (len(fresh) - self._ahead) // (2 * self._workers)))
            chunk = []
            while self._ahead < len(fresh) and len(chunk) < size:
                if fresh[self._ahead].sha not in self._futures:
                    chunk.append(fresh[self._ahead])
                self._ahead += 1
            self._submit(chunk)

    def _serial(self, fresh: list[Commit]) -> Iterator[tuple[Commit, tuple[Candidate, "_NewTask | None"]]]:
        readers = _Readers(self._ctx)
        try:
            for chunk in _chunks(fresh, MAX_CHUNK):
                yield from zip(chunk, readers.analyse(chunk))
        finally:
            readers.close()

    def _submit(self, chunk: list[Commit]) -> None:
        if chunk:
            future = self._pool.submit(_analyse_chunk, chunk)  # type: ignore[union-attr]
            self._futures.update((commit.sha, (future, index)) for index, commit in enumerate(chunk))

    def __enter__(self) -> "_Analysis":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


@dataclass(frozen=True)
class _Context:
    config: MineConfig
    slug: str
    rules: SplitRules
    issues: IssueIndex | None
    out: Path
    graph: CommitGraph | None


def _warnings(info: RepoInfo) -> list[str]:
    warnings = []
    if info.shallow:
        warnings.append(
            f"shallow clone: only {info.commit_count} commits are present and older history is missing; "
            "run `git fetch --unshallow` to mine all of it"
        )
    if info.has_submodules:
        warnings.append("the repository has submodules: changes inside them are not mined, only this repository's own")
    if info.uses_lfs:
        warnings.append("the repository uses Git LFS: fixes whose tests need LFS files are rejected (lfs-pointer)")
    return warnings


def _prepare_output(out: Path) -> None:
    """A run folder is written fresh: mining is cheap next to validation, and a half-old run misleads.

    Validation's logs stay: validation.jsonl keeps its verdicts (so that `swegen mine` killed while
    validating and run again resumes the validation), and the logs of those verdicts go with them.
    """
    if out.exists() and (out / "candidates.jsonl").exists():
        (out / "candidates.jsonl").unlink()
        for child in out.iterdir():
            if child.is_dir() and (child / "task.json").exists():
                for part in child.iterdir():
                    if part.name != "logs":
                        shutil.rmtree(part) if part.is_dir() else part.unlink()
    out.mkdir(parents=True, exist_ok=True)


def _run_record(config: MineConfig, info: RepoInfo, slug: str) -> dict[str, object]:
    return {
        "schema_version": 1,
        "swegen_version": __version__,
        "stage": "mine",
        "repo": slug,
        "repo_path": str(info.path.resolve()),
        "head": info.head,
        "commit_count": info.commit_count,
        "options": {
            "refs": list(config.refs),
            "since": config.since,
            "until": config.until,
            "paths": list(config.paths),
            "exclude": list(config.exclude),
            "max_candidates": config.max_candidates,
            "include_features": config.include_features,
            "max_source_lines": config.max_source_lines,
            "issues": str(config.issues) if config.issues else None,
            "rewrite_with": config.rewrite_with,
        },
        "started_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }


def _cheap_reasons(commit: Commit, roles: list[str], config: MineConfig) -> list[str]:
    """Reasons to reject a commit that its file list alone gives; [] when it goes on."""
    if commit.inner_units:
        return [_decomposed_reason(commit)]
    reasons = []
    if "test" not in roles:
        reasons.append("no-tests")
    if "source" not in roles:
        reasons.append("no-source")
    if reasons:
        return reasons
    if commit.base is None:
        return ["root-commit"]
    if commit.is_merge and commit.second_parent_on_main_line and not commit.on_main_line:
        return ["sync-merge"]
    if commit.is_merge and SYNC_SUBJECT.match(commit.subject):
        return ["sync-merge: merges a copy of a main branch, not a pull request"]
    release = release_reason(commit.message, commit.is_merge)
    if release:
        return [release]
    source_lines = sum(f.added + f.deleted for f, role in zip(commit.files, roles) if role == "source")
    if source_lines > config.max_source_lines:
        return [f"too-large: {source_lines} source lines changed (limit {config.max_source_lines})"]
    return []


def _decomposed_reason(commit: Commit) -> str:
    """A merge decomposed into its inner units is not a unit itself: it says what it was, and
    how many units it held."""
    n = commit.inner_units
    held = f"decomposed into {n} inner unit{'s' * (n != 1)}, mined on their own"
    if SYNC_SUBJECT.match(commit.subject):
        return f"sync-merge: merges a copy of a main branch, not a pull request; {held}"
    release = release_reason(commit.message, True)
    if release:
        return f"{release}; {held}"
    return f"branch-merge: brings in a branch that holds merges of its own; {held}"


class _SameChanges:
    """Patch ids (`git patch-id --stable`) of the commits that may make the same change as
    another. Equal patch ids mean equal files with equal lines added and removed, so a commit
    whose file list and line counts (from the walk) no other commit has needs no patch id:
    usually almost none do."""

    def __init__(self, repo: Path) -> None:
        self._ids = PatchIds(repo)
        self._first: dict[tuple, Commit] = {}  # file list and line counts -> first commit with them
        self._asked: set[str] = set()

    def add(self, commit: Commit, again: bool = False) -> None:
        """`again`: the commit was added before with another base (the later patch id wins)."""
        numstat = tuple(sorted((f.path, f.added, f.deleted, f.binary) for f in commit.files))
        first = self._first.setdefault(numstat, commit)
        if again and commit.sha in self._asked:
            self._ids.add(commit.sha, commit.base or "")
        for twin in (first, commit) if first is not commit else ():
            if twin.sha not in self._asked:
                self._asked.add(twin.sha)
                self._ids.add(twin.sha, twin.base or "")

    def patch_ids(self) -> dict[str, str]:
        return self._ids.result()

    def __enter__(self) -> "_SameChanges":
        return self

    def __exit__(self, *exc: object) -> None:
        self._ids.close()


def _duplicates(survivors: list[Commit], ids: dict[str, str]) -> dict[str, str]:
    """Commits whose change already came earlier (cherry-picks, release-branch merges) -> the earliest."""
    first: dict[str, str] = {}
    duplicates = {}
    for commit in survivors:  # oldest first
        pid = ids.get(commit.sha)
        if pid is None:
            continue
        if pid in first:
            duplicates[commit.sha] = first[pid]
        else:
            first[pid] = commit.sha
    return duplicates


def _record(sink: JsonlWriter, funnel: Funnel, candidate: Candidate) -> None:
    sink.write(candidate)
    if candidate.kept:
        funnel.kept += 1
    else:
        funnel.reasons[candidate.reasons[0].split(":")[0]] += 1


def _rejected(commit: Commit, slug: str, reasons: list[str], roles: list[str]) -> Candidate:
    by_role: dict[str, list[str]] = {"source": [], "test": [], "other": []}
    lines = {"source": 0, "test": 0, "other": 0}
    for stat, role in zip(commit.files, roles):
        by_role[role].append(stat.path)
        lines[role] += stat.added + stat.deleted
    verdict = score_bugfix(_message_evidence(commit, lines["source"]))
    return Candidate(
        instance_id=instance_id(slug, commit.sha),
        repo=slug,
        base_commit=commit.base,
        fix_commit=commit.sha,
        kind="merge" if commit.is_merge else "commit",
        subject=commit.subject,
        created_at=_iso(commit.commit_time),
        kept=False,
        reasons=reasons,
        bugfix_score=verdict.score,
        score_reasons=list(verdict.reasons),
        source_files=by_role["source"],
        test_files=by_role["test"],
        other_files=by_role["other"],
        source_lines_changed=lines["source"],
        test_lines_changed=lines["test"],
        nested_in=commit.nested_in,
    )


def _message_evidence(commit: Commit, source_lines: int) -> Evidence:
    return Evidence(
        subjects=(commit.subject,),
        message=commit.message,
        issue_refs=tuple(issue_refs(commit.message)),
        source_lines_changed=source_lines,
        changed_existing=(),
        added_api=(),
        tests_use_new_api=(),
        tests_use_existing=False,
    )


@dataclass(frozen=True)
class _CodeFacts:
    touched_tests: list[str]
    changed: list[str]
    added: list[str]
    tests_use_new_api: list[str]
    tests_use_existing: bool


def _code_facts(split: Split, fixed: dict[str, list[bytes | None]], base: Callable[[FileDiff], bytes | None] = lambda item: None,
                at: Callable[[Language], Language] = lambda language: language) -> _CodeFacts:
    """Each touched file's language (swegen.languages), bound to the repository at the fix
    (`at`), is asked what the change touches: from the fixed version and the diff's lines alone
    where the language can (`change_facts`, Python's: one parse per file, no read of the old
    version), else with the file's version before the change (`base`)."""
    changed, added, touched, referenced = [], [], [], set()
    bound: dict[str, Language] = {}

    def _language(path: str) -> Language | None:
        language = languages.for_path(path)
        if language is None:
            return None
        if language.name not in bound:
            bound[language.name] = at(language)
        return bound[language.name]

    for item, new in zip(split.source, fixed["source"]):
        other = _language(item.path)
        if other is None:
            continue
        fast = getattr(other, "change_facts", None)
        if fast is None:
            old = base(item)
            new_here = other.added_definitions(item.path, old, new)
            # as Python's: a definition the change adds is new API, not existing code it changed
            changed += [name for name in other.changed_definitions(item.path, old, new) if name not in new_here]
            added += new_here
            continue
        facts = fast(item.path, new, set(item.added_lines), set(item.removed_at), item.removed_text, test_file=False)
        changed += facts.changed
        added += facts.added
    for item, new in zip(split.tests, fixed["tests"]):
        other = _language(item.path)
        if other is None:
            continue
        fast = getattr(other, "change_facts", None)
        if fast is None:
            touched += other.touched_tests(item.path, base(item), new)
            if new is not None and item.added_lines:
                referenced |= other.referenced_names(item.path, new, set(item.added_lines))
            continue
        facts = fast(item.path, new, set(item.added_lines), set(item.removed_at), item.removed_text)
        touched += facts.touched_tests
        referenced |= facts.referenced
    new_api = sorted({a.rsplit(".", 1)[-1] for a in added} & referenced)
    existing = {c.rsplit(".", 1)[-1] for c in changed}
    return _CodeFacts(
        touched_tests=sorted(set(touched)),
        changed=sorted(set(changed)),
        added=sorted(set(added)),
        tests_use_new_api=new_api,
        tests_use_existing=bool(referenced & existing),
    )


#: At most this many test files are read to find the tests that use a changed fixture or helper.
SHARED_SCOPE_FILES = 400


def _tests_using_shared_code(
    commit: Commit, split: Split, fixed: list[bytes | None], with_touched: set[str], readers: "_Readers", ctx: "_Context"
) -> list[str]:
    """Tests in other files touched by a change to shared test code: a conftest.py's fixtures
    (used by name by every test below its folder) or a helper module of the tests (used by the
    test files that import it). Asked of the languages that can say it (`tests_using`: Python's)."""
    touched: set[str] = set()
    for item, new in zip(split.tests, fixed):
        name = item.path.rsplit("/", 1)[-1]
        language = languages.for_path(item.path)
        if new is None or not hasattr(language, "tests_using") or item.path in with_touched:
            continue
        if name != "conftest.py" and language.test_ids(item.path, new):
            continue  # a test file's own tests were found by _code_facts
        change = language.shared_change(item.path, new, set(item.added_lines) | set(item.removed_at))
        if not change.names and not change.every_test:
            continue
        folder = item.path.rsplit("/", 1)[0] + "/" if "/" in item.path else ""
        module = name.removesuffix(".py").encode()
        for path, source in _test_files_under(commit.sha, folder, item.path, language, readers, ctx):
            if name == "conftest.py" or module in source:
                touched |= set(language.tests_using(path, source, change))
    return sorted(touched)


def _test_files_under(sha: str, folder: str, exclude: str, language: Language, readers: "_Readers", ctx: "_Context") -> list[tuple[str, bytes]]:
    """The test files of `language` below `folder` at commit `sha`, with their text."""
    listing = git(ctx.config.repo, "ls-tree", "-r", "-z", "--name-only", sha, "--", folder or ".")
    paths = [p for p in listing.split("\0") if p != exclude and languages.for_path(p) is language and ctx.rules.role(p) == "test"]
    paths = [p for p in paths if p.rsplit("/", 1)[-1] != "conftest.py"][:SHARED_SCOPE_FILES]
    return [(p, data) for p, data in zip(paths, readers.blobs.read_many([(sha, p) for p in paths])) if data is not None]


def _fixed_versions(commit: Commit, split: Split, blobs: BlobReader) -> dict[str, list[bytes | None]]:
    """The fixed version of each source and test file (None when the fix deletes it)."""
    items = [*split.source, *split.tests]
    read = iter(blobs.read_many([(commit.sha, item.path) for item in items if item.status != "deleted"]))
    versions = [next(read) if item.status != "deleted" else None for item in items]
    return {"source": versions[: len(split.source)], "tests": versions[len(split.source) :]}


def _base_version(commit: Commit, item: FileDiff, blobs: BlobReader) -> bytes | None:
    """A file's version before the change (None when the change adds it)."""
    if item.status == "added" or not commit.base:
        return None
    return blobs.read(commit.base, item.old_path or item.path)


#: bytes.translate table that turns every byte that cannot be in an identifier into a space.
_WORDS_ONLY = bytes(c if chr(c).isascii() and (chr(c).isalnum() or chr(c) == "_") else 32 for c in range(256))


def _identifiers(text: bytes) -> set[str]:
    """IDENTIFIER's matches in `text`, from its words: a word is a run of letters, digits and
    "_", and IDENTIFIER matches it from its first non-digit on. Splitting is all C, where the
    regex would make a Python object for every match."""
    words = {word.lstrip(b"0123456789") for word in set(text.translate(_WORDS_ONLY).split())}
    return {word.decode() for word in words if word}


def _base_identifiers(commit: Commit, split: Split, fixed: list[bytes | None]) -> tuple[set[str], set[str]]:
    """Identifiers already in the base versions of the touched source files (for leakage): of
    all of them, and of those whose content changed (a file only renamed or whose mode changed
    has no lines in the patch, and restating, which reads the patch, does not see it).

    A base version is its fixed version's lines that the diff did not add, plus the lines the
    diff removed: no need to read it. (Identifiers never span lines, so the order of the lines
    does not matter.)"""
    names: set[str] = set()
    unchanged: set[str] = set()
    for item, new in zip(split.source, fixed):
        if item.status == "added" or not commit.base:
            continue
        kept = _without_lines(new.split(b"\n"), item.added_lines) if new is not None else b""
        found = _identifiers(kept) | set(IDENTIFIER.findall("\n".join(item.removed_text)))
        (names if item.added_lines or item.removed_text else unchanged).update(found)
    return names | unchanged, names


def _without_lines(lines: list[bytes], numbers: frozenset[int]) -> bytes:
    """The text of `lines` without the (1-based) line `numbers`."""
    kept, start = [], 0
    for number in sorted(numbers):
        kept += lines[start : number - 1]
        start = number
    return b"\n".join(kept + lines[start:])


def _analyse(commit: Commit, raw: bytes, readers: _Readers, ctx: _Context) -> tuple[Candidate, "_NewTask | None"]:
    roles = [ctx.rules.role(f.path) for f in commit.files]
    try:
        split = split_diff(parse_diff(raw, skip=lambda path: ctx.rules.role(path) == "other"), ctx.rules)
    except DiffError as exc:
        reason = "non-utf8" if "non-UTF-8" in str(exc) else "unreadable-diff"
        return _rejected(commit, ctx.slug, [f"{reason}: {exc}"], roles), None
    branch = readers.branch_commits(commit)
    messages = [commit.message] + [message for _, message in branch]
    fixed = _fixed_versions(commit, split, readers.blobs)
    facts = _code_facts(split, fixed, lambda item: _base_version(commit, item, readers.blobs),
                        lambda language: language.at(ctx.config.repo, commit.sha))
    shared = _tests_using_shared_code(commit, split, fixed["tests"], {t.split("::")[0] for t in facts.touched_tests}, readers, ctx)
    if shared:
        facts = replace(facts, touched_tests=sorted(set(facts.touched_tests) | set(shared)))
    source_lines = sum(f.changed for f in split.source)
    evidence = Evidence(
        subjects=tuple(m.split("\n", 1)[0] for m in messages),
        message="\n".join(messages),
        issue_refs=tuple(issue_refs("\n".join(messages))),
        source_lines_changed=source_lines,
        changed_existing=tuple(facts.changed),
        added_api=tuple(facts.added),
        tests_use_new_api=tuple(facts.tests_use_new_api),
        tests_use_existing=facts.tests_use_existing,
    )
    verdict = score_bugfix(evidence)
    reasons = list(split.problems)
    if not split.source:
        reasons.append("no-source")
    if not split.tests:
        reasons.append("no-tests")
    if verdict.is_feature and not ctx.config.include_features:
        reasons.append("feature: " + "; ".join(r for r in verdict.reasons if "feature" in r or "new API" in r))
    if verdict.score < ctx.config.min_score and not reasons:
        reasons.append(f"unlikely-fix: score {verdict.score} below {ctx.config.min_score}")
    if split.tests and not facts.touched_tests and not reasons:
        reasons.append("no-touched-tests: the test changes touch no test function")
    candidate = Candidate(
        instance_id=instance_id(ctx.slug, commit.sha),
        repo=ctx.slug,
        base_commit=commit.base,
        fix_commit=commit.sha,
        kind="merge" if commit.is_merge else "commit",
        subject=commit.subject,
        created_at=_iso(commit.commit_time),
        kept=not reasons,
        reasons=reasons,
        bugfix_score=verdict.score,
        score_reasons=list(verdict.reasons),
        source_files=split.source_files,
        test_files=split.test_files,
        other_files=split.other_files,
        source_lines_changed=source_lines,
        test_lines_changed=sum(f.changed for f in split.tests),
        nested_in=commit.nested_in,
    )
    if reasons:
        return candidate, None
    base_identifiers, of_changed_files = _base_identifiers(commit, split, fixed["source"])
    statement = _statement(commit, split, base_identifiers, messages, ctx)
    task = _task(commit, split, facts, statement, verdict.score, list(verdict.reasons), branch, ctx)
    return candidate, _restated(task, of_changed_files)


@dataclass(frozen=True)
class _NewTask:
    """A task with its statement already restated (redacted and graded, as restate.restate_task
    does to a task folder): the worker that made it does that work, not the main process."""

    task: Task
    #: problem_statement.original.md: the statement as mined, as restate_task reads it back.
    original: str
    #: The fields restating sets in task.json (the restated problem_statement among them).
    restated: dict


def _restated(task: Task, base_identifiers: set[str]) -> _NewTask:
    # The text restate_task would read back from problem_statement.md (universal newlines).
    original = task.problem_statement.replace("\r\n", "\n").replace("\r", "\n")
    # A mined task has no FAIL_TO_PASS yet, so no failing output either; the base identifiers
    # are those restating would read from the base versions (the same files, the same lines).
    _, fields = restated_fields(to_dict(task), original, None, "", [], base_identifiers)
    return _NewTask(task, original, fields)


def _statement(commit: Commit, split: Split, base_identifiers: set[str], messages: list[str], ctx: _Context):
    fix_ctx = FixContext(
        repo=ctx.slug,
        fix_commit=commit.sha,
        messages=messages,
        added_lines=[line for f in split.source for line in f.added_text],
        removed_lines=[line for f in split.source for line in f.removed_text],
        base_identifiers=base_identifiers,
    )
    statement = build_statement(fix_ctx, ctx.issues, ctx.config.statement_template)
    if ctx.config.rewrite_with:
        statement = rewrite_statement(
            statement,
            fix_ctx,
            base_url=ctx.config.rewrite_with,
            model=ctx.config.rewrite_model,
            api_key=ctx.config.rewrite_api_key,
        )
    return statement


def _task(commit, split, facts, statement, score, score_reasons, branch, ctx: _Context) -> Task:
    base = commit.base or ""
    return Task(
        instance_id=instance_id(ctx.slug, commit.sha),
        repo=ctx.slug,
        base_commit=base,
        patch=split.patch,
        test_patch=split.test_patch,
        problem_statement=statement.text,
        hints_text=statement.hints_text,
        created_at=_iso(commit.commit_time),
        version="",  # filled in by the main process (_Versions)
        environment_setup_commit=base,
        FAIL_TO_PASS=[],
        PASS_TO_PASS=[],
        fix_commit=commit.sha,
        kind="merge" if commit.is_merge else "commit",
        statement_source=statement.source,
        leakage_score=statement.leakage_score,
        leaked=list(statement.leaked),
        bugfix_score=score,
        score_reasons=score_reasons,
        issue_refs=list(statement.issue_refs),
        touched_tests=facts.touched_tests,
        changed_functions=facts.changed,
        added_functions=facts.added,
        source_files=split.source_files,
        test_files=split.test_files,
        other_files=split.other_files,
        branch_commits=[sha for sha, _ in branch],
    )


def _write_task(out: Path, new: _NewTask, version: str) -> None:
    task = replace(new.task, version=version)
    folder = out / task.instance_id
    try:
        folder.mkdir(parents=True)
        fresh = True
    except FileExistsError:  # a resumed run's: it may hold a killed writer's debris
        fresh = False
    # The plain files first; task.json last and atomically, so a folder with task.json is whole.
    # (each whole or absent: a full disk leaves no empty or half patch behind)
    write_atomic(folder / "gold.patch", task.patch, fresh)
    write_atomic(folder / "test.patch", task.test_patch, fresh)
    write_atomic(folder / ORIGINAL, new.original, fresh)
    write_atomic(folder / STATEMENT, new.restated["problem_statement"], fresh)
    write_json(folder / "task.json", {**to_dict(task), **new.restated}, fresh)


def read_candidates(run_dir: Path) -> Iterable[dict]:
    from swegen.records import read_lines

    return read_lines(run_dir / "candidates.jsonl")
