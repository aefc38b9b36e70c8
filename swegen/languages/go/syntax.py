"""Go tests, subtests and definitions found by tree-sitter, with the ids `go test -json` gives.

A test id is `<import path>::<Test name>[/<subtest>...]`: the import path is the module path
from go.mod joined with the package's folder under the module root (the `Package` field of
test2json's events), and the name is test2json's `Test` field. Subtest names follow the testing
package's own rewriting (testing/match.go): every space becomes `_`, unprintable runes are quoted,
an empty name is `#00` and a repeated one gets `#01`, `#02`... Names are known for string literals
and for table-driven tests whose table is a composite literal (in the test or at package level)
ranged over by the loop that calls `t.Run(tc.name, ...)` or `t.Run(name, ...)` over a map.
"""

from __future__ import annotations

import difflib
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterator

from tree_sitter import Language as TSLanguage
from tree_sitter import Node, Parser, Query, QueryCursor

from swegen.languages.base import TestCase


@lru_cache(maxsize=1)
def _language() -> TSLanguage:
    import tree_sitter_go

    return TSLanguage(tree_sitter_go.language())


@lru_cache(maxsize=1)
def _parser() -> Parser:
    return Parser(_language())


@lru_cache(maxsize=1)
def _names_query() -> Query:
    return Query(_language(), "[(identifier) (type_identifier) (field_identifier)] @name")


@lru_cache(maxsize=32)
def parse_tree(source: bytes) -> Node:
    """The syntax tree of one file (cached: a change's two sides are asked about several times)."""
    return _parser().parse(source).root_node


def _text(node: Node | None) -> str:
    return node.text.decode("utf-8", "replace") if node is not None and node.text is not None else ""


def _lines(node: Node) -> tuple[int, int]:
    return node.start_point[0] + 1, node.end_point[0] + 1


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.children))


# --- which functions `go test` runs -------------------------------------------------------------

#: Prefix -> the testing type its one parameter must point to. Benchmarks run only with -bench.
_KINDS = {"Test": "T", "Fuzz": "F"}


def _is_named(name: str, prefix: str) -> bool:
    """go test's rule (cmd/go/internal/load/test.go isTest): the prefix, then nothing or a rune
    that is not lower case (`Testify` is no test, `Test_x` and `Test` are)."""
    if not name.startswith(prefix):
        return False
    rest = name[len(prefix):]
    return not rest or not rest[0].islower()


def _param_of(fn: Node, type_name: str) -> str | None:
    """The name of the function's single `*testing.<type_name>` parameter, or None."""
    params = fn.child_by_field_name("parameters")
    if params is None or fn.child_by_field_name("result") is not None:
        return None
    decls = [c for c in params.named_children if c.type == "parameter_declaration"]
    if len(decls) != 1:
        return None
    kind = decls[0].child_by_field_name("type")
    if kind is None or kind.type != "pointer_type":
        return None
    target = kind.named_children[0] if kind.named_children else None
    if target is None or target.type != "qualified_type" or _text(target.child_by_field_name("name")) != type_name:
        return None
    names = [c for c in decls[0].children_by_field_name("name")]
    return _text(names[0]) if len(names) == 1 else "_"


def _has_output_comment(fn: Node) -> bool:
    """An Example runs only when its body has an `// Output:` (or `// Unordered output:`) comment."""
    for node in _walk(fn):
        if node.type == "comment":
            text = _text(node).lstrip("/ \t").lower()
            if text.startswith("output:") or text.startswith("unordered output:"):
                return True
    return False


@dataclass(frozen=True)
class _Test:
    name: str
    node: Node
    param: str | None  # the *testing.T/F parameter; None for an Example


def top_level_tests(root: Node) -> list[_Test]:
    """Test, Fuzz and (run) Example functions, in source order."""
    found = []
    for fn in root.named_children:
        if fn.type != "function_declaration" or fn.child_by_field_name("type_parameters") is not None:
            continue
        name = _text(fn.child_by_field_name("name"))
        if name == "TestMain":
            continue
        for prefix, type_name in _KINDS.items():
            if _is_named(name, prefix):
                param = _param_of(fn, type_name)
                if param is not None:
                    found.append(_Test(name, fn, param))
        if _is_named(name, "Example") and _no_params(fn) and _has_output_comment(fn):
            found.append(_Test(name, fn, None))
    return found


