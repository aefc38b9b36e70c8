"""Find the tests a change touches and the definitions it changes, with tree-sitter.

Everything here works on one file at a time: a repository-relative POSIX `path` (it picks the
language and goes verbatim into test node ids) plus the file's bytes before and/or after a change.
Line numbers are 1-based; added lines use the new file's numbering, removed lines the old one's.

Nothing here raises on bad code: tree-sitter parses files with syntax errors into a tree with
ERROR nodes, and whatever definitions can still be found are reported. Unsupported languages give
empty results.

Languages are data: one `LanguageSpec` per language in `LANGUAGES`. Adding Go, JS/TS, Rust or
Java means writing one spec (extensions, a lazy grammar loader, node types, a test finder and a
node-id format) and, where the defaults do not fit, a few small functions like the `_py_*` ones.
"""

from __future__ import annotations

import bisect
import collections
import functools
import re

import textwrap
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property

from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

__all__ = [
    "LANGUAGES",
    "DefNode",
    "Definition",
    "LanguageSpec",
    "added_definitions",
    "changed_definitions",
    "definitions",
    "language_for",
    "referenced_names",
    "test_node_ids",
    "touched_tests",
]


@dataclass(frozen=True)
class Definition:
    """One function, method or class in a file."""

    qualname: str  # "Class.method", "func", "Outer.Inner": enclosing definitions joined with "."
    kind: str  # "function" | "method" | "class"
    start_line: int  # 1-based inclusive, covering decorators
    end_line: int  # 1-based inclusive


@dataclass(frozen=True, eq=False)
class DefNode:
    """A definition together with its syntax node; what language hooks work with."""

    parts: tuple[str, ...]  # qualname split at ".", outermost first
    kind: str
    start_line: int
    end_line: int
    node: Node  # the function/class node itself
    outer: Node  # the node covering decorators too (the node itself when undecorated)
    parent: DefNode | None

    @property
    def name(self) -> str:
        return self.parts[-1]

    @property
    def qualname(self) -> str:
        return ".".join(self.parts)

    def ancestors(self) -> Iterator[DefNode]:
        """Enclosing definitions, innermost first."""
        d = self.parent
        while d is not None:
            yield d
            d = d.parent

    def contains(self, line: int) -> bool:
        return self.start_line <= line <= self.end_line


def _field_name(node: Node) -> str | None:
    name = node.child_by_field_name("name")
    return _text(name) if name is not None else None


def _own_name(d: DefNode) -> set[str]:
    return {d.name}


def _never(d: DefNode) -> bool:
    return False


def _no_bindings(root: Node, line: int) -> set[str]:
    return set()


@dataclass(frozen=True)
class LanguageSpec:
    """Everything this module needs to know about one language."""

    name: str
    extensions: tuple[str, ...]  # matched with str.endswith, so ".test.ts"-style suffixes work
    load: Callable[[], Language]  # called once, on first use
    function_types: frozenset[str]
    class_types: frozenset[str]
    identifier_types: frozenset[str]  # leaves that count as a referenced name
    comment_types: frozenset[str]  # ignored when comparing two versions of a definition
    find_tests: Callable[[str, Sequence[DefNode]], list[DefNode]]  # (path, all defs) -> tests
    node_id: Callable[[str, tuple[str, ...]], str]  # (path, qualname parts) -> test id
    # Nodes that wrap a definition and extend its span (Python decorators, Java annotations
    # already sit inside the method node so Java would leave this empty).
    wrapper_types: frozenset[str] = frozenset()
    name_of: Callable[[Node], str | None] = _field_name
    # Names a test uses to reach a helper (a pytest fixture may be renamed by its decorator).
    reference_names: Callable[[DefNode], set[str]] = _own_name
    # Helpers that apply to every test in their scope without being named (setUp, autouse).
    is_scope_setup: Callable[[DefNode], bool] = _never
    # Names bound by the top-level (non-definition) code on a line, e.g. `DATA = [...]`.
    bound_names: Callable[[Node, int], set[str]] = _no_bindings
    # Node types whose children may hold definitions; the search for definitions does not
    # descend into anything else (expressions are most of a tree). None searches everywhere.
    scope_types: frozenset[str] | None = None
    # Words that the text of every definition contains (its keywords): a scope whose text has
    # none of them holds no definition, and is not searched (most function bodies).
    definition_words: tuple[bytes, ...] = ()


# ---------------------------------------------------------------------------------------------
# Python


def _load_python() -> Language:
    import tree_sitter_python

    return Language(tree_sitter_python.language())


_PY_SETUP_NAMES = frozenset(
    {
        "setUp", "tearDown", "setUpClass", "tearDownClass", "asyncSetUp", "asyncTearDown",
        "setup_method", "teardown_method", "setup_class", "teardown_class",
        "setup_function", "teardown_function", "setup_module", "teardown_module",
        "setup", "teardown",
    }
)  # fmt: skip


def _py_base_names(cls: Node) -> list[str]:
    """Last dotted component of each base class: `unittest.TestCase` -> "TestCase"."""
    args = cls.child_by_field_name("superclasses")
    names = []
    for base in args.named_children if args is not None else ():
        if base.type == "subscript":  # Generic[T]
            base = base.child_by_field_name("value") or base
        if base.type == "attribute":
            base = base.child_by_field_name("attribute") or base
        if base.type == "identifier":
            names.append(_text(base))
    return names


