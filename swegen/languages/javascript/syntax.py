"""Tests, hooks, helpers and definitions of one JS/TS file, found with tree-sitter.

A test is a call of `it`/`test`/`specify` (and `fit`, `xit`, `xtest`, `.only`, `.skip`, `.todo`,
`.concurrent`, `.each` variants, node:test's `test()` and its `t.test()` subtests) with a name as
its first argument; a suite is a `describe`/`context`/`suite` call. A test's id is the file's path
and its suites' names and its own, joined with " > " (`src/a.test.js > parse > reads numbers`),
the string the report parsers give for the same test. `test.each` tables of literal rows are
expanded the way jest and vitest name them (`%s`, `%d`, `%i`, `%p`, `%j`, `%#`, `$field`).

Nothing here raises on bad code: tree-sitter turns syntax errors into ERROR nodes and whatever
calls can still be found are reported. Line numbers are 1-based and inclusive.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache

from tree_sitter import Language, Node, Parser

from swegen.languages.base import TestCase

SEP = " > "
SUITE_NAMES = frozenset({"describe", "context", "suite", "fdescribe", "xdescribe", "xcontext", "xsuite"})
TEST_NAMES = frozenset({"it", "test", "specify", "fit", "xit", "xtest", "xspecify"})
HOOK_NAMES = frozenset({
    "beforeEach", "afterEach", "beforeAll", "afterAll", "before", "after",
    "setup", "teardown", "suiteSetup", "suiteTeardown",
})
#: Member names that modify a test or suite call without changing its id.
MODIFIERS = frozenset({"only", "skip", "todo", "concurrent", "sequential", "failing", "fails", "each", "for", "serial", "runIf", "skipIf"})
_DECLARATION_TYPES = frozenset({
    "lexical_declaration", "variable_declaration", "function_declaration", "generator_function_declaration",
    "class_declaration", "abstract_class_declaration", "import_statement", "type_alias_declaration",
    "interface_declaration", "enum_declaration",
})
_FUNCTION_VALUES = frozenset({"arrow_function", "function_expression", "function", "generator_function"})
_IDENTIFIER_TYPES = frozenset({"identifier", "type_identifier", "shorthand_property_identifier", "shorthand_property_identifier_pattern"})


@lru_cache(maxsize=None)
def _language(kind: str) -> Language:
    if kind == "javascript":
        import tree_sitter_javascript

        return Language(tree_sitter_javascript.language())
    import tree_sitter_typescript

    return Language(tree_sitter_typescript.language_tsx() if kind == "tsx" else tree_sitter_typescript.language_typescript())


def grammar_for(path: str) -> str:
    """Which grammar parses this file: TypeScript's for .ts/.mts/.cts, TSX for .tsx, else JS (JSX included)."""
    if path.endswith(".tsx"):
        return "tsx"
    if path.endswith((".ts", ".mts", ".cts")):
        return "typescript"
    return "javascript"


def parse_tree(path: str, source: bytes) -> Node:
    """The syntax tree's root (a new Parser each time: parsers are not shared across threads)."""
    return Parser(_language(grammar_for(path))).parse(source).root_node


def _span(node: Node) -> tuple[int, int]:
    return node.start_point[0] + 1, node.end_point[0] + 1


def _text(node: Node) -> str:
    return node.text.decode("utf-8", "replace")


# ---------------------------------------------------------------------------------------------
# Test calls


@dataclass
class Block:
    """A suite, test or hook call found in a file."""

    kind: str  # "suite" | "test" | "hook"
    parts: tuple[str, ...]  # names of the enclosing suites and (for suites and tests) its own
    node: Node
    start_line: int
    end_line: int
    body: Node | None = None  # the callback's statement block (where a suite's own statements are)
    children: list[Block] = field(default_factory=list)
    #: The outermost loop that made this block from a table (its table is what the block uses).
    loop: Node | None = None


def _callee_chain(callee: Node) -> tuple[str | None, list[str], Node | None]:
    """(base name, member names, each-table node) of a call's callee: `it` -> ("it", [], None),
    `test.only` -> ("test", ["only"], None), `it.each(rows)` -> ("it", ["each"], rows)."""
    members: list[str] = []
    table: Node | None = None
    node = callee
    while True:
        if node.type == "identifier":
            return _text(node), list(reversed(members)), table
        if node.type == "member_expression":
            prop = node.child_by_field_name("property")
            members.append(_text(prop) if prop is not None else "")
            node = node.child_by_field_name("object")
        elif node.type == "call_expression":  # it.each(rows)(name, fn)
            args = node.child_by_field_name("arguments")
            if args is not None and args.type == "arguments" and args.named_child_count:
                table = args.named_children[0]
            elif args is not None and args.type == "template_string":
                table = args
            node = node.child_by_field_name("function")
        elif node.type == "non_null_expression" and node.named_child_count:
            node = node.named_children[0]
        else:
            return None, [], None
        if node is None:
            return None, [], None


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "'": "'", '"': '"', "`": "`", "0": "\0"}


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _ESCAPES.get(m.group(1), m.group(1)), text, flags=re.S)


