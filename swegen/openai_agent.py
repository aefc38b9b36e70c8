"""The built-in `openai` solve agent: a retrieval baseline for any OpenAI-compatible endpoint.

Given only the source tree at a task's base commit and its problem statement (never the gold
patch, the test patch or the tests), it ranks the source files by BM25 over their paths and
identifiers, boosted for files and symbols the statement names (a traceback's frames first), shows
the best ones that fit a character budget through templates/solve_prompt.j2, and asks for one
unified diff. The reply's diff is normalised (fences, a/ b/ prefixes, `diff --git` headers, hunk
counts, CRLF) and kept only when `git apply --check` accepts it; otherwise the model is asked
again, quoting why. Network and HTTP failures are recorded in the outcome, never raised: an
outage (refused or closed connections, timeouts, HTTP 5xx and 429, retried first with backoff by
swegen.llm; or an endpoint that refuses us, 401/403/404) is `infra_error`, which is no answer
of the model's; any other failure is `error`, an attempt that produced no patch.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2

from swegen.errors import BadInput, GitError
from swegen.llm import ChatFailed, ChatReply, RetryPolicy, chat, chat_endpoint
from swegen.resources import load_template, render_template
from swegen.split import CODE_EXTENSIONS, SplitRules

PROMPT_TEMPLATE = "solve_prompt.j2"
#: Source files larger than this are never read: generated or vendored code, not a fix's target.
#: (Big hand-written modules, such as pandas' frame.py at 0.5 MB, stay in and are shown as excerpts.)
MAX_FILE_BYTES = 1_500_000
#: Of max_context_chars, at most this many go to the list of source paths.
MAX_LAYOUT_CHARS = 4_000


@dataclass(frozen=True)
class OpenAIAgentConfig:
    """How the `openai` agent reaches its model and how much of the repository it shows."""

    #: OpenAI-compatible base URL, e.g. http://127.0.0.1:8000/v1 or https://api.openai.com/v1.
    base_url: str
    #: Model name sent with every request.
    model: str
    #: Environment variable holding the API key; unset or empty sends no Authorization header.
    api_key_env: str = "OPENAI_API_KEY"
    #: At most this many files are shown to the model.
    max_files: int = 6
    #: Characters of repository text (file contents and the list of paths) in the prompt.
    max_context_chars: int = 60_000
    #: Sampling temperature sent with every request.
    temperature: float = 0.0
    #: Seconds a request may wait on the network (per socket operation).
    timeout: float = 300.0
    #: A Jinja2 file that replaces templates/solve_prompt.j2 (same variables).
    prompt_template: Path | None = None
    #: Requests in all: after a reply with no usable diff, ask again with the reason until this many.
    attempts: int = 2
    #: How each request is retried when the endpoint fails on the way (network, timeout, 5xx, 429).
    retry: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        chat_endpoint(self.base_url)  # BadInput for a URL that is not http(s)
        problems = [
            ("model", not self.model.strip(), "a model name"),
            ("max_files", self.max_files < 1, "at least 1"),
            ("max_context_chars", self.max_context_chars < 1_000, "at least 1000"),
            ("attempts", self.attempts < 1, "at least 1"),
            ("timeout", self.timeout <= 0, "a positive number of seconds"),
            ("temperature", self.temperature < 0, "zero or more"),
        ]
        for name, bad, wanted in problems:
            if bad:
                raise BadInput(f"openai agent {name} is {getattr(self, name)!r}", hint=f"give {wanted}")


@dataclass
class AgentOutcome:
    """What one solve attempt produced, for a predictions file."""

    #: Unified diff with a/ b/ paths that `git apply --check` accepts on the base tree; "" when none.
    model_patch: str
    #: Wall-clock seconds, retrieval and every request included.
    seconds: float
    #: Summed over the requests made; None when any reply did not report usage.
    prompt_tokens: int | None
    completion_tokens: int | None
    #: Why there is no patch (HTTP error, no diff in the reply, a diff that does not apply), one line.
    error: str | None
    #: Repository-relative paths shown to the model, most relevant first.
    files_shown: list[str] = field(default_factory=list)
    #: Set when the endpoint failed us (after retries): no answer of the model's, to be asked again.
    infra_error: str | None = None


def solve_with_openai(source_dir: Path, problem_statement: str, config: OpenAIAgentConfig) -> AgentOutcome:
    """Ask the model for a patch to the tree in `source_dir` that resolves `problem_statement`.

    Raises BadInput only for what the user must fix (a missing source folder, a broken prompt
    template); a failed request ends the attempt with `error` set instead.
    """
    started = time.monotonic()
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise BadInput(f"source folder {source_dir} does not exist", hint="extract the base commit there first")
    template = _prompt_template(config.prompt_template)
    files = source_files(source_dir)
    shown = select_files(files, problem_statement, config.max_files, config.max_context_chars)
    variables: dict[str, Any] = {
        "problem_statement": problem_statement,
        "files": shown,
        "layout": _layout(sorted(f.path for f in files), config.max_context_chars - sum(f.size for f in shown)),
        "error": None,
    }
    messages = [{"role": "user", "content": _render(template, variables, config.prompt_template)}]
    replies, patch, error, infra = _converse(messages, source_dir, config, template, variables)
    return AgentOutcome(
        model_patch=patch,
        seconds=round(time.monotonic() - started, 3),
        prompt_tokens=_total(r.prompt_tokens for r in replies),
        completion_tokens=_total(r.completion_tokens for r in replies),
        error=None if infra else error,
        files_shown=[f.path for f in shown],
        infra_error=error if infra else None,
    )


def _converse(
    messages: list[dict[str, str]], source_dir: Path, config: OpenAIAgentConfig, template: jinja2.Template, variables: dict[str, Any]
) -> tuple[list[ChatReply], str, str | None, bool]:
    """Replies received, the usable patch ("" if none), why there is none, and whether that is
    the infrastructure's fault rather than the model's."""
    endpoint = chat_endpoint(config.base_url)
    api_key = os.environ.get(config.api_key_env) or None
    replies: list[ChatReply] = []
    error: str | None = None
    for _ in range(config.attempts):
        try:
            reply = chat(endpoint, config.model, messages, api_key=api_key, timeout=config.timeout,
                         temperature=config.temperature, retry=config.retry)
        except ChatFailed as exc:
            return replies, "", str(exc), exc.infra
        replies.append(reply)
        patch, error = usable_patch(reply.text, source_dir)
        if patch:
            return replies, patch, None, False
        follow_up = _render(template, {**variables, "error": error}, config.prompt_template)
        messages = [*messages, {"role": "assistant", "content": reply.text}, {"role": "user", "content": follow_up}]
    return replies, "", f"no usable diff after {len(replies)} replies: {error}", False


def _total(counts: Any) -> int | None:
    values = list(counts)
    return sum(values) if values and all(v is not None for v in values) else None


def _prompt_template(path: Path | None) -> jinja2.Template:
    return load_template(path, PROMPT_TEMPLATE, what="prompt template")


def _render(template: jinja2.Template, variables: dict[str, Any], path: Path | None) -> str:
    return render_template(template, variables, path or PROMPT_TEMPLATE, what="prompt template")


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


# --------------------------------------------------------------------------------------------
# Retrieval: BM25 over paths and identifiers, boosted by what the statement names
# --------------------------------------------------------------------------------------------

#: Folders never searched: version control, caches, environments, vendored and built code.
_SKIP_DIRS = frozenset(
    ".git .hg .svn node_modules __pycache__ .tox .nox .venv venv .eggs site-packages vendor vendored _vendor "
    "third_party thirdparty third-party 3rdparty externals .mypy_cache .pytest_cache .ruff_cache htmlcov".split()
)
#: Skipped only at the top: elsewhere these names can be real packages.
_SKIP_TOP_DIRS = frozenset("build dist env".split())
_STOP_WORDS = frozenset(
    "a an and are as at be but by can do does for from has have i if in into is it its not of on or so that "
    "the then there this to was when which while with what would should could will we you my our after before "
    "get got use used using also just like only than them they self cls none true false def return import "
    "py line file error traceback most recent call last".split()
)
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_WORD_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_DEFINITION = re.compile(
    r"^[ \t]*(?:(?:async|export|pub|public|private|static)\s+)*"
    r"(?:def|class|func|function|fn|struct|interface|enum|trait|type)\s+([A-Za-z_]\w*)"
    r"|^([A-Za-z_]\w*)\s*(?::[^=\n]*)?=(?!=)",
    re.MULTILINE,
)
_EXTENSIONS = "|".join(sorted((e.lstrip(".") for e in CODE_EXTENSIONS), key=len, reverse=True))
_PATH_MENTION = re.compile(
    rf"(?<![\w.\\/-])((?:[A-Za-z]:)?[\w.\\/-]*?[\w-]+\.(?:{_EXTENSIONS}))(?![\w-])(?:\"?,\s*line\s+(\d+)|:(\d+))?"
)
_DOTTED = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_CODE_SPAN = re.compile(r"`([^`\n]+)`")
_CALLED = re.compile(r"([A-Za-z_]\w*)\s*\(")
_FRAME_FUNCTION = re.compile(r",\s*in\s+([A-Za-z_]\w*)")


@dataclass(frozen=True)
class SourceFile:
    """One source file of the tree, with what retrieval needs to know of it."""

    path: str
    text: str
    terms: Counter[str]
    definitions: frozenset[str]

    @property
    def lines(self) -> list[str]:
        return self.text.splitlines(keepends=True)


def source_files(source_dir: Path) -> list[SourceFile]:
    """Readable source files under `source_dir`, tests, docs, vendored, binary and huge files left out."""
    rules = SplitRules()
    found = []
    for top, dirs, names in os.walk(source_dir):
        rel_top = os.path.relpath(top, source_dir).replace(os.sep, "/")
        rel_top = "" if rel_top == "." else rel_top + "/"
        dirs[:] = sorted(d for d in dirs if not _skipped_dir(d, at_top=not rel_top))
        for name in sorted(names):
            path = rel_top + name
            if rules.role(path) == "source":
                text = _read_source(Path(top) / name)
                if text is not None:
                    found.append(SourceFile(path, text, Counter(_terms(text)), _definitions(text)))
    return found


def _skipped_dir(name: str, at_top: bool) -> bool:
    return name in _SKIP_DIRS or name.startswith(".") or name.endswith(".egg-info") or (at_top and name in _SKIP_TOP_DIRS)


def _read_source(path: Path) -> str | None:
    try:
        if path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
            return None
        data = path.read_bytes()
    except OSError:
        return None
    if b"\0" in data[:8192] or data.startswith(b"version https://git-lfs"):
        return None
    try:
        return data.decode("utf-8").replace("\r\n", "\n")
    except UnicodeDecodeError:
        return None


def _terms(text: str) -> list[str]:
    """Lower-case identifiers and their snake_case / CamelCase parts, stop words left out."""
    out: list[str] = []
    for word, count in Counter(_IDENTIFIER.findall(text)).items():
        parts = [p.lower() for piece in word.split("_") for p in _WORD_PART.findall(piece)]
        for term in {word.lower(), *parts}:
            if len(term) > 1 and term not in _STOP_WORDS:
                out.extend([term] * count)
    return out


def _definitions(text: str) -> frozenset[str]:
    return frozenset(a or b for a, b in _DEFINITION.findall(text))


@dataclass(frozen=True)
class _Mentions:
    """What a statement names: paths (with line numbers), dotted modules and code symbols."""

    #: Mentioned path -> position of its last mention in the statement (0..1; tracebacks end innermost).
    paths: dict[str, float]
    lines: dict[str, list[int]]
    dotted: list[str]
    symbols: frozenset[str]


def _mentions(statement: str) -> _Mentions:
    paths: dict[str, float] = {}
    lines: dict[str, list[int]] = {}
    for match in _PATH_MENTION.finditer(statement):
        path = match.group(1).replace("\\", "/")
        path = path.removeprefix("./")
        paths[path] = match.start() / max(1, len(statement))
        number = match.group(2) or match.group(3)
        if number:
            lines.setdefault(path, []).append(int(number))
    spans = " ".join(_CODE_SPAN.findall(statement))
    symbols = set(_IDENTIFIER.findall(spans)) | set(_CALLED.findall(statement)) | set(_FRAME_FUNCTION.findall(statement))
    symbols |= {w for w in _IDENTIFIER.findall(statement) if "_" in w.strip("_") or re.search(r"[a-z][A-Z]", w)}
    symbols = {s for s in symbols if len(s) > 2 and s.lower() not in _STOP_WORDS}
    dotted = [d for d in _DOTTED.findall(statement) if not _PATH_MENTION.fullmatch(d)]
    return _Mentions(paths, lines, dotted, frozenset(symbols))


def _shared_tail(mentioned: str, path: str) -> int:
    """How many trailing path components two paths share."""
    a, b = mentioned.strip("/").split("/"), path.split("/")
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n


def _path_boost(path: str, mentions: _Mentions) -> float:
    """Files a statement names outrank anything words alone can do; a traceback's last frame most."""
    best = 0.0
    for mentioned, position in mentions.paths.items():
        tail = _shared_tail(mentioned, path)
        if tail >= 2 or (tail == 1 and path.count("/") == 0):
            best = max(best, 100 + 10 * tail + 20 * position)
        elif tail == 1 and "/" not in mentioned and mentioned not in ("__init__.py", "__main__.py"):
            best = max(best, 40 + 20 * position)
        elif tail == 1:
            best = max(best, 5)
    for dotted in mentions.dotted:
        parts = dotted.split(".")
        for n in range(len(parts), 0, -1):
            stem = "/".join(parts[:n])
            if n > 1 and any(path == f"{stem}{ext}" or path.endswith(f"/{stem}{ext}") for ext in (".py", "/__init__.py")):
                best = max(best, 30.0 + n)
                break
    return best


