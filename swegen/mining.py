"""Mining: turn a repository's whole history into SWE-bench-style task candidates.

Public entry: `mine(config, progress)`. It walks the first-parent line of every branch and tag
once (a merged pull request is one unit, diffed against its first parent), drops what cheap
filters can tell from file lists alone, removes changes reached through several paths by patch
identity (keeping the earliest), and only then reads full diffs, runs tree-sitter and writes
problem statements. Every commit considered gets a line in candidates.jsonl with its reasons;
every kept one gets a folder with task.json, gold.patch, test.patch and problem_statement.md.
"""

from __future__ import annotations

import collections
import concurrent.futures
import os
import datetime as dt
import re
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Iterator

from swegen import __version__, codeindex
from swegen.classify import Evidence, score_bugfix
from swegen.errors import BadInput
from swegen.history import (
    BlobReader,
    Commit,
    RepoInfo,
    branch_commits,
    diffs,
    first_parent_line,
    TagTimeline,
    main_line_ref,
    open_repo,
    reachable,
    patch_ids,
    remote_name,
    walk,
)
from swegen.records import JsonlWriter, to_dict, write_json
from swegen.split import DiffError, Split, SplitRules, parse_diff, split_diff
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
    with_tests: int = 0
    candidates: int = 0
    kept: int = 0
    reasons: collections.Counter[str] = field(default_factory=collections.Counter)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "commits_scanned": self.scanned,
            "branch_commits_inside_merges": self.inside_merges,
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
    _prepare_output(config.output)
    write_json(config.output / "run.json", _run_record(config, info, slug))
    rules = replace(config.rules, exclude_globs=config.rules.exclude_globs + config.exclude)
    commits = _scan(config, info, funnel, progress)
    ctx = _Context(config, slug, rules, issues, config.output, TagTimeline(config.repo), {c.sha: c.commit_time for c in commits})
    with JsonlWriter(config.output / "candidates.jsonl") as sink:
        survivors = _cheap_filter(commits, ctx, funnel, sink)
        fresh = _drop_duplicates(survivors, ctx, funnel, sink)
        _analyse_fresh(fresh, ctx, funnel, sink, progress)
    return funnel


def _scan(config: MineConfig, info: RepoInfo, funnel: Funnel, progress: Progress) -> list[Commit]:
    """Pass one: the commits to consider, oldest first."""
    main_ref = main_line_ref(config.repo)
    mainline = first_parent_line(config.repo, main_ref) if main_ref else set()
    # Commits of branches already merged into the main line are part of their merge (the pull
    # request is the unit); only the first-parent line of the main line and unmerged work count.
    merged = reachable(config.repo, main_ref) - mainline if main_ref else set()
    commits = []
    for commit in walk(config.repo, config.refs or DEFAULT_REFS, config.since, config.until, config.paths):
        if commit.sha in merged:
            funnel.inside_merges += 1
            continue
        on_main = commit.sha in mainline
        second_on_main = commit.is_merge and commit.parents[1] in mainline
        commits.append(replace(commit, on_main_line=on_main, second_parent_on_main_line=second_on_main))
        funnel.scanned += 1
        if funnel.scanned % 200 == 0:
            progress("scanning history", funnel.scanned, info.commit_count)
    progress("scanning history", funnel.scanned, funnel.scanned)
    commits.sort(key=lambda c: (c.commit_time, c.author_time))
    return commits


def _cheap_filter(commits: list[Commit], ctx: "_Context", funnel: Funnel, sink: JsonlWriter) -> list[Commit]:
    """What the file lists alone can reject is recorded; the rest goes on."""
    survivors = []
    for commit in commits:
        roles = [ctx.rules.role(f.path) for f in commit.files]
        funnel.with_tests += "test" in roles
        reasons = _cheap_reasons(commit, roles, ctx.config)
        if reasons:
            _record(sink, funnel, _rejected(commit, ctx.slug, reasons, roles))
        else:
            survivors.append(commit)
    funnel.candidates = len(survivors)
    return survivors


def _drop_duplicates(survivors: list[Commit], ctx: "_Context", funnel: Funnel, sink: JsonlWriter) -> list[Commit]:
    duplicates = _duplicates(ctx.config.repo, survivors)
    for commit in survivors:
        if commit.sha in duplicates:
            rejected = _rejected(commit, ctx.slug, ["duplicate"], [ctx.rules.role(f.path) for f in commit.files])
            _record(sink, funnel, replace(rejected, duplicate_of=instance_id(ctx.slug, duplicates[commit.sha])))
    return [c for c in survivors if c.sha not in duplicates]


def _analyse_fresh(fresh: list[Commit], ctx: "_Context", funnel: Funnel, sink: JsonlWriter, progress: Progress) -> None:
    """Pass two: full diffs, tree-sitter and statements, newest first (so --max-candidates keeps
    the most recent fixes)."""
    fresh = fresh[::-1]
    by_sha = {c.sha: c for c in fresh}
    jobs = ((by_sha[sha], raw) for sha, raw in diffs(ctx.config.repo, [(c.sha, c.base or "") for c in fresh]))
    limit = ctx.config.max_candidates
    for done, (commit, (candidate, task)) in enumerate(_analyse_all(jobs, ctx, ctx.config.workers), 1):
        progress("analysing candidates", done, len(fresh))
        if limit is not None and funnel.kept >= limit:
            roles = [ctx.rules.role(f.path) for f in commit.files]
            candidate, task = _rejected(commit, ctx.slug, ["over-limit"], roles), None
        _record(sink, funnel, candidate)
        if task is not None:
            _write_task(ctx.out, task)


# -- analysis, in worker processes when there is more than one core ------------------------------

_worker: dict[str, object] = {}