def _py_unittest_classes(classes: Sequence[DefNode]) -> set[DefNode]:
    """Classes deriving from a *TestCase, directly or through a class in the same file."""
    found: set[DefNode] = set()
    grew = True
    while grew:
        known = {c.name for c in found}
        new = {
            c
            for c in classes
            if c not in found
            and any(b.endswith("TestCase") or b in known for b in _py_base_names(c.node))
        }
        found |= new
        grew = bool(new)
    return found


def _py_find_tests(path: str, defs: Sequence[DefNode]) -> list[DefNode]:
    """pytest's default collection: module-level test*, test* in Test* classes (no __init__)
    nested any depth, and test* methods of unittest.TestCase subclasses whatever their name."""
    classes = [d for d in defs if d.kind == "class"]
    unittest_classes = _py_unittest_classes(classes)
    with_init = {d.parent for d in defs if d.kind == "method" and d.name == "__init__"}

    def collects(cls: DefNode) -> bool:
        if cls.kind != "class":
            return False
        return cls in unittest_classes or (cls.name.startswith("Test") and cls not in with_init)

    return [
        d
        for d in defs
        if d.kind != "class" and d.name.startswith("test") and all(map(collects, d.ancestors()))
    ]


def _py_node_id(path: str, parts: tuple[str, ...]) -> str:
    return "::".join((path, *parts))


def _py_fixture_args(d: DefNode) -> dict[str, Node] | None:
    """Keyword arguments of a `@pytest.fixture(...)` decorator; None when not a fixture."""
    if d.outer == d.node:
        return None
    for deco in d.outer.named_children:
        if deco.type != "decorator" or not deco.named_children:
            continue
        expr = deco.named_children[0]
        call = expr if expr.type == "call" else None
        func = call.child_by_field_name("function") if call is not None else expr
        if func is None or not _text(func).endswith("fixture"):
            continue
        args = call.child_by_field_name("arguments") if call is not None else None
        kwargs = {}
        for arg in args.named_children if args is not None else ():
            key = arg.child_by_field_name("name")
            value = arg.child_by_field_name("value")
            if arg.type == "keyword_argument" and key is not None and value is not None:
                kwargs[_text(key)] = value
        return kwargs
    return None


def _py_reference_names(d: DefNode) -> set[str]:
    names = {d.name}
    renamed = (_py_fixture_args(d) or {}).get("name")
    if renamed is not None and renamed.type == "string":
        names |= {_text(c) for c in renamed.named_children if c.type == "string_content"}
    return names


def _py_is_scope_setup(d: DefNode) -> bool:
    autouse = (_py_fixture_args(d) or {}).get("autouse")
    return d.name in _PY_SETUP_NAMES or (autouse is not None and _text(autouse) == "True")


def _py_import_names(stmt: Node) -> set[str]:
    names = set()
    for imported in stmt.children_by_field_name("name"):
        if imported.type == "aliased_import":
            alias = imported.child_by_field_name("alias")
            names.add(_text(alias) if alias is not None else "")
        elif imported.type == "dotted_name" and imported.named_children:
            pick = -1 if stmt.type == "import_from_statement" else 0  # `import a.b` binds a
            names.add(_text(imported.named_children[pick]))
    return names - {""}


def _py_bound_names(root: Node, line: int) -> set[str]:
    names: set[str] = set()
    for n in _walk(root, lambda n: _span(n)[0] <= line <= _span(n)[1]):
        if n.type in ("assignment", "augmented_assignment"):
            left = n.child_by_field_name("left")
            names |= {_text(i) for i in _walk(left) if i.type == "identifier"} if left else set()
        elif n.type in ("import_statement", "import_from_statement"):
            names |= _py_import_names(n)
    return names


PYTHON = LanguageSpec(
    name="python",
    extensions=(".py", ".pyi"),
    load=_load_python,
    function_types=frozenset({"function_definition"}),
    class_types=frozenset({"class_definition"}),
    identifier_types=frozenset({"identifier"}),
    comment_types=frozenset({"comment"}),
    wrapper_types=frozenset({"decorated_definition"}),
    find_tests=_py_find_tests,
    node_id=_py_node_id,
    reference_names=_py_reference_names,
    is_scope_setup=_py_is_scope_setup,
    bound_names=_py_bound_names,
    scope_types=frozenset(
        {
            "module", "block", "class_definition", "function_definition", "decorated_definition",
            "if_statement", "elif_clause", "else_clause", "try_statement", "except_clause",
            "except_group_clause", "finally_clause", "with_statement", "for_statement",
            "while_statement", "match_statement", "case_clause",
        }
    ),
    definition_words=(b"def", b"class"),
)

LANGUAGES: dict[str, LanguageSpec] = {"python": PYTHON}


# ---------------------------------------------------------------------------------------------
# Parsing and indexing

_PARSERS: dict[str, Parser] = {}
_PARSER_LOCK = threading.Lock()  # a Parser is not safe to share between threads mid-parse


def _text(node: Node) -> str:
    return (node.text or b"").decode("utf-8", "replace")


def _span(node: Node) -> tuple[int, int]:
    """1-based inclusive line span; a node ending at column 0 ends on the previous line."""
    start, end = node.start_point, node.end_point
    last = end.row if end.column == 0 and end.row > start.row else end.row + 1
    return start.row + 1, last


def _walk(node: Node, descend: Callable[[Node], bool] | None = None) -> Iterator[Node]:
    """Pre-order walk without recursion (deeply nested expressions must not hit the stack
    limit); `descend` prunes nodes (and their subtrees) for which it is false."""
    stack = [node]
    while stack:
        n = stack.pop()
        if descend is not None and not descend(n):
            continue
        yield n
        stack.extend(reversed(n.children))


