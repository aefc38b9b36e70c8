"""Canary tests for JS/TS test files (tamper evidence; see swegen/canaries.py for the idea).

The canaries go inside the file's first plain `describe` (not a `.each` one, whose name is not
one suite, nor a skipped one) or, without one, at the end of the file; in a file that focuses
tests with `.only` they are focused too (else they would not run); they are called with the test function the
file itself uses most (`it`, `test` or `specify`) and written with the callback style it uses
(arrow or `function`). Names are made from the words of the file's own test names and a random
tail, so a patch cannot know them. Ids are what the parsers report: path > suites > name.
"""

from __future__ import annotations

import random
import re
from collections import Counter

from swegen.languages.base import Canary
from swegen.languages.javascript.syntax import Block, find_blocks, parse_tree, test_id, walk_blocks

PER_KIND = 2
_FALLBACK_WORDS = ("value", "result", "case", "input", "output", "basic", "empty", "single", "order", "format")
_PLAIN_TESTS = ("it", "test", "specify")


def _base_name(block: Block) -> str:
    callee = block.node.child_by_field_name("function")
    while callee is not None and callee.type in ("member_expression", "call_expression"):
        callee = callee.child_by_field_name("object" if callee.type == "member_expression" else "function")
    return callee.text.decode() if callee is not None and callee.type == "identifier" else ""


def _vocabulary(blocks: list[Block]) -> list[str]:
    words = []
    for b in walk_blocks(blocks):
        if b.kind == "test":
            words += [w.lower() for w in re.findall(r"[A-Za-z]{3,12}", b.parts[-1])]
    return sorted(set(words))


def _fresh(words: list[str], taken: set[str], rng: random.Random) -> str:
    while True:
        name = " ".join(rng.sample(words, min(2, len(words)))) + f" {rng.choice(words)} {rng.randrange(16**6):06x}"
        if name not in taken:
            taken.add(name)
            return name


def _callee(block: Block) -> str:
    return block.node.child_by_field_name("function").text.decode("utf-8", "replace")


def _runs_normally(block: Block) -> bool:
    """Not skipped (`.skip`, `xdescribe`, `.skipIf`), not a todo, and one suite (not `.each`)."""
    callee = _callee(block)
    return not any(m in callee for m in (".skip", ".each", ".todo", ".runIf", ".for(")) and not _base_name(block).startswith("x")


def _focused(blocks: list[Block]) -> bool:
    """Does the file focus some of its tests (`.only`, `fit`, `fdescribe`)? Then only focused
    tests run, and the canaries must be focused too."""
    return any(".only" in _callee(b) or _base_name(b) in ("fit", "fdescribe") for b in walk_blocks(blocks))


def _target(blocks: list[Block]) -> Block | None:
    """The first top-level suite that runs normally, with a callback body."""
    for b in blocks:
        if b.kind == "suite" and b.body is not None and _runs_normally(b):
            return b
    return None


def plant(path: str, source: str, test_ids: list[str], rng: random.Random) -> tuple[str, list[Canary]]:
    """(the file with canaries added, the canaries); unchanged and [] when nothing of a test file
    is found in it (not parsable as JS/TS, or no test calls at all)."""
    data = source.encode("utf-8")
    root = parse_tree(path, data)
    blocks = find_blocks(root)
    tests = [b for b in walk_blocks(blocks) if b.kind == "test"]
    if not tests or root.has_error and not blocks:
        return source, []
    used = Counter(n for n in (_base_name(b) for b in tests) if n in _PLAIN_TESTS)
    fn = (used.most_common(1)[0][0] if used else "test") + (".only" if _focused(blocks) else "")
    arrow = sum(1 for b in tests if b"=>" in b.node.text[:200]) >= len(tests) / 2
    words = _vocabulary(blocks) or list(_FALLBACK_WORDS)
    taken = {b.parts[-1] for b in tests}
    kinds = [True] * PER_KIND + [False] * PER_KIND
    rng.shuffle(kinds)
    names = [_fresh(words, taken, rng) for _ in kinds]
    target = _target(blocks)
    newline = "\r\n" if "\r\n" in source else "\n"
    indent = "  "
    if target is not None:
        first = target.body.named_children[0] if target.body.named_child_count else None
        line_start = data.rfind(b"\n", 0, first.start_byte) + 1 if first is not None else None
        if first is not None:
            indent = data[line_start:first.start_byte].decode("utf-8", "replace")
            indent = indent if indent.strip() == "" else "  "
    style = _assertion_style(source)
    bodies = [_test(fn, name, must_pass, arrow, indent if target is not None else "", rng, style) for name, must_pass in zip(names, kinds)]
    text = newline.join(bodies).replace("\n", newline)
    if target is None:
        planted = source.rstrip("\r\n") + newline * 2 + text + newline
        prefix: tuple[str, ...] = ()
    else:
        close = target.body.end_byte - 1  # the block's closing brace
        before = data[:close]
        stripped = before.rstrip(b" \t")
        own_line = stripped.endswith(b"\n")
        closing_indent = before[len(stripped):].decode("utf-8") if own_line else ""
        planted = (stripped.decode("utf-8").rstrip("\r\n") + newline + text + newline + closing_indent
                   + data[close:].decode("utf-8"))
        prefix = target.parts
    return planted, [Canary(test_id(path, prefix + (name,)), must_pass) for name, must_pass in zip(names, kinds)]


_AVA = re.compile(r"""(?:from\s+|require\(\s*)["']ava["']""")
_TAPE = re.compile(r"""(?:from\s+|require\(\s*)["'](?:tape|tap)["']""")


def _assertion_style(source: str) -> str:
    """"ava" and "tape" tests get the runner's own `t`: ava fails a test that makes no assertion,
    and tape waits for `t.end()`; any other runner's tests pass unless they throw."""
    if _AVA.search(source):
        return "ava"
    if _TAPE.search(source):
        return "tape"
    return "throw"


def _test(fn: str, name: str, must_pass: bool, arrow: bool, indent: str, rng: random.Random, style: str = "throw") -> str:
    a, b = rng.randrange(2, 50), rng.randrange(2, 50)
    check = f"if ({a} + {b} !== {a + b}) throw new Error({_js_string(name)});" if must_pass else f"throw new Error({_js_string('canary ' + name)});"
    callback = "() =>" if arrow else "function ()"
    if style in ("ava", "tape"):
        check = f"t.is({a} + {b}, {a + b});" if must_pass else f"t.fail({_js_string('canary ' + name)});"
        if style == "tape":
            check = (f"t.equal({a} + {b}, {a + b});" if must_pass else f"t.fail({_js_string('canary ' + name)});") + " t.end();"
        callback = "(t) =>" if arrow else "function (t)"
    return f"{indent}{fn}({_js_string(name)}, {callback} {{{chr(10)}{indent}  {check}{chr(10)}{indent}}});"


def _js_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
