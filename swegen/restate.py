"""Statements restated once the task is known: redacted, with the failing tests' output, graded.

Mining writes a statement from the issue, the pull request or the commit messages; those often
describe the fix itself. `restate_tasks` runs over a run folder's task folders (after mining, and
again after validation, when FAIL_TO_PASS is known) and, for each, starting from the original
statement (kept as problem_statement.original.md):

- removes the sentences, list items and code blocks that give the fix away (statements.redact);
- adds the FAIL_TO_PASS tests' output before the fix (validation's logs/before-1.txt): assertion
  messages and traceback frames of the code under test, never the test files' frames, a line of
  the test patch or of the fix, trimmed and deduplicated;
- grades the result `ok`, `thin` or `leaky`, with reasons, in task.json.

It always starts again from the original, so running it twice gives the same files.
"""

from __future__ import annotations

import json
import re
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path

from swegen.records import write_atomic, write_json
from swegen.statements import (
    FixContext,
    Removal,
    _fix_lines,
    _test_lines,
    _ws,
    leakage,
    redact,
    render_statement,
    statement_problems,
    statement_quality,
)

ORIGINAL = "problem_statement.original.md"
STATEMENT = "problem_statement.md"
#: At most this many distinct failures (tests failing the same way are one) reach a statement.
MAX_FAILURES = 5
#: Lines kept per failure: its frames in the code under test and its E lines.
MAX_FAILURE_LINES = 12
_OUTPUT_HEADING = "\n## Failing test output"
_SECTION_RULE = re.compile(r"^={5,} (.+?) ={5,}$")
_TEST_HEADER = re.compile(r"^_{3,} (.+?) _{3,}$")
_FRAME = re.compile(r"^(?P<path>[^\s:][^:]*\.py):\d+: in \S+")
_ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{6,}\b")
#: pytest's advice lines, the same under every failure.
_PYTEST_HINT = re.compile(r"Use -v to get (?:more|the full) diff|Full output truncated|use '-vv' to show")
_LIST_MARK = re.compile(r"^(?:[-*+]|\d+[.)])\s+")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True)
class Restated:
    """A task's statement after redaction and the failing test output, with its grade."""

    text: str
    #: Where the statement's parts came from: the prose's source, then "test_failure" if added.
    sources: list[str]
    quality: str
    quality_reasons: list[str]
    #: The grade the original statement would have had.
    original_quality: str
    removed: list[Removal]


def restate_tasks(run_dir: Path, fail_to_pass: dict[str, list[str]] | None = None) -> dict[str, Restated]:
    """Restate every task folder of `run_dir` (FAIL_TO_PASS per instance id, when validated)."""
    run_dir = Path(run_dir)
    repo = _repo_path(run_dir)
    done: dict[str, Restated] = {}
    with _Blobs(repo) as blobs:
        for task_json in sorted(run_dir.glob("*/task.json")):
            folder = task_json.parent
            task = json.loads(task_json.read_text(encoding="utf-8"))
            f2p = (fail_to_pass or {}).get(task.get("instance_id", folder.name)) or task.get("FAIL_TO_PASS") or []
            done[folder.name] = restate_task(folder, task, blobs, f2p)
    return done


def restate_task(folder: Path, task: dict, repo: "Path | _Blobs | None", f2p: list[str]) -> Restated:
    """Restate one task folder: write problem_statement.md (original kept) and update task.json."""
    original_path = folder / ORIGINAL
    if not original_path.exists():
        write_atomic(original_path, (folder / STATEMENT).read_text(encoding="utf-8"))
    original = original_path.read_text(encoding="utf-8")
    restated, fields = restated_fields(task, original, repo, _before_log(folder), f2p)
    write_atomic(folder / STATEMENT, restated.text)
    task.update(fields)
    write_json(folder / "task.json", task)
    return restated


def restated_fields(
    task: dict, original: str, repo: "Path | _Blobs | None", before_log: str, f2p: list[str],
    base_identifiers: "set[str] | None" = None,
) -> tuple[Restated, dict]:
    """What restate_task writes, without touching the folder (mining's workers restate each task
    as they make it): the restated statement, and the fields it sets in task.json.

    `base_identifiers`, when the caller knows them (mining does), are those fix_context would
    read from the touched source files at the base commit."""
    ctx = fix_context(task, repo, base_identifiers)
    output = failing_output(before_log, f2p, ctx, task.get("test_files") or [])
    restated = restate(original, task.get("statement_source", "commit_message"), ctx, output)
    # leakage_score and leaked stay as mining scored the original statement; this is what is left.
    score, leaked = leakage(restated.text, ctx)
    fields = dict(
        leakage_score_redacted=score,
        leaked_redacted=leaked,
        problem_statement=restated.text,
        statement_sources=restated.sources,
        statement_quality=restated.quality,
        statement_quality_reasons=restated.quality_reasons,
        statement_quality_original=restated.original_quality,
        statement_redactions=[{"text": r.text, "reason": r.reason} for r in restated.removed],
    )
    return restated, fields