def _no_params(fn: Node) -> bool:
    params = fn.child_by_field_name("parameters")
    return params is not None and not params.named_children and fn.child_by_field_name("result") is None


# --- subtest names --------------------------------------------------------------------------------


_GO_SPACES = frozenset("\t\n\v\f\r \x85\xa0\u1680\u2028\u2029\u202f\u205f\u3000")
_GO_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}


def _go_space(ch: str) -> bool:
    """testing's isSpace (not Unicode's White_Space, nor Python's str.isspace)."""
    return ch in _GO_SPACES or 0x2000 <= ord(ch) <= 0x200A


def _go_quoted(ch: str) -> str:
    """strconv.QuoteRune of an unprintable rune, without its quotes."""
    if ch in _GO_ESCAPES:
        return _GO_ESCAPES[ch]
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x80 else (f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")


def rewrite(name: str) -> str:
    """testing's rewrite: its spaces to `_`, unprintable runes as strconv quotes them."""
    return "".join("_" if _go_space(ch) else (ch if ch.isprintable() else _go_quoted(ch)) for ch in name)


class _Unique:
    """testing's matcher.unique (Go 1.19.8, testing/match.go): a repeated name gets `#01`, `#02`...,
    an empty one `#00`, and a name written like a repeat ("a#01") never takes a number a repeat has
    used or will use."""

    def __init__(self) -> None:
        self.seen: dict[str, int] = {}

    def name(self, parent: str, sub: str) -> str:
        base = f"{parent}/{sub}"
        while True:
            n = self.seen.get(base, 0)
            self.seen[base] = n + 1
            if n == 0 and sub != "":
                prefix, nn = _subtest_number(base)
                if len(prefix) < len(base) and nn < self.seen.get(prefix, 0):
                    continue
                return base
            name = f"{base}#{n:02d}"
            if self.seen.get(name, 0) != 0:
                continue
            return name


def _subtest_number(name: str) -> tuple[str, int]:
    """testing's parseSubtestNumber: (prefix, NN) of a name ending in a "#%02d" suffix."""
    i = name.rfind("#")
    if i < 0:
        return name, 0
    prefix, suffix = name[:i], name[i + 1:]
    if len(suffix) < 2 or (len(suffix) > 2 and suffix[0] == "0") or not suffix.isdigit() or not suffix.isascii():
        return name, 0
    if suffix == "00" and not prefix.endswith("/"):
        return name, 0
    number = int(suffix)
    return (prefix, number) if number < 2**31 else (name, 0)


_SIMPLE_ESCAPES = {"a": 7, "b": 8, "f": 12, "n": 10, "r": 13, "t": 9, "v": 11, "\\": 92, "'": 39, '"': 34}


def _unescape(body: str) -> str:
    """A Go interpreted string's value: \\x and octal escapes are bytes, \\u and \\U runes; invalid
    UTF-8 reads as U+FFFD, as Go's range over a string does."""
    out = bytearray()
    i = 0
    while i < len(body):
        ch = body[i]
        if ch != "\\" or i + 1 >= len(body):
            out += ch.encode("utf-8", "surrogatepass")
            i += 1
            continue
        kind = body[i + 1]
        if kind in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[kind])
            i += 2
        elif kind == "x":
            out.append(int(body[i + 2:i + 4], 16))
            i += 4
        elif kind in "01234567":
            out.append(int(body[i + 1:i + 4], 8) & 0xFF)
            i += 4
        elif kind in "uU":
            width = 4 if kind == "u" else 8
            out += chr(int(body[i + 2:i + 2 + width], 16)).encode("utf-8", "surrogatepass")
            i += 2 + width
        else:
            raise ValueError(f"unknown escape \\{kind}")
    return out.decode("utf-8", "replace")


def _go_string(node: Node) -> str | None:
    """The value of a Go string literal ("..." with escapes, or `raw`), else None."""
    raw = _text(node)
    if node.type == "raw_string_literal":
        return raw[1:-1].replace("\r", "")
    if node.type != "interpreted_string_literal":
        return None
    try:
        return _unescape(raw[1:-1])
    except ValueError:
        return None


