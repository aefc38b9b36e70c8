"""Path globs as swegen reads them everywhere (split rules, every language's file roles):
`**/` is any folder depth, none included; `**` anything; `*` and `?` stay within a folder."""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Iterable


@lru_cache(maxsize=256)
def glob_regex(pattern: str) -> re.Pattern[str]:
    """A regex for a path glob where `**/` is any folder depth, `*` and `?` stay within a folder."""
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out) + r"\Z")


def matches(path: str, globs: Iterable[str]) -> bool:
    """Does this repository-relative POSIX path match any of the globs?"""
    return any(glob_regex(g).match(path) for g in globs)