def literal_name(node: Node, env: dict[str, object] | None = None) -> str:
    """The name a test is given: a string's value; a template literal with its `${...}` filled
    in when they are values known here (a loop's variable over a literal table, a constant),
    else kept as written (best effort); a known variable's value; anything else as written."""
    env = env or {}
    if node.type == "string":
        return _unescape(_text(node)[1:-1])
    if node.type == "template_string":
        out = []
        for child in node.children:
            if child.type == "template_substitution":
                known, value = _evaluate(child.named_children[0], env) if child.named_child_count else (False, None)
                out.append(_plain(value) if known else _text(child))
            elif child.type not in ("`",):
                out.append(_unescape(_text(child)))
        return "".join(out)
    if node.type in ("identifier", "subscript_expression") or (node.type == "member_expression" and _text(node.child_by_field_name("property") or node) != "name"):
        known, value = _evaluate(node, env)
        if known:
            return _plain(value)
    if node.type == "member_expression":  # describe(Parser.name): a class's or function's own name
        obj, prop = node.child_by_field_name("object"), node.child_by_field_name("property")
        if obj is not None and prop is not None and obj.type == "identifier" and _text(prop) == "name":
            return _text(obj)
    if node.type == "binary_expression" and _text(node.child_by_field_name("operator") or node) == "+":
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is not None and right is not None:
            return literal_name(left, env) + literal_name(right, env)
    return _text(node)


class _Unknown:
    """A value not known here (`new Date()`), in an object literal whose keys are still known."""

    def __repr__(self) -> str:
        return "<unknown>"


UNKNOWN = _Unknown()


def _evaluate(node: Node, env: dict[str, object]) -> tuple[bool, object]:
    """(known, value) of a literal, a known variable, or a known value's member or index."""
    known, value = _evaluate_any(node, env)
    return (False, None) if value is UNKNOWN else (known, value)


def _evaluate_any(node: Node, env: dict[str, object]) -> tuple[bool, object]:
    if node.type == "identifier":
        return (True, env[_text(node)]) if _text(node) in env else (False, None)
    if node.type in ("member_expression", "subscript_expression"):
        obj = node.child_by_field_name("object")
        key_node = node.child_by_field_name("property") if node.type == "member_expression" else node.child_by_field_name("index")
        if obj is None or key_node is None:
            return False, None
        known, value = _evaluate_any(obj, env)
        if not known:
            return False, None
        key_known, key = (True, _text(key_node)) if node.type == "member_expression" else _evaluate(key_node, env)
        if key_known and isinstance(value, dict) and key in value:
            return True, value[key]
        if key_known and isinstance(value, list) and isinstance(key, int) and 0 <= key < len(value):
            return True, value[key]
        if key_known and key == "length" and isinstance(value, (list, str)):
            return True, len(value)
        return False, None
    return _literal_value(node)


def _iterable(node: Node, env: dict[str, object]) -> list[object] | None:
    """The items a loop goes over, when known: a literal array or a known one, or
    Object.keys/values/entries of a known object."""
    if node.type == "call_expression":
        callee, args = node.child_by_field_name("function"), node.child_by_field_name("arguments")
        name = _text(callee) if callee is not None else ""
        if name in ("Object.keys", "Object.values", "Object.entries") and args is not None and args.named_child_count == 1:
            known, value = _evaluate_any(args.named_children[0], env)
            if known and isinstance(value, dict):
                return list(value) if name == "Object.keys" else list(value.values()) if name == "Object.values" else [[k, v] for k, v in value.items()]
        return None
    known, value = _evaluate(node, env)
    return value if known and isinstance(value, list) else None


def _bind(pattern: Node | None, value: object, env: dict[str, object]) -> dict[str, object]:
    """`env` plus what a loop variable's pattern binds from one item (`x`, `[a, b]`, `{ a }`)."""
    out = dict(env)
    if pattern is None:
        return out
    if pattern.type == "identifier":
        out[_text(pattern)] = value
    elif pattern.type == "array_pattern" and isinstance(value, list):
        for target, item in zip(pattern.named_children, value):
            out = _bind(target, item, out)
    elif pattern.type == "object_pattern" and isinstance(value, dict):
        for target in pattern.named_children:
            if target.type == "shorthand_property_identifier_pattern" and _text(target) in value:
                out[_text(target)] = value[_text(target)]
            elif target.type == "pair_pattern":
                key, inner = target.child_by_field_name("key"), target.child_by_field_name("value")
                if key is not None and _text(key) in value:
                    out = _bind(inner, value[_text(key)], out)
    return out