@dataclass(frozen=True)
class _Row:
    """One subtest a table gives: its name and the table element it comes from."""

    name: str
    node: Node


@lru_cache(maxsize=1)
def _run_query() -> Query:
    return Query(_language(), '(call_expression function: (selector_expression field: (field_identifier) @field (#eq? @field "Run"))) @call')


def _owner(node: Node) -> tuple[int, int] | None:
    parent = node.parent
    while parent is not None and parent.type not in ("func_literal", "function_declaration", "method_declaration"):
        parent = parent.parent
    return (parent.start_byte, parent.end_byte) if parent is not None else None


def run_calls_by_owner(root: Node) -> dict[tuple[int, int] | None, list[Node]]:
    """Every `x.Run(...)` call of the file by the function (or func literal) whose own body holds
    it, in source order: one query, instead of walking each test body in Python."""
    calls = QueryCursor(_run_query()).captures(root).get("call", [])
    out: dict[tuple[int, int] | None, list[Node]] = {}
    for call in sorted(calls, key=lambda n: n.start_byte):
        out.setdefault(_owner(call), []).append(call)
    return out


def _run_calls(body: Node, param: str, calls: dict[tuple[int, int] | None, list[Node]]) -> Iterator[Node]:
    """`<param>.Run(name, func...)` calls directly in this body (not inside nested subtests' bodies,
    which are visited with their own parameter)."""
    owner = body.parent
    for call in calls.get((owner.start_byte, owner.end_byte) if owner is not None else None, []):
        if _is_run(call, param):
            yield call


def _is_run(call: Node, param: str) -> bool:
    fn = call.child_by_field_name("function")
    if fn is None or fn.type != "selector_expression":
        return False
    return _text(fn.child_by_field_name("operand")) == param and _text(fn.child_by_field_name("field")) == "Run"


def _run_args(call: Node) -> tuple[Node | None, Node | None]:
    args = call.child_by_field_name("arguments")
    named = [c for c in args.named_children if c.type != "comment"] if args is not None else []
    if len(named) != 2:
        return None, None
    return named[0], named[1]


def _literal_param(fn: Node) -> str | None:
    """The *testing.T parameter of a subtest's func literal."""
    if fn.type != "func_literal":
        return None
    return _param_of(fn, "T")


class _Scope:
    """What the table resolution may look up: package-level composite literals by name."""

    def __init__(self, root: Node) -> None:
        self.tables: dict[str, Node] = {}
        #: struct types of the file by name, for rows of `[]testCase{...}` given by position.
        self.structs: dict[str, Node] = {}
        for decl in root.named_children:
            if decl.type == "type_declaration":
                for spec in decl.named_children:
                    kind = spec.child_by_field_name("type") if spec.type == "type_spec" else None
                    if kind is not None and kind.type == "struct_type":
                        self.structs[_text(spec.child_by_field_name("name"))] = kind
            if decl.type != "var_declaration":
                continue
            for spec in _walk(decl):
                if spec.type == "var_spec":
                    names = spec.children_by_field_name("name")
                    value = spec.child_by_field_name("value")
                    values = [c for c in value.named_children] if value is not None else []
                    for ident, val in zip(names, values):
                        if val.type == "composite_literal":
                            self.tables[_text(ident)] = val


def _local_tables(fn_body: Node) -> dict[str, Node]:
    """`name := []T{...}` and `var name = ...{...}` inside one function body."""
    tables: dict[str, Node] = {}
    for node in _walk(fn_body):
        if node.type == "short_var_declaration":
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is None or right is None:
                continue
            for ident, val in zip(left.named_children, right.named_children):
                if val.type == "composite_literal":
                    tables[_text(ident)] = val
        elif node.type == "var_spec":
            value = node.child_by_field_name("value")
            for ident, val in zip(node.children_by_field_name("name"), value.named_children if value else []):
                if val.type == "composite_literal":
                    tables[_text(ident)] = val
    return tables


class _Tables:
    """Package-level tables, and the test's own, looked up only when a subtest name is not a
    literal (walking every test body for tables costs more than the rest of the search)."""

    def __init__(self, package: dict[str, Node], body: Node, structs: dict[str, Node] | None = None) -> None:
        self.package, self.body, self.local = package, body, None
        self.structs = structs or {}

    def get(self, name: str) -> Node | None:
        if self.local is None:
            self.local = _local_tables(self.body)
        return self.local.get(name) or self.package.get(name)


