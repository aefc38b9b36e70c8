"""mini-swe-agent (PyPI `mini-swe-agent`): the bash-only agent behind SWE-bench's bash-only rows.

Installed with pip into /opt/swegen-agent/venv. sandbox/agent_mini_swe_agent.py runs its
DefaultAgent with its LocalEnvironment in /testbed and its builtin `mini.yaml` config (bash tool
calls; `--agent-env SWEGEN_MINI_CONFIG=mini_textbased.yaml` for the text-block protocol): the
problem statement is the task, `echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT` ends it, and the patch
is what it changed in /testbed. Model and endpoint: --model, and OPENAI_API_BASE / OPENAI_API_KEY
through --agent-env (MSWEA_* variables pass the same way; SWEGEN_STEP_LIMIT caps its turns).
The trajectory is kept as trajectory.json.
"""

from swegen.agents import AgentPreset

PRESET = AgentPreset(
    name="mini-swe-agent", package="mini-swe-agent", version="2.4.6", installer="pip",
    driver="agent_mini_swe_agent.py",
)