def _constants(container: Node, env: dict[str, object]) -> dict[str, object]:
    """`env` plus the literal constants a block declares (`const cases = [...]`): the tables
    loops make tests from."""
    out = dict(env)
    for stmt in container.named_children:
        decl = stmt.child_by_field_name("declaration") if stmt.type == "export_statement" else stmt
        if decl is None or decl.type not in ("lexical_declaration", "variable_declaration"):
            continue
        for declarator in decl.named_children:
            name, value = declarator.child_by_field_name("name"), declarator.child_by_field_name("value")
            if declarator.type == "variable_declarator" and name is not None and value is not None and name.type == "identifier":
                known, literal = _literal_value(value)
                if known:
                    out[_text(name)] = literal
                elif value.type == "object":
                    out[_text(name)] = _object_shape(value)
    return out


def _object_shape(node: Node) -> dict[str, object]:
    """An object literal's keys, with the values that are literals (the rest UNKNOWN)."""
    shape: dict[str, object] = {}
    for pair in node.named_children:
        if pair.type == "pair":
            key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            if key is None:
                continue
            known, literal = _literal_value(value) if value is not None else (False, None)
            shape[literal_name(key) if key.type == "string" else _text(key)] = literal if known else UNKNOWN
        elif pair.type == "shorthand_property_identifier":
            shape[_text(pair)] = UNKNOWN
    return shape


def _loop(stmt: Node, env: dict[str, object]) -> tuple[Node, Node | None, list[object]] | None:
    """(body, loop variable pattern, items) of a loop over known items that may make tests:
    `for (const x of items) {...}` or `items.forEach((x) => {...})`."""
    if stmt.type == "for_in_statement" and _text(stmt.child_by_field_name("operator") or stmt) == "of":
        right, body = stmt.child_by_field_name("right"), stmt.child_by_field_name("body")
        items = _iterable(right, env) if right is not None else None
        if items is not None and body is not None:
            return body, stmt.child_by_field_name("left"), items
        return None
    call = stmt.named_children[0] if stmt.type == "expression_statement" and stmt.named_child_count else None
    if call is None or call.type != "call_expression":
        return None
    callee, args = call.child_by_field_name("function"), call.child_by_field_name("arguments")
    if callee is None or callee.type != "member_expression" or args is None or args.type != "arguments":
        return None
    if _text(callee.child_by_field_name("property") or callee) not in ("forEach", "map"):
        return None
    items = _iterable(callee.child_by_field_name("object"), env)
    fn = args.named_children[0] if args.named_child_count else None
    if items is None or fn is None or fn.type not in _FUNCTION_VALUES:
        return None
    body = fn.child_by_field_name("body")
    params = fn.child_by_field_name("parameters") or fn.child_by_field_name("parameter")
    first = params if params is not None and params.type == "identifier" else (params.named_children[0] if params is not None and params.named_child_count else None)
    if body is None:
        return None
    return body, first, items


def _callback_body(args: Node) -> Node | None:
    """The statement block of the last function argument (a suite's or test's callback)."""
    for arg in reversed(args.named_children):
        if arg.type in _FUNCTION_VALUES:
            body = arg.child_by_field_name("body")
            return body if body is not None and body.type == "statement_block" else None
    return None


def _context_param(args: Node) -> str | None:
    """The first parameter's name of a test's callback (node:test's `t`, on which subtests are called)."""
    for arg in reversed(args.named_children):
        if arg.type in _FUNCTION_VALUES:
            params = arg.child_by_field_name("parameters") or arg.child_by_field_name("parameter")
            if params is None:
                return None
            if params.type == "identifier":
                return _text(params)
            first = params.named_children[0] if params.named_child_count else None
            if first is not None and first.type in ("required_parameter", "optional_parameter"):
                first = first.child_by_field_name("pattern")
            return _text(first) if first is not None and first.type == "identifier" else None
    return None