def language_for(path: str) -> LanguageSpec | None:
    """The language of `path`, by extension; None if unsupported."""
    name = path.rsplit("/", 1)[-1].lower()
    return next((s for s in LANGUAGES.values() if name.endswith(s.extensions)), None)


#: The last trees parsed for each path, newest first. Mining parses many versions of the same
#: files, each a few commits from the last; tree-sitter's incremental parsing then only redoes
#: what changed. A history with long-lived branches interleaves their versions (a file on main,
#: on a maintenance branch, on main again), so a few trees are kept and the closest is reused.
_LAST_TREES: "collections.OrderedDict[str, list[tuple[bytes, Tree]]]" = collections.OrderedDict()
_LAST_TREES_MAX = 64
_TREES_PER_PATH = 4
#: A kept tree whose text differs from the new one by at most this many bytes is reused without
#: comparing the older ones.
_CLOSE_ENOUGH = 8192


@functools.lru_cache(maxsize=None)
def _language(spec: LanguageSpec) -> Language:
    return spec.load()


def _parse(spec: LanguageSpec, source: bytes, path: str = "") -> Node:
    with _PARSER_LOCK:
        parser = _PARSERS.get(spec.name)
        if parser is None:
            parser = _PARSERS[spec.name] = Parser(_language(spec))
        kept = _LAST_TREES.get(path, []) if path else []
        same = next((tree for text, tree in kept if text == source), None)
        if same is not None:
            tree = same  # trees are never edited in place (see _edited): this one can be shared
        elif kept:
            tree = parser.parse(source, _edited(*_closest(kept, source), source))
        else:
            tree = parser.parse(source)
        if path:
            _LAST_TREES[path] = [(source, tree), *((t, k) for t, k in kept if t != source)][:_TREES_PER_PATH]
            _LAST_TREES.move_to_end(path)
            while len(_LAST_TREES) > _LAST_TREES_MAX:
                _LAST_TREES.popitem(last=False)
        return tree.root_node


def _closest(kept: list[tuple[bytes, Tree]], new: bytes) -> tuple[Tree, bytes, list[tuple[int, int, int, int]]]:
    """The kept tree whose text is closest to `new` (fewest bytes in changed stretches), its text
    and those stretches; newest first, stopping at one close enough."""
    best, fewest = None, None
    for old, tree in kept:
        spans = _changed_spans(old, new)
        size = sum(max(b - a, d - c) for a, b, c, d in spans)
        if fewest is None or size < fewest:
            best, fewest = (tree, old, spans), size
        if size <= _CLOSE_ENOUGH:
            break
    assert best is not None
    return best


def _edited(tree: Tree, old: bytes, spans: list[tuple[int, int, int, int]], new: bytes) -> Tree:
    """A copy of `tree` (parsed from `old`) with the edits that turn `old` into `new`, given as
    its changed stretches. (A copy: the tree may still back a cached index.)

    One edit per changed stretch rather than one from the first change to the last: a change to
    the imports and a test added at the end would otherwise mark the whole file as changed, and
    tree-sitter would reparse all of it.
    """
    edited = tree.copy()
    points = _Points(new)
    for old_start, old_end, new_start, new_end in spans:
        # Edits apply in order, so the text before each one is already the new text.
        start = points.at(new_start)
        edited.edit(
            start_byte=new_start,
            old_end_byte=new_start + old_end - old_start,
            new_end_byte=new_end,
            start_point=start,
            old_end_point=_advance(start, old, old_start, old_end),
            new_end_point=points.at(new_end),
        )
    return edited


#: Changed stretches are found by looking up blocks of about this many bytes of the old text in
#: the new text: a few fast `bytes.find` calls, where a line diff would cost as much as a parse.
_BLOCK = 1024
#: A block that is not found is looked up again in pieces of about this many bytes, near where
#: the last match ended: changes a few hundred bytes apart (a reformatted file, a renamed
#: parameter) would otherwise leave no block whole, and the whole file would count as changed.
_PIECE = 128
#: How far ahead of the last match a piece may be found. A short piece can recur elsewhere in the
#: file; a false match far ahead would count everything before it as changed.
_PIECE_WINDOW = 4096


def _changed_spans(old: bytes, new: bytes) -> list[tuple[int, int, int, int]]:
    """(old_start, old_end, new_start, new_end) of each stretch that differs, in order; the text
    between two stretches is the same in both. Not a minimal diff, only a correct one: every
    block of `old` that is not found in order in `new` is part of a changed stretch."""
    prefix = _common_prefix(old, new)
    suffix = _common_suffix(old, new, min(len(old), len(new)) - prefix)
    old_stop, new_stop = len(old) - suffix, len(new) - suffix
    spans = []
    i = j = prefix  # the next byte to match in old / new
    unmatched = i  # where the old text stopped matching
    piece = False  # whether the last block was not found: look up the next one in pieces
    while i < old_stop:
        size, end = (_PIECE, min(new_stop, j + _PIECE_WINDOW)) if piece else (_BLOCK, new_stop)
        cut = old.find(b"\n", min(i + size, old_stop - 1), old_stop) + 1 or old_stop
        found = new.find(old[i:cut], j, end) if cut - i >= 64 or cut == old_stop else -1
        if found >= 0:
            if unmatched < i or j < found:
                spans.append(_trimmed(old, new, unmatched, i, j, found))
            j = found + cut - i
            unmatched = cut
            piece = False
        elif not piece:
            piece = True
            continue  # the same place again, in pieces
        i = cut
    if unmatched < old_stop or j < new_stop:
        spans.append(_trimmed(old, new, unmatched, old_stop, j, new_stop))
    return spans


