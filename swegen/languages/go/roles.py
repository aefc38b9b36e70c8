"""Which files of a Go repository are source, tests and test data, and which are never code.

`go test` compiles every `*_test.go` file of a package folder into that package's test binary,
and `testdata/` folders are ignored by the go tool but read by tests, so both are test files.
`vendor/` holds other modules' copies and go.sum is a lock file: neither belongs in a gold patch.
Generated files are recognised by content (the comment `go generate` tools write), not by name.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from swegen.globs import matches
from swegen.languages.base import FileRoles

ROLES = FileRoles(
    source_extensions=(".go",),
    test_globs=("**/*_test.go", "**/testdata/**"),
    exclude_globs=("vendor/**", "**/vendor/**", "go.sum", "**/go.sum", "go.work.sum", "**/go.work.sum"),
)

#: The line Go's convention (https://go.dev/s/generatedcode) puts before the package clause of a
#: generated file: `^// Code generated .* DO NOT EDIT\.$`.
GENERATED = re.compile(rb"^// Code generated .* DO NOT EDIT\.\r?$", re.MULTILINE)


def is_excluded(path: str) -> bool:
    """Vendored code and lock files: never part of a gold or test patch."""
    return matches(path, ROLES.exclude_globs)


def is_test(path: str) -> bool:
    """A `_test.go` file or anything under a `testdata/` folder (outside vendor/)."""
    return not is_excluded(path) and matches(path, ROLES.test_globs)


def owns(path: str) -> bool:
    """A Go source or test file that is not vendored. Test data (testdata/) is a test file when a
    Go change holds it (`is_test`), but not Go's by itself: every language's projects have such
    folders, and a JSON fixture must not make a Python or JavaScript change a Go one."""
    return path.endswith(ROLES.source_extensions) and not is_excluded(path)


def is_generated(source: bytes) -> bool:
    """Does this Go file say it is generated (`// Code generated ... DO NOT EDIT.` before its
    package clause)? Such files are rewritten by tools, so a change there is no one's fix."""
    head = source.split(b"\npackage ", 1)[0] if not source.startswith(b"package ") else b""
    return GENERATED.search(head) is not None


def package_dir(path: str) -> str:
    """The folder of the package a test file belongs to: its own folder, or for test data the
    folder that holds the `testdata/` directory ("" for the repository root)."""
    parts = PurePosixPath(path).parts
    if "testdata" in parts[:-1]:
        parts = parts[: parts.index("testdata")]
    else:
        parts = parts[:-1]
    return "/".join(parts)
