"""Applying an untrusted model patch to /testbed: refuse what a source patch never needs.

A model patch is hostile until shown otherwise. Before any tool sees it, `check_patch` refuses,
with a one-line reason, a patch that is too big, that is not a unified diff (binary garbage, NUL
bytes, text that cannot be encoded), or that names a path a fix has no business writing: an
absolute path, a `..` that climbs out of the tree, anything under `.git` (rewriting git's own
files would hide changes from the revert of test edits), a symlink whose target leaves the tree
or points into `.git`, or a write through a symlink the same patch creates. After a tool applied
it, the symlinks it changed are checked again on disk, since a rename or mode change can make
one that the text did not spell out. A refused patch is the patch's failure: unresolved, never an
infrastructure error.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass, field

from swegen.testbed import GIT, Container

#: The largest model patch accepted, in bytes of UTF-8. Real fixes are kilobytes; a patch this big
#: would be copied into the container and applied before anything could tell it is a fix.
MAX_PATCH_BYTES = 10 * 1024 * 1024
TESTBED = "/testbed"
SYMLINK_MODE = "120000"
#: Header lines, besides ---/+++ and diff --git, that name a file.
_PATH_HEADERS = ("rename from ", "rename to ", "copy from ", "copy to ", "Index: ")
_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_OCTAL = re.compile(r"\\([0-7]{3}|.)")
_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "r": "\r", "v": "\v"}


def check_patch(patch: str) -> str | None:
    """Why this patch is refused before it is applied (one line), or None."""
    try:
        data = patch.encode("utf-8", errors="surrogateescape")
    except UnicodeEncodeError:
        return "the patch is not text (it has characters no encoding can write)"
    if len(data) > MAX_PATCH_BYTES:
        return f"the patch is {len(data) / 1e6:.1f} MB, over the {MAX_PATCH_BYTES / 1e6:.0f} MB limit for a patch"
    if "\0" in patch:
        return "the patch is binary data (it has NUL bytes), not a unified diff"
    if len(_CONTROL.findall(patch)) > max(8, len(patch) // 100):
        return "the patch is binary data (control characters), not a unified diff"
    lines = patch.splitlines()
    if not any(line.startswith("diff --git ") for line in lines) and not _has_unified_header(lines):
        return "the patch is not a unified diff (no ---/+++ file header)"
    files = _file_sections(lines)
    for section in files:
        for path in section.paths:
            problem = path_problem(path)
            if problem:
                return problem
    return _symlink_problem(files)


def _has_unified_header(lines: list[str]) -> bool:
    return any(a.startswith("--- ") and b.startswith("+++ ") for a, b in zip(lines, lines[1:]))


@dataclass
class _Section:
    """One file of a patch, filled in as it is read: the names it gives, whether it makes a
    symlink, the lines it adds."""

    paths: list[str] = field(default_factory=list)
    new_name: str = ""
    has_header: bool = False
    symlink: bool = False
    added: list[str] = field(default_factory=list)

    @property
    def target_path(self) -> str:
        """The path this section writes, without the a/ or b/ prefix."""
        return strip_prefix(self.new_name or (self.paths[-1] if self.paths else ""))


def _file_sections(lines: list[str]) -> list[_Section]:
    """The patch's files, read as git and patch read them: hunks are skipped by their line counts,
    so a removed line that starts with "-- " is never taken for a file header."""
    sections: list[_Section] = []
    current: _Section | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        hunk = _HUNK.match(line)
        if hunk and current is not None:
            i = _skip_hunk(lines, i + 1, hunk, current)
            continue
        if line.startswith("diff --git "):
            current = _Section()
            sections.append(current)
            current.paths.extend(_git_header_paths(line[len("diff --git "):]))
        elif line.startswith("--- ") and i + 1 < len(lines) and lines[i + 1].startswith("+++ "):
            if current is None or current.has_header:
                current = _Section()
                sections.append(current)
            old, new = _header_name(line[4:]), _header_name(lines[i + 1][4:])
            current.paths.extend(name for name in (old, new) if name != "/dev/null")
            current.new_name = new if new != "/dev/null" else old
            current.has_header = True
            i += 2
            continue
        elif current is not None and line.startswith(("new file mode ", "new mode ", "index ")) and line.rstrip().endswith(SYMLINK_MODE):
            current.symlink = True
        else:
            header = next((h for h in _PATH_HEADERS if line.startswith(h)), None)
            if header:
                if current is None:
                    current = _Section()
                    sections.append(current)
                current.paths.append(_header_name(line[len(header):]))
        i += 1
    return sections


def _skip_hunk(lines: list[str], i: int, hunk: re.Match[str], section: _Section) -> int:
    old = int(hunk.group(2) if hunk.group(2) is not None else 1)
    new = int(hunk.group(4) if hunk.group(4) is not None else 1)
    while i < len(lines) and (old > 0 or new > 0):
        line = lines[i]
        if line.startswith("\\"):
            pass  # "\ No newline at end of file"
        elif line.startswith("+"):
            new -= 1
            section.added.append(line[1:])
        elif line.startswith("-"):
            old -= 1
        else:
            old, new = old - 1, new - 1
        i += 1
    return i


def _git_header_paths(rest: str) -> list[str]:
    """Both names of a `diff --git a/X b/Y` line (quoted names, or split at " b/")."""
    if rest.startswith('"'):
        first, _, second = _split_quoted(rest)
        return [first, _header_name(second.strip())]
    if " b/" in rest:
        first, _, second = rest.partition(" b/")
        return [first, "b/" + second]
    return rest.split(" ", 1)


def _split_quoted(text: str) -> tuple[str, str, str]:
    end = 1
    while end < len(text) and (text[end] != '"' or text[end - 1] == "\\"):
        end += 1
    return _unquote(text[: end + 1]), "", text[end + 1:]


def _header_name(text: str) -> str:
    """The file name of a header line: git's C-style quoting undone, a trailing timestamp dropped."""
    text = text.rstrip("\n")
    if text.startswith('"'):
        return _split_quoted(text)[0]
    return text.split("\t", 1)[0].rstrip()


