"""Problem statements for mined fixes, written without leaking the fix.

A statement comes from the best source available: the linked issue in an issues export, else the
pull request's description, else the commit messages. Whatever the source, the rendered text never
holds a diff, and `leakage` scores how much of the gold patch it still gives away, so the miner (or
an optional LLM rewrite, which is kept only when it leaks no more than the original) can act on it.
"""

from __future__ import annotations

import builtins
import functools
import json
import keyword
import logging
import re
import urllib.parse
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Iterable, NamedTuple


from swegen.errors import BadInput
from swegen.llm import ChatFailed, chat, chat_endpoint
from swegen.resources import load_template as _load_template
from swegen.resources import one_line as _one_line
from swegen.resources import render_template as _render

log = logging.getLogger(__name__)

STATEMENT_TEMPLATE = "problem_statement.md.j2"
REWRITE_TEMPLATE = "rewrite_prompt.j2"
EXPORT_HINT = (
    "export issues with `gh issue list --state all --json number,title,body,url > issues.json` "
    "(or give a GitLab or Jira JSON export, or JSONL)"
)
#: Failing test output longer than this keeps only its tail in the statement.
MAX_TEST_OUTPUT = 4000
REDACTED = "[code from the fix removed]"


# --------------------------------------------------------------------------------------------
# Records and the issues export
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IssueRecord:
    """One issue (or pull/merge request) from an issues export."""

    number_or_key: str
    title: str
    body: str
    url: str = ""
    #: "issue" or "pr".
    kind: str = "issue"
    #: For a PR: the sha of its merge (or squash) commit on the target branch, if merged.
    merge_commit: str = ""


class IssueIndex:
    """A loaded issues export: issues and pull requests, looked up by number, key or merge commit."""

    def __init__(self, records: Iterable[IssueRecord] = ()) -> None:
        self._issues: dict[str, IssueRecord] = {}
        self._prs: dict[str, IssueRecord] = {}
        for record in records:
            table = self._prs if record.kind == "pr" else self._issues
            table.setdefault(_normalise_ref(record.number_or_key) or record.number_or_key, record)

    @classmethod
    def load(cls, path: Path) -> "IssueIndex":
        """Read a GitHub (`gh ... --json`), GitLab or Jira export, as JSON or JSONL."""
        path = Path(path)
        items = _export_items(_parse_export(_read_export(path), path), path)
        return cls(_record(item, path, n) for n, item in enumerate(items, 1))

    def __len__(self) -> int:
        return len(self._issues) + len(self._prs)

    def issue(self, ref: str) -> IssueRecord | None:
        """The issue `ref` names ("123", "#123", "GH-123", "PROJ-12", an issue URL), if exported."""
        key = _normalise_ref(ref)
        return self._issues.get(key) if key else None

    def pull_request(self, number: str | None, merge_commit: str | None) -> IssueRecord | None:
        """The PR merged as `merge_commit` (full or abbreviated sha), else the PR numbered `number`."""
        sha = (merge_commit or "").strip().lower()
        if len(sha) >= 7:
            for pr in self._prs.values():
                theirs = pr.merge_commit.lower()
                if theirs and (theirs.startswith(sha) or sha.startswith(theirs)):
                    return pr
        key = _normalise_ref(number) if number else None
        return self._prs.get(key) if key else None


def _bad_export(path: Path, detail: str) -> BadInput:
    one_line = " ".join(detail.split())
    return BadInput(f"issues export {path} {one_line}", hint=EXPORT_HINT)


def _read_export(path: Path) -> str:
    if not path.is_file():
        raise _bad_export(path, "does not exist" if not path.exists() else "is not a file")
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise _bad_export(path, "is not UTF-8 text") from None
    except OSError as exc:
        raise _bad_export(path, f"cannot be read ({exc.strerror})") from None
    if not text.strip():
        raise _bad_export(path, "is empty")
    return text