def _trimmed(old: bytes, new: bytes, a: int, b: int, c: int, d: int) -> tuple[int, int, int, int]:
    """The stretch old[a:b] -> new[c:d] without the bytes both sides start and end with."""
    head = _common_prefix(old[a:b], new[c:d])
    tail = _common_suffix(old[a + head : b], new[c + head : d], min(b - a, d - c) - head)
    return a + head, b - tail, c + head, d - tail


class _Points:
    """(row, column) of increasing byte offsets in one text, counting newlines only once."""

    def __init__(self, source: bytes) -> None:
        self.source, self.offset, self.row = source, 0, 0

    def at(self, offset: int) -> tuple[int, int]:
        self.row += self.source.count(b"\n", self.offset, offset)
        self.offset = offset
        return self.row, offset - (self.source.rfind(b"\n", 0, offset) + 1)


def _advance(start: tuple[int, int], text: bytes, begin: int, end: int) -> tuple[int, int]:
    """The point reached from `start` after text[begin:end]."""
    lines = text.count(b"\n", begin, end)
    if not lines:
        return start[0], start[1] + end - begin
    return start[0] + lines, end - (text.rfind(b"\n", begin, end) + 1)


def _common_prefix(a: bytes, b: bytes) -> int:
    lo, hi = 0, min(len(a), len(b))
    while lo < hi:  # slices compare in C: a binary search costs a few memcmp calls
        mid = (lo + hi + 1) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _common_suffix(a: bytes, b: bytes, limit: int) -> int:
    lo, hi = 0, limit
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if a[len(a) - mid :] == b[len(b) - mid :]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def _collect_defs(spec: LanguageSpec, root: Node, source: bytes, rows: Sequence[int] | None = None) -> list[DefNode]:
    """Every function and class, in source order, each linked to its enclosing definition.

    With `rows` (0-based, sorted), at least those whose lines meet one of the rows, with their
    enclosing definitions: every definition that holds or starts on one of those lines, so the
    innermost definition of each is the one the full list gives."""
    if spec.scope_types is None or root.has_error:
        return _defs_by_query(spec, root)
    return _defs_by_scopes(spec, root, source, rows)


def _defs_by_scopes(spec: LanguageSpec, root: Node, source: bytes, rows: Sequence[int] | None = None) -> list[DefNode]:
    """Walk only the nodes that can hold definitions (`scope_types`): a few thousand statements
    rather than every node, several times faster than a query. Only for trees without syntax
    errors, where the grammar puts definitions nowhere else. With `rows`, nodes whose lines
    meet none of them are left out, and so is everything inside them."""
    kinds = _kind_ids(spec, spec.function_types | spec.class_types)
    wrappers = _kind_ids(spec, spec.wrapper_types)
    scopes = _kind_ids(spec, spec.scope_types or frozenset())
    defs: list[DefNode] = []
    # (node, its nearest enclosing definition, the outermost wrapper when node is one)
    stack: list[tuple[Node, DefNode | None, Node | None]] = [(root, None, None)]
    while stack:
        node, parent, wrapper = stack.pop()
        for child in node.named_children:
            kind = child.kind_id
            # (inside a wrapper that met them: its definition's span is the wrapper's)
            if rows is not None and wrapper is None and (kind in kinds or kind in wrappers or kind in scopes):
                at = bisect.bisect_left(rows, child.start_point.row)
                if at == len(rows) or rows[at] > child.end_point.row:
                    continue
            if kind in kinds:
                d = _def_node(spec, child, wrapper or child, parent)
                if d is not None:
                    defs.append(d)
                # from its second byte: its own keyword does not count
                if _may_define(spec, source, child.start_byte + 1, child.end_byte):
                    stack.append((child, d, None))
            elif kind in wrappers:
                stack.append((child, parent, wrapper or child))
            elif kind in scopes and _may_define(spec, source, child.start_byte, child.end_byte):
                stack.append((child, parent, None))
    defs.sort(key=lambda d: d.node.start_byte)
    return defs


@functools.lru_cache(maxsize=None)
def _kind_ids(spec: LanguageSpec, types: frozenset[str]) -> frozenset[int]:
    """The node kind ids of these node types: comparing ints is cheaper than making each node's
    type string. (Several ids may share a name, through aliases.)"""
    language = _language(spec)
    return frozenset(i for i in range(language.node_kind_count) if language.node_kind_for_id(i) in types)


def _may_define(spec: LanguageSpec, source: bytes, start: int, end: int) -> bool:
    for word in spec.definition_words:
        if source.find(word, start, end) >= 0:
            return True
    return not spec.definition_words


def _defs_by_query(spec: LanguageSpec, root: Node) -> list[DefNode]:
    """Any tree: a tree-sitter query finds the definition nodes wherever error recovery put them."""
    query = _def_query(spec)
    found = [n for nodes in QueryCursor(query).captures(root).values() for n in nodes]
    found.sort(key=lambda n: n.start_byte)
    by_key: dict[tuple[int, int], DefNode | None] = {}
    defs: list[DefNode] = []
    for node in found:
        outer = node
        while outer.parent is not None and outer.parent.type in spec.wrapper_types:
            outer = outer.parent
        d = _def_node(spec, node, outer, _enclosing(node, spec, by_key))
        if d is not None:
            by_key[(node.start_byte, node.end_byte)] = d
            defs.append(d)
    return defs


