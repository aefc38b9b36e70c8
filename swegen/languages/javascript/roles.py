"""Which files of a JavaScript/TypeScript repository are source, tests, test data or noise.

Globs use the boundary's convention (`**/` matches any depth, none included) and are matched by
`matches` here so the language can answer `owns` without a stage's help.
"""

from __future__ import annotations


from swegen.globs import matches  # noqa: F401 - this module's `matches`, as its callers use it
from swegen.languages.base import FileRoles

SOURCE_EXTENSIONS = (".js", ".jsx", ".mjs", ".cjs", ".ts", ".tsx", ".mts", ".cts")

TEST_GLOBS = (
    "**/__tests__/**",
    "**/__mocks__/**",
    "**/__snapshots__/**",
    "**/__fixtures__/**",
    "**/*.test.*",
    "**/*.spec.*",
    "**/*.snap",
    "**/test/**",
    "**/tests/**",
    "**/spec/**",
    "**/fixtures/**",
    "**/test-fixtures/**",
)

EXCLUDE_GLOBS = (
    "**/node_modules/**",
    "**/dist/**",
    "**/build/**",
    "**/coverage/**",
    "**/.next/**",
    "**/.yarn/**",
    "**/bower_components/**",
    "**/package-lock.json",
    "**/npm-shrinkwrap.json",
    "**/yarn.lock",
    "**/pnpm-lock.yaml",
    "**/bun.lockb",
    "**/*.min.js",
    "**/*.min.mjs",
    "**/*.bundle.js",
    "**/*.map",
    # Declarations generated next to compiled output (a hand-written one sits in src/ or types/
    # and stays source; these are the ones a build writes).
    "**/lib/**/*.d.ts",
    "**/types/generated/**",
    "**/*.generated.ts",
    "**/*.generated.js",
)

ROLES = FileRoles(source_extensions=SOURCE_EXTENSIONS, test_globs=TEST_GLOBS, exclude_globs=EXCLUDE_GLOBS)


def is_excluded(path: str) -> bool:
    """Vendored, built or generated, or a lock file: never part of a gold patch."""
    return matches(path, EXCLUDE_GLOBS)


def is_test(path: str) -> bool:
    """A test file or test data (fixture, snapshot, mock), and not excluded."""
    return not is_excluded(path) and matches(path, TEST_GLOBS)


def is_source(path: str) -> bool:
    """A JS/TS file (by ending) that is not excluded; `.d.ts` declarations count as source
    unless an exclude glob says they were generated."""
    return path.endswith(SOURCE_EXTENSIONS) and not is_excluded(path)


def owns(path: str) -> bool:
    """Any JS/TS file, and the tests' snapshots. Excluded ones (node_modules, dist, *.min.js)
    count too: whoever sorts a change's files (swegen.split) asks the owner for its excludes, so
    a built dist/index.js must be found to be this language's to be left out as one."""
    return path.endswith(SOURCE_EXTENSIONS) or (path.endswith(".snap") and is_test(path))