def rank_files(files: list[SourceFile], problem_statement: str) -> list[tuple[float, SourceFile]]:
    """Files with any relevance to the statement, most relevant first, with their scores."""
    if not files:
        return []
    mentions = _mentions(problem_statement)
    query = Counter(_terms(problem_statement))
    count = len(files)
    frequency = Counter(term for f in files for term in f.terms.keys() & query.keys())
    idf = {t: math.log(1 + (count - frequency[t] + 0.5) / (frequency[t] + 0.5)) for t in query}
    lengths = [sum(f.terms.values()) for f in files]
    average = sum(lengths) / count or 1.0
    defined_in = Counter(s for f in files for s in f.definitions & mentions.symbols)
    scored = []
    for f, length in zip(files, lengths):
        score = 0.0
        path_terms = set(_terms(f.path))
        for term, asked in query.items():
            weight = idf[term] * (1 + math.log(asked))
            tf = f.terms.get(term, 0)
            score += weight * tf * 2.2 / (tf + 1.2 * (0.25 + 0.75 * length / average)) if tf else 0.0
            score += 1.5 * weight if term in path_terms else 0.0
        score += sum(15.0 / defined_in[s] for s in f.definitions & mentions.symbols)
        score += _path_boost(f.path, mentions)
        if score > 0:
            scored.append((score, f))
    scored.sort(key=lambda item: (-item[0], item[1].path))
    return scored