def _parse_export(text: str, path: Path) -> Any:
    """The export as one JSON value, or the list of values of a JSONL file."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as whole:
        lines = [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
        if len(lines) < 2 or not _is_json(lines[0][1]):
            raise _bad_export(path, f"is not valid JSON (line {whole.lineno} column {whole.colno}: {whole.msg})") from None
    items: list[Any] = []
    for n, line in lines:
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise _bad_export(path, f"is not valid JSONL (line {n}: {exc.msg})") from None
        items.extend(value if isinstance(value, list) else [value])
    return items


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except json.JSONDecodeError:
        return False
    return True


def _export_items(data: Any, path: Path) -> list[Any]:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        if isinstance(data.get("issues"), list):
            return data["issues"]
        if any(k in data for k in ("number", "iid", "key")):
            return [data]
        raise _bad_export(path, 'is a JSON object with no "issues" list')
    raise _bad_export(path, f"holds a JSON {type(data).__name__}, not a list of issues")


def _record(item: Any, path: Path, n: int) -> IssueRecord:
    if not isinstance(item, dict):
        raise _bad_export(path, f"entry {n} is a JSON {type(item).__name__}, not an object")
    if "key" in item and isinstance(item.get("fields"), dict):
        return _jira_record(item, path, n)
    if "iid" in item:
        return _gitlab_record(item, path, n)
    if "number" in item:
        return _github_record(item, path, n)
    raise _bad_export(path, f"entry {n} has no number (GitHub), iid (GitLab) or key and fields (Jira)")


def _text_field(item: dict[str, Any], name: str, path: Path, n: int) -> str:
    value = item.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise _bad_export(path, f"entry {n}: {name} is a JSON {type(value).__name__}, not text")
    return value


def _number_field(item: dict[str, Any], name: str, path: Path, n: int) -> str:
    value = item.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip().lstrip("#").isdigit():
        return value.strip().lstrip("#")
    raise _bad_export(path, f"entry {n}: {name} is {json.dumps(value)}, not an issue number")


def _github_record(item: dict[str, Any], path: Path, n: int) -> IssueRecord:
    url = _text_field(item, "url", path, n) or _text_field(item, "html_url", path, n)
    pr_keys = ("mergeCommit", "headRefName", "baseRefName", "mergedAt", "pull_request", "merge_commit_sha", "head")
    is_pr = any(k in item for k in pr_keys) or "/pull/" in url
    merge = item.get("mergeCommit")
    sha = merge.get("oid", "") if isinstance(merge, dict) else merge if isinstance(merge, str) else ""
    return IssueRecord(
        number_or_key=_number_field(item, "number", path, n),
        title=_text_field(item, "title", path, n),
        body=_text_field(item, "body", path, n),
        url=url,
        kind="pr" if is_pr else "issue",
        merge_commit=str(sha or item.get("merge_commit_sha") or ""),
    )


def _gitlab_record(item: dict[str, Any], path: Path, n: int) -> IssueRecord:
    url = _text_field(item, "web_url", path, n)
    is_mr = "/merge_requests/" in url or any(k in item for k in ("merge_commit_sha", "source_branch", "squash_commit_sha"))
    return IssueRecord(
        number_or_key=_number_field(item, "iid", path, n),
        title=_text_field(item, "title", path, n),
        body=_text_field(item, "description", path, n),
        url=url,
        kind="pr" if is_mr else "issue",
        merge_commit=str(item.get("merge_commit_sha") or item.get("squash_commit_sha") or ""),
    )


def _jira_record(item: dict[str, Any], path: Path, n: int) -> IssueRecord:
    key = item.get("key")
    if not isinstance(key, str) or not _JIRA_KEY.fullmatch(key.strip().upper()):
        raise _bad_export(path, f"entry {n}: key is {json.dumps(key)}, not a Jira key like PROJ-12")
    fields = item["fields"]
    description = fields.get("description")
    body = _adf_text(description).strip() if isinstance(description, dict) else _text_field(fields, "description", path, n)
    api = urllib.parse.urlsplit(item["self"]) if isinstance(item.get("self"), str) else None
    url = f"{api.scheme}://{api.netloc}/browse/{key}" if api and api.netloc else ""
    return IssueRecord(key.strip().upper(), _text_field(fields, "summary", path, n), body, url, "issue")


def _adf_text(node: Any) -> str:
    """Plain text of an Atlassian Document Format node (Jira Cloud API v3 descriptions)."""
    if isinstance(node, list):
        return "".join(_adf_text(child) for child in node)
    if not isinstance(node, dict):
        return ""
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    inner = _adf_text(node.get("content", []))
    if kind == "codeBlock":
        return f"```\n{inner}\n```\n\n"
    if kind == "listItem":
        return f"- {inner.strip()}\n"
    return inner + "\n\n" if kind in ("paragraph", "heading", "blockquote", "bulletList", "orderedList") else inner


# --------------------------------------------------------------------------------------------
# Issue and pull request references
# --------------------------------------------------------------------------------------------

_JIRA_KEY = re.compile(r"[A-Z][A-Z0-9_]{1,9}-[1-9]\d*")
#: Things spelled like Jira keys that are not: encodings, standards, hashes, CVEs.
_NOT_JIRA = frozenset(
    "GH UTF SHA MD ISO CVE CWE GHSA RFC PEP AES RSA DES TLS SSL HTTP ECMA IEEE ANSI WIN CP UCS LATIN GB KOI "
    "BASE IPV ES JSR PR MR X86 ARM".split()
)
_URL = re.compile(r"https?://[^\s<>()\[\]{}\"'`]+")
_JIRA_REF = re.compile(r"(?<![A-Za-z0-9\-.])([A-Z][A-Z0-9_]{1,9})-([1-9]\d*)(?![A-Za-z0-9_]|[-.]\d)")
_GH_REF = re.compile(r"(?<![\w-])GH-([1-9]\d*)(?!\w)", re.IGNORECASE)
_HASH_REF = re.compile(r"(?<![\w&/#])(?:(?P<repo>[\w.-]+/[\w.-]+))?#(?P<num>[1-9]\d*)(?!\w)")
_PR_WORDS = re.compile(r"(?:\bPRs?|\bpull(?: request)?s?|\bMRs?|\bmerge requests?)[\s:]*$", re.IGNORECASE)
_CLOSING_WORD = re.compile(r"\b(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?)\b\s*:?\s*$", re.IGNORECASE)
_REF_SEPARATOR = re.compile(r"^[\s,;&]*(?:and[\s,]*)?$", re.IGNORECASE)
_SQUASH_SUFFIX = re.compile(r"\(#\d+\)\s*$")


class _Ref(NamedTuple):
    ref: str
    start: int
    end: int
    #: The repository named with the reference (owner/repo#12, an issue URL), or "".
    repo: str
    closing: bool = False


def issue_refs(text: str) -> list[str]:
    """Issue references in `text`, normalised ("123", "PROJ-123"), unique, in order of appearance.

    Understands #123, GH-123, owner/repo#123, fixes/closes/resolves #123, GitHub and GitLab issue
    URLs, Jira keys and Jira browse URLs. PR references ("Merge pull request #6 from ...", a squash
    subject's "(#6)", "PR #6", pull request URLs) are not issue references and are left out.
    """
    return _unique(r.ref for r in _find_refs(text))


def pr_number(merge_subject: str) -> str | None:
    """The PR number a merge or squash commit names, from its subject (or GitLab's merge trailer)."""
    lines = merge_subject.strip().splitlines()
    subject = lines[0].strip() if lines else ""
    for pattern in _PR_SUBJECTS:
        match = pattern.search(subject)
        if match:
            return match.group(1)
    match = _GITLAB_MR.search(merge_subject)
    return match.group(1) if match else None


_PR_SUBJECTS = (
    re.compile(r"^Merge pull request #(\d+)\b"),  # GitHub merge commit
    re.compile(r"\(#(\d+)\)\s*$"),  # GitHub squash merge
    re.compile(r"\(pull request #(\d+)\)", re.IGNORECASE),  # Bitbucket
    re.compile(r"^Merged PR (\d+)\b"),  # Azure DevOps
)
_GITLAB_MR = re.compile(r"^See merge request \S*!(\d+)\s*$", re.MULTILINE)


def _find_refs(text: str) -> list[_Ref]:
    masked = _mask_squash_suffix(text)
    refs, masked = _url_refs(masked)
    refs += _bare_refs(masked)
    return _mark_closing(sorted(refs, key=lambda r: r.start), masked)


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _mask_squash_suffix(text: str) -> str:
    """Blank a squash subject's "(#N)": it names the PR. ("Merge pull request #N" is left out by
    _PR_WORDS, like "PR #N".)"""
    first_line_end = text.find("\n") if "\n" in text else len(text)
    squash = _SQUASH_SUFFIX.search(text[:first_line_end])
    return _mask(text, squash.start(), squash.end()) if squash else text


def _url_refs(text: str) -> tuple[list[_Ref], str]:
    """References in URLs, and the text with every URL blanked so its parts are not read again."""
    refs = []
    for match in _URL.finditer(text):
        ref = _url_ref(match.group().rstrip(".,;:!?"), match.start(), match.end())
        if ref:
            refs.append(ref)
        text = _mask(text, match.start(), match.end())
    return refs, text


def _url_ref(url: str, start: int, end: int) -> _Ref | None:
    path = urllib.parse.urlsplit(url).path
    jira = re.search(r"/browse/([A-Z][A-Z0-9_]{1,9}-[1-9]\d*)$", path)
    if jira:
        return _Ref(jira.group(1), start, end, "")
    issue = re.match(r"^/(?P<repo>.+?)(?:/-)?/issues/(?P<num>[1-9]\d*)/?$", path)
    if issue:
        return _Ref(issue.group("num"), start, end, issue.group("repo"))
    return None


def _bare_refs(text: str) -> list[_Ref]:
    refs = [_Ref(m.group(1), m.start(), m.end(), "") for m in _GH_REF.finditer(text)]
    for m in _HASH_REF.finditer(text):
        if not _PR_WORDS.search(text[max(0, m.start() - 20) : m.start()]):
            refs.append(_Ref(m.group("num"), m.start(), m.end(), m.group("repo") or ""))
    for m in _JIRA_REF.finditer(text):
        if m.group(1) not in _NOT_JIRA:
            refs.append(_Ref(f"{m.group(1)}-{m.group(2)}", m.start(), m.end(), ""))
    return refs


def _mark_closing(refs: list[_Ref], text: str) -> list[_Ref]:
    """Flag refs after fixes/closes/resolves, including lists ("Fixes #1, #2 and #3")."""
    marked: list[_Ref] = []
    for ref in refs:
        line_start = text.rfind("\n", 0, ref.start) + 1
        previous = marked[-1] if marked else None
        chained = bool(
            previous and previous.closing and previous.end >= line_start
            and _REF_SEPARATOR.match(text[previous.end : ref.start])
        )
        closing = chained or bool(_CLOSING_WORD.search(text[line_start : ref.start]))
        marked.append(ref._replace(closing=closing))
    return marked


def _normalise_ref(ref: str | None) -> str | None:
    """ "123", "#123", "GH-123" → "123"; "proj-12" → "PROJ-12"; an issue URL → its ref."""
    text = (ref or "").strip()
    digits = re.fullmatch(r"(?:#|GH-)?([0-9]+)", text, re.IGNORECASE)
    if digits:
        return str(int(digits.group(1)))
    if _JIRA_KEY.fullmatch(text.upper()):
        return text.upper()
    found = issue_refs(text)
    return found[0] if found else None


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))