def _classify(call: Node, in_test: str | None) -> tuple[str, list[str], Node | None] | None:
    """("suite"|"test"|"hook", members, table) for a test-framework call, else None."""
    callee = call.child_by_field_name("function")
    if callee is None:
        return None
    base, members, table = _callee_chain(callee)
    if base is None:
        return None
    if base in HOOK_NAMES and not members:
        return "hook", members, None
    if any(m not in MODIFIERS for m in members):
        # node:test subtests: `t.test(name, fn)` / `t.describe` on the test's context argument.
        if in_test and base == in_test and len(members) == 1 and members[0] in ("test", "it", "describe", "suite"):
            return ("suite" if members[0] in ("describe", "suite") else "test"), [], None
        return None
    if base in SUITE_NAMES:
        return "suite", members, table
    if base in TEST_NAMES:
        return "test", members, table
    return None


def _calls_in(node: Node) -> Iterator[Node]:
    """Call expressions in the statements of a block (not inside other calls' callbacks: those are
    reached through their own block), looking through `await`, `return`, `void` and exports."""
    for stmt in node.named_children:
        yield from _calls_of(stmt)


def _calls_of(node: Node) -> Iterator[Node]:
    if node.type == "call_expression":
        yield node
    elif node.type in ("expression_statement", "await_expression", "return_statement", "unary_expression",
                       "parenthesized_expression", "sequence_expression", "export_statement"):
        for child in node.named_children:
            yield from _calls_of(child)
    elif node.type in ("if_statement", "for_statement", "for_in_statement", "while_statement", "statement_block",
                       "else_clause", "try_statement", "catch_clause", "finally_clause"):
        for child in node.named_children:
            if child.type in ("statement_block", "expression_statement", "else_clause", "if_statement", "for_statement",
                              "for_in_statement", "catch_clause", "finally_clause"):
                yield from _calls_of(child)
    elif node.type == "ERROR":
        for child in node.named_children:
            yield from _calls_of(child)


_VITEST_IMPORT = re.compile(rb"""(?:from|import|require\()\s*['"]vitest['"]""")


def dialect_of(source: bytes) -> str:
    """"vitest" for a file that imports vitest (its each-names differ from jest's), else "jest"."""
    return "vitest" if _VITEST_IMPORT.search(source) else "jest"


def find_blocks(root: Node) -> list[Block]:
    """Top-level suites, tests and hooks of a file, each with its children."""
    return _blocks_in(root, (), in_test=None, dialect=dialect_of(root.text or b""))


def _blocks_in(container: Node, prefix: tuple[str, ...], in_test: str | None, dialect: str = "jest",
               env: dict[str, object] | None = None, in_loop: Node | None = None) -> list[Block]:
    env = _constants(container, env or {})
    found = []
    for stmt in container.named_children:
        loop = _loop(stmt, env)
        if loop is not None:  # tests made in a loop over a known table: one block per item
            body, pattern, items = loop
            outer = in_loop or stmt
            for item in items:
                inner = _bind(pattern, item, env)
                found += (_blocks_in(body, prefix, in_test, dialect, inner, outer) if body.type == "statement_block"
                          else _blocks_of(body, prefix, in_test, dialect, inner, outer))
            continue
        found += _blocks_of(stmt, prefix, in_test, dialect, env, in_loop)
    return found


def _blocks_of(stmt: Node, prefix: tuple[str, ...], in_test: str | None, dialect: str, env: dict[str, object],
               in_loop: Node | None = None) -> list[Block]:
    found = []
    for call in _calls_of(stmt):
        kind_members = _classify(call, in_test)
        if kind_members is None:
            continue
        kind, members, table = kind_members
        args = call.child_by_field_name("arguments")
        if args is None or args.type != "arguments":
            continue
        start, end = _span(call)
        body = _callback_body(args)
        if kind == "hook":
            found.append(Block("hook", prefix, call, start, end, body, loop=in_loop))
            continue
        if not args.named_children:
            continue
        first = literal_name(args.named_children[0], env)
        names = expand_each(first, table, dialect) if "each" in members and table is not None else [first]
        for name in names:
            block = Block(kind, prefix + (name,), call, start, end, body, loop=in_loop)
            if body is not None:
                context = _context_param(args) if kind == "test" else in_test
                block.children = _blocks_in(body, block.parts, in_test=context, dialect=dialect, env=env, in_loop=in_loop)
            found.append(block)
    return found


def walk_blocks(blocks: list[Block]) -> Iterator[Block]:
    for block in blocks:
        yield block
        yield from walk_blocks(block.children)


def test_id(path: str, parts: tuple[str, ...]) -> str:
    return SEP.join((path,) + parts)


def tests_in(path: str, source: bytes) -> list[TestCase]:
    """Every test in the file, in source order. A test with subtests (node:test) is a test too."""
    blocks = find_blocks(parse_tree(path, source))
    return [TestCase(test_id(path, b.parts), b.start_line, b.end_line) for b in walk_blocks(blocks) if b.kind == "test"]