def _init_worker(ctx: "_Context") -> None:
    _worker["ctx"] = ctx
    _worker["blobs"] = BlobReader(ctx.config.repo)


def _analyse_chunk(chunk: list[tuple[Commit, bytes]]) -> list[tuple[Candidate, "Task | None"]]:
    # Consecutive candidates go to one worker together: they touch nearby versions of the same
    # files, which tree-sitter then reparses incrementally.
    return [_analyse(commit, raw, _worker["blobs"], _worker["ctx"]) for commit, raw in chunk]  # type: ignore[arg-type]


def _analyse_all(jobs: Iterable[tuple[Commit, bytes]], ctx: "_Context", workers: int) -> Iterator[tuple[Commit, tuple]]:
    """Analyse candidates in order; with workers > 1, in a process pool with a bounded window
    (so a huge history never holds all its diffs in memory)."""
    if workers <= 1:
        with BlobReader(ctx.config.repo) as blobs:
            for commit, raw in jobs:
                yield commit, _analyse(commit, raw, blobs, ctx)
        return
    window: collections.deque = collections.deque()
    with concurrent.futures.ProcessPoolExecutor(workers, initializer=_init_worker, initargs=(ctx,)) as pool:
        for chunk in _chunks(jobs, CHUNK):
            window.append(([commit for commit, _ in chunk], pool.submit(_analyse_chunk, chunk)))
            if len(window) >= 3 * workers:
                yield from _drain(window.popleft())
        while window:
            yield from _drain(window.popleft())


CHUNK = 6


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    chunk: list = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _drain(entry: tuple[list[Commit], concurrent.futures.Future]) -> Iterator[tuple[Commit, tuple]]:
    commits, future = entry
    yield from zip(commits, future.result())


@dataclass(frozen=True)
class _Context:
    config: MineConfig
    slug: str
    rules: SplitRules
    issues: IssueIndex | None
    out: Path
    tags: TagTimeline
    commit_times: dict[str, int]


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
    """A run folder is written fresh: mining is cheap next to validation, and a half-old run misleads."""
    if out.exists() and (out / "candidates.jsonl").exists():
        (out / "candidates.jsonl").unlink()
        for child in out.iterdir():
            if child.is_dir() and (child / "task.json").exists():
                shutil.rmtree(child)
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
    source_lines = sum(f.added + f.deleted for f, role in zip(commit.files, roles) if role == "source")
    if source_lines > config.max_source_lines:
        return [f"too-large: {source_lines} source lines changed (limit {config.max_source_lines})"]
    return []


def _duplicates(repo: Path, survivors: list[Commit]) -> dict[str, str]:
    """Commits whose change already came earlier (cherry-picks, release-branch merges) -> the earliest."""
    ids = patch_ids(repo, [(c.sha, c.base or "") for c in survivors])
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
    lines = collections.Counter[str]()
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


def _code_facts(commit: Commit, split: Split, blobs: BlobReader) -> _CodeFacts:
    """tree-sitter over the fixed version of every touched file (one parse per file)."""
    changed, added, touched, referenced = [], [], [], set()
    for item in split.source:
        new = blobs.read(commit.sha, item.path) if item.status != "deleted" else None
        facts = codeindex.change_facts(item.path, new, set(item.added_lines), set(item.removed_at), item.removed_text)
        changed += facts.changed
        added += facts.added
    for item in split.tests:
        new = blobs.read(commit.sha, item.path) if item.status != "deleted" else None
        facts = codeindex.change_facts(item.path, new, set(item.added_lines), set(item.removed_at), item.removed_text)
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


def _base_identifiers(commit: Commit, split: Split, blobs: BlobReader) -> set[str]:
    """Identifiers already in the base versions of the touched source files (for leakage)."""
    names: set[str] = set()
    for item in split.source:
        if item.status != "added" and commit.base:
            old = blobs.read(commit.base, item.old_path or item.path)
            if old:
                names |= set(IDENTIFIER.findall(old.decode("utf-8", errors="replace")))
    return names


def _analyse(commit: Commit, raw: bytes, blobs: BlobReader, ctx: _Context) -> tuple[Candidate, Task | None]:
    roles = [ctx.rules.role(f.path) for f in commit.files]
    try:
        split = split_diff(parse_diff(raw, skip=lambda path: ctx.rules.role(path) == "other"), ctx.rules)
    except DiffError as exc:
        reason = "non-utf8" if "non-UTF-8" in str(exc) else "unreadable-diff"
        return _rejected(commit, ctx.slug, [f"{reason}: {exc}"], roles), None
    branch = branch_commits(ctx.config.repo, commit)
    messages = [commit.message] + [message for _, message in branch]
    facts = _code_facts(commit, split, blobs)
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
    )
    if reasons:
        return candidate, None
    statement = _statement(commit, split, _base_identifiers(commit, split, blobs), messages, ctx)
    return candidate, _task(commit, split, facts, statement, verdict.score, list(verdict.reasons), branch, ctx)


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
        version=ctx.tags.version_at(ctx.commit_times.get(base, commit.commit_time)) or "0.0",
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


def _write_task(out: Path, task: Task) -> None:
    folder = out / task.instance_id
    folder.mkdir(parents=True, exist_ok=True)
    # The plain files first; task.json last and atomically, so a folder with task.json is whole.
    (folder / "gold.patch").write_text(task.patch, encoding="utf-8")
    (folder / "test.patch").write_text(task.test_patch, encoding="utf-8")
    (folder / "problem_statement.md").write_text(task.problem_statement, encoding="utf-8")
    write_json(folder / "task.json", to_dict(task))


def read_candidates(run_dir: Path) -> Iterable[dict]:
    from swegen.records import read_lines

    return read_lines(run_dir / "candidates.jsonl")