# --------------------------------------------------------------------------------------------
# Cleaning messages: trailers, boilerplate and pasted diffs
# --------------------------------------------------------------------------------------------

_HTML_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_TRAILER = re.compile(
    r"^[ \t]*(?:[A-Za-z][\w-]*-by|Change-Id|Cc|Reviewed-on|Link|Differential Revision|"
    r"Pull Request resolved|PiperOrigin-RevId|git-svn-id)[ \t]*:.*$",
    re.IGNORECASE | re.MULTILINE,
)
_FIXES_SHA = re.compile(r"^[ \t]*Fixes:[ \t]*[0-9a-f]{7,40}\b.*$", re.IGNORECASE | re.MULTILINE)
_REF_TOKEN = r"(?:[\w.-]+/[\w.-]+)?#\d+|GH-\d+|[A-Z][A-Z0-9_]+-\d+|https?://\S+"
_REF_ONLY_LINE = re.compile(
    r"^[ \t]*[-*]?[ \t]*(?:close[sd]?|fix(?:e[sd])?|resolve[sd]?|refs?|references?|related(?:[ \t]+to)?|"
    r"see[ -]also|part[ \t]+of|issues?|bugs?|tickets?|jira)\b[ \t]*:?[ \t]*"
    rf"(?:{_REF_TOKEN})(?:[ \t]*(?:,|&|and)?[ \t]*(?:{_REF_TOKEN}))*[ \t]*\.?[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_NUMBERED_TRAILER = re.compile(r"^[ \t]*(?:Bug|Issue|Ticket)s?:[ \t]*\d+(?:[ \t,]+\d+)*[ \t]*$", re.IGNORECASE | re.MULTILINE)
_BOILERPLATE = re.compile(
    r"^[ \t]*[-*]?[ \t]*(?:Merge pull request #\d+ from \S+.*|Merge (?:remote-tracking )?branch(?:es)? .*|"
    r"Merge (?:tag|commit) '[^']*'.*|Merged in \S+ \(pull request #\d+\).*|See merge request \S+|"
    r"\(cherry picked from commit [0-9a-f]+\))[ \t]*$",
    re.MULTILINE,
)
_AZURE_PREFIX = re.compile(r"^Merged PR \d+:\s*")
_EMPTY_FENCE = re.compile(r"^[ \t]*(`{3,}|~{3,})[\w+-]*[ \t]*\n(?:[ \t]*\n)*[ \t]*\1[ \t]*$", re.MULTILINE)
_RULE = re.compile(r"^[ \t]*[-=_*]{3,}[ \t]*$")


def clean_message(text: str) -> str:
    """A commit message, PR or issue body without trailers, merge boilerplate or pasted diffs."""
    text = remove_diffs(_HTML_COMMENT.sub("", text.replace("\r\n", "\n").replace("\r", "\n")))
    for pattern in (_BOILERPLATE, _TRAILER, _FIXES_SHA, _REF_ONLY_LINE, _NUMBERED_TRAILER):
        text = pattern.sub("", text)
    lines = _tidy(text).split("\n")
    lines[0] = _SQUASH_SUFFIX.sub("", _AZURE_PREFIX.sub("", lines[0])).rstrip()
    while lines and _RULE.match(lines[-1]):  # GitHub's "---------" before squashed co-authors
        lines.pop()
    return _tidy("\n".join(lines))


def _tidy(text: str) -> str:
    """Trailing spaces off, empty code fences gone, at most one blank line in a row, no outer blanks."""
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    text = _EMPTY_FENCE.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


# --------------------------------------------------------------------------------------------
# Removing diffs
# --------------------------------------------------------------------------------------------

_DIFF_FENCE = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})[ \t]*(?:diff|patch|udiff|suggestion)\b", re.IGNORECASE)
_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_LOOSE_HUNK = re.compile(r"^@@.*@@")
_DIFF_META = re.compile(
    r"^(?:diff |index |--- |\+\+\+ |new file mode|deleted file mode|old mode|new mode|similarity index|"
    r"dissimilarity index|rename from|rename to|copy from|copy to|Binary files|GIT binary patch)"
)


