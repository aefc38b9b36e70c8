"""Continuous mode: `swegen mine REPO -o RUN_DIR --update` adds the fixes that arrived since the last mine.

Every `swegen mine` records in run.json (`mined.tips`) the commit each branch, remote-tracking
branch and tag pointed at when it started. An update lists the commits reachable now and from
none of those tips (what arrived since: new commits on any line, a merged pull request, a
fast-forward, a new tag), mines the repository into a scratch folder inside the run with the
run's own options and `--since` the oldest of those commits on a first-parent line (so the rest
of the history is not walked again), and keeps from it only the units whose fix commit is one of
the new commits.

Those are appended to candidates.jsonl with their task folders; nothing that was there changes:
no line, no folder, no file of an existing task (so predictions and evaluations, cached by a hash
of the task and the patch, stay valid). A new unit with the same change as a task already in the
run (a cherry-pick of an old fix to a maintenance branch: same `git patch-id`) is appended as
rejected, a duplicate of that task. `swegen validate` then validates only candidates without a
verdict, that is the new ones, and tasks.jsonl gains them. With nothing new, an update writes
nothing at all.

A run mined before swegen recorded tips is updated against the fix commits its candidates.jsonl
already holds (the whole history is mined again, and only units not in the run are added).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from swegen.errors import BadInput, GitError
from swegen.records import read_lines, repair_tail, write_json

#: The refs whose tips a mine records; the same the walk lists by default.
TIP_REFS = ("refs/heads", "refs/remotes", "refs/tags")

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class UpdateResult:
    """What an update found and added."""

    #: Commits reachable now from no tip recorded by the last mine (None: the run recorded none).
    new_commits: int | None
    #: Lines appended to candidates.jsonl, and how many of them are kept (new task folders).
    candidates: int
    kept: int
    #: New units that repeat a task already in the run (appended as rejected duplicates).
    duplicates: int
    #: Instance ids of the new kept candidates.
    new_ids: tuple[str, ...] = ()
    #: The --since the scratch mine walked from (None: the whole history).
    since: str | None = None


def _git(repo: Path, *args: str, stdin: str | None = None) -> str:
    proc = subprocess.run(["git", "-C", str(repo), *args], input=stdin, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise GitError(f"git {args[0]} failed in {repo}", detail=proc.stderr)
    return proc.stdout


def current_tips(repo: Path) -> dict[str, str]:
    """Each branch, remote-tracking branch and tag with the commit it points at (tags peeled)."""
    tips = {}
    for line in _git(repo, "for-each-ref", "--format=%(refname) %(objectname) %(*objectname)", *TIP_REFS).splitlines():
        parts = line.split()
        if len(parts) >= 2 and not parts[0].endswith("/HEAD"):
            tips[parts[0]] = parts[-1]
    return tips


def record_mined(run_dir: Path, tips: dict[str, str], min_score: float) -> None:
    """Keep in run.json what this mine started from: the tips, and the option run.json lacks."""
    path = run_dir / "run.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    mined = dict(data.get("mined") or {})
    mined.update(tips=tips, min_score=min_score, at=_now())
    data["mined"] = mined
    write_json(path, data)


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


def _run_record(run_dir: Path) -> dict[str, Any]:
    path = run_dir / "run.json"
    if not path.exists() or not (run_dir / "candidates.jsonl").exists():
        raise BadInput(f"{run_dir} is not a mined run (no run.json or candidates.jsonl)",
                       hint=f"mine it first without --update: swegen mine REPO -o {run_dir}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path} is not JSON ({exc.msg})", hint="mine the run again without --update") from None
    if not isinstance(data, dict) or not data.get("repo"):
        raise BadInput(f"{path} names no repository", hint="mine the run again without --update")
    return data


def _spec(repo: Path, old_tips: dict[str, str]) -> str | None:
    """rev-list's stdin for what arrived: every tip now, none of `old_tips` (those still in the clone)."""
    present = _present(repo, sorted(set(old_tips.values())))
    now = sorted(set(current_tips(repo).values()))
    return "\n".join(now + [f"^{sha}" for sha in present]) + "\n" if now else None


def new_commits(repo: Path, old_tips: dict[str, str]) -> list[str]:
    """Commits reachable from some ref now and from none of `old_tips`."""
    spec = _spec(repo, old_tips)
    return _git(repo, "rev-list", "--stdin", stdin=spec).split() if spec else []


def walk_since(repo: Path, old_tips: dict[str, str]) -> str | None:
    """The --since that the walk needs: one second before the oldest new commit on a first-parent
    line of a tip. Commits of a branch that a new merge brings in may be far older, but mining
    reaches them through their merge, never by the walk, so they do not move the window back."""
    spec = _spec(repo, old_tips)
    times = _git(repo, "log", "--first-parent", "--stdin", "--format=%ct", stdin=spec).split() if spec else []
    return f"@{min(int(t) for t in times) - 1}" if times else None


def _present(repo: Path, shas: list[str]) -> list[str]:
    """The commits of `shas` the clone still has (a force-pushed branch's old tip may be gone)."""
    if not shas:
        return []
    proc = subprocess.run(["git", "-C", str(repo), "cat-file", "--batch-check=%(objectname) %(objecttype)"],
                          input="\n".join(shas) + "\n", capture_output=True, text=True, check=False)
    return [line.split()[0] for line in proc.stdout.splitlines() if line.endswith(" commit")]