def restate(original: str, source: str, ctx: FixContext, test_output: str) -> Restated:
    """The redacted statement, with `test_output` in the template's slot, and its grade."""
    prose = original.split(_OUTPUT_HEADING, 1)[0].strip("\n")
    title, _, body = prose.partition("\n")
    before, _ = statement_quality(original, ctx, _OUTPUT_HEADING in original)
    kept_title, title_removed = redact(title, ctx)
    kept_body, removed = redact(body, ctx)
    if not kept_title.strip():
        # The next line that survived becomes the title; with none, a neutral one.
        kept_title, _, kept_body = kept_body.strip().partition("\n")
        kept_title = _LIST_MARK.sub("", kept_title).strip() or f"A bug in {ctx.repo.split('/')[-1] or 'the project'}"
    if removed or title_removed or test_output:
        text = render_statement(kept_title, kept_body, source, _with_output(ctx, test_output), [])
    else:
        text = original  # as mined, through whatever template mining used
    sources = [source] + (["test_failure"] if test_output else [])
    quality, reasons = statement_quality(text, ctx, bool(test_output), title_removed=bool(title_removed))
    return Restated(text, sources, quality, reasons, before, [*title_removed, *removed])


def _with_output(ctx: FixContext, output: str) -> FixContext:
    return replace(ctx, failing_test_output=output)


# -- what the fix is ----------------------------------------------------------------------------


def fix_context(task: dict, repo: "Path | _Blobs | None", base_identifiers: "set[str] | None" = None) -> FixContext:
    """The FixContext of a task folder's task.json: its patches' lines and the base identifiers
    (those of the touched source files at the base commit: `base_identifiers` when given, else
    read from `repo` when given)."""
    if isinstance(repo, Path) and base_identifiers is None:
        with _Blobs(repo) as blobs:
            return fix_context(task, blobs)
    added, removed, files = _patch_lines(task.get("patch", ""))
    test_added, _, _ = _patch_lines(task.get("test_patch", ""))
    base = set(_IDENT.findall("\n".join(removed)))
    if base_identifiers is not None:
        base |= base_identifiers
    else:
        for path in files if repo is not None else []:
            base |= _identifier_set(repo.show(task.get("base_commit", ""), path))  # type: ignore[union-attr]
    return FixContext(
        repo=task.get("repo", ""),
        fix_commit=task.get("fix_commit", ""),
        messages=[],
        added_lines=added,
        removed_lines=removed,
        base_identifiers=base,
        test_added_lines=tuple(test_added),
    )


#: bytes.translate table turning every byte that cannot be in an identifier into a space.
_WORDS_ONLY = bytes(c if chr(c).isascii() and (chr(c).isalnum() or chr(c) == "_") else 32 for c in range(256))


def _identifier_set(text: str) -> set[str]:
    """set(_IDENT.findall(text)), from the text's words (runs of ASCII letters, digits and "_",
    each matched from its first non-digit): splitting in C is several times faster than a
    regex making an object per match, and whole source files are read for every task."""
    words = set(text.encode("utf-8", "surrogatepass").translate(_WORDS_ONLY).split())
    return {name.decode() for name in {word.lstrip(b"0123456789") for word in words} if name}


def _patch_lines(patch: str) -> tuple[list[str], list[str], list[str]]:
    """('+' lines, '-' lines, files that existed before) of a unified diff."""
    added, removed, files = [], [], []
    for line in patch.split("\n"):
        if line.startswith("--- a/"):
            files.append(line[6:].strip())
        elif line.startswith(("+++", "---")):
            continue
        elif line.startswith("+"):
            added.append(line[1:])
        elif line.startswith("-"):
            removed.append(line[1:])
    return added, removed, files