def remove_diffs(text: str) -> str:
    """`text` without pasted diffs: ```diff fences, and blocks from a diff header to their last hunk line.

    A block starts at `diff --git`, `--- a/`, `+++ b/`, a `---`/`+++` pair or an `@@ ... @@` line
    (indented or not), and runs through its header lines and hunks; a hunk with line counts ends
    exactly where they say, a hunk without them at the first line that is not `+`, `-` or context.
    """
    lines = text.split("\n")
    kept: list[str] = []
    i = 0
    while i < len(lines):
        fence = _DIFF_FENCE.match(lines[i])
        if fence:
            i = _skip_fence(lines, i, fence.group("fence"))
        elif _diff_starts(lines, i):
            i = _skip_diff(lines, i)
        else:
            kept.append(lines[i])
            i += 1
    return "\n".join(kept)


def _skip_fence(lines: list[str], i: int, fence: str) -> int:
    """Index after the fence that opens at line i closes (or the end, if it never does)."""
    for j in range(i + 1, len(lines)):
        stripped = lines[j].strip()
        if stripped.startswith(fence) and not stripped.strip(fence[0]):
            return j + 1
    return len(lines)


def _diff_starts(lines: list[str], i: int) -> bool:
    line = lines[i].lstrip()
    following = lines[i + 1].lstrip() if i + 1 < len(lines) else ""
    return (
        line.startswith(("diff --git ", "--- a/", "+++ b/"))
        or bool(re.match(r"diff -[A-Za-z]+ \S", line))
        or (line.startswith("--- ") and following.startswith("+++ "))
        or bool(_LOOSE_HUNK.match(line))
    )


def _skip_diff(lines: list[str], i: int) -> int:
    """Index after the diff block that starts at line i.

    A hunk with line counts is taken exactly (its blank lines are context lines whose space was
    trimmed); around and after hunks, `+`, `-`, context and header lines are taken while they last.
    """
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    counts: list[int] = [0, 0]  # lines left in the current counted hunk: old, new
    while i < len(lines):
        raw = lines[i]
        if raw.strip() and not raw.startswith(indent):
            break
        line = raw[len(indent) :] if raw.strip() else ""
        hunk = _HUNK.match(line)
        if max(counts) > 0 and _in_hunk(line):
            counts = _count(counts, line)
        elif hunk:
            counts = [int(hunk.group(1) or 1), int(hunk.group(2) or 1)]
        elif _LOOSE_HUNK.match(line) or _DIFF_META.match(line):
            counts = [0, 0]
        elif not (line[:1] in ("+", "-", " ", "\\") or (not line and _next_is_hunk_line(lines, i + 1, indent))):
            break
        i += 1
    return i


def _in_hunk(line: str) -> bool:
    return not line or line[0] in "+- \\"


def _count(counts: list[int], line: str) -> list[int]:
    old, new = counts
    if line.startswith("+"):
        return [old, new - 1]
    if line.startswith("-"):
        return [old - 1, new]
    if line.startswith("\\"):
        return counts
    return [old - 1, new - 1]


def _next_is_hunk_line(lines: list[str], j: int, indent: str) -> bool:
    while j < len(lines) and not lines[j].strip():
        j += 1
    if j >= len(lines) or not lines[j].startswith(indent):
        return False
    nxt = lines[j][len(indent) :]
    return nxt[:1] in ("+", "-") or nxt.startswith(("@@", "diff "))


# --------------------------------------------------------------------------------------------
# Leakage
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FixContext:
    """What the miner knows about one fix."""

    repo: str
    fix_commit: str
    #: The merge commit's message first, then the branch commits' messages, oldest first.
    messages: list[str]
    #: The '+' lines of the gold (source) patch, without the '+'.
    added_lines: list[str]
    #: The '-' lines of the gold patch, without the '-'.
    removed_lines: list[str]
    #: Identifiers already present in the base versions of the touched source files.
    base_identifiers: set[str]
    #: Output of the failing test, if known.
    failing_test_output: str = ""
    #: The '+' lines of the test patch, without the '+' (a statement must not quote them either).
    test_added_lines: tuple[str, ...] = ()


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: Words that say nothing about a fix: keywords of common languages and Python's builtins.
_TRIVIAL_WORDS = frozenset(keyword.kwlist) | frozenset(dir(builtins)) | frozenset(
    "if else elif for while do return true false null nil none this self cls new delete function func fn def "
    "class struct enum interface const let var val void int long short char bool boolean string float double "
    "public private protected static final abstract override virtual import from package module export "
    "try catch finally throw throws raise except switch case default break continue goto then end begin "
    "async await yield lambda typeof instanceof sizeof undefined extends implements super where match impl "
    "pub mut ref use mod crate unsafe static extern".split()
)
_STRING_LITERAL = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')
_COMMENT = re.compile(r"/\*.*?\*/|(?:#|//).*$")