def _def_node(spec: LanguageSpec, node: Node, outer: Node, parent: DefNode | None) -> DefNode | None:
    """The definition at `node` (None when it has no name: it then encloses nothing either)."""
    name = spec.name_of(node)
    if not name:
        return None
    if node.type in spec.class_types:
        kind = "class"
    else:
        kind = "method" if parent is not None and parent.kind == "class" else "function"
    start, end = _span(outer)
    parts = (*parent.parts, name) if parent else (name,)
    return DefNode(parts, kind, start, end, node, outer, parent)


def _enclosing(node: Node, spec: LanguageSpec, by_key: dict[tuple[int, int], DefNode | None]) -> DefNode | None:
    kinds = spec.function_types | spec.class_types
    up = node.parent
    while up is not None:
        if up.type in kinds:
            return by_key.get((up.start_byte, up.end_byte))
        up = up.parent
    return None


_DEF_QUERIES: dict[str, Query] = {}


def _def_query(spec: LanguageSpec) -> Query:
    query = _DEF_QUERIES.get(spec.name)
    if query is None:
        pattern = " ".join(f"({t}) @def" for t in sorted(spec.function_types | spec.class_types))
        query = _DEF_QUERIES[spec.name] = Query(spec.load(), pattern)
    return query


@dataclass(frozen=True, eq=False)
class _Index:
    spec: LanguageSpec
    path: str
    source: bytes
    root: Node
    defs: tuple[DefNode, ...]

    @cached_property
    def tests(self) -> tuple[DefNode, ...]:
        return tuple(self.spec.find_tests(self.path, self.defs))

    @cached_property
    def test_set(self) -> set[DefNode]:
        return set(self.tests)

    @cached_property
    def test_scopes(self) -> set[tuple[str, ...]]:
        """Qualname parts of every class that holds a test, at any depth."""
        return {t.parts[:i] for t in self.tests for i in range(1, len(t.parts))}

    @cached_property
    def lines(self) -> list[bytes]:
        return self.source.split(b"\n")

    def is_blank(self, line: int) -> bool:
        return not (0 < line <= len(self.lines)) or not self.lines[line - 1].strip()

    @cached_property
    def starts(self) -> list[int]:
        return [d.start_line for d in self.defs]

    def innermost(self, line: int) -> DefNode | None:
        """Definitions nest, so the last one starting at or before `line` that contains it is
        the innermost."""
        defs = self.defs
        for index in range(bisect.bisect_right(self.starts, line) - 1, -1, -1):  # no copy of defs[:i]
            d = defs[index]
            if d.start_line <= line <= d.end_line:
                return d
        return None

    @cached_property
    def def_name_starts(self) -> set[int]:
        """Where each definition's own name sits: defining a name is not using it."""
        names = (d.node.child_by_field_name("name") for d in self.defs)
        return {n.start_byte for n in names if n is not None}

    @cached_property
    def identifier_index(self) -> tuple[list[int], list[str]]:
        """Every used identifier in the file, by start byte: one query serves every definition."""
        pairs = sorted(
            (n.start_byte, _text(n)) for n in _identifiers(self.spec, self.root) if n.start_byte not in self.def_name_starts
        )
        return [b for b, _ in pairs], [t for _, t in pairs]

    @cached_property
    def names_memo(self) -> dict[tuple[tuple[str, ...], int, bool], frozenset[str]]:
        return {}

    def uses(self, d: DefNode, names: Iterable[str]) -> bool:
        """Does `d` (decorators included) use one of `names`? The answer of `names_in(d) & names`,
        found from where the names occur in the text instead of from every identifier of the file
        (a change usually hits a few names, and a large test file has thousands of identifiers)."""
        lo, hi = d.outer.start_byte, d.outer.end_byte
        for name in names:
            candidates = self._occurrences(name)
            for start in candidates[bisect.bisect_left(candidates, lo) :]:
                if start >= hi:
                    break
                if self._is_use(start, len(name.encode())):
                    return True
        return False

    @cached_property
    def _occurrence_memo(self) -> dict[str, list[int]]:
        return {}

    @cached_property
    def _use_memo(self) -> dict[int, bool]:
        return {}

    def _occurrences(self, name: str) -> list[int]:
        """Start bytes where `name` may be used: every place its text stands as a whole word.
        Where a text search could miss a use (syntax errors, names that are not plain
        identifiers), the uses themselves, from the full identifier index."""
        found = self._occurrence_memo.get(name)
        if found is None:
            if self.root.has_error or not name.isidentifier():
                starts, texts = self.identifier_index
                found = [start for start, text in zip(starts, texts) if text == name]
            else:
                source = self.source
                found = [
                    m.start()
                    for m in _word_pattern(name).finditer(source)
                    if source[m.start() - 1 : m.start()] not in _WORD_BYTES
                ]
            self._occurrence_memo[name] = found
        return found

    def _is_use(self, start: int, length: int) -> bool:
        """Is the text at `start` an identifier node (not a string, a comment or a definition's
        own name)?"""
        use = self._use_memo.get(start)
        if use is None:
            node = self.root.descendant_for_byte_range(start, start + length)
            use = self._use_memo[start] = (
                node is not None
                and node.type in self.spec.identifier_types
                and (node.start_byte, node.end_byte) == (start, start + length)
                and start not in self.def_name_starts
            )
        return use

    def names_in(self, d: DefNode, own_only: bool = False) -> frozenset[str]:
        """Identifiers used in `d` (decorators included); with own_only, not in nested defs."""
        key = (d.parts, d.start_line, own_only)
        if key not in self.names_memo:
            self.names_memo[key] = frozenset(self._names_in(d, own_only))
        return self.names_memo[key]

    def _names_in(self, d: DefNode, own_only: bool) -> set[str]:
        if not own_only:
            starts, texts = self.identifier_index
            return set(texts[bisect.bisect_left(starts, d.outer.start_byte) : bisect.bisect_left(starts, d.outer.end_byte)])
        spec = self.spec
        nested = spec.function_types | spec.class_types | spec.wrapper_types

        def descend(n: Node) -> bool:
            return not own_only or n.type not in nested or n in (d.outer, d.node)

        return {
            _text(n)
            for n in _walk(d.outer, descend)
            if n.type in spec.identifier_types and n.start_byte not in self.def_name_starts
        }

    def normalised(self, d: DefNode) -> tuple[str, ...]:
        """The definition's text without comments, blank lines, trailing spaces or its own
        indentation, so that moving or reformatting it lightly does not count as a change."""
        base = d.outer.start_byte
        text = bytearray(self.source[base : d.outer.end_byte])
        comments = [n for n in _walk(d.outer) if n.type in self.spec.comment_types]
        for c in reversed(comments):
            del text[c.start_byte - base : c.end_byte - base]
        body = " " * d.outer.start_point.column + text.decode("utf-8", "replace")
        lines = textwrap.dedent(body).splitlines()
        return tuple(line.rstrip() for line in lines if line.strip())


