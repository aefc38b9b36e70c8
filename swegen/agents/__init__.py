"""Agent presets: the coding agents teams use, ready for `swegen solve --agent NAME`.

A preset is a plain record (`AgentPreset`): the registry package and its pinned version, the
driver script from sandbox/ that runs the agent headless in /testbed, and how it is installed.
Each agent goes into an image layer of its own on top of the task's environment image
(`swegen/agents/images.py`), cached by agent, version and that image; the driver writes the
agent's version, turns and tokens to result.json and its trajectory beside it, which solve copies
to the run folder. One module per preset says how that agent is given the statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swegen.errors import BadInput

#: Where an agent's own interpreter or prefix lives in its image, away from the project's venv.
AGENT_PREFIX = "/opt/swegen-agent"
#: Where a driver writes result.json and the agent's trajectory, copied out after the run.
AGENT_OUT = "/swegen/out"


@dataclass(frozen=True)
class AgentPreset:
    """One coding agent: what to install from which registry, and the driver that runs it."""

    #: The name given to --agent.
    name: str
    #: The package in its registry (PyPI for pip, npm for npm).
    package: str
    #: The version installed unless --agent-version says otherwise (pinned, so images cache).
    version: str
    #: "pip" (into a venv of its own) or "npm" (into a prefix of its own).
    installer: str
    #: The driver script in sandbox/ that runs the agent headless and writes result.json.
    driver: str
    #: The lowest Python the agent installs on (the environment image's python3 runs it).
    min_python: str = "3.10"

    def requirement(self, version: str | None = None) -> str:
        """The install argument: package==version for pip, package@version for npm."""
        pinned = version or self.version
        return f"{self.package}=={pinned}" if self.installer == "pip" else f"{self.package}@{pinned}"

    def command(self, agent_dir: str) -> str:
        """The sandbox command that runs the driver: with the agent's own interpreter for a pip
        agent, with the sandbox's python3 for an npm one (its driver is standard library only)."""
        python = f"{AGENT_PREFIX}/venv/bin/python" if self.installer == "pip" else "python3"
        return f"{python} {agent_dir}/{self.driver}"


def presets() -> dict[str, AgentPreset]:
    """Every preset by name."""
    from swegen.agents import aider, codex, mini_swe_agent

    return {preset.name: preset for preset in (mini_swe_agent.PRESET, aider.PRESET, codex.PRESET)}


def preset(name: str) -> AgentPreset:
    """The preset called `name`; BadInput naming the known ones otherwise."""
    known = presets()
    if name not in known:
        raise BadInput(f"no agent preset {name!r}", hint=f"use one of: {', '.join(sorted(known))}")
    return known[name]


#: The preset names, for the CLI's choices (kept in step with presets() by a test).
PRESET_NAMES = ("mini-swe-agent", "aider", "codex")


@dataclass(frozen=True)
class AgentRun:
    """What a preset's driver reported about one run (result.json), for the predictions line."""

    agent_version: str | None = None
    turns: int | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    exit_status: str | None = None
    #: The endpoint failed (unreachable, 5xx after the agent's retries, a refused key): no answer.
    infra_error: str | None = None

    def fields(self) -> dict[str, object]:
        """The predictions line's fields (infra_error apart: solve decides on it)."""
        return {"agent_version": self.agent_version, "turns": self.turns, "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens, "agent_exit_status": self.exit_status}


def unpack_run(archive: bytes, dest: Path) -> AgentRun | None:
    """Extract the driver's output folder (a tar of AGENT_OUT) into `dest`; its result.json read,
    or None when the driver wrote none (it crashed before the agent finished)."""
    import io
    import json
    import tarfile

    dest.mkdir(parents=True, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        for member in tar.getmembers():
            name = member.name.split("/", 1)[1] if "/" in member.name else ""
            if not name or not member.isfile() or ".." in name.split("/"):
                continue  # only plain files, under dest: the agent's commands may have written anything here
            target = dest / name
            target.parent.mkdir(parents=True, exist_ok=True)
            source = tar.extractfile(member)
            if source is not None:
                target.write_bytes(source.read())
    try:
        data = json.loads((dest / "result.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None

    def number(key: str) -> int | None:
        value = data.get(key)
        return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None

    text = lambda key: str(data[key])[:500] if data.get(key) not in (None, "") else None  # noqa: E731
    return AgentRun(text("agent_version"), number("turns"), number("prompt_tokens"), number("completion_tokens"),
                    text("exit_status"), text("infra_error"))