# ---------------------------------------------------------------------------------------------
# test.each tables

_PLACEHOLDER = re.compile(r"%[sdifjoOp#%]")


def _literal_value(node: Node) -> tuple[bool, object]:
    """(is a plain literal, its value) for rows of an each table."""
    t = node.type
    if t == "number":
        try:
            text = _text(node).replace("_", "")
            value = float(text) if any(c in text for c in ".eE") and not text.startswith("0x") else int(text, 0)
            return True, value
        except ValueError:
            return False, None
    if t == "string" or (t == "template_string" and not any(c.type == "template_substitution" for c in node.named_children)):
        return True, literal_name(node)
    if t in ("true", "false"):
        return True, t == "true"
    if t == "null":
        return True, None
    if t == "unary_expression" and _text(node).startswith("-"):
        ok, value = _literal_value(node.named_children[0])
        return (ok and isinstance(value, (int, float))), (-value if ok and isinstance(value, (int, float)) else None)
    if t == "array":
        values = [_literal_value(c) for c in node.named_children if c.type != "comment"]
        return all(ok for ok, _ in values), [v for _, v in values]
    if t == "object":
        out = {}
        for pair in node.named_children:
            if pair.type != "pair":
                return False, None
            key, value = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            ok, v = _literal_value(value) if value is not None else (False, None)
            if key is None or not ok:
                return False, None
            out[literal_name(key) if key.type == "string" else _text(key)] = v
        return True, out
    return False, None


def _pretty(value: object) -> str:
    """pretty-format's rendering of a literal (jest's `%p` and `$field`): strings in double quotes."""
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(_pretty(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)}: {_pretty(v)}" for k, v in value.items()) + "}"
    return _plain(value)


def _inspect(value: object) -> str:
    """node's util.inspect of a literal (vitest's `%o` and `$field`, jest's `%o`): single quotes,
    spaces inside brackets."""
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, list):
        return "[ " + ", ".join(_inspect(v) for v in value) + " ]" if value else "[]"
    if isinstance(value, dict):
        keys = [k if re.fullmatch(r"[A-Za-z_$][\w$]*", k) else _inspect(k) for k in value]
        return "{ " + ", ".join(f"{k}: {_inspect(v)}" for k, v in zip(keys, value.values())) + " }" if value else "{}"
    return _plain(value)


