"""The bundled example repository: a small Python project (`ledger`) with a known git history.

`create_example(dest)` builds it; `load_manifest()` says, by commit subject, which changes in
that history are real bug fixes and which are noise a miner or validator must reject. The
manifest ships with swegen and is never written into the repository, so a miner cannot see it.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from swegen.example.builder import DEFAULT_BRANCH, create_example

# The SWE-bench `repo` field of tasks mined from the example.
EXAMPLE_REPO_NAME = "swegen-example/ledger"

__all__ = ["DEFAULT_BRANCH", "EXAMPLE_REPO_NAME", "create_example", "load_manifest"]


def load_manifest() -> dict[str, Any]:
    """The shipped description of every change in the example history (see manifest.json)."""
    text = resources.files(__name__).joinpath("manifest.json").read_text(encoding="utf-8")
    return json.loads(text)


#: The example repository of each language: Python's `ledger` here, and one per language of
#: swegen.languages in that language's package (name -> module, builder function, manifest).
_OTHERS = {
    "javascript": ("swegen.languages.javascript.example", "create_js_example"),
    "typescript": ("swegen.languages.javascript.example_ts", "create_ts_example"),
    "go": ("swegen.languages.go.example", "create_go_example"),
}
LANGUAGES = ("python", *_OTHERS)
#: What `--language` also accepts.
ALIASES = {"py": "python", "js": "javascript", "ts": "typescript"}


def language_name(given: str) -> str:
    """The example language `given` names (an alias or a name); BadInput for one without an example."""
    from swegen.errors import BadInput

    name = ALIASES.get(given.lower(), given.lower())
    if name not in LANGUAGES:
        raise BadInput(f"no example repository in {given!r}", hint=f"use one of: {', '.join(LANGUAGES)}")
    return name


def create_for(language: str, dest) -> tuple[Any, str]:
    """Build the example of `language` at `dest`: (its path, its SWE-bench `repo` name)."""
    from pathlib import Path

    if language == "python":
        return create_example(dest), EXAMPLE_REPO_NAME
    manifest = manifest_for(language, dest)
    return Path(dest), manifest["repo"]


def manifest_for(language: str, dest=None) -> dict[str, Any]:
    """The manifest of `language`'s example (built in a scratch folder when `dest` is None, for
    a manifest that names commit ids)."""
    import importlib
    import tempfile
    from pathlib import Path

    if language == "python":
        return load_manifest()
    module_name, builder = _OTHERS[language]
    module = importlib.import_module(module_name)
    if dest is None:
        with tempfile.TemporaryDirectory(prefix="swegen-example-") as scratch:
            return manifest_for(language, Path(scratch) / "repo")
    made = getattr(module, builder)(Path(dest))
    manifest = getattr(module, "MANIFEST", None)
    return manifest if manifest is not None else made