#: What may precede a name in the text without being part of it: anything but a letter or "_".
_WORD_BYTES = frozenset(bytes([c]) for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_")


@functools.lru_cache(maxsize=4096)
def _word_pattern(name: str) -> re.Pattern[bytes]:
    """`name` not followed by a letter, digit or "_" (nor preceded by a letter or "_", which the
    caller checks): the lexer would have made them one longer token. The pattern starts with the
    name itself, which re finds fast; a look-behind would not be. Cached: the same names come
    back in every version of a file, and re's own cache is small."""
    return re.compile(re.escape(name.encode()) + rb"(?![A-Za-z0-9_])")


@functools.lru_cache(maxsize=32)
def _index(path: str, source: bytes | None) -> _Index | None:
    """Parse and index a file once: the public functions ask about the same versions repeatedly."""
    return _index_near(path, source, None)


def _index_near(path: str, source: bytes | None, lines: set[int] | None) -> _Index | None:
    """An index of `source`; with `lines` (1-based), its definitions are only those that hold or
    start on them and their enclosing ones: enough for `innermost` and for what starts on a
    line, not for anything that needs every definition (so never cached with the full ones)."""
    spec = language_for(path)
    if spec is None or source is None:
        return None
    root = _parse(spec, source, path)
    rows = None if lines is None else sorted(line - 1 for line in lines)
    return _Index(spec, path, source, root, tuple(_collect_defs(spec, root, source, rows)))


def _last_by_qualname(defs: Iterable[DefNode]) -> dict[tuple[str, ...], DefNode]:
    """Later definitions shadow earlier ones of the same name, as at runtime."""
    return {d.parts: d for d in defs}


# ---------------------------------------------------------------------------------------------
# Public API


def definitions(path: str, source: bytes) -> list[Definition]:
    """All functions, methods and classes in the file, nested ones included, in source order;
    [] for unsupported languages."""
    ix = _index(path, source)
    defs = ix.defs if ix else ()
    return [Definition(d.qualname, d.kind, d.start_line, d.end_line) for d in defs]


def test_node_ids(path: str, source: bytes) -> list[str]:
    """Node ids of every test in the file, in source order, each once."""
    return [node_id for node_id, _, _ in test_spans(path, source)]


test_node_ids.__test__ = False  # type: ignore[attr-defined]  # importable into test modules


def test_spans(path: str, source: bytes) -> list[tuple[str, int, int]]:
    """(node id, first line, last line) of every test in the file, in source order, each id once
    (its first definition: a later one of the same name replaces it when pytest collects, but
    mining only needs where the id's code is)."""
    ix = _index(path, source)
    if ix is None:
        return []
    spans: dict[str, tuple[str, int, int]] = {}
    for t in ix.tests:
        node_id = ix.spec.node_id(path, t.parts)
        spans.setdefault(node_id, (node_id, t.start_line, t.end_line))
    return list(spans.values())


test_spans.__test__ = False  # type: ignore[attr-defined]


def changed_definitions(
    path: str,
    old: bytes | None,
    new: bytes | None,
    added_lines: set[int],
    removed_lines: set[int],
) -> list[str]:
    """Qualnames of the innermost definitions holding a removed line (old numbering) or an added
    line (new numbering). A class is reported only for lines in its body outside any method.
    Blank lines are ignored. Sorted, unique."""
    names = set()
    for ix, lines in ((_index(path, old), removed_lines), (_index(path, new), added_lines)):
        for line in lines if ix else ():
            d = ix.innermost(line) if not ix.is_blank(line) else None
            if d is not None:
                names.add(d.qualname)
    return sorted(names)


def added_definitions(path: str, old: bytes | None, new: bytes | None) -> list[str]:
    """Qualnames defined in `new` but not in `old` (new API). Sorted."""
    before = {d.qualname for d in definitions(path, old)} if old is not None else set()
    after = {d.qualname for d in definitions(path, new)} if new is not None else set()
    return sorted(after - before)


def referenced_names(path: str, source: bytes, lines: set[int] | None = None) -> set[str]:
    """Identifiers used on `lines` (or anywhere in the file): for `ledger.between(x)` that is
    "ledger", "between" and "x". Empty for unsupported languages."""
    ix = _index(path, source)
    if ix is None or lines is not None and not lines:
        return set()
    if lines is None:
        return {_text(n) for n in _identifiers(ix.spec, ix.root)}
    names = set()
    for lo, hi in _runs(lines):
        nodes = _identifiers(ix.spec, ix.root, point_range=((lo - 1, 0), (hi, 0)))
        names |= {_text(n) for n in nodes if n.start_point.row + 1 in lines}
    return names


def _runs(lines: set[int]) -> list[tuple[int, int]]:
    """Consecutive runs of line numbers, as (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for line in sorted(lines):
        if runs and line == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], line)
        else:
            runs.append((line, line))
    return runs


_QUERIES: dict[str, Query] = {}


def _identifiers(
    spec: LanguageSpec,
    root: Node,
    byte_range: tuple[int, int] | None = None,
    point_range: tuple[tuple[int, int], tuple[int, int]] | None = None,
) -> list[Node]:
    """Identifier nodes under `root`, optionally within a range, found by a tree-sitter query
    (in C: walking every node in Python is what made mining slow)."""
    query = _QUERIES.get(spec.name)
    if query is None:
        pattern = " ".join(f"({t}) @id" for t in sorted(spec.identifier_types))
        query = _QUERIES[spec.name] = Query(spec.load(), pattern)
    cursor = QueryCursor(query)
    if byte_range is not None:
        cursor.set_byte_range(*byte_range)
    if point_range is not None:
        cursor.set_point_range(*point_range)
    return cursor.captures(root).get("id", [])


@dataclass
class _Changes:
    """What changed lines hit, before working out which tests that reaches."""

    tests: set[tuple[str, ...]]  # tests hit directly (qualname parts)
    scopes: set[tuple[str, ...]]  # every test under these parts (() = the whole file)
    names: set[str]  # changed helpers / module-level names, reached by tests that use them

    def helper(self, ix: _Index, d: DefNode) -> None:
        """Record a changed non-test definition."""
        if ix.spec.is_scope_setup(d):
            self.scopes.add(d.parent.parts if d.parent else ())
        self.names |= ix.spec.reference_names(d)
        for a in d.ancestors():  # a helper class's method changes what the class does
            if a.parts not in ix.test_scopes:
                self.names |= ix.spec.reference_names(a)

    def line(self, ix: _Index, line: int) -> None:
        """Record what one changed line of `ix` hits."""
        d = ix.innermost(line)
        test = next((t for t in (d, *d.ancestors()) if t in ix.test_set), None) if d else None
        if test is not None:
            self.tests.add(test.parts)
        elif d is None:
            self.names |= ix.spec.bound_names(ix.root, line)
        elif d.parts in ix.test_scopes:  # class attribute, decorator or base of a test class
            self.scopes.add(d.parts)
        else:
            self.helper(ix, d)


def _helpers(ix: _Index) -> list[DefNode]:
    """Definitions that are neither tests, nor classes holding tests, nor inside a test."""
    return [
        d
        for d in ix.defs
        if d.parts not in ix.test_scopes and not {d, *d.ancestors()} & ix.test_set
    ]


def _spread_through_helpers(ix: _Index, changes: _Changes) -> None:
    """A helper that uses a changed name is changed too (a fixture built on a changed helper)."""
    pending = _helpers(ix)
    new_names = set(changes.names)
    while new_names:
        # The helpers still pending use none of the names seen before; only new ones can reach them.
        reached = [d for d in pending if ix.uses(d, new_names)]
        pending = [d for d in pending if d not in reached]
        known = set(changes.names)
        for d in reached:
            changes.helper(ix, d)
        new_names = changes.names - known


def _uses_changed_name(ix: _Index, test: DefNode, names: set[str]) -> bool:
    """Does the test use one of `names`: in its own span, or in its classes' own code (bases,
    attributes)?"""
    return bool(names) and (
        ix.uses(test, names) or any(ix.names_in(a, own_only=True) & names for a in test.ancestors())
    )


def _same(new_ix: _Index, new: DefNode, old_ix: _Index | None, old: DefNode) -> bool:
    """Same definition text in both versions; byte equality first, as most tests did not move."""
    if old_ix is None:
        return False
    if new_ix.source[new.outer.start_byte : new.outer.end_byte] == old_ix.source[old.outer.start_byte : old.outer.end_byte]:
        return True
    return new_ix.normalised(new) == old_ix.normalised(old)


def touched_tests(
    path: str,
    old: bytes | None,
    new: bytes | None,
    added_lines: set[int],
    removed_lines: set[int],
) -> list[str]:
    """Node ids of the tests in `new` that a change touches. Sorted, unique.

    A test is touched when it is new, when its text (comments and formatting aside) differs from
    the old one's, or when a changed non-blank line falls in it. A changed line in a helper,
    fixture or module-level assignment touches the tests that use that name (through other
    helpers too); one in setUp/setup_method/an autouse fixture or a test class's own body
    touches every test in that scope. Tests only in `old` (deleted) are never reported.
    """
    new_ix = _index(path, new)
    if new_ix is None:
        return []
    old_ix = _index(path, old)
    changes = _Changes(set(), set(), set())
    before = _last_by_qualname(old_ix.tests if old_ix else ())
    for t in new_ix.tests:
        if t.parts not in before or not _same(new_ix, t, old_ix, before[t.parts]):
            changes.tests.add(t.parts)
    for ix, lines in ((old_ix, removed_lines), (new_ix, added_lines)):
        for line in sorted(lines) if ix else ():
            if not ix.is_blank(line):
                changes.line(ix, line)
    old_helpers = _last_by_qualname(_helpers(old_ix) if old_ix else ())
    for h in _helpers(new_ix):
        prior = old_helpers.get(h.parts)
        if prior is not None and not _same(new_ix, h, old_ix, prior):
            changes.helper(new_ix, h)
    _spread_through_helpers(new_ix, changes)
    return _hit_tests(new_ix, path, changes)


# ---------------------------------------------------------------------------------------------
# One-parse facts for mining: only the fixed version of a file is parsed. Removed lines are
# placed where they were in the new file (`removed_at`), and definitions a change deleted are
# recognised from the removed text, so mining a long history parses each touched file once.

_DEF_HEADER = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)")


@dataclass(frozen=True)
class ChangeFacts:
    """What one file's change touches, from the fixed version alone."""

    touched_tests: tuple[str, ...]
    changed: tuple[str, ...]
    added: tuple[str, ...]
    referenced: frozenset[str]