def _plain(value: object) -> str:
    """String(value) in JavaScript."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if v is None else _plain(v) for v in value)
    if isinstance(value, dict):
        return "[object Object]"
    return str(value)


def _number(value: object, integer: bool) -> str:
    if isinstance(value, bool):
        return ("1" if value else "0") if not integer else "NaN"
    if isinstance(value, (int, float)):
        return str(int(value)) if integer or float(value).is_integer() else repr(value)
    if value is None:
        return "0" if not integer else "NaN"
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return "NaN"
        return _number(number, integer)
    return "NaN"


def _format(name: str, args: list[object], index: int, dialect: str) -> str:
    """One row's name: jest-each's printf (util.format's %s/%d/%i/%j/%o plus pretty-format's %p)
    or vitest's (no %p); `%#` is the row's index and takes no argument."""
    queue = list(args)
    specs = "sdifjoOp" if dialect == "jest" else "sdifjoO"

    def one(m: re.Match[str]) -> str:
        spec = m.group(0)
        if spec == "%%":
            return "%"
        if spec == "%#":
            return str(index)
        if spec[1] not in specs or not queue:
            return spec
        value = queue.pop(0)
        if spec == "%p":
            return _pretty(value)
        if spec == "%j":
            return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        if spec in ("%o", "%O"):
            return _inspect(value)
        if spec in ("%d", "%i", "%f"):
            return _number(value, integer=spec == "%i")
        return _inspect(value) if isinstance(value, (list, dict)) and dialect == "jest" else _plain(value)

    return _PLACEHOLDER.sub(one, name)


def _interpolate(name: str, row: dict, index: int, dialect: str) -> str:
    """`$field` names of object rows: jest prints strings bare and the rest with pretty-format,
    vitest prints everything with inspect; only jest knows `$#`."""
    def one(m: re.Match[str]) -> str:
        path = m.group(1)
        if path == "#":
            return str(index) if dialect == "jest" else m.group(0)
        value: object = row
        for key in path.split("."):
            if not isinstance(value, dict) or key not in value:
                return m.group(0)
            value = value[key]
        if dialect == "vitest":
            return _inspect(value)
        return value if isinstance(value, str) else _pretty(value)

    return re.sub(r"\$(#|[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*)", one, name)


def _expand_tagged(name: str, table: Node, dialect: str) -> list[str]:
    """Rows of a tagged-template table (a header line of `|`-separated names, then one `${value}`
    per cell), named with `$field`s; the name as written when a cell is not a literal."""
    text = _text(table)[1:-1]
    header = next((line for line in text.split("${", 1)[0].splitlines() if line.strip()), "")
    fields = [f.strip() for f in header.split("|") if f.strip()]
    cells = [c for c in table.named_children if c.type == "template_substitution"]
    values = [_literal_value(c.named_children[0]) if c.named_child_count else (False, None) for c in cells]
    if not fields or not cells or len(cells) % len(fields) or not all(ok for ok, _ in values):
        return [name]
    rows = [dict(zip(fields, [v for _, v in values[i:i + len(fields)]])) for i in range(0, len(values), len(fields))]
    return [_interpolate(name, row, index, dialect) for index, row in enumerate(rows)]


def expand_each(name: str, table: Node, dialect: str = "jest") -> list[str]:
    """The names jest/vitest give the rows of `.each(table)`; the name as written when the table
    is not a literal array (a variable, a tagged template): best effort, one entry."""
    if table.type == "template_string":
        return _expand_tagged(name, table, dialect)
    if table.type != "array":
        return [name]
    rows = [c for c in table.named_children if c.type != "comment"]
    values = [_literal_value(r) for r in rows]
    if not rows or not all(ok for ok, _ in values):
        return [name]
    names = []
    for index, (_, row) in enumerate(values):
        if isinstance(row, dict) and "%" not in name.replace("%#", ""):
            names.append(_interpolate(name, row, index, dialect))
        else:
            names.append(_format(name, row if isinstance(row, list) else [row], index, dialect))
    return names


# ---------------------------------------------------------------------------------------------
# Changed lines


@dataclass(frozen=True)
class Changes:
    """Lines a change touched: removed ones in the old file's numbering, added in the new one's."""

    old_lines: frozenset[int]
    new_lines: frozenset[int]


#: Lines that say nothing on their own: blank, or only closing brackets and punctuation. A diff
#: may put an inserted test's closing `});` on its neighbour's (the lines are equal), so such
#: lines never count as a change; a test inserted or removed has other lines that do.
_MUTE_LINE = re.compile(rb"^[\s)\]};,]*$")


def changed_lines(old: bytes | None, new: bytes | None) -> Changes:
    a = (old or b"").splitlines()
    b = (new or b"").splitlines()
    old_lines: set[int] = set()
    new_lines: set[int] = set()
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        old_lines.update(i for i in range(i1 + 1, i2 + 1) if not _MUTE_LINE.match(a[i - 1]))
        new_lines.update(j for j in range(j1 + 1, j2 + 1) if not _MUTE_LINE.match(b[j - 1]))
    return Changes(frozenset(old_lines), frozenset(new_lines))


# ---------------------------------------------------------------------------------------------
# Touched tests


@dataclass
class _Scope:
    """The statements of the file or of one suite's callback, with the tests under it."""

    parts: tuple[str, ...]
    container: Node
    suite: Block | None


def _scopes(root: Node, blocks: list[Block]) -> list[_Scope]:
    scopes = [_Scope((), root, None)]
    for block in walk_blocks(blocks):
        if block.kind == "suite" and block.body is not None:
            scopes.append(_Scope(block.parts, block.body, block))
    return scopes


def declared_names(stmt: Node) -> set[str]:
    """Names a scope-level statement binds: variables (destructuring too), functions, classes,
    imports, types."""
    if stmt.type == "export_statement":
        decl = stmt.child_by_field_name("declaration")
        return declared_names(decl) if decl is not None else set()
    if stmt.type in ("lexical_declaration", "variable_declaration"):
        names = set()
        for declarator in stmt.named_children:
            if declarator.type == "variable_declarator":
                target = declarator.child_by_field_name("name")
                if target is not None:
                    names |= _identifiers(target)
        return names
    if stmt.type == "import_statement":
        names = set()
        for child in stmt.named_children:
            if child.type == "import_clause":
                names |= {n for n in _identifiers(child)}
        return names
    if stmt.type in _DECLARATION_TYPES:
        name = stmt.child_by_field_name("name")
        return {_text(name)} if name is not None else set()
    return set()