class _Blobs:
    """Files at a commit, from one `git cat-file --batch` process (a task needs a few, a run many)."""

    def __init__(self, repo: Path | None) -> None:
        self._git = None if repo is None else subprocess.Popen(
            ["git", "-C", str(repo), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def __enter__(self) -> "_Blobs":
        return self

    def __exit__(self, *exc: object) -> None:
        if self._git is not None:
            self._git.stdin.close()  # type: ignore[union-attr]
            self._git.wait()

    def show(self, commit: str, path: str) -> str:
        if self._git is None or not commit or "\n" in path:
            return ""
        self._git.stdin.write(f"{commit}:{path}\n".encode())  # type: ignore[union-attr]
        self._git.stdin.flush()  # type: ignore[union-attr]
        header = self._git.stdout.readline().split()  # type: ignore[union-attr]
        if len(header) != 3:  # "<name> missing"
            return ""
        data = self._git.stdout.read(int(header[2]) + 1)  # type: ignore[union-attr]
        return data[:-1].decode("utf-8", "replace") if header[1] == b"blob" else ""


def _repo_path(run_dir: Path) -> Path | None:
    try:
        record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    path = Path(record.get("repo_path") or "")
    return path if record.get("repo_path") and path.exists() else None


# -- the failing tests' output --------------------------------------------------------------------


def _before_log(folder: Path) -> str:
    path = folder / "logs" / "before-1.txt"
    return path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""


def failing_output(log: str, f2p: list[str], ctx: FixContext, test_files: list[str]) -> str:
    """The FAIL_TO_PASS tests' failures in a pytest -rA --tb=short log, safe to show a solver.

    Per failing test: the frames in the code under test (with their source line) and the E lines;
    frames in test files, and any line that quotes the test patch or the fix or names what only
    the fix introduces, are dropped. Tests that fail the same way are listed together.
    """
    if not log or not f2p:
        return ""
    by_name = {_section_name(test): test for test in f2p}
    groups: dict[tuple[str, ...], list[str]] = {}
    for name, lines in _sections(log):
        tests = _tests_of(name, by_name, f2p)
        kept = tuple(_safe_lines(lines, ctx, test_files))
        if tests and kept:
            groups.setdefault(kept, []).extend(t for t in tests if t not in groups.get(kept, []))
    blocks = [_block(tests, lines) for lines, tests in list(groups.items())[:MAX_FAILURES]]
    return "\n\n".join(blocks)


def _section_name(test_id: str) -> str:
    return test_id.split("::", 1)[-1].replace("::", ".")


def _tests_of(name: str, by_name: dict[str, str], f2p: list[str]) -> list[str]:
    if name in by_name:
        return [by_name[name]]
    collecting = re.match(r"ERROR collecting (\S+)", name)
    if collecting:
        return [t for t in f2p if t.split("::")[0] == collecting.group(1)]
    return []


def _sections(log: str) -> list[tuple[str, list[str]]]:
    """(header, lines) of each test in the FAILURES and ERRORS sections of a pytest log."""
    sections: list[tuple[str, list[str]]] = []
    inside = False
    for line in log.replace("\r\n", "\n").split("\n"):
        rule = _SECTION_RULE.match(line)
        if rule:
            inside = rule.group(1) in ("FAILURES", "ERRORS")
            continue
        header = _TEST_HEADER.match(line)
        if inside and header:
            sections.append((header.group(1), []))
        elif inside and sections:
            sections[-1][1].append(line)
    return sections


def _safe_lines(lines: list[str], ctx: FixContext, test_files: list[str]) -> list[str]:
    kept: list[str] = []
    in_test_frame = in_frame = False
    for line in lines:
        frame = _FRAME.match(line)
        if frame:
            in_frame, in_test_frame = True, _is_test_path(frame.group("path"), test_files)
            candidate = line
        elif line.startswith("E ") and line[1:].strip():
            in_frame, candidate = False, line.rstrip()
        elif in_frame and line.startswith("    "):
            candidate = line.rstrip()
        else:
            in_frame = False
            continue
        if (in_test_frame and not line.startswith("E ")) or _PYTEST_HINT.search(line):
            continue
        candidate = _ADDRESS.sub("0x...", candidate)
        if _shows_fix_or_tests(candidate, ctx) or candidate in kept[-1:]:
            continue
        kept.append(candidate)
    return kept[:MAX_FAILURE_LINES]


def _is_test_path(path: str, test_files: list[str]) -> bool:
    name = path.rsplit("/", 1)[-1]
    return path in test_files or any(path.endswith("/" + f) for f in test_files) or name.startswith("test_") \
        or name.endswith("_test.py") or name == "conftest.py" or "/tests/" in f"/{path}"


def _shows_fix_or_tests(line: str, ctx: FixContext) -> bool:
    """Whether a line of output quotes a test patch or fix line (either way) or gives the fix away."""
    text = _ws(line[2:] if line.startswith("E ") else line)
    if len(text) >= 8:
        for source in (*ctx.test_added_lines, *ctx.added_lines):
            code = _ws(source)
            if len(code) >= 8 and (code in text or (len(text) >= 12 and text in code)):
                return True
    return bool(statement_problems(line, ctx, announcements=False, test_names=True))


def _block(tests: list[str], lines: tuple[str, ...]) -> str:
    # how many, never which: a solver must not see the FAIL_TO_PASS list (nor a test's name)
    head = "A test fails like this:" if len(tests) == 1 else f"{len(tests)} tests fail like this:"
    return "\n".join([head, *lines])


def statement_leaks(run_dir: Path) -> dict[str, list[str]]:
    """Per task folder of `run_dir`, the added lines of its test patch or gold patch (at least 12
    characters, more than punctuation and keywords) that its problem_statement.md holds."""
    found: dict[str, list[str]] = {}
    for task_json in sorted(Path(run_dir).glob("*/task.json")):
        task = json.loads(task_json.read_text(encoding="utf-8"))
        ctx = fix_context(task, None)
        text = _ws((task_json.parent / STATEMENT).read_text(encoding="utf-8"))
        lines = [f"test patch: {line}" for line in _test_lines(ctx) if line in text]
        lines += [f"fix: {line}" for line in _fix_lines(ctx) if line in text]
        if lines:
            found[task_json.parent.name] = lines
    return found