def _unquote(quoted: str) -> str:
    body = quoted[1:-1] if quoted.endswith('"') and len(quoted) > 1 else quoted[1:]

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if len(code) == 3:
            return bytes([int(code, 8) & 0xFF]).decode("latin-1")
        return _ESCAPES.get(code, code)

    raw = _OCTAL.sub(replace, body)
    return raw.encode("latin-1", errors="ignore").decode("utf-8", errors="surrogateescape")


def strip_prefix(path: str) -> str:
    """The path inside the tree, as `git apply` and `patch -p1` read it."""
    return path[2:] if path.startswith(("a/", "b/")) else path


def path_problem(path: str) -> str | None:
    """Why a file name in a patch is refused, or None."""
    if path.startswith("/"):
        return f"the patch writes to an absolute path ({_show(path)}), outside /testbed"
    parts = [p for p in path.split("/") if p not in ("", ".")]
    if ".." in parts:
        return f"the patch writes outside /testbed through '..' ({_show(path)})"
    if any(p.lower() == ".git" for p in parts):
        return f"the patch writes inside .git ({_show(path)}); a fix never changes git's own files"
    return None


def _symlink_problem(sections: list[_Section]) -> str | None:
    links = []
    for section in sections:
        if not section.symlink or not section.added:
            continue
        link = section.target_path
        problem = symlink_target_problem(link, "".join(section.added))
        if problem:
            return problem
        links.append(link)
    for section in sections:
        written = section.target_path
        for link in links:
            if written.startswith(link.rstrip("/") + "/"):
                return f"the patch writes {_show(written)} through the symlink {_show(link)} it creates"
    return None


def symlink_target_problem(link: str, target: str) -> str | None:
    """Why a symlink at `link` (inside the tree) pointing at `target` is refused, or None."""
    if target.startswith("/"):
        inside = posixpath.normpath(target)
        if inside == TESTBED or inside.startswith(TESTBED + "/"):
            target = posixpath.relpath(inside, posixpath.join(TESTBED, posixpath.dirname(link)))
        else:
            return f"the patch makes a symlink {_show(link)} to {_show(target)}, outside /testbed"
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(link), target))
    if resolved == ".." or resolved.startswith("../"):
        return f"the patch makes a symlink {_show(link)} to {_show(target)}, outside /testbed"
    if resolved.split("/")[0].lower() == ".git":
        return f"the patch makes a symlink {_show(link)} into .git"
    return None


def _show(path: str) -> str:
    return repr(path[:120])[1:-1]


# -- applying ----------------------------------------------------------------------------------


def apply_model_patch(box: Container, patch: str) -> tuple[str, list[str]]:
    """(method, errors): refuse a hostile patch, else try git apply, git apply --3way, then
    patch --forward without fuzz (unified diffs only), the tree reset between tries. An empty
    method means it did not go on; the last error says why."""
    refused = check_patch(patch)
    if refused:
        return "", [f"refused: {refused}"]
    if not patch.endswith("\n"):
        patch += "\n"
    box.box.put("/tmp/model.patch", patch.encode("utf-8", errors="surrogateescape"))
    attempts = (
        ("git apply", f"{GIT} apply --whitespace=nowarn /tmp/model.patch"),
        ("git apply --3way", f"{GIT} apply --3way --whitespace=nowarn /tmp/model.patch"),
        # --unified: never a context diff or an ed script, which patch would also accept
        ("patch", "patch --batch --forward --fuzz=0 --unified -p1 -i /tmp/model.patch"),
    )
    errors = []
    for method, command in attempts:
        result = box.box.exec(command, timeout=120)
        conflicted = method == "git apply --3way" and "conflict" in (result.stdout + result.stderr).lower()
        if result.ok and not conflicted:
            escaped = escaping_symlinks(box)
            if escaped:
                return "", [*errors, f"refused: {escaped}"]
            return method, errors
        errors.append(f"{method}: " + " ".join((result.stderr or result.stdout).split())[:300])
        box.git(f"reset -q --hard && {GIT} clean -fdq")
    return "", errors


def escaping_symlinks(box: Container) -> str | None:
    """Why a symlink the applied patch added or changed is refused (its target on disk), or None."""
    status = box.git("status --porcelain=v1 -z --untracked-files=all --no-renames")
    changed = [item[3:] for item in status.stdout.split("\0") if len(item) > 3]
    if not changed:
        return None
    quoted = " ".join(shlex.quote(p) for p in changed)
    probe = box.box.exec(
        f"cd {TESTBED} && for p in {quoted}; do [ -L \"$p\" ] && printf '%s\\t%s\\n' \"$p\" \"$(readlink -- \"$p\")\"; done; true",
        timeout=60,
    )
    for line in probe.stdout.splitlines():
        link, _, target = line.partition("\t")
        problem = symlink_target_problem(link, target)
        if problem:
            return problem
    return None