def _identifiers(node: Node) -> set[str]:
    out = set()
    stack = [node]
    while stack:
        n = stack.pop()
        if n.type in _IDENTIFIER_TYPES:
            out.add(_text(n))
        elif n.type == "pair_pattern":
            value = n.child_by_field_name("value")
            if value is not None:
                stack.append(value)
        else:
            stack.extend(n.named_children)
    return out


def _uses(node: Node, names: set[str]) -> bool:
    return bool(names) and not _identifiers(node).isdisjoint(names)


def _under(parts: tuple[str, ...], scope: tuple[str, ...]) -> bool:
    return parts[: len(scope)] == scope


def _own_statements(scope: _Scope, blocks_by_node: dict[int, Block]) -> Iterator[tuple[Node, Block | None]]:
    """(statement, the block it is, if a suite/test/hook call) for each statement of a scope."""
    for stmt in scope.container.named_children:
        block = None
        for call in _calls_of(stmt):
            block = blocks_by_node.get(call.id)
            if block is not None:
                break
        yield stmt, block


def _affected(path: str, source: bytes, lines: frozenset[int]) -> set[str]:
    """Ids of the tests one version's changed lines touch, directly or through its helpers."""
    if not lines:
        return set()
    root = parse_tree(path, source)
    blocks = find_blocks(root)
    every = list(walk_blocks(blocks))
    tests = [b for b in every if b.kind == "test"]
    by_node: dict[int, Block] = {}
    for b in every:
        by_node.setdefault(b.node.id, b)
    hit: set[str] = set()

    def touches(start: int, end: int) -> bool:
        return any(start <= line <= end for line in lines)

    for t in tests:
        if touches(t.start_line, t.end_line):
            hit.add(test_id(path, t.parts))
    # Changes outside tests: hooks, helpers and tables of a scope, and suite headers.
    changed_names: list[tuple[tuple[str, ...], set[str]]] = []
    helpers: list[tuple[tuple[str, ...], Node, set[str]]] = []  # (scope, statement, names it binds)
    whole_scopes: set[tuple[str, ...]] = set()
    loops = {b.loop.id for b in every if b.loop is not None}  # their tests answer for them (below)
    for scope in _scopes(root, blocks):
        for stmt, block in _own_statements(scope, by_node):
            if stmt.id in loops:
                continue
            start, end = _span(stmt)
            if block is not None:
                if block.kind == "hook":
                    if touches(start, end):
                        whole_scopes.add(scope.parts)
                    else:
                        helpers.append((scope.parts, stmt, set()))
                elif block.kind == "suite" and touches(start, block.body.start_point[0] + 1 if block.body is not None else end):
                    whole_scopes.add(block.parts)  # its name or arguments (a renamed or re-tabled suite)
                continue
            if stmt.type == "comment":
                continue
            names = declared_names(stmt)
            helpers.append((scope.parts, stmt, names))
            if touches(start, end):
                if names:
                    changed_names.append((scope.parts, set(names)))
                else:
                    whole_scopes.add(scope.parts)  # a side effect of the scope (jest.mock(...), setup code)
    # Spread through helpers that use changed names (a helper of a helper), to a fixed point.
    spread = True
    while spread:
        spread = False
        for scope, stmt, names in helpers:
            for changed_scope, changed in changed_names:
                if not _under(scope, changed_scope) or not _uses(stmt, changed):
                    continue
                if names and not any(names <= c for s, c in changed_names if s == scope):
                    changed_names.append((scope, set(names)))
                    spread = True
                elif not names and scope not in whole_scopes:
                    whole_scopes.add(scope)  # a hook that uses a changed helper
                    spread = True
                break
    for t in tests:
        tid = test_id(path, t.parts)
        if tid in hit:
            continue
        if any(_under(t.parts, s) for s in whole_scopes):
            hit.add(tid)
        elif any(_under(t.parts, s) and (_uses(t.node, c) or (t.loop is not None and _uses(t.loop, c))) for s, c in changed_names):
            hit.add(tid)
        elif t.loop is not None and touches(*_span(t.loop)):
            hit.add(tid)  # the loop that makes it changed (its header, its table)
    return hit


def touched_tests(path: str, old: bytes | None, new: bytes | None) -> list[str]:
    """Ids (in the new file's order) of the tests the change touched and that still exist after it;
    a deleted file has none."""
    if new is None:
        return []
    changes = changed_lines(old, new)
    current = [t.test_id for t in tests_in(path, new)]
    hit = _affected(path, new, changes.new_lines)
    if old is not None:
        hit |= _affected(path, old, changes.old_lines)
    seen: set[str] = set()
    return [tid for tid in current if tid in hit and not (tid in seen or seen.add(tid))]


# ---------------------------------------------------------------------------------------------
# Definitions


