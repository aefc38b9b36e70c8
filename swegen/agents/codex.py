"""codex (npm `@openai/codex`): OpenAI's coding agent CLI, run headless with `codex exec --json`.

Installed with npm into /opt/swegen-agent/npm (the binary ships inside the npm package; Debian's
nodejs and npm are added to the layer when the image has none). sandbox/agent_codex.py gives it
the problem statement as its prompt in /testbed, with codex's own sandbox and approvals off (the
swegen sandbox is the boundary). Model and endpoint: --model, and OPENAI_API_BASE /
OPENAI_API_KEY through --agent-env; codex speaks only the Responses API (`POST /responses`;
Chat Completions is refused since 0.80), so the endpoint must serve it. Its JSON events
(events.jsonl) and its home with the session (codex-home/) are kept as the trajectory; its turns
are its tool calls plus the closing message, its tokens those of `turn.completed`.
"""

from swegen.agents import AgentPreset

PRESET = AgentPreset(
    name="codex", package="@openai/codex", version="0.169.0", installer="npm", driver="agent_codex.py", min_python="3.9",
)