def _options(run: dict[str, Any], config: Any) -> Any:
    """The run's own mining options (run.json) over this command line's, the repository name kept,
    so that instance ids are the ones the first mine gave."""
    recorded = run.get("options") or {}
    mined = run.get("mined") or {}
    return replace(
        config,
        refs=tuple(recorded.get("refs") or config.refs), since=recorded.get("since", config.since),
        until=recorded.get("until", config.until), paths=tuple(recorded.get("paths") or config.paths),
        exclude=tuple(recorded.get("exclude") or config.exclude), max_candidates=recorded.get("max_candidates", config.max_candidates),
        include_features=bool(recorded.get("include_features", config.include_features)),
        max_source_lines=int(recorded.get("max_source_lines", config.max_source_lines)),
        min_score=float(mined.get("min_score", config.min_score)),
        issues=Path(recorded["issues"]) if recorded.get("issues") else config.issues,
        rewrite_with=recorded.get("rewrite_with", config.rewrite_with), repo_name=str(run["repo"]),
    )


def update(config: Any, progress: Progress = lambda stage, done, total: None) -> UpdateResult:
    """Mine what arrived in `config.repo` since `config.output` was last mined; append it (see module doc)."""
    from swegen.mining import mine

    run_dir = config.output
    run = _run_record(run_dir)
    old_tips = (run.get("mined") or {}).get("tips")
    tips = current_tips(config.repo)
    existing = list(read_lines(run_dir / "candidates.jsonl"))
    known = {str(line.get("instance_id")) for line in existing}
    if old_tips is None:
        fresh: set[str] | None = None
        options = _options(run, config)
    else:
        arrived = new_commits(config.repo, old_tips)
        if not arrived:
            return UpdateResult(0, 0, 0, 0)
        fresh = set(arrived)
        options = _options(run, config)
        if options.since is None:
            options = replace(options, since=walk_since(config.repo, old_tips))
    for stale in run_dir.glob(".update-*"):  # the scratch of an update that was killed
        shutil.rmtree(stale, ignore_errors=True)
    scratch = run_dir / f".update-{os.getpid()}"
    try:
        mine(replace(options, output=scratch), progress)
        result = replace(_merge(run_dir, scratch, existing, known, fresh, config.repo), since=options.since)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    record_mined(run_dir, tips, options.min_score)
    _log_update(run_dir, result)
    return result


def _merge(run_dir: Path, scratch: Path, existing: list[dict[str, Any]], known: set[str], fresh: set[str] | None,
           repo: Path) -> UpdateResult:
    """Move the new units' folders into the run and append their lines; never touch an old one."""
    added = [line for line in read_lines(scratch / "candidates.jsonl")
             if str(line.get("instance_id")) not in known and (fresh is None or line.get("fix_commit") in fresh)]
    same = _PatchIds(repo, [line for line in existing if line.get("kept")])
    lines, duplicates, new_ids = [], 0, []
    for line in added:
        if line.get("kept"):
            twin = same.find(line)
            if twin:
                line = {**line, "kept": False, "reasons": [f"duplicate of {twin} (already in the run)"], "duplicate_of": twin}
                duplicates += 1
            else:
                target = run_dir / line["instance_id"]
                shutil.rmtree(target, ignore_errors=True)  # a folder an interrupted update left, with no line
                (scratch / line["instance_id"]).rename(target)
                new_ids.append(line["instance_id"])
        lines.append(line)
    _append(run_dir / "candidates.jsonl", lines)
    return UpdateResult(len(fresh) if fresh is not None else None, len(lines), len(new_ids), duplicates, tuple(new_ids))


def _append(path: Path, lines: list[dict[str, Any]]) -> None:
    """Append the lines as read (JSON as mining writes it), each in one write: never half a line."""
    repair_tail(path)
    with open(path, "ab", buffering=0) as handle:
        for line in lines:
            handle.write((json.dumps(line, ensure_ascii=False) + "\n").encode("utf-8"))
        os.fsync(handle.fileno())


def describe(result: UpdateResult, run_dir: Path) -> str:
    """The update in one line, for the terminal."""
    if result.new_commits == 0:
        return f"nothing new since the last mine of {run_dir}: nothing written"
    arrived = "" if result.new_commits is None else f"{result.new_commits} new commit(s); "
    twins = f", {result.duplicates} repeating a task already in the run" if result.duplicates else ""
    return (f"update: {arrived}{result.candidates} new candidate(s), {result.kept} kept as new task folders{twins}; "
            f"existing candidates and tasks unchanged ({run_dir / 'candidates.jsonl'})")


def _patch_id(repo: Path, base: str | None, fix: str) -> str | None:
    if not base:
        return None
    diff = subprocess.run(["git", "-C", str(repo), "diff", "--no-color", "--no-renames", base, fix], capture_output=True, check=False)
    if diff.returncode != 0 or not diff.stdout:
        return None
    out = subprocess.run(["git", "-C", str(repo), "patch-id", "--stable"], input=diff.stdout, capture_output=True, check=False)
    return out.stdout.split()[0].decode() if out.stdout.split() else None


class _PatchIds:
    """The patch-ids of the run's kept candidates, computed once an update has a new one to compare."""

    def __init__(self, repo: Path, kept: list[dict[str, Any]]) -> None:
        self.repo, self.kept = repo, kept
        self._ids: dict[str, str] | None = None

    def find(self, line: dict[str, Any]) -> str | None:
        if self._ids is None:
            self._ids = {}
            for old in self.kept:
                found = _patch_id(self.repo, old.get("base_commit"), str(old.get("fix_commit")))
                if found:
                    self._ids.setdefault(found, str(old["instance_id"]))
        mine = _patch_id(self.repo, line.get("base_commit"), str(line.get("fix_commit")))
        return self._ids.get(mine) if mine else None


def _log_update(run_dir: Path, result: UpdateResult) -> None:
    path = run_dir / "run.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    data.setdefault("updates", []).append({"at": _now(), "new_commits": result.new_commits, "candidates": result.candidates,
                                           "kept": result.kept, "duplicates": result.duplicates, "since": result.since})
    write_json(path, data)