def _ws(text: str) -> str:
    return " ".join(text.split())


def leakage(statement_text: str, ctx: FixContext) -> tuple[float, list[str]]:
    """How much of the fix `statement_text` gives away: (score in [0, 1], what leaked).

    1.0 when a non-trivial added line of the fix appears verbatim (whitespace-normalised); else
    0.25 for each identifier that only the fix introduces and that the statement names, capped at 1.
    """
    lines = _leaked_lines(statement_text, ctx)
    if lines:
        return 1.0, lines
    names = [name for name in _fix_identifiers(ctx) if _mentions(statement_text, name)]
    return min(1.0, 0.25 * len(names)), names


def _per_context(fn):
    """Memoise a function of a FixContext on the last context it was called with: redaction
    judges every sentence of a statement against the same context, and these lists cost more
    than the judging. (The context itself is held, so its id cannot be reused meanwhile.)"""
    slot: list[tuple[object, object]] = [(None, None)]

    @functools.wraps(fn)
    def cached(ctx):
        last, value = slot[0]
        if last is not ctx:
            value = fn(ctx)
            slot[0] = (ctx, value)
        return value

    return cached


@_per_context
def _fix_lines(ctx: FixContext) -> list[str]:
    """Added lines worth protecting: >= 12 chars, more than punctuation and keywords, not moved."""
    removed = {_ws(line) for line in ctx.removed_lines}
    lines = (_ws(line) for line in ctx.added_lines)
    return _unique(line for line in lines if len(line) >= 12 and line not in removed and _has_substance(line))


def _has_substance(line: str) -> bool:
    rest = _IDENTIFIER.sub(lambda m: " " if m.group() in _TRIVIAL_WORDS else m.group(), line)
    return any(ch.isalnum() for ch in rest)


def _leaked_lines(statement_text: str, ctx: FixContext) -> list[str]:
    text = _ws(statement_text)
    return [line for line in _fix_lines(ctx) if line in text]


def _code_identifiers(line: str) -> list[str]:
    """Identifiers in the code of a line, not in its string literals or comments."""
    return _IDENTIFIER.findall(_COMMENT.sub("", _STRING_LITERAL.sub('""', line)))


@_per_context
def _fix_identifiers(ctx: FixContext) -> list[str]:
    """Identifiers (>= 4 chars) that only the fix introduces, in order of first appearance."""
    known = set(ctx.base_identifiers) | {w for line in ctx.removed_lines for w in _IDENTIFIER.findall(line)}
    found = (w for line in ctx.added_lines for w in _code_identifiers(line))
    return _unique(w for w in found if len(w) >= 4 and w not in known and w not in _TRIVIAL_WORDS)


_NAME_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_")


def _mentions(text: str, name: str) -> bool:
    """Does `text` name `name` as a whole word (_name_pattern's match)? By str.find: a pattern
    that starts with a look-behind is tried at every position of the text, and mining asks
    this for every new identifier of every fix against every sentence of its statement."""
    if not name:
        return _name_pattern(name).search(text) is not None
    at, size, end = text.find(name), len(name), len(text)
    while at >= 0:
        if (at == 0 or text[at - 1] not in _NAME_CHARS) and (at + size == end or text[at + size] not in _NAME_CHARS):
            return True
        at = text.find(name, at + 1)
    return False


@functools.lru_cache(maxsize=4096)
def _name_pattern(name: str) -> re.Pattern[str]:
    # re's own cache (512 patterns) is too small for every name of every statement judged.
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])")


# --------------------------------------------------------------------------------------------
# Building the statement
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """A problem statement and where it came from."""

    text: str
    #: "issue", "pull_request", "commit_message" or "rewrite" (what the prose came from).
    source: str
    leakage_score: float
    leaked: list[str]
    issue_refs: list[str]
    #: SWE-bench's hints_text: the PR description when the statement is the issue, else "".
    hints_text: str = ""
    #: Why an LLM rewrite was not used (failed call, or it leaked more), or "".
    note: str = ""


def build_statement(ctx: FixContext, issues: IssueIndex | None = None, template: Path | None = None) -> Statement:
    """The statement for one fix, from the linked issue, else the PR, else the commit messages."""
    pr = _linked_pr(ctx, issues)
    found, refs = _linked_issues(ctx, pr, issues)
    pr_body = clean_message(pr.body) if pr else ""
    hints = ""
    if found:
        source, (title, body), hints = "issue", _issue_text(found), pr_body
    elif pr and pr_body:
        source, title, body = "pull_request", pr.title.strip() or _commit_text(ctx)[0], pr_body
    else:
        source, (title, body) = "commit_message", _commit_text(ctx)
    text = render_statement(title, body, source, ctx, refs, template)
    score, leaked = leakage(text, ctx)
    return Statement(text, source, score, leaked, refs, _tidy(remove_diffs(hints)))


def _linked_pr(ctx: FixContext, index: IssueIndex | None) -> IssueRecord | None:
    if index is None:
        return None
    number = pr_number(ctx.messages[0]) if ctx.messages else None
    return index.pull_request(number, ctx.fix_commit)