def _enclosing_range(call: Node) -> Node | None:
    node = call.parent
    while node is not None and node.type not in ("func_literal", "function_declaration"):
        if node.type == "for_statement":
            for child in node.named_children:
                if child.type == "range_clause":
                    return child
        node = node.parent
    return None


def _struct_fields(literal: Node, structs: dict[str, Node]) -> list[str]:
    """Field names, in order, of the element struct type of `[]struct{...}{...}`, `[]T{...}` or
    `[]*T{...}` with T a struct of the file (for rows given by position)."""
    kind = literal.child_by_field_name("type")
    element = kind.child_by_field_name("element") if kind is not None else None
    if element is not None and element.type == "pointer_type" and element.named_children:
        element = element.named_children[0]
    if element is not None and element.type == "type_identifier":
        element = structs.get(_text(element))
    if element is None or element.type != "struct_type":
        return []
    names = []
    for node in _walk(element):
        if node.type == "field_declaration":
            names.extend(_text(n) for n in node.children_by_field_name("name"))
    return names


def _elements(literal: Node) -> list[Node]:
    body = literal.child_by_field_name("body")
    return [c for c in body.named_children if c.type in ("literal_element", "keyed_element")] if body is not None else []


def _row_field(element: Node, field: str, positional: list[str]) -> str | None:
    """The string a table row gives its `field` (keyed `name: "x"` or by position)."""
    value = element.named_children[-1] if element.type == "keyed_element" else element
    inner = value.named_children[0] if value.type == "literal_element" and value.named_children else value
    if inner.type == "unary_expression" and inner.named_children:  # &T{...}
        inner = inner.named_children[-1]
    if inner.type == "composite_literal":  # T{...}
        inner = inner.child_by_field_name("body") or inner
    if inner.type != "literal_value":
        return None
    items = [c for c in inner.named_children if c.type in ("keyed_element", "literal_element")]
    for index, item in enumerate(items):
        if item.type == "keyed_element":
            key = item.named_children[0]
            if _text(key).strip() == field:
                return _string_of(item.named_children[-1])
        elif index < len(positional) and positional[index] == field:
            return _string_of(item)
    return None


def _string_of(node: Node) -> str | None:
    while node.type == "literal_element" and node.named_children:
        node = node.named_children[0]
    return _go_string(node)


def _table_rows(call: Node, name_arg: Node, tables: "_Tables") -> list[_Row] | None:
    """The subtests of a `for ... range table { t.Run(<name from the row>, ...) }` loop."""
    clause = _enclosing_range(call)
    if clause is None:
        return None
    left, right = clause.child_by_field_name("left"), clause.child_by_field_name("right")
    if right is None:
        return None
    literal = right if right.type == "composite_literal" else tables.get(_text(right))
    if literal is None:
        return None
    loop_vars = [_text(n) for n in left.named_children] if left is not None else []
    rows = []
    if name_arg.type == "identifier" and loop_vars[:1] == [_text(name_arg)] and len(loop_vars) >= 1:
        for element in _elements(literal):  # map keyed by the name: `for name, tc := range tests`
            if element.type != "keyed_element":
                return None
            value = _string_of(element.named_children[0])
            if value is None:
                return None
            rows.append(_Row(value, element))
        return sorted(rows, key=lambda r: r.name) if rows else None
    if name_arg.type == "identifier" and len(loop_vars) == 2 and loop_vars[1] == _text(name_arg):
        for element in _elements(literal):  # a list of names: `for _, name := range []string{...}`
            value = _string_of(element) if element.type == "literal_element" else None
            if value is None:
                return None
            rows.append(_Row(value, element))
        return rows or None
    if name_arg.type == "selector_expression" and len(loop_vars) == 2:
        operand, field = name_arg.child_by_field_name("operand"), name_arg.child_by_field_name("field")
        if _text(operand) != loop_vars[1]:
            return None
        positional = _struct_fields(literal, tables.structs)
        for element in _elements(literal):
            value = _row_field(element, _text(field), positional)
            if value is None:
                return None
            rows.append(_Row(value, element))
        return rows or None
    return None