# --------------------------------------------------------------------------------------------
# What the model is shown: whole files, or excerpts around what the statement names
# --------------------------------------------------------------------------------------------

#: Per shown file or excerpt, characters of prompt beyond its text (path, fence, line range).
_OVERHEAD = 60
_WINDOW_BEFORE, _WINDOW_AFTER = 15, 35


@dataclass(frozen=True)
class Chunk:
    """Lines `start`..`end` (1-based, inclusive) of a file."""

    start: int
    end: int
    text: str


@dataclass(frozen=True)
class ShownFile:
    """A file as the prompt template sees it."""

    path: str
    complete: bool
    total_lines: int
    chunks: tuple[Chunk, ...]
    fence: str

    @property
    def text(self) -> str:
        return "".join(chunk.text for chunk in self.chunks)

    @property
    def size(self) -> int:
        return sum(len(c.text) + _OVERHEAD for c in self.chunks) + len(self.path)


def select_files(files: list[SourceFile], problem_statement: str, max_files: int, max_chars: int) -> list[ShownFile]:
    """The most relevant files that fit in `max_chars`: whole when they fit, else excerpts."""
    mentions = _mentions(problem_statement)
    query = set(_terms(problem_statement))
    shown: list[ShownFile] = []
    budget = max_chars
    for _, f in rank_files(files, problem_statement):
        if len(shown) >= max_files or budget < 500:
            break
        if not f.text.strip():
            continue
        lines = f.lines
        whole = ShownFile(f.path, True, len(lines), (Chunk(1, len(lines), _ensure_newline(f.text)),), _fence(f.text))
        choice = whole if whole.size <= budget else _excerpt(f, lines, mentions, query, budget)
        if choice is not None:
            shown.append(choice)
            budget -= choice.size
    return shown