def _linked_issues(ctx: FixContext, pr: IssueRecord | None, index: IssueIndex | None) -> tuple[list[IssueRecord], list[str]]:
    """The exported issues the fix resolves, and every issue ref found (for the record).

    Refs after fixes/closes/resolves win (all of them are used); else the first ref that is in the
    export. A squash subject's "(#N)" that is not an exported PR may be an issue (GitLab, or a
    direct commit), so it is tried last.
    """
    texts = [*ctx.messages, pr.body if pr else ""]
    refs = [r for text in texts for r in _find_refs(text) if _same_repo(r.repo, ctx.repo)]
    all_refs = _unique(r.ref for r in refs)
    if index is None:
        return [], all_refs
    squash = pr_number(ctx.messages[0]) if ctx.messages and pr is None else None
    closing = [rec for rec in (index.issue(r) for r in _unique(r.ref for r in refs if r.closing)) if rec]
    if closing:
        return closing, all_refs
    for ref in [*all_refs, *([squash] if squash else [])]:
        record = index.issue(ref)
        if record:
            return [record], _unique([*all_refs, record.number_or_key])
    return [], all_refs


def _same_repo(qualifier: str, repo: str) -> bool:
    """Whether owner/repo#N (or an issue URL's project) can be the mined repository."""
    if not qualifier:
        return True
    mine = re.split(r"[/:\\]", repo.strip().rstrip("/"))[-1].removesuffix(".git").lower()
    theirs = qualifier.rstrip("/").split("/")[-1].removesuffix(".git").lower()
    return mine in ("", ".") or mine == theirs


def _issue_text(found: list[IssueRecord]) -> tuple[str, str]:
    first, others = found[0], found[1:]
    parts = [clean_message(first.body)] + [f"### {rec.title.strip()}\n\n{clean_message(rec.body)}" for rec in others]
    return first.title.strip(), "\n\n".join(part for part in parts if part.strip())


_NOISE = re.compile(
    r"^(?:(?:fixup|squash|amend)!.*|wip|address(?:ed)? (?:review )?(?:comments?|feedback)|review (?:comments?|feedback)|"
    r"(?:fix(?:ed)? )?(?:lint|typos?|formatting|style|tests?)|format|clean ?up|updates?|minor(?: changes?)?)\.?$",
    re.IGNORECASE | re.DOTALL,
)
_TITLE_REF_PREFIX = re.compile(r"^\[?(?:[A-Z][A-Z0-9_]{1,9}-\d+|#\d+|(?i:gh)-\d+)\]?:?\s+(?=\S)")


def _commit_text(ctx: FixContext) -> tuple[str, str]:
    """Title and body from the commit messages: paragraphs in order, each said once."""
    messages = (_TITLE_REF_PREFIX.sub("", clean_message(m)) for m in ctx.messages)
    cleaned = [msg for msg in messages if msg and not _NOISE.match(msg)]
    paragraphs: list[str] = []
    seen: set[str] = set()
    for message in cleaned:
        for paragraph in re.split(r"\n\s*\n", message):
            key = _ws(paragraph).lstrip("*- ").lower().rstrip(".")  # squash bullets repeat subjects
            if key and key not in seen:
                seen.add(key)
                paragraphs.append(paragraph.strip())
    if not paragraphs:
        return _title_from_branch(ctx), ""
    title, _, rest = paragraphs[0].partition("\n")
    body = "\n\n".join(part for part in [rest.strip(), *paragraphs[1:]] if part)
    return title.strip(), body


def _title_from_branch(ctx: FixContext) -> str:
    """A last-resort title: the merged branch's name ("fix-empty-input" → "fix empty input")."""
    subject = ctx.messages[0].strip().split("\n")[0] if ctx.messages else ""
    match = re.search(r"Merge pull request #\d+ from [^/\s]+/(\S+)|Merge branch '([^']+)'", subject)
    branch = (match.group(1) or match.group(2)) if match else ""
    words = re.sub(r"[-_/]+", " ", branch).strip()
    return words or f"Bug fixed by commit {ctx.fix_commit[:12]}"


def render_statement(
    title: str, body: str, source: str, ctx: FixContext, refs: list[str], template: Path | None = None
) -> str:
    """Render through the statement template (the user's, if given), then remove any diff left."""
    output = _prepare_test_output(ctx.failing_test_output)
    variables = {
        "title": title.strip(),
        "body": body.strip(),
        "source": source,
        "repo": ctx.repo,
        "refs": list(refs),
        "failing_test_output": output,
        "fence": _fence_for(output),
    }
    text = _render(_load_template(template, STATEMENT_TEMPLATE), variables, template or STATEMENT_TEMPLATE)
    return _tidy(remove_diffs(text)) + "\n"


def _prepare_test_output(output: str) -> str:
    text = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", output or "").strip("\n").rstrip()
    if len(text) <= MAX_TEST_OUTPUT:
        return text
    tail = text[-MAX_TEST_OUTPUT:]
    tail = tail[tail.find("\n") + 1 :] if "\n" in tail else tail
    return f"[... {len(text) - len(tail)} earlier characters omitted]\n{tail}"


def _fence_for(text: str) -> str:
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


# --------------------------------------------------------------------------------------------
# Optional LLM rewrite
# --------------------------------------------------------------------------------------------


def rewrite_statement(
    statement: Statement,
    ctx: FixContext,
    *,
    base_url: str,
    model: str,
    api_key: str | None,
    timeout: float = 60,
    template: Path | None = None,
) -> Statement:
    """Ask an OpenAI-compatible model to restate the bug without the fix; keep it only if it leaks no more.

    Code from the fix is redacted from what is sent. A failed call (network error, non-200, bad JSON)
    or a rewrite that leaks more, or pastes a line of the fix, leaves `statement` as it was, with
    `note` saying why. Only a base URL that is not http(s) raises (BadInput).
    """
    endpoint = chat_endpoint(base_url)
    prompt = rewrite_prompt(statement, ctx, template)
    try:
        reply = _chat(endpoint, model, prompt, api_key, timeout)
    except ChatFailed as exc:
        return _keep(statement, f"rewrite failed: {exc}")
    text = _tidy(remove_diffs(_unwrap(reply)))
    if not text:
        return _keep(statement, "rewrite failed: the model returned an empty statement")
    before, _ = leakage(statement.text, ctx)
    score, leaked = leakage(text, ctx)
    problems = statement_problems(text, ctx)  # the same test that redaction and quality use
    if score > before or problems:
        return _keep(statement, f"rewrite rejected: it leaks the fix ({_one_line('; '.join(problems or leaked))[:200]})")
    return Statement(text + "\n", "rewrite", score, leaked, statement.issue_refs, statement.hints_text)