@dataclass(frozen=True)
class Found:
    """A test or subtest: its name under the package, its lines, and its source nodes."""

    name: str
    start_line: int
    end_line: int
    top: str


def _subtests(parent: str, body: Node, param: str, tables: "_Tables", unique: _Unique, top: str,
              calls: dict[tuple[int, int] | None, list[Node]], suite: bool = False) -> list[Found]:
    found: list[Found] = []
    for call in _run_calls(body, param, calls):
        name_arg, fn = _run_args(call)
        if name_arg is None or fn is None:
            continue
        inner = _literal_param(fn)
        if inner is None and suite and fn.type == "func_literal" and _no_params(fn):
            inner = param  # a testify suite's s.Run("name", func() {...}) runs on the same suite
        literal = _go_string(name_arg)
        if literal is not None:
            full = unique.name(parent, rewrite(literal))
            start, end = _lines(call)
            found.append(Found(full, start, end, top))
            if inner is not None:
                found.extend(_subtests(full, fn.child_by_field_name("body"), inner, tables, unique, top, calls, suite))
            continue
        rows = _table_rows(call, name_arg, tables)
        for row in rows or []:
            full = unique.name(parent, rewrite(row.name))
            start, end = _lines(row.node)
            found.append(Found(full, start, end, top))
            if inner is not None:  # nested literal names repeat under every row
                found.extend(_subtests(full, fn.child_by_field_name("body"), inner, tables, unique, top, calls, suite))
    return found


def _suite_type(call: Node, param: str) -> str | None:
    """T of a testify-style `suite.Run(t, new(T))` / `suite.Run(t, &T{...})` call, else None."""
    fn = call.child_by_field_name("function")
    if fn is None or fn.type != "selector_expression" or _text(fn.child_by_field_name("field")) != "Run":
        return None
    first, second = _run_args(call)
    if first is None or second is None or first.type != "identifier" or _text(first) != param:
        return None
    node = second
    if node.type == "unary_expression" and node.named_children:
        node = node.named_children[-1]
    if node.type == "call_expression" and _text(node.child_by_field_name("function")) == "new":
        args = node.child_by_field_name("arguments")
        node = args.named_children[0] if args is not None and args.named_children else node
    elif node.type == "composite_literal":
        node = node.child_by_field_name("type") or node
    return _text(node) if node.type == "type_identifier" else None


def _suites(root: Node, test: _Test, body: Node, tables: "_Tables", unique: _Unique,
            calls: dict[tuple[int, int] | None, list[Node]]) -> list[Found]:
    """The methods a suite runner runs as subtests (`TestX/TestMethod`, in name order, as
    reflection lists them), and their own s.Run subtests; only methods in the same file."""
    found: list[Found] = []
    for call in calls.get((test.node.start_byte, test.node.end_byte), []):
        kind = _suite_type(call, test.param or "")
        if kind is None:
            continue
        methods = sorted(
            (m for m in root.named_children if m.type == "method_declaration" and _receiver_type(m) == kind
             and _is_named(_text(m.child_by_field_name("name")), "Test") and _no_params(m)),
            key=lambda m: _text(m.child_by_field_name("name")),
        )
        for method in methods:
            full = unique.name(test.name, _text(method.child_by_field_name("name")))
            start, end = _lines(method)
            found.append(Found(full, start, end, test.name))
            receiver = _receiver_name(method)
            method_body = method.child_by_field_name("body")
            if receiver and method_body is not None:
                found.extend(_subtests(full, method_body, receiver, tables, unique, test.name, calls, suite=True))
    return found


def _receiver_name(method: Node) -> str | None:
    receiver = method.child_by_field_name("receiver")
    decls = [c for c in receiver.named_children if c.type == "parameter_declaration"] if receiver is not None else []
    names = decls[0].children_by_field_name("name") if decls else []
    return _text(names[0]) if names else None


def _fuzz_seeds(name: str, body: Node, param: str) -> list[Found]:
    """A fuzz test run by plain `go test` runs each `f.Add(...)` seed as `FuzzX/seed#N`, in call
    order; when a call sits in a loop or a branch the count is unknown, so none is named (nor are
    the seeds of testdata/fuzz/, named after their files)."""
    found = []
    for node in _walk(body):
        if node.type == "call_expression":
            fn = node.child_by_field_name("function")
            if fn is not None and fn.type == "selector_expression" and _text(fn.child_by_field_name("operand")) == param \
                    and _text(fn.child_by_field_name("field")) == "Add":
                if _inside_control(node, body):
                    return []
                start, end = _lines(node)
                found.append(Found(f"{name}/seed#{len(found)}", start, end, name))
    return found


