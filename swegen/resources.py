"""Files that ship inside the package: sandbox scripts and Jinja2 templates."""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

from typing import Any

import jinja2

from swegen.errors import BadInput


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


def one_line(text: str | None) -> str:
    return " ".join((text or "").split())


def load_template(path: Path | None, default: str, what: str = "template") -> jinja2.Template:
    """A user's Jinja2 template file, or the shipped `default`; a broken file is a BadInput."""
    if path is None:
        return template_env().get_template(default)
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = getattr(exc, "strerror", None) or "not UTF-8 text"
        raise BadInput(f"{what} {path} cannot be read ({reason})", hint="pass the path of a Jinja2 template file") from None
    try:
        return template_env().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise BadInput(
            f"{what} {path} line {exc.lineno}: {one_line(exc.message)}",
            hint=f"fix the Jinja2 syntax, or start from swegen's templates/{default}",
        ) from None


def render_template(template: jinja2.Template, variables: dict[str, Any], name: Path | str, what: str = "template") -> str:
    """Render, turning a template's mistake (an unknown variable) into a BadInput naming it."""
    try:
        return template.render(**variables)
    except jinja2.TemplateError as exc:
        raise BadInput(
            f"{what} {name} failed to render: {one_line(exc.message or str(exc))}",
            hint=f"a {what} may use only these variables: {', '.join(sorted(variables))}",
        ) from None
