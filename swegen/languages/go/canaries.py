"""Canary tests for Go test files: tamper evidence planted where a patch cannot know of them.

Each canary is a `func TestXxx(t *testing.T)` with a fresh random name built from the file's own
test names, appended to the same file (so it is in the same package, internal or `_test`), some
passing and some calling t.Fatal. Their ids are `<import path>::<name>`, as the parser reports.
The file must import "testing" (a test file always does; under another name, that name is used).
"""

from __future__ import annotations

import random
import re

from swegen.languages.base import Canary
from swegen.languages.go.syntax import _text, parse_tree, top_level_tests

PER_KIND = 2
_FALLBACK_WORDS = ("Value", "Result", "Case", "Input", "Output", "Basic", "Empty", "Single", "Order", "Format")


def _testing_name(root) -> str | None:
    """The name the file imports "testing" as (None: not imported; "." or "_" cannot be used)."""
    for node in root.named_children:
        if node.type != "import_declaration":
            continue
        for spec in (n for n in _walk_specs(node)):
            path = spec.child_by_field_name("path")
            if path is not None and _text(path).strip('"`') == "testing":
                alias = spec.child_by_field_name("name")
                name = _text(alias) if alias is not None else "testing"
                return None if name in (".", "_") else name
    return None


def _walk_specs(node):
    stack = [node]
    while stack:
        current = stack.pop()
        if current.type == "import_spec":
            yield current
        stack.extend(current.named_children)


def _vocabulary(names: list[str]) -> list[str]:
    words = []
    for name in names:
        words.extend(re.findall(r"[A-Z][a-z0-9]+", name.removeprefix("Test")))
    return sorted(set(words))


def _declared(root) -> set[str]:
    return {_text(n.child_by_field_name("name")) for n in root.named_children
            if n.type in ("function_declaration", "method_declaration")}


def _fresh(vocabulary: list[str], taken: set[str], rng: random.Random) -> str:
    while True:
        words = rng.sample(vocabulary, k=min(2, len(vocabulary)))
        name = "Test" + "".join(words) + f"{rng.randrange(10**5, 10**6)}"
        if name not in taken:
            taken.add(name)
            return name


def _body(name: str, testing: str, must_pass: bool, rng: random.Random) -> str:
    a, b = rng.randrange(2, 50), rng.randrange(2, 50)
    if must_pass:
        check = f"\tif got := {a} + {b}; got != {a + b} {{\n\t\tt.Fatalf(\"got %d\", got)\n\t}}\n"
    else:
        check = f"\tif got := {a} + {b}; got != {a + b + 1} {{\n\t\tt.Fatalf(\"got %d\", got)\n\t}}\n"
    return f"func {name}(t *{testing}.T) {{\n{check}}}\n"


def _is_comment_line(data: bytes, start: int, limit: int) -> bool:
    """Does the line before `start` (up to `limit`) hold only a // comment?"""
    if start == 0:
        return False
    line_start = data.rfind(b"\n", 0, start - 1) + 1
    return data[line_start:start].strip().startswith(b"//")


def plant(path: str, source: str, package: str, rng: random.Random) -> tuple[str, list[Canary]]:
    """(the file with canaries before its first function, the canaries), or the file unchanged and [] when it does
    not parse or does not import "testing" under a usable name."""
    root = parse_tree(source.encode())
    if root.has_error:
        return source, []
    testing = _testing_name(root)
    if testing is None:
        return source, []
    taken = _declared(root)
    vocabulary = _vocabulary([t.name for t in top_level_tests(root)]) or list(_FALLBACK_WORDS)
    if len(vocabulary) < 2:
        vocabulary = vocabulary + list(_FALLBACK_WORDS)
    kinds = [True] * PER_KIND + [False] * PER_KIND
    rng.shuffle(kinds)
    names = [_fresh(vocabulary, taken, rng) for _ in kinds]
    newline = "\r\n" if "\r\n" in source else "\n"
    bodies = [_body(name, testing, must_pass, rng).replace("\n", newline) for name, must_pass in zip(names, kinds)]
    # before the file's first function: go test runs a package's tests in source order, and a
    # test that panics ends the package's run, so canaries after it would be missing from an
    # honest report
    first = next((n for n in root.named_children if n.type in ("function_declaration", "method_declaration")), None)
    if first is None:
        text = source.rstrip("\r\n") + newline * 2 + newline.join(bodies)
    else:
        data = source.encode()
        at = data.rfind(b"\n", 0, first.start_byte) + 1
        while _is_comment_line(data, at, first.start_byte):  # the function's doc comment stays with it
            at = data.rfind(b"\n", 0, max(at - 1, 0)) + 1 if at else 0
            if at == 0:
                break
        text = (data[:at].decode() + newline.join(bodies) + newline + data[at:].decode())
    return text, [Canary(f"{package}::{name}", must_pass) for name, must_pass in zip(names, kinds)]
