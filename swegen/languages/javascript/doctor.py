"""What JS/TS needs: node and npm on the host (for `swegen` checks and local runs) and Debian's
nodejs and npm in the base image (the environment image adds them as system packages)."""

from __future__ import annotations

import re
import shutil
import subprocess

#: Debian packages an image needs for this language.
TOOLCHAIN = ("nodejs", "npm")
#: Oldest Node whose test runner takes --test-reporter (node:test's reporter).
NODE_TEST_REPORTER = (18, 15)


def _version(command: list[str]) -> str | None:
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() if result.returncode == 0 else None


def checks() -> list[tuple[str, bool, str]]:
    """(check, ok, how to fix) for node, npm and node:test's reporter option."""
    out = []
    node = _version(["node", "--version"]) if shutil.which("node") else None
    out.append((f"node on the host ({node or 'missing'})", node is not None, "apt-get install nodejs (or any Node >= 18)"))
    npm = _version(["npm", "--version"]) if shutil.which("npm") else None
    out.append((f"npm on the host ({npm or 'missing'})", npm is not None, "apt-get install npm"))
    if node:
        m = re.match(r"v(\d+)\.(\d+)", node)
        ok = bool(m) and (int(m.group(1)), int(m.group(2))) >= NODE_TEST_REPORTER
        out.append(("node --test-reporter (Node >= 18.15)", ok, "install a newer Node (Debian bookworm's is 18.19)"))
    out.append((f"base image packages: {' '.join(TOOLCHAIN)}", True, "the environment image installs them as system packages"))
    return out