def rewrite_prompt(statement: Statement, ctx: FixContext, template: Path | None = None) -> str:
    """The prompt sent to the model: the statement with any line of fix code redacted."""
    variables = {
        "statement": _redact(statement.text, ctx).strip(),
        "repo": ctx.repo,
        "avoid": [name for name in _fix_identifiers(ctx) if _mentions(statement.text, name)],
    }
    return _render(_load_template(template, REWRITE_TEMPLATE), variables, template or REWRITE_TEMPLATE)


def _redact(text: str, ctx: FixContext) -> str:
    fix = _fix_lines(ctx)
    lines = text.split("\n")
    return "\n".join(REDACTED if any(f in _ws(line) for f in fix) else line for line in lines)


def _keep(statement: Statement, why: str) -> Statement:
    log.info("keeping the original statement: %s", why)
    return replace(statement, note=why)


def _chat(endpoint: str, model: str, prompt: str, api_key: str | None, timeout: float) -> str:
    return chat(endpoint, model, [{"role": "user", "content": prompt}], api_key=api_key, timeout=timeout, temperature=0).text


def _unwrap(reply: str) -> str:
    """The statement inside a reply that wrapped it in <statement> tags or one code fence."""
    text = reply.strip()
    tagged = re.fullmatch(r"<statement>\s*(.*?)\s*</statement>", text, re.DOTALL)
    if tagged:
        text = tagged.group(1)
    fenced = re.fullmatch(r"(`{3,})[\w-]*\n(.*)\n\1", text, re.DOTALL)
    return fenced.group(2) if fenced else text


# --------------------------------------------------------------------------------------------
# Redaction and statement quality
# --------------------------------------------------------------------------------------------