def change_facts(
    path: str,
    new: bytes | None,
    added_lines: set[int],
    removed_at: set[int],
    removed_text: Sequence[str],
    test_file: bool = True,
) -> ChangeFacts:
    """Touched tests, changed and added definitions, and names used on added lines, for one file
    (test_file=False leaves touched tests and names out: a source file's are not asked about).

    `removed_at` holds, in new-file numbering, the lines next to which lines were removed.
    """
    removed_defs = {m[1] for m in map(_DEF_HEADER.match, removed_text) if m}
    if test_file or removed_defs:
        ix = _index(path, new)
    else:  # only the definitions at the changed lines are asked about
        ix = _index_near(path, new, added_lines | removed_at)
    if ix is None:
        return ChangeFacts((), tuple(sorted(removed_defs)), (), frozenset())
    lines = {line for line in added_lines | removed_at if not ix.is_blank(line)}
    changed = {d.qualname for d in map(ix.innermost, lines) if d is not None}
    added = {
        d.qualname for d in ix.defs if d.node.start_point.row + 1 in added_lines and d.parts[-1] not in removed_defs
    }
    present = {d.parts[-1] for d in ix.defs}
    changed |= {name for name in removed_defs if name not in present}
    return ChangeFacts(
        touched_tests=tuple(_touched_in_new(ix, path, lines)) if test_file else (),
        changed=tuple(sorted(changed - added)),
        added=tuple(sorted(added)),
        referenced=frozenset(referenced_names(path, new, added_lines) if added_lines and test_file else ()),
    )


