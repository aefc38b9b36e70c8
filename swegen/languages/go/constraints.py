"""Does `go test` compile a file on the sandbox's platform (linux/amd64)? File name suffixes
(`_windows_test.go`, `_linux_arm64.go`) and the `//go:build` line (or, without one, the old
`// +build` lines) decide, by go/build's rules.

Tags that hold: linux, amd64, unix, gc, cgo (the base images have a C compiler), and every
`go1.N` release tag (the toolchain may be newer than the project); any other tag (integration,
e2e, a GOEXPERIMENT) is off, as it is for a plain `go test`. A file whose tests never run here
has no tests to name.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

GOOS = {"aix", "android", "darwin", "dragonfly", "freebsd", "hurd", "illumos", "ios", "js", "linux", "nacl",
        "netbsd", "openbsd", "plan9", "solaris", "wasip1", "windows", "zos"}
GOARCH = {"386", "amd64", "amd64p32", "arm", "armbe", "arm64", "arm64be", "loong64", "mips", "mipsle", "mips64",
          "mips64le", "mips64p32", "mips64p32le", "ppc", "ppc64", "ppc64le", "riscv", "riscv64", "s390", "s390x",
          "sparc", "sparc64", "wasm"}
TARGET = {"linux", "amd64", "unix", "gc", "cgo"}
_BUILD = re.compile(r"^//go:build\s+(.+?)\s*$", re.MULTILINE)
_PLUS_BUILD = re.compile(r"^//\s*\+build\s+(.+?)\s*$", re.MULTILINE)
_TOKEN = re.compile(r"\s*(\(|\)|!|&&|\|\||[\w.]+)")


def tag_holds(tag: str) -> bool:
    return tag in TARGET or re.fullmatch(r"go1\.\d+", tag) is not None


def _by_name(path: str) -> bool:
    """go/build's goodOSArchFile: `*_GOOS`, `*_GOARCH`, `*_GOOS_GOARCH` before `_test.go`/`.go`."""
    stem = PurePosixPath(path).name
    stem = stem[: -len(".go")] if stem.endswith(".go") else stem
    stem = stem[: -len("_test")] if stem.endswith("_test") else stem
    parts = stem.split("_")[1:]
    if len(parts) >= 2 and parts[-2] in GOOS and parts[-1] in GOARCH:
        return tag_holds(parts[-2]) and tag_holds(parts[-1])
    if parts and (parts[-1] in GOOS or parts[-1] in GOARCH):
        return tag_holds(parts[-1])
    return True


def _header(source: bytes) -> str:
    """The comments before the package clause (where a //go:build line counts)."""
    text = source.decode("utf-8", "replace")
    match = re.search(r"^package\s", text, re.MULTILINE)
    return text[: match.start()] if match else text


class _Expr:
    """A //go:build expression: ||, &&, !, parentheses and tags."""

    def __init__(self, text: str) -> None:
        self.tokens = _TOKEN.findall(text)
        self.pos = 0

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise ValueError("unexpected end")
        self.pos += 1
        return token

    def value(self) -> bool:
        result = self._or()
        if self._peek() is not None:
            raise ValueError("trailing tokens")
        return result

    def _or(self) -> bool:
        result = self._and()
        while self._peek() == "||":
            self._take()
            result = self._and() or result
        return result

    def _and(self) -> bool:
        result = self._not()
        while self._peek() == "&&":
            self._take()
            result = self._not() and result
        return result

    def _not(self) -> bool:
        token = self._take()
        if token == "!":
            return not self._not()
        if token == "(":
            result = self._or()
            if self._take() != ")":
                raise ValueError("missing )")
            return result
        if token in (")", "&&", "||"):
            raise ValueError(f"unexpected {token}")
        return tag_holds(token)


def builds_here(path: str, source: bytes) -> bool:
    """Is this file part of its package's test binary on linux/amd64? An unreadable //go:build
    line counts as yes (go would refuse the package, and the parser reports that)."""
    parts = PurePosixPath(path).parts
    if any(part == "testdata" or part.startswith(("_", ".")) for part in parts):
        return False  # the go tool ignores testdata/ and names that start with _ or .
    if not _by_name(path):
        return False
    header = _header(source)
    match = _BUILD.search(header)
    if match is None:
        return all(_plus_build(line) for line in _PLUS_BUILD.findall(header))
    try:
        return _Expr(match.group(1)).value()
    except ValueError:
        return True


def _plus_build(line: str) -> bool:
    """A pre-1.17 `// +build` line (used when there is no //go:build): space is or, comma is and."""
    return any(all(_term(t) for t in option.split(",")) for option in line.split())


def _term(term: str) -> bool:
    return not tag_holds(term[1:]) if term.startswith("!") else tag_holds(term)
