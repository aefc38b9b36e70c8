"""The languages swegen knows, behind one boundary (`swegen.languages.base.Language`).

Stages ask this module which language a path or a repository is in; they never import a
language's package themselves. Languages register here by name, in the order a path is tried.
"""

from __future__ import annotations

import importlib
from functools import lru_cache

from swegen.languages.base import Language

#: name -> module holding `LANGUAGE`, tried in this order for a path.
REGISTRY = {
    "python": "swegen.languages.python",
    "javascript": "swegen.languages.javascript",
    "go": "swegen.languages.go",
}


@lru_cache(maxsize=None)
def by_name(name: str) -> Language:
    """The language called `name`; KeyError for one swegen does not know."""
    return importlib.import_module(REGISTRY[name]).LANGUAGE


@lru_cache(maxsize=None)
def available() -> tuple[Language, ...]:
    """Every registered language whose package is present (and exports its LANGUAGE)."""
    found = []
    for name in REGISTRY:
        try:
            found.append(by_name(name))
        except (ImportError, AttributeError):
            continue
    return tuple(found)


def for_path(path: str) -> Language | None:
    """The language that owns this file, or None."""
    return next((lang for lang in available() if lang.owns(path)), None)


def detect(paths: list[str]) -> list[str]:
    """The languages of a change (by the files it touches), most files first."""
    counts: dict[str, int] = {}
    for path in paths:
        lang = for_path(path)
        if lang is not None:
            counts[lang.name] = counts.get(lang.name, 0) + 1
    return sorted(counts, key=lambda n: (-counts[n], n))


def toolchains(names) -> dict[str, tuple[str, ...]]:
    """The Debian packages of each named language's toolchain (for a base image); BadInput for a
    name swegen does not know."""
    from swegen.errors import BadInput

    found = {}
    for name in names:
        try:
            found[name] = tuple(by_name(name).toolchain_packages())
        except KeyError:
            known = ", ".join(sorted(lang.name for lang in available()))
            raise BadInput(f"no language {name!r} to add a toolchain for", hint=f"choose among: {known}") from None
    return found