#: Sentences that announce the change rather than describe the problem. Matched at the start of a
#: sentence or list item (after "This commit", "We" and the like), case-insensitively.
_ANNOUNCE = re.compile(
    r"^(?:(?:this|the)\s+(?:commit|change|patch|pr|pull request|fix|diff)\s+|we\s+(?:now\s+)?|now\s+(?:we\s+)?|"
    r"(?:and\s+|also\s+|then\s+)?)"
    r"(?:(?:the\s+)?(?:fix|solution|approach|workaround)\s*:"
    r"|add(?:s|ed|ing)?\s+(?:a\s+|an\s+|the\s+|some\s+|more\s+|new\s+|missing\s+|regression\s+|unit\s+)*"
    r"(?:tests?|checks?|guards?|validation|handling|regression|[\w.]*tests?\.\w+|test_\w+)\b"
    r"|guard(?:s|ed|ing)?\b|use[sd]?\s+\S.{0,80}?\binstead\s+of\b|using\s+\S.{0,80}?\binstead\s+of\b"
    r"|fix(?:es|ed)?\s+(?:\S+\s+){0,6}?by\s+\w+ing\b|(?:this\s+)?is\s+fixed\s+by\b"
    r"|replace[sd]?\s+\S.{0,80}?\bwith\b|change[sd]?\s+\S.{0,80}?\bto\b|switch(?:es|ed)?\s+to\b|swap(?:s|ped)?\s+\S.{0,60}?\bfor\b"
    r"|(?:raise|raises|raising|return|returns|returning)\s+(?:a\s+|an\s+)?[A-Z]\w*(?:Error|Exception|Warning)\b"
    r"|(?:check|checks|checking)\s+(?:for|that|whether|if)\b|make\s+sure\b|ensure[sd]?\s+that\b"
    r"|(?:move|moves|moved|rename[sd]?|extract(?:s|ed)?|refactor(?:s|ed)?)\s+\S"
    r"|test(?:s|ed)?\s+(?:added|for|that|with|\w+ing)\b)",
    re.IGNORECASE,
)
#: Announcements anywhere in a sentence ("... and guard n < 0", "..., by using X").
_ANNOUNCE_INSIDE = re.compile(
    r"\b(?:fix(?:ed|es)?\s+by\s+\w+ing\b|instead\s+of\s+using|(?:and|then|by)\s+(?:adding|guarding|using|"
    r"raising|checking|replacing|switching|returning|calling|catching|passing)\b|(?:and|,)\s+(?:add|guard|raise|use)\s+)",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\[`'\"(*_])|(?<=[.!?])\s*\n(?=\S)")
_LIST_ITEM = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+")
_FENCE_OPEN = re.compile(r"^[ \t]*(`{3,}|~{3,})")
_TEST_NAME = re.compile(r"\bdef\s+(test\w*)|\bclass\s+(\w*Tests?\w*)")
#: Words of prose below which a statement with no failing test output is thin.
THIN_WORDS = 12


@dataclass(frozen=True)
class Removal:
    """One sentence, list item or code block taken out of a statement, and why."""

    text: str
    reason: str


def statement_problems(text: str, ctx: FixContext, announcements: bool = True, test_names: bool = True) -> list[str]:
    """Why `text` gives the fix away: quoted fix or test lines, fix-only identifiers, announcements.

    The same test judges each unit of a statement for redaction, a whole statement's quality, and
    an LLM rewrite; an empty list means nothing gives the fix away. Test output is judged without
    `announcements` (its base code may well say "raise ValueError") and may name the tests.
    """
    problems = [f"quotes an added line of the fix: {line}" for line in _leaked_lines(text, ctx)]
    flat = _ws(text)
    problems += [f"quotes the test patch: {line}" for line in _test_lines(ctx) if line in flat]
    problems += [f"names {name}, which only the fix introduces" for name in _fix_identifiers(ctx) if _names_code(text, name)]
    if test_names:
        problems += [f"names the test {name}, which the fix adds" for name in _new_tests(ctx) if _mentions(text, name)]
    if announcements:
        problems += [f"announces the change: {_one_line(unit)[:80]}" for unit in _prose_units(text) if _announces(unit)]
    return _unique(problems)


def _names_code(text: str, name: str) -> bool:
    """Whether `text` names identifier `name`; a plain lowercase word ("generator") only counts
    when written as code (in backticks, called, or after a dot), since prose uses it too."""
    if name not in text:
        return False  # every way of naming it below contains it
    if not (name.isalpha() and name.islower()):
        return _mentions(text, name)
    if any(_mentions(span, name) for span in re.findall(r"`([^`\n]+)`", text)):
        return True
    return _code_name_pattern(name).search(text) is not None


@functools.lru_cache(maxsize=4096)
def _code_name_pattern(name: str) -> re.Pattern[str]:
    word = re.escape(name)
    return re.compile(rf"\.{word}\b|\b{word}\(")


@_per_context
def _test_lines(ctx: FixContext) -> list[str]:
    lines = (_ws(line) for line in ctx.test_added_lines)
    return _unique(line for line in lines if len(line) >= 12 and _has_substance(line))


@_per_context
def _new_tests(ctx: FixContext) -> list[str]:
    names = (m.group(1) or m.group(2) for line in ctx.test_added_lines for m in _TEST_NAME.finditer(line))
    return _unique(name for name in names if name and len(name) >= 5)


def _announces(unit: str) -> bool:
    body = _LIST_ITEM.sub("", unit).strip().lstrip("*_`").strip()
    return bool(_ANNOUNCE.match(body) or _ANNOUNCE_INSIDE.search(body))


def _prose_units(text: str) -> list[str]:
    """The sentences and list items of `text`'s prose (fenced code blocks are not prose)."""
    units: list[str] = []
    for block, fenced in _blocks(text):
        if not fenced:
            units += [unit for item in _items(block) for unit in _sentences(item)]
    return units


def _blocks(text: str) -> list[tuple[str, bool]]:
    """Paragraphs and fenced code blocks, in order: (text, is_code)."""
    blocks: list[tuple[str, bool]] = []
    lines, i, current = text.split("\n"), 0, []
    while i < len(lines):
        fence = _FENCE_OPEN.match(lines[i])
        if fence:
            if current:
                blocks.append(("\n".join(current), False))
            end = _skip_fence(lines, i, fence.group(1))
            blocks.append(("\n".join(lines[i:end]), True))
            current, i = [], end
            continue
        if lines[i].strip():
            current.append(lines[i])
        elif current:
            blocks.append(("\n".join(current), False))
            current = []
        i += 1
    if current:
        blocks.append(("\n".join(current), False))
    return blocks


def _items(block: str) -> list[str]:
    """A paragraph's list items (each with its continuation lines), or the paragraph whole."""
    items: list[str] = []
    for line in block.split("\n"):
        if _LIST_ITEM.match(line) or not items:
            items.append(line)
        else:
            items[-1] += "\n" + line
    return items


def _sentences(item: str) -> list[str]:
    marker = _LIST_ITEM.match(item)
    prefix = marker.group() if marker else ""
    parts = [p for p in _SENTENCE_END.split(item[len(prefix):]) if p and p.strip()]
    return [prefix + parts[0], *parts[1:]] if parts else [item]


def redact(text: str, ctx: FixContext) -> tuple[str, list[Removal]]:
    """`text` without the sentences, list items and code blocks that give the fix away.

    Deterministic: each unit is judged alone by `statement_problems`; a removed unit is recorded
    with its first reason. Paragraphs left empty disappear.
    """
    removed: list[Removal] = []
    kept_blocks: list[str] = []
    for block, fenced in _blocks(text):
        if fenced:
            kept = _judged(block, ctx, removed)
        else:
            items = [_kept_sentences(item, ctx, removed) for item in _items(block)]
            kept = "\n".join(item for item in items if item.strip())
        if kept.strip():
            kept_blocks.append(kept)
    return "\n\n".join(kept_blocks), removed


def _kept_sentences(item: str, ctx: FixContext, removed: list[Removal]) -> str:
    units = [_judged(unit, ctx, removed) for unit in _sentences(item)]
    text = " ".join(unit.strip() for unit in units if unit.strip())
    if not _LIST_ITEM.sub("", text).strip():
        return ""
    return text if _LIST_ITEM.match(text) or not _LIST_ITEM.match(item) else _LIST_ITEM.match(item).group() + text


def _judged(unit: str, ctx: FixContext, removed: list[Removal]) -> str:
    problems = statement_problems(unit, ctx)
    if not problems:
        return unit
    removed.append(Removal(_one_line(unit), problems[0]))
    return ""


def prose_words(text: str) -> int:
    """Words of prose in `text` (not in code blocks, headings or the failing test output)."""
    prose = text.split("\n## Failing test output", 1)[0]
    return sum(len(block.split()) for block, fenced in _blocks(prose) if not fenced)


def statement_quality(text: str, ctx: FixContext, has_test_output: bool, title_removed: bool = False) -> tuple[str, list[str]]:
    """("ok" | "thin" | "leaky", reasons): leaky when anything gives the fix away; thin when the
    prose says too little to find the bug (under THIN_WORDS words and no failing test output), or
    its title gave the fix away and only the rest is left, with no failing test output."""
    prose, _, output = text.partition("\n## Failing test output")
    problems = statement_problems(prose, ctx) + statement_problems(output, ctx, announcements=False, test_names=False)
    if problems:
        return "leaky", _unique(problems)
    words = prose_words(text)
    if title_removed and not has_test_output:
        return "thin", ["its title gave the fix away and was removed, and there is no failing test output"]
    if words < THIN_WORDS and not has_test_output:
        return "thin", [f"only {words} words of description and no failing test output"]
    if words < 4:
        return "thin", [f"only {words} words of description (the failing test output is all there is)"]
    return "ok", []
