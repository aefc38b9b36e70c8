"""Python's canaries: tests planted into a pytest file, in the file's own vocabulary (see
swegen.canaries for what they are evidence of)."""

from __future__ import annotations

import ast
import random
import re

from swegen.canaries import Canary

#: Per file planted into: this many that must pass and this many that must fail.
PER_KIND = 2
_FALLBACK_WORDS = ("value", "result", "case", "input", "output", "basic", "empty", "single", "order", "format")



def plant(path: str, source: str, test_ids: list[str], rng: random.Random) -> tuple[str, list[Canary]]:
    """(the file with canaries added, the canaries) for test file `path` holding the tests
    `test_ids`; the source unchanged and no canaries when it cannot be parsed."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return source, []
    existing = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    vocabulary = _vocabulary(existing) or list(_FALLBACK_WORDS)
    kinds = [True] * PER_KIND + [False] * PER_KIND
    rng.shuffle(kinds)
    names = [_fresh_name(vocabulary, existing, rng) for _ in kinds]
    target = _target_class(tree, path, test_ids)
    newline = "\r\n" if "\r\n" in source else "\n"
    if _module_parametrized(tree):
        return source, []  # every test there must take the parameters: a plain canary would break the file
    if target is None:
        bodies = [_function(name, must_pass, rng, indent="", method=False).replace("\n", newline) for name, must_pass in zip(names, kinds)]
        text = source.rstrip("\r\n") + newline * 3 + (newline * 3).join(bodies) + newline
        return text, [Canary(f"{path}::{name}", must_pass) for name, must_pass in zip(names, kinds)]
    node, indent = target
    lines = source.splitlines(keepends=True)
    bodies = [_function(name, must_pass, rng, indent=indent, method=True) for name, must_pass in zip(names, kinds)]
    insert = "".join(newline + body.replace("\n", newline) + newline for body in bodies)
    end = node.end_lineno or len(lines)
    if end - 1 < len(lines) and not lines[end - 1].endswith(("\n", "\r")):
        lines[end - 1] += newline
    text = "".join(lines[:end]) + insert + "".join(lines[end:])
    return text, [Canary(f"{path}::{node.name}::{name}", must_pass) for name, must_pass in zip(names, kinds)]


def _vocabulary(names: set[str]) -> list[str]:
    words = []
    for name in sorted(names):
        if name.startswith("test"):
            words += [w.lower() for w in re.split(r"_+|(?<=[a-z])(?=[A-Z])", name[4:]) if len(w) >= 3 and w.isalpha()]
    return sorted(set(words))


def _fresh_name(vocabulary: list[str], taken: set[str], rng: random.Random) -> str:
    for size in (2, 3, 3, 4, 4, 4):
        words = rng.sample(vocabulary, min(size, len(vocabulary)))
        words += rng.sample(_FALLBACK_WORDS, max(0, size - len(words)))
        name = "test_" + "_".join(words)
        if name not in taken:
            taken.add(name)
            return name
    name = f"test_{rng.choice(vocabulary)}_{rng.randrange(10**6)}"
    taken.add(name)
    return name


def _target_class(tree: ast.Module, path: str, test_ids: list[str]) -> tuple[ast.ClassDef, str] | None:
    """The top-level class holding the file's FAIL_TO_PASS tests, with its body's indentation,
    or None to plant at module level (tests in functions, or in nested classes)."""
    classes = [t.split("::")[1] for t in test_ids if t.split("::")[0] == path and len(t.split("::")) == 3]
    if not classes:
        return None
    wanted = classes[0]
    for node in tree.body:
        # a decorated class (marks, parametrize) is left alone: its marks would apply to the canaries
        if isinstance(node, ast.ClassDef) and node.name == wanted and node.body and not node.decorator_list:
            if not any(isinstance(s, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in s.targets) for s in node.body):
                return node, " " * node.body[0].col_offset
    return None


def _module_parametrized(tree: ast.Module) -> bool:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "pytestmark" for t in node.targets):
            if "parametrize" in ast.dump(node.value):
                return True
    return False


def _function(name: str, must_pass: bool, rng: random.Random, indent: str, method: bool) -> str:
    """A small test in the plain style of a real one, that passes or fails by construction."""
    values = rng.sample(range(2, 99), rng.randrange(3, 6))
    shape = rng.randrange(4)
    if shape == 0:
        expr, right = f"sorted({values!r})", sorted(values)
        wrong = sorted(values, reverse=True)
    elif shape == 1:
        expr, right = f"sum({values!r})", sum(values)
        wrong = right + rng.randrange(1, 9)
    elif shape == 2:
        expr, right = f"max({values!r})", max(values)
        wrong = min(values)
    else:
        text = "".join(rng.choice("abcdefghij") for _ in range(rng.randrange(4, 12)))
        expr, right = f"len({text!r})", len(text)
        wrong = right + 1
    expected = right if must_pass else wrong
    signature = f"def {name}(self):" if method else f"def {name}():"
    return f"{indent}{signature}\n{indent}    assert {expr} == {expected!r}"
