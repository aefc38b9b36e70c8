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
