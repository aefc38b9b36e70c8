"""Files that ship inside the package: sandbox scripts and Jinja2 templates."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import jinja2


def sandbox_file(*parts: str) -> Path:
    """A file from the top-level sandbox/ folder (installed as swegen._sandbox)."""
    return Path(str(resources.files("swegen._sandbox").joinpath(*parts)))


def template_dir() -> Path:
    return Path(str(resources.files("swegen._templates")))


@functools.lru_cache(maxsize=1)
def template_env() -> jinja2.Environment:
    """Jinja2 environment over the shipped templates; undefined variables are errors, not blanks."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(template_dir())),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )


def template_source(name: str) -> str:
    return (template_dir() / name).read_text(encoding="utf-8")
