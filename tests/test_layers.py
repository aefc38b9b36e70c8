"""The language boundary as the code has it: imports point down, stages never import a language.

Read from the source with `ast` (every import, inside functions too), so a change that breaks
the rule fails here rather than in a review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import swegen
from swegen import languages
from swegen.languages.base import Language

ROOT = Path(swegen.__file__).parent
#: What a language package may import of swegen outside swegen.languages: the layers below the
#: boundary (records, errors, sandbox, images' recipes, the run of a report-writing runner).
BELOW_LANGUAGES = {
    "swegen", "swegen.errors", "swegen.records", "swegen.images", "swegen.sandbox", "swegen.runner",
    "swegen.canaries", "swegen.grading", "swegen.resources", "swegen.globs", "swegen.history", "swegen.config",
    "swegen.docker_sandbox",
}
#: Modules the layers below import nothing above them from.
LOW = {name.removeprefix("swegen.") for name in BELOW_LANGUAGES if name != "swegen"}


def _imports(path: Path) -> list[tuple[str, bool]]:
    """(module imported, inside `if TYPE_CHECKING:`) for every import of a file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            typing_only |= {id(n) for child in node.body for n in ast.walk(child)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, id(node) in typing_only) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.module, id(node) in typing_only))
            found += [(f"{node.module}.{alias.name}", id(node) in typing_only) for alias in node.names
                      if (ROOT.parent / (node.module + "." + alias.name).replace(".", "/")).with_suffix(".py").exists()
                      or (ROOT.parent / (node.module + "." + alias.name).replace(".", "/")).is_dir()]
    return [(name, typing) for name, typing in found if name == "swegen" or name.startswith("swegen.")]


def _module(path: Path) -> str:
    return ".".join(path.relative_to(ROOT.parent).with_suffix("").parts).removesuffix(".__init__")


def test_every_registered_language_implements_the_protocol():
    names = [language.name for language in languages.available()]
    assert names == list(languages.REGISTRY)
    assert "python" in names
    for language in languages.available():
        assert isinstance(language, Language), language.name
        assert languages.by_name(language.name) is language


def test_a_language_package_imports_only_itself_the_boundary_and_what_is_below():
    for path in sorted((ROOT / "languages").rglob("*.py")):
        module = _module(path)
        parts = module.split(".")
        own = ".".join(parts[:3]) if len(parts) > 2 else None  # swegen.languages.<name>
        for name, _ in _imports(path):
            if name in BELOW_LANGUAGES or name in ("swegen.languages", "swegen.languages.base"):
                continue
            if own and (name == own or name.startswith(own + ".")):
                continue
            pytest.fail(f"{module} imports {name}: a language imports only its own package, the boundary and the layers below")


def test_no_stage_imports_a_language_package():
    """Outside swegen.languages, a language is asked for by name (languages.by_name, for_path):
    only type annotations may name one (TYPE_CHECKING), and the example registry names modules
    by string."""
    for path in sorted(ROOT.rglob("*.py")):
        if (ROOT / "languages") in path.parents:
            continue
        for name, typing_only in _imports(path):
            parts = name.split(".")
            if len(parts) >= 3 and parts[1] == "languages" and parts[2] != "base" and not typing_only:
                pytest.fail(f"{_module(path)} imports {name}: ask swegen.languages for the language instead")


def test_the_layers_below_the_languages_import_nothing_above_them():
    for low in sorted(LOW):
        path = ROOT / f"{low}.py"
        for name, typing_only in _imports(path):
            if typing_only or name == "swegen":
                continue
            target = name.removeprefix("swegen.").split(".")[0]
            assert target in LOW, f"swegen.{low} imports {name}, which is above the languages"


def test_every_language_takes_the_protocols_arguments():
    """`isinstance` against a Protocol checks names only: the parameters are checked here."""
    import inspect

    members = [name for name, value in vars(Language).items() if callable(value) and not name.startswith("_")]
    assert "run_tests" in members and "plan" in members
    for language in languages.available():
        for name in members:
            want = list(inspect.signature(getattr(Language, name)).parameters)[1:]
            have = list(inspect.signature(getattr(language, name)).parameters)
            assert have == want, f"{language.name}.{name}{tuple(have)} is not the protocol's {tuple(want)}"