def _excerpt(f: SourceFile, lines: list[str], mentions: _Mentions, query: set[str], budget: int) -> ShownFile | None:
    anchors = _anchors(f, lines, mentions, query) or [1]
    windows: list[tuple[int, int]] = []
    for line in anchors:
        start, end = max(1, line - _WINDOW_BEFORE), min(len(lines), line + _WINDOW_AFTER)
        if not any(s <= line <= e for s, e in windows):
            windows.append((start, end))
    chosen: list[tuple[int, int]] = []
    used = len(f.path)
    for start, end in _merged(windows):
        size = sum(len(line) for line in lines[start - 1 : end]) + _OVERHEAD
        if used + size <= budget:
            chosen.append((start, end))
            used += size
    if not chosen:
        return None
    chunks = tuple(Chunk(s, e, _ensure_newline("".join(lines[s - 1 : e]))) for s, e in _merged(sorted(chosen)))
    return ShownFile(f.path, False, len(lines), chunks, _fence(f.text))


def _anchors(f: SourceFile, lines: list[str], mentions: _Mentions, query: set[str]) -> list[int]:
    """Lines worth showing, most telling first: the traceback's lines in this file, definitions the
    statement names, then the lines sharing the most words with it."""
    anchors = [n for path, numbers in mentions.lines.items() if _shared_tail(path, f.path) >= min(2, path.count("/") + 1) for n in reversed(numbers)]
    overlap = []
    for number, line in enumerate(lines, 1):
        match = _DEFINITION.match(line)
        if match and (match.group(1) or match.group(2)) in mentions.symbols:
            anchors.append(number)
        shared = len(query.intersection(_terms(line)))
        if shared >= 2:
            overlap.append((-shared, number))
    anchors += [number for _, number in sorted(overlap)[:3]]
    return [n for n in dict.fromkeys(anchors) if 1 <= n <= len(lines)]


