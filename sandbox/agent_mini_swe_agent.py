"""Runs mini-swe-agent headless on /testbed, for `swegen solve --agent mini-swe-agent`.

mini-swe-agent's own pieces, as its `mini` command wires them but without the interactive agent:
its DefaultAgent, its LocalEnvironment in /testbed (each bash action runs with the sandbox's PATH,
so the project's Python, not the agent's), its litellm model with the builtin `mini.yaml` config
(or $SWEGEN_MINI_CONFIG, a builtin name or a path). The problem statement is the agent's task. The
trajectory goes to $SWEGEN_AGENT_OUT/trajectory.json, the figures to result.json.

Model: $SWEGEN_MODEL; with $OPENAI_API_BASE (an OpenAI-compatible endpoint) it is asked as
`openai/<model>`, otherwise the name goes to litellm as given (`anthropic/claude-...`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_common import OUT, endpoint, endpoint_failure, statement, unreachable, write_result  # noqa: E402

# before mini-swe-agent and litellm are imported: no cost map from the network, no first-run
# wizard, no failure on a model litellm has no price for, and a bounded retry of a failing endpoint
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MSWEA_COST_TRACKING", "ignore_errors")
os.environ.setdefault("MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT", "3")
os.environ.setdefault("MSWEA_SILENT_STARTUP", "1")
os.environ.setdefault("MSWEA_CONFIGURED", "true")
os.environ.setdefault("MSWEA_GLOBAL_CONFIG_DIR", "/tmp/mini-swe-agent")


def _config() -> dict:
    import yaml
    from minisweagent.config import builtin_config_dir

    name = os.environ.get("SWEGEN_MINI_CONFIG", "mini.yaml")
    path = Path(name) if Path(name).is_file() else builtin_config_dir / name
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _usage(messages: list[dict]) -> tuple[int, int]:
    """Tokens over every model response the trajectory kept (format errors included)."""
    prompt = completion = 0
    for message in messages:
        usage = ((message.get("extra") or {}).get("response") or {})
        usage = usage.get("usage") if isinstance(usage, dict) else None
        if isinstance(usage, dict):
            prompt += int(usage.get("prompt_tokens") or 0)
            completion += int(usage.get("completion_tokens") or 0)
    return prompt, completion


def main() -> int:
    started = time.monotonic()
    down = unreachable(endpoint())
    import minisweagent
    from minisweagent.agents.default import DefaultAgent
    from minisweagent.environments.local import LocalEnvironment
    from minisweagent.models import get_model

    figures = {"agent": "mini-swe-agent", "agent_version": minisweagent.__version__}
    if down:
        write_result(**figures, turns=0, prompt_tokens=0, completion_tokens=0, exit_status="EndpointUnreachable", infra_error=down)
        return 3
    config = _config()
    name = os.environ["SWEGEN_MODEL"]
    model_config = dict(config.get("model") or {})
    if endpoint():
        name = name if name.startswith("openai/") else f"openai/{name}"
        model_config["model_kwargs"] = {**(model_config.get("model_kwargs") or {}), "api_base": endpoint()}
    model = get_model(name, model_config)
    env = LocalEnvironment(**{**(config.get("environment") or {}), "cwd": os.environ.get("SWEGEN_TESTBED", "/testbed")})
    agent_config = {key: value for key, value in (config.get("agent") or {}).items() if key not in ("mode", "confirm_exit", "whitelist_actions", "agent_class")}
    agent_config.update(output_path=OUT / "trajectory.json", cost_limit=0,
                        step_limit=int(os.environ.get("SWEGEN_STEP_LIMIT", agent_config.get("step_limit") or 0)))
    agent = DefaultAgent(model, env, **agent_config)
    infra, exit_status = None, ""
    try:
        exit_status = agent.run(statement()).get("exit_status", "")
    except Exception as exc:  # the agent saved its trajectory with the exit message first
        exit_status, infra = type(exc).__name__, endpoint_failure(exc)
        print(f"mini-swe-agent stopped: {type(exc).__name__}: {exc}", file=sys.stderr)
    prompt, completion = _usage(agent.messages)
    write_result(**figures, turns=agent.n_calls, prompt_tokens=prompt, completion_tokens=completion, exit_status=exit_status,
                 infra_error=infra, seconds=round(time.monotonic() - started, 1))
    return 0 if not infra else 3


if __name__ == "__main__":
    sys.exit(main())