def _inside_control(node: Node, body: Node) -> bool:
    parent = node.parent
    while parent is not None and parent != body:
        if parent.type in ("for_statement", "if_statement", "expression_switch_statement", "type_switch_statement",
                           "select_statement", "func_literal"):
            return True
        parent = parent.parent
    return False


@lru_cache(maxsize=32)
def find_tests(source: bytes) -> tuple[Found, ...]:
    """Every test, fuzz test, example and statically named subtest of one Go test file."""
    root = parse_tree(source)
    if root.has_error and not top_level_tests(root):
        return ()
    scope = _Scope(root)
    calls = run_calls_by_owner(root)
    found: list[Found] = []
    for test in top_level_tests(root):
        start, end = _lines(test.node)
        found.append(Found(test.name, start, end, test.name))
        body = test.node.child_by_field_name("body")
        if test.param and body is not None and test.name.startswith("Test"):
            tables = _Tables(scope.tables, body, scope.structs)
            unique = _Unique()
            found.extend(_subtests(test.name, body, test.param, tables, unique, test.name, calls))
            found.extend(_suites(root, test, body, tables, unique, calls))
        elif test.param and body is not None:
            found.extend(_fuzz_seeds(test.name, body, test.param))
    return tuple(found)


def test_cases(package: str, source: bytes) -> list[TestCase]:
    return [TestCase(f"{package}::{f.name}", f.start_line, f.end_line) for f in find_tests(source)]


# --- definitions and what a change touches ---------------------------------------------------------


@dataclass(frozen=True)
class Decl:
    """A package-level declaration: its qualified name (`Type.Method` for methods), kind, lines, node."""

    name: str
    kind: str  # "func", "method", "type", "var", "const"
    start_line: int
    end_line: int
    node: Node


def _receiver_type(method: Node) -> str:
    receiver = method.child_by_field_name("receiver")
    for node in _walk(receiver) if receiver is not None else []:
        if node.type == "type_identifier":
            return _text(node)
    return ""


def declarations(root: Node) -> list[Decl]:
    decls = []
    for node in root.named_children:
        start, end = _lines(node)
        if node.type == "function_declaration":
            decls.append(Decl(_text(node.child_by_field_name("name")), "func", start, end, node))
        elif node.type == "method_declaration":
            name = f"{_receiver_type(node)}.{_text(node.child_by_field_name('name'))}"
            decls.append(Decl(name, "method", start, end, node))
        elif node.type in ("type_declaration", "var_declaration", "const_declaration"):
            kind = node.type.split("_")[0]
            spec_type = {"type": ("type_spec", "type_alias"), "var": ("var_spec",), "const": ("const_spec",)}[kind]
            for spec in _walk(node):
                if spec.type in spec_type:
                    s, e = _lines(spec) if kind == "type" else (start, end)
                    for ident in spec.children_by_field_name("name"):
                        decls.append(Decl(_text(ident), kind, s, e, spec))
    return decls


@dataclass
class Side:
    """What a change did to one version of a file: its lines removed or replaced, and the gaps
    (between line g and g+1) where the other version has lines this one lacks."""

    lines: set[int]
    gaps: set[int]

    def touches(self, start: int, end: int) -> bool:
        return any(start <= line <= end for line in self.lines) or any(start <= gap < end for gap in self.gaps)


def changed_lines(old: bytes, new: bytes) -> tuple[Side, Side]:
    """(what changed in `old`, what changed in `new`), 1-based lines; a pure insertion is a gap of
    the old side, so it touches a declaration only when it falls inside one."""
    a, b = old.splitlines(), new.splitlines()
    old_side, new_side = Side(set(), set()), Side(set(), set())
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if tag == "equal":
            continue
        if i2 > i1:
            old_side.lines.update(range(i1 + 1, i2 + 1))
        else:
            old_side.gaps.add(i1)
        if j2 > j1:
            new_side.lines.update(range(j1 + 1, j2 + 1))
        else:
            new_side.gaps.add(j1)
    return old_side, new_side


