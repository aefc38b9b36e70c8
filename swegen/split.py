"""Splitting a fix's diff into the gold `patch` (source) and the `test_patch` (tests).

The raw diff is cut into per-file sections at `diff --git` lines and each section is parsed with
unidiff. The raw text of each section is kept byte for byte, so binary patches, mode changes and
renames still apply with `git apply`. Files are sorted by configurable globs: tests and test data
go to the test patch, source code to the gold patch, and everything else (docs, changelogs,
configuration) is left out and listed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

import unidiff

from swegen import languages
from swegen.globs import glob_regex, matches  # noqa: F401 - split's own names, used by callers

#: Where tests and their data live, by default. `**/` matches any folder depth, including none.
DEFAULT_TEST_GLOBS = (
    "**/tests/**",
    "**/test/**",
    "**/testing/**",
    "**/test_*.py",
    "**/*_test.py",
    "**/*_tests.py",
    "**/conftest.py",
)
#: Never part of a gold patch even when they look like code: docs, examples of docs, CI.
DEFAULT_EXCLUDE_GLOBS = (
    "**/docs/**",
    "**/doc/**",
    ".github/**",
    ".gitlab/**",
    ".circleci/**",
    "**/CHANGELOG*",
    "**/CHANGES*",
    "**/HISTORY*",
    "**/NEWS*",
    "**/changelog.d/**",
    "**/changes/**",
    "**/newsfragments/**",
)
#: Source code, by extension. Python now; the others are ready for later languages.
CODE_EXTENSIONS = frozenset(
    ".py .pyi .pyx .pxd .c .h .cc .cpp .hpp .go .rs .java .kt .js .jsx .mjs .cjs .ts .tsx".split()
)
LFS_POINTER = "version https://git-lfs.github.com/spec/v1"


@dataclass(frozen=True)
class SplitRules:
    """How files are sorted into test patch, gold patch and left out."""

    test_globs: tuple[str, ...] = DEFAULT_TEST_GLOBS
    exclude_globs: tuple[str, ...] = DEFAULT_EXCLUDE_GLOBS
    code_extensions: frozenset[str] = CODE_EXTENSIONS

    @cached_property
    def _known(self) -> dict[str, str]:
        return {}

    def role(self, path: str) -> str:
        """'test', 'source' or 'other' for one repository-relative path (memoised: mining asks
        about the same paths in thousands of commits)."""
        known = self._known.get(path)
        if known is None:
            known = self._known[path] = self._role(path)
        return known

    def _role(self, path: str) -> str:
        # A file of one of swegen.languages' (JavaScript, Go) is sorted by that language's own
        # roles first: its vendored and generated files are left out, its test files are tests.
        language = languages.for_path(path)
        if any(path.endswith(other.roles.source_extensions) and matches(path, other.roles.exclude_globs)
               for other in languages.available()):
            return "other"  # vendored Go, minified or built JS: even where the language disowns the file
        if matches(path, self.test_globs) or (language is not None and matches(path, language.roles.test_globs)):
            return "test"
        if matches(path, self.exclude_globs):
            return "other"
        if language is not None:
            return "source"
        suffix = path[path.rfind(".") :] if "." in path.rsplit("/", 1)[-1] else ""
        return "source" if suffix in self.code_extensions else "other"


@dataclass(frozen=True)
class FileDiff:
    """One file's part of a diff."""

    path: str
    old_path: str | None
    status: str  # added | deleted | modified | renamed | mode
    binary: bool
    text: str
    added_lines: frozenset[int] = frozenset()
    removed_lines: frozenset[int] = frozenset()
    #: New-file line numbers next to which lines were removed (where a deletion sits in the fix).
    removed_at: frozenset[int] = frozenset()
    added_text: tuple[str, ...] = ()
    removed_text: tuple[str, ...] = ()
    submodule: bool = False
    lfs_pointer: bool = False

    @property
    def changed(self) -> int:
        return len(self.added_lines) + len(self.removed_lines)


class DiffError(ValueError):
    """A diff that cannot be used, with the reason as its message."""


SECTION = re.compile(rb"^diff --git ", re.MULTILINE)


