"""aider (PyPI `aider-chat`): the pair-programming agent, run headless with `--message`.

Installed with pip into /opt/swegen-agent/venv (aider wants Python 3.10 to 3.12).
sandbox/agent_aider.py starts aider as `aider --message STATEMENT --yes-always --no-auto-commits
--no-stream ...` would (through its own main, to read the coder's token totals), in /testbed with
its repository map; edits arrive in the edit format aider picks for the model (SEARCH/REPLACE,
udiff or whole files; `--agent-env AIDER_EDIT_FORMAT=diff` picks one). Model and endpoint:
--model, and OPENAI_API_BASE / OPENAI_API_KEY through --agent-env (any AIDER_* option too). Its
chat and LLM history files are kept as the trajectory.
"""

from swegen.agents import AgentPreset

PRESET = AgentPreset(
    name="aider", package="aider-chat", version="0.86.2", installer="pip", driver="agent_aider.py",
)