def _touched_in_new(ix: _Index, path: str, lines: set[int]) -> list[str]:
    if not ix.tests:
        return []
    changes = _Changes(set(), set(), set())
    for line in sorted(lines):
        changes.line(ix, line)
    if changes.names:
        _spread_through_helpers(ix, changes)
    return _hit_tests(ix, path, changes)


def _hit_tests(ix: _Index, path: str, changes: _Changes) -> list[str]:
    """Node ids of the tests that the recorded changes reach. Sorted."""
    hit = {
        ix.spec.node_id(path, t.parts)
        for t in ix.tests
        if t.parts in changes.tests
        or any(t.parts[: len(s)] == s for s in changes.scopes)
        or _uses_changed_name(ix, t, changes.names)
    }
    return sorted(hit)


# ---------------------------------------------------------------------------------------------
# Test code shared between files: a conftest.py's fixtures, a helper module's functions. A change
# there touches the tests of other files that use what changed.


@dataclass(frozen=True)
class SharedChange:
    """What a change to a file of shared test code (no tests of its own) reaches in other files."""

    names: frozenset[str]  # fixtures, helpers and module-level names that changed
    every_test: bool  # an autouse fixture (or a setup hook) changed: every test in scope is touched


def shared_change(path: str, new: bytes | None, lines: set[int]) -> SharedChange:
    """The names a change to `path` (in new-file line numbers) changes, spread through the
    file's own helpers (a fixture built on a changed helper changed too)."""
    ix = _index(path, new)
    if ix is None:
        return SharedChange(frozenset(), False)
    changes = _Changes(set(), set(), set())
    for line in sorted(lines):
        if not ix.is_blank(line):
            changes.line(ix, line)
    _spread_through_helpers(ix, changes)
    return SharedChange(frozenset(changes.names), bool(changes.scopes))


def tests_using(path: str, source: bytes | None, change: SharedChange) -> list[str]:
    """Node ids of the tests in `path` that use a name of `change` (as a fixture argument, a
    call, through a fixture or helper of their own file), or all of them when it changed an
    autouse fixture. Sorted."""
    ix = _index(path, source)
    if ix is None or not ix.tests:
        return []
    changes = _Changes(set(), {()} if change.every_test else set(), set(change.names))
    if changes.names:
        _spread_through_helpers(ix, changes)
    return _hit_tests(ix, path, changes)