def changed_declarations(old: bytes | None, new: bytes | None) -> list[Decl]:
    """Declarations of either side whose lines the change touched (all of them for an added or
    deleted file)."""
    sides = changed_lines(old or b"", new or b"")
    touched: list[Decl] = []
    for source, side in zip((old, new), sides):
        if source is None:
            continue
        for decl in declarations(parse_tree(source)):
            if side.touches(decl.start_line, decl.end_line):
                touched.append(decl)
    return touched


def definitions_changed(old: bytes | None, new: bytes | None) -> list[str]:
    """Functions, methods (`Type.Method`) and types the change touched, sorted, once each."""
    return sorted({d.name for d in changed_declarations(old, new) if d.kind in ("func", "method", "type")})


def _names_by_decl(root: Node, decls: list[Decl]) -> dict[int, set[str]]:
    """Identifiers, type names and selected fields each declaration refers to (by id(decl)): one
    query over the file, bucketed by byte range (walking every declaration in Python is slow)."""
    nodes = sorted(
        (n.start_byte, _text(n)) for group in QueryCursor(_names_query()).captures(root).values() for n in group
    )
    starts = [start for start, _ in nodes]
    out = {}
    for decl in decls:
        lo = bisect_left(starts, decl.node.start_byte)
        hi = bisect_left(starts, decl.node.end_byte)
        out[id(decl)] = {name for _, name in nodes[lo:hi]}
    return out


def _bare(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def touched_in(source: bytes | None, side: Side, package: str, changed_names: set[str]) -> set[str]:
    """Test ids of one side of a change: tests and subtests whose lines changed, and tests that
    use a changed package-level declaration of the file (a table, helper, type), through helpers."""
    if source is None:
        return set()
    root = parse_tree(source)
    decls = declarations(root)
    changed = set(changed_names)
    tests = find_tests(source)
    top_names = {f.top for f in tests}
    helpers = [d for d in decls if d.name not in top_names]
    used = _names_by_decl(root, decls)
    grew = True
    while grew:  # a helper that uses a changed helper is changed too
        grew = False
        for decl in helpers:
            if _bare(decl.name) not in changed and used[id(decl)] & changed:
                changed.add(_bare(decl.name))
                grew = True
    hit = [f for f in tests if side.touches(f.start_line, f.end_line)]
    ids = {f"{package}::{f.name}" for f in hit} | {f"{package}::{f.top}" for f in hit}  # a subtest fails its test
    by_name = {d.name: d for d in decls}
    for name in top_names:
        decl = by_name.get(name)
        if decl is not None and (used[id(decl)] - {name}) & changed:
            ids.add(f"{package}::{name}")
    return ids


def touched_tests(package: str, old: bytes | None, new: bytes | None) -> list[str]:
    old_side, new_side = changed_lines(old or b"", new or b"")
    tests = {f.top for src in (old, new) if src is not None for f in find_tests(src)}
    changed = {_bare(d.name) for d in changed_declarations(old, new) if d.name not in tests}
    ids = touched_in(old, old_side, package, changed) | touched_in(new, new_side, package, changed)
    return sorted(ids)


def definitions_added(old: bytes | None, new: bytes | None) -> list[str]:
    """Functions, methods (`Type.Method`) and types in `new` but not in `old` (new API), sorted."""
    kinds = ("func", "method", "type")
    before = {d.name for d in declarations(parse_tree(old)) if d.kind in kinds} if old is not None else set()
    after = {d.name for d in declarations(parse_tree(new)) if d.kind in kinds} if new is not None else set()
    return sorted(after - before)


@lru_cache(maxsize=1)
def _identifier_query() -> Query:
    return Query(_language(), "[(identifier) (type_identifier) (field_identifier) (package_identifier)] @name")


def names_on(source: bytes, lines: set[int] | None = None) -> set[str]:
    """Identifiers used on these lines (1-based; all when None): `strings.Cut(x)` gives "strings",
    "Cut" and "x"."""
    if lines is not None and not lines:
        return set()
    cursor = QueryCursor(_identifier_query())
    nodes = cursor.captures(parse_tree(source)).get("name", [])
    return {_text(n) for n in nodes if lines is None or n.start_point[0] + 1 in lines}