def parse_diff(raw: bytes, skip: Callable[[str], bool] | None = None) -> list[FileDiff]:
    """Per-file sections of a git diff; DiffError for non-UTF-8 text or a diff unidiff cannot read.

    Sections whose path `skip` accepts (files that will be left out anyway: docs, changelogs)
    are listed by path only, without parsing; their encoding does not matter.
    """
    starts = [m.start() for m in SECTION.finditer(raw)]
    files = []
    for begin, end in zip(starts, starts[1:] + [len(raw)]):
        chunk = raw[begin:end]
        header = chunk.split(b"\n", 1)[0].decode("utf-8", errors="replace")
        path = header.rpartition(" b/")[2].strip('"')
        if skip is not None and skip(path):
            files.append(FileDiff(path=path, old_path=None, status="modified", binary=False, text=""))
            continue
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError as exc:
            name = chunk.split(b"\n", 1)[0].decode("utf-8", errors="replace")
            raise DiffError(f"non-UTF-8 content in {name.removeprefix('diff --git ')}") from exc
        files.append(_parse_section(text))
    return files


def _parse_section(text: str) -> FileDiff:
    try:
        (patched,) = unidiff.PatchSet(text)
    except (unidiff.UnidiffParseError, ValueError) as exc:
        raise DiffError(f"unreadable diff section: {text.splitlines()[0]}") from exc
    source = _strip(patched.source_file)
    target = _strip(patched.target_file)
    header = text.split("@@", 1)[0]
    if patched.is_added_file:
        status = "added"
    elif patched.is_removed_file:
        status = "deleted"
    elif patched.is_rename or (source and target and source != target):
        status = "renamed"
    elif not list(patched) and "old mode" in header and not patched.is_binary_file:
        status = "mode"
    else:
        status = "modified"
    added, removed, removed_at, added_text, removed_text = set(), set(), set(), [], []
    for hunk in patched:
        last_target = hunk.target_start - 1
        for line in hunk:
            if line.target_line_no is not None:
                last_target = line.target_line_no
            if line.is_added:
                added.add(line.target_line_no)
                added_text.append(line.value.rstrip("\n"))
            elif line.is_removed:
                removed.add(line.source_line_no)
                removed_at.add(max(last_target, 1))
                removed_text.append(line.value.rstrip("\n"))
    path = target if status != "deleted" else source
    return FileDiff(
        path=path or source or "",
        old_path=source if status == "renamed" else None,
        status=status,
        binary=patched.is_binary_file,
        text=text if text.endswith("\n") else text + "\n",
        added_lines=frozenset(added),
        removed_lines=frozenset(removed),
        removed_at=frozenset(removed_at),
        added_text=tuple(added_text),
        removed_text=tuple(removed_text),
        submodule="160000" in header.split("\n@@")[0] and ("Subproject commit" in text),
        lfs_pointer=any(line.startswith(LFS_POINTER) for line in added_text),
    )


def _strip(name: str | None) -> str | None:
    if name is None or name == "/dev/null":
        return None
    return name[2:] if name[:2] in ("a/", "b/") else name


@dataclass(frozen=True)
class Split:
    """A fix's diff, sorted."""

    source: tuple[FileDiff, ...] = ()
    tests: tuple[FileDiff, ...] = ()
    other: tuple[FileDiff, ...] = ()
    problems: tuple[str, ...] = field(default=())

    @property
    def patch(self) -> str:
        return "".join(f.text for f in self.source)

    @property
    def test_patch(self) -> str:
        return "".join(f.text for f in self.tests)

    @property
    def source_files(self) -> list[str]:
        return [f.path for f in self.source]

    @property
    def test_files(self) -> list[str]:
        return [f.path for f in self.tests]

    @property
    def other_files(self) -> list[str]:
        return [f.path for f in self.other]


def split_diff(files: list[FileDiff], rules: SplitRules) -> Split:
    """Sort files into source, tests and other, and name what makes the fix unusable."""
    groups: dict[str, list[FileDiff]] = {"source": [], "test": [], "other": []}
    problems = []
    for item in files:
        if item.submodule:
            groups["other"].append(item)
            continue
        role = rules.role(item.path)
        if item.status == "renamed" and item.old_path and rules.role(item.old_path) == "test":
            role = "test"
        groups[role].append(item)
        if item.lfs_pointer:
            problems.append(f"lfs-pointer: {item.path} is a Git LFS pointer, not content")
        if role == "source" and item.binary:
            problems.append(f"binary-source: {item.path} is a binary change in the source")
    return Split(tuple(groups["source"]), tuple(groups["test"]), tuple(groups["other"]), tuple(problems))