def _merged(windows: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping windows joined, kept in the order of their first (most telling) member."""
    merged: list[list[int]] = []
    for start, end in windows:
        for window in merged:
            if start <= window[1] + 1 and end >= window[0] - 1:
                window[0], window[1] = min(start, window[0]), max(end, window[1])
                break
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


def _layout(paths: list[str], budget: int) -> list[str]:
    budget = min(MAX_LAYOUT_CHARS, budget)
    out, used = [], 0
    for n, path in enumerate(paths):
        if used + len(path) + 1 > budget:
            out.append(f"... and {len(paths) - n} more")
            break
        out.append(path)
        used += len(path) + 1
    return out


def _fence(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def _ensure_newline(text: str) -> str:
    return text if not text or text.endswith("\n") else text + "\n"


# --------------------------------------------------------------------------------------------
# The reply's diff: found, normalised, checked
# --------------------------------------------------------------------------------------------

_FENCE_OPEN = re.compile(r"^[ \t]{0,3}(`{3,}|~{3,})[ \t]*([\w+.-]*)")
_HUNK = re.compile(r"^@@+\s*(?:-(\d+)(?:,\d+)?\s+\+(\d+)(?:,\d+)?)?[^@\n]*@@+(.*)$")
_DIFF_LANGUAGES = frozenset({"diff", "patch", "udiff", "git"})


def usable_patch(reply: str, source_dir: Path) -> tuple[str, str | None]:
    """The reply's diff, normalised, if `git apply --check` accepts it on `source_dir`; else why not."""
    raw = extract_diff(reply)
    if not raw:
        return "", "the reply has no unified diff (a ```diff block with --- a/<path>, +++ b/<path> and @@ hunks)"
    patch = normalise_diff(raw, source_dir)
    if not patch:
        return "", "the diff has no file headers (--- a/<path> and +++ b/<path>) before its hunks"
    problem = apply_check(patch, source_dir)
    return ("", f"the diff does not apply: {problem}") if problem else (patch, None)


def extract_diff(reply: str) -> str:
    """The diff text in a model's reply: its fenced diff blocks, else the bare diff; "" if none."""
    text = reply.replace("\r\n", "\n").replace("\r", "\n")
    blocks = _fenced_blocks(text)
    tagged = [body for lang, body in blocks if lang.lower() in _DIFF_LANGUAGES and _looks_like_diff(body)]
    chosen = tagged or [body for _, body in blocks if _looks_like_diff(body)]
    if chosen:
        return "\n".join(body.rstrip("\n") for body in chosen) + "\n"
    return text if _looks_like_diff(text) else ""


def _fenced_blocks(text: str) -> list[tuple[str, str]]:
    """(info string, body) of each fenced block; an unclosed last fence runs to the end."""
    blocks, lines, i = [], text.split("\n"), 0
    while i < len(lines):
        opened = _FENCE_OPEN.match(lines[i])
        if not opened:
            i += 1
            continue
        fence, body = opened.group(1), []
        i += 1
        while i < len(lines) and not (lines[i].strip().startswith(fence[0] * len(fence)) and not lines[i].strip().strip(fence[0])):
            body.append(lines[i])
            i += 1
        blocks.append((opened.group(2), "\n".join(body)))
        i += 1
    return blocks


def _looks_like_diff(text: str) -> bool:
    return bool(re.search(r"^@@", text, re.MULTILINE)) and bool(re.search(r"^(?:\+\+\+|---|diff --git) ", text, re.MULTILINE))


@dataclass
class _Hunk:
    old_start: int | None
    section: str
    lines: list[str]


@dataclass
class _FilePatch:
    old: str | None
    new: str | None
    hunks: list[_Hunk]


def normalise_diff(diff: str, source_dir: Path) -> str:
    """A diff `git apply` takes: `diff --git` headers, a/ b/ paths found in the tree, recounted hunks
    anchored where their old lines are in the file (ignoring trailing whitespace and CR), and
    one line of context where a hunk had none. "" when no file section has headers and hunks."""
    known = _tree_paths(source_dir)
    merged: dict[tuple[str | None, str | None], _FilePatch] = {}
    for section in _parse(diff.replace("\r\n", "\n").split("\n")):
        section.old, section.new = _resolve(section.old, known), _resolve(section.new, known, new=section.old is None)
        key = (section.old, section.new)
        if key in merged:
            merged[key].hunks.extend(section.hunks)
        else:
            merged[key] = section
    return "".join(_render_file(f, source_dir) for f in merged.values() if f.hunks and (f.old or f.new))


def _parse(lines: list[str]) -> list[_FilePatch]:
    """File sections of a diff: header pairs and their hunks; prose between them is ignored."""
    files: list[_FilePatch] = []
    hunk: _Hunk | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            files.append(_FilePatch(_header_path(line[4:]), _header_path(lines[i + 1][4:]), []))
            hunk, i = None, i + 2
            continue
        header = _HUNK.match(line)
        if header and files:
            hunk = _Hunk(int(header.group(1)) if header.group(1) else None, header.group(3).rstrip(), [])
            files[-1].hunks.append(hunk)
        elif hunk is not None and _hunk_line(lines, i):
            hunk.lines.append(line if line else " ")
        else:
            hunk = None
        i += 1
    for f in files:
        for h in f.hunks:
            while h.lines and h.lines[-1] == " ":  # blank lines after a hunk are layout, not context
                h.lines.pop()
        f.hunks = [h for h in f.hunks if any(line[0] in "+-" for line in h.lines)]
    return files


def _hunk_line(lines: list[str], i: int) -> bool:
    line = lines[i]
    if line.startswith("diff --git ") or (line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ ")):
        return False
    if line == "":
        return i + 1 < len(lines) and lines[i + 1][:1] in (" ", "+", "-", "\\")
    return line[0] in " +-\\"


def _header_path(raw: str) -> str | None:
    path = raw.split("\t")[0].strip().strip('"')
    return None if path in ("/dev/null", "dev/null", "") else path


def _tree_paths(source_dir: Path) -> set[str]:
    paths = set()
    for top, dirs, names in os.walk(source_dir):
        dirs[:] = [d for d in dirs if d != ".git"]
        rel = os.path.relpath(top, source_dir).replace(os.sep, "/")
        paths.update(name if rel == "." else f"{rel}/{name}" for name in names)
    return paths


def _resolve(path: str | None, known: set[str], new: bool = False) -> str | None:
    """The tree path a header names: as written, without its a/ or b/, else the one tree path that
    ends with it (absolute paths, a leading repository folder, a missing src/)."""
    if path is None:
        return None
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    bare = parts[1:] if len(parts) > 1 and parts[0] in ("a", "b") else parts
    for candidate in ("/".join(parts), "/".join(bare)):
        if candidate in known:
            return candidate
    if not new:
        for n in range(len(bare)):
            suffix = "/".join(bare[n:])
            matches = [k for k in known if k == suffix or k.endswith("/" + suffix)]
            if len(matches) == 1:
                return matches[0]
            if matches:
                break
    return "/".join(bare)


def _render_file(f: _FilePatch, source_dir: Path) -> str:
    old, new = f.old or f.new, f.new or f.old
    head = [f"diff --git a/{old} b/{new}"]
    if f.old is None:
        head.append("new file mode 100644")
    elif f.new is None:
        head.append(f"deleted file mode {_mode(source_dir / f.old)}")
    elif f.old != f.new:
        head += [f"rename from {f.old}", f"rename to {f.new}"]
    head += [f"--- a/{f.old}" if f.old else "--- /dev/null", f"+++ b/{f.new}" if f.new else "+++ /dev/null"]
    file_lines = _file_lines(source_dir / f.old) if f.old else None
    hunks = sorted((_anchor(h, file_lines) for h in f.hunks), key=lambda h: h.old_start or 0)
    body, offset = [], 0
    for hunk in hunks:
        text, offset = _render_hunk(hunk, offset)
        body.append(text)
    return "\n".join(head) + "\n" + "".join(body)


def _mode(path: Path) -> str:
    try:
        return "100755" if os.access(path, os.X_OK) else "100644"
    except OSError:
        return "100644"


def _file_lines(path: Path) -> list[str] | None:
    """The file's lines without their "\\n" (a CRLF file's keep their "\\r"), or None if unreadable."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    return text.split("\n")[:-1] if text.endswith("\n") else text.split("\n")


def _anchor(hunk: _Hunk, file_lines: list[str] | None) -> _Hunk:
    """Place a hunk where its old lines are, take their exact text from the file, and give it context.

    `git apply` insists that a hunk without leading (trailing) context sits at the start (end) of
    the file, and that context matches byte for byte; models often miss both.
    """
    old = [line[1:] for line in hunk.lines if line[0] in " -"]
    if not file_lines or not old:
        return hunk
    wanted = [line.rstrip() for line in old]
    stripped = [line.rstrip() for line in file_lines]
    places = [p for p in range(len(stripped) - len(old) + 1) if stripped[p : p + len(old)] == wanted]
    if not places:
        return hunk
    at = min(places, key=lambda p: abs(p + 1 - (hunk.old_start or 1)))
    crlf = sum(line.endswith("\r") for line in file_lines) > len(file_lines) // 2
    exact, lines = iter(file_lines[at : at + len(old)]), []
    for line in hunk.lines:
        if line[0] in " -":
            lines.append(line[0] + next(exact))
        else:
            lines.append(line + "\r" if crlf and line[0] == "+" else line)
    start = at + 1
    if lines[0][0] != " " and at > 0:
        lines.insert(0, " " + file_lines[at - 1])
        start -= 1
    if lines[-1][0] != " " and lines[-1][0] != "\\" and at + len(old) < len(file_lines):
        lines.append(" " + file_lines[at + len(old)])
    return _Hunk(start, hunk.section, lines)


def _render_hunk(hunk: _Hunk, offset: int) -> tuple[str, int]:
    """The hunk with its header counted from its lines, and the line offset after it."""
    old_count = sum(line[0] in " -" for line in hunk.lines)
    new_count = sum(line[0] in " +" for line in hunk.lines)
    old_start = hunk.old_start if hunk.old_start is not None else (0 if old_count == 0 else 1)
    if old_count == 0:
        new_start = old_start + offset + 1
    elif new_count == 0:
        new_start = old_start + offset - 1
    else:
        new_start = old_start + offset
    header = f"@@ -{old_start},{old_count} +{new_start},{new_count} @@{' ' + hunk.section if hunk.section else ''}\n"
    return header + "".join(line + "\n" for line in hunk.lines), offset + new_count - old_count


def apply_check(patch: str, source_dir: Path) -> str | None:
    """None when `git apply --check` accepts `patch` on `source_dir`; else git's complaint, on one line.

    source_dir has no .git; the ceiling stops git from finding a repository above it, which would
    make it read paths from that repository's root and skip the rest silently.
    """
    source_dir = Path(source_dir).resolve()
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env["GIT_CEILING_DIRECTORIES"] = str(source_dir.parent)
    try:
        proc = subprocess.run(
            ["git", "apply", "--check", "--whitespace=nowarn", "-"],
            input=patch.encode("utf-8"), capture_output=True, cwd=source_dir, env=env, timeout=120,
        )
    except FileNotFoundError:
        raise GitError("git is not installed", hint="install git; the openai agent checks patches with git apply") from None
    except subprocess.TimeoutExpired:
        return "git apply --check timed out"
    if proc.returncode == 0:
        return None
    complaint = [line for line in proc.stderr.decode("utf-8", "replace").splitlines() if line.startswith(("error", "fatal"))]
    return _one_line("; ".join(complaint) or proc.stderr.decode("utf-8", "replace"))[:300] or f"git apply exited {proc.returncode}"