@dataclass(frozen=True)
class Definition:
    qualname: str
    kind: str  # "function" | "method" | "class"
    start_line: int
    end_line: int


def _definition(node: Node) -> tuple[str, str, Node | None] | None:
    """(name, kind, node whose children may hold nested definitions) when `node` defines one."""
    t = node.type
    if t in ("function_declaration", "generator_function_declaration"):
        name = node.child_by_field_name("name")
        return (_text(name), "function", node.child_by_field_name("body")) if name is not None else None
    if t in ("class_declaration", "abstract_class_declaration", "class"):
        name = node.child_by_field_name("name")
        return (_text(name), "class", node.child_by_field_name("body")) if name is not None else None
    if t == "method_definition":
        name = node.child_by_field_name("name")
        return (_text(name), "method", node.child_by_field_name("body")) if name is not None else None
    if t in ("public_field_definition", "field_definition"):
        value = node.child_by_field_name("value")
        name = node.child_by_field_name("name") or node.child_by_field_name("property")
        if value is not None and name is not None and value.type in _FUNCTION_VALUES:
            return _text(name), "method", value.child_by_field_name("body")
        return None
    if t == "variable_declarator":
        name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
        if name is None or value is None or name.type != "identifier":
            return None
        if value.type in _FUNCTION_VALUES:
            return _text(name), "function", value.child_by_field_name("body")
        if value.type == "class":
            return _text(name), "class", value.child_by_field_name("body")
        if value.type == "object":
            return _text(name), "object", value
        return None
    if t == "assignment_expression":  # exports.foo = function () {}, Foo.prototype.bar = () => {}
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None or right.type not in _FUNCTION_VALUES:
            return None
        if left.type == "member_expression":
            prop = left.child_by_field_name("property")
            return (_text(prop), "function", right.child_by_field_name("body")) if prop is not None else None
        if left.type == "identifier":
            return _text(left), "function", right.child_by_field_name("body")
        return None
    if t == "pair":  # methods of an object literal bound to a name: { parse: (s) => ... }
        key, value = node.child_by_field_name("key"), node.child_by_field_name("value")
        if key is not None and value is not None and value.type in _FUNCTION_VALUES:
            return literal_name(key) if key.type == "string" else _text(key), "method", value.child_by_field_name("body")
        return None
    return None


def definitions(path: str, source: bytes) -> list[Definition]:
    """Every named function, method and class, outermost first, with qualified names."""
    out: list[Definition] = []

    def visit(node: Node, prefix: tuple[str, ...]) -> None:
        for child in node.named_children:
            found = _definition(child)
            if found is None:
                visit(child, prefix)
                continue
            name, kind, inner = found
            parts = prefix + (name,)
            start, end = _span(child.parent if child.type == "variable_declarator" and child.parent is not None and child.parent.named_child_count == 1 else child)
            if kind != "object":
                out.append(Definition(".".join(parts), kind, start, end))
            if inner is not None:
                visit(inner, parts)
            # Default values, decorators and the like can hold anonymous callbacks, not definitions.

    visit(parse_tree(path, source), ())
    return out


def changed_definitions(path: str, old: bytes | None, new: bytes | None) -> list[str]:
    """Qualified names of definitions whose lines the change touched (added, changed or removed),
    innermost ones and their enclosing ones alike, new file's order first."""
    changes = changed_lines(old, new)
    names: list[str] = []
    for source, lines in ((new, changes.new_lines), (old, changes.old_lines)):
        if source is None or not lines:
            continue
        for d in definitions(path, source):
            if any(d.start_line <= line <= d.end_line for line in lines) and d.qualname not in names:
                names.append(d.qualname)
    return names


def added_definitions(path: str, old: bytes | None, new: bytes | None) -> list[str]:
    """Qualified names defined in the new version and not in the old one (new API: a change that
    adds what its tests then call is a feature, not a fix)."""
    if new is None:
        return []
    before = {d.qualname for d in definitions(path, old)} if old is not None else set()
    return list(dict.fromkeys(d.qualname for d in definitions(path, new) if d.qualname not in before))


def referenced_names(path: str, source: bytes, lines: set[int] | None = None) -> set[str]:
    """Identifiers and property names the file (or only these lines of it) uses."""
    out: set[str] = set()
    stack = [parse_tree(path, source)]
    while stack:
        node = stack.pop()
        start, end = _span(node)
        if lines is not None and not any(start <= line <= end for line in lines):
            continue
        if node.type in _IDENTIFIER_TYPES or node.type == "property_identifier":
            out.add(_text(node))
        stack.extend(node.named_children)
    return out
