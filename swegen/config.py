"""Project configuration: a `swegen.toml` in the repository, or `--config FILE`, overrides detection.

Layers, lowest first: swegen's defaults and what it detects < the repository's swegen.toml (read
at the commit being worked on, so old commits keep the settings they had) < `--config FILE` <
command-line flags. Every option of the command line can also come from a SWEGEN_* variable.

    [environment]
    python = "3.11"                       # instead of detecting one
    base_image = "python:3.11-slim"       # instead of swegen's own base image
    system_packages = ["libxml2-dev"]     # Debian packages added to the image
    pre_install = ["pip install -U pip"]  # commands before the dependencies
    install = ["pip install -r ci.txt"]   # replaces the detected dependency install
    requirements = ["freezegun"]          # added to the detected requirements
    env = { DJANGO_SETTINGS_MODULE = "app.settings" }

    [tests]
    pytest_args = ["-p", "no:randomly"]   # added to every pytest run
    globs = ["spec/**"]                   # more test locations for the gold/test split
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from swegen.errors import BadInput

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

FILE_NAME = "swegen.toml"
#: Every setting a swegen.toml may hold, by section: anything else is a typo to report, not to ignore.
KNOWN = {
    "environment": ("python", "base_image", "system_packages", "pre_install", "install", "requirements", "env"),
    "tests": ("pytest_args", "globs"),
    # where jobs run (swegen.executor); read from `--config FILE` only, never from a repository
    "executor": ("kind", "ray_address", "registry"),
}


@dataclass(frozen=True)
class ProjectConfig:
    """What a repository (or the user) says about how to build and test it."""

    python: str | None = None
    base_image: str | None = None
    system_packages: tuple[str, ...] = ()
    pre_install: tuple[str, ...] = ()
    install: tuple[str, ...] = ()
    requirements: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    pytest_args: tuple[str, ...] = ()
    test_globs: tuple[str, ...] = ()
    #: Where each setting came from, for `swegen env show`.
    source: str = ""

    def merged(self, other: "ProjectConfig") -> "ProjectConfig":
        """`other` on top of self: its non-empty settings win."""
        values = {}
        for name in self.__dataclass_fields__:
            mine, theirs = getattr(self, name), getattr(other, name)
            values[name] = theirs if theirs else mine
        values["source"] = " + ".join(s for s in (self.source, other.source) if s)
        return ProjectConfig(**values)


def parse(text: str, source: str) -> ProjectConfig:
    """A ProjectConfig from swegen.toml text; BadInput with the file named when it is malformed:
    not TOML, an unknown section or key (a typo would otherwise be ignored), or a value of the
    wrong type."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise BadInput(f"{source} is not valid TOML: {exc}", hint="fix the file, or remove it") from exc
    _check_keys(data, source)
    env_section, tests = data.get("environment", {}), data.get("tests", {})
    try:
        return ProjectConfig(
            python=_str(env_section.get("python"), "python"),
            base_image=_str(env_section.get("base_image"), "base_image"),
            system_packages=_strings(env_section.get("system_packages")),
            pre_install=_strings(env_section.get("pre_install")),
            install=_strings(env_section.get("install")),
            requirements=_strings(env_section.get("requirements")),
            env=_env(env_section.get("env")),
            pytest_args=_strings(tests.get("pytest_args")),
            test_globs=_strings(tests.get("globs")),
            source=source,
        )
    except (TypeError, AttributeError) as exc:
        raise BadInput(f"{source} has a setting of the wrong type: {exc}",
                       hint='see the README (Validation) for the format, e.g. python = "3.11", install = ["pip install ."]') from None


def _check_keys(data: dict, source: str) -> None:
    for section, values in data.items():
        if section not in KNOWN:
            raise BadInput(f"{source} has an unknown section [{section}]", hint=f"use only {', '.join(f'[{k}]' for k in KNOWN)}")
        if not isinstance(values, dict):
            raise BadInput(f"{source}: {section} is a {type(values).__name__}, not a section", hint=f"write it as a [{section}] table")
        for key in values:
            if key not in KNOWN[section]:
                raise BadInput(f"{source} has an unknown setting {key!r} in [{section}]", hint=f"[{section}] takes {', '.join(KNOWN[section])}")


def _str(value: object, name: str) -> str | None:
    if value is not None and not isinstance(value, str):
        # a bare 3.10 is the float 3.1: only a string says what was meant
        raise TypeError(f"{name} must be a string, got {value!r}")
    return value


def _strings(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise TypeError(f"expected a list of strings, got {value!r}")
    return tuple(value)


def _env(value: object) -> tuple[tuple[str, str], ...]:
    if value is None:
        return ()
    if not isinstance(value, dict) or not all(isinstance(v, (str, int, float, bool)) for v in value.values()):
        raise TypeError(f"env must be a table of NAME = \"value\", got {value!r}")
    return tuple(sorted((str(k), str(v).lower() if isinstance(v, bool) else str(v)) for k, v in value.items()))


def load(repo_file_text: str | None, override: Path | None) -> ProjectConfig:
    """The repository's swegen.toml (text at the commit, if any) under `--config FILE`."""
    config = parse(repo_file_text, FILE_NAME) if repo_file_text else ProjectConfig()
    if override is not None:
        if not override.is_file():
            raise BadInput(f"config file {override} does not exist", hint="pass an existing swegen.toml with --config")
        try:
            text = override.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise BadInput(f"cannot read config file {override} ({getattr(exc, 'strerror', None) or 'not UTF-8'})",
                           hint="pass a readable UTF-8 swegen.toml with --config") from None
        config = config.merged(parse(text, str(override)))
    return config


def executor_table(path: Path | None) -> dict[str, str]:
    """The [executor] settings of a `--config FILE` (kind, ray_address, registry), all strings."""
    if path is None or not path.is_file():
        return {}
    text = path.read_text(encoding="utf-8")
    parse(text, str(path))  # the same checks as for the rest of the file
    table = tomllib.loads(text).get("executor", {})
    for key, value in table.items():
        if not isinstance(value, str):
            raise BadInput(f"{path} has a setting of the wrong type: executor.{key} must be a string, got {value!r}",
                           hint='e.g. kind = "ray", ray_address = "head:6379", registry = "registry.local:5000"')
    return dict(table)
