"""Runs OpenAI's codex CLI headless on /testbed, for `swegen solve --agent codex`.

`codex exec --json` with the problem statement as its prompt, in /testbed, with codex's own
sandbox and approvals off (`--dangerously-bypass-approvals-and-sandbox`: the swegen sandbox is the
boundary, and bubblewrap cannot run in it). With $OPENAI_API_BASE the model is asked through a
custom provider at that URL (codex speaks only the Responses API, `POST /responses`, so the
endpoint must serve it), else through codex's default OpenAI provider; the key is $OPENAI_API_KEY.
Its JSON events go to events.jsonl and its home (sessions, logs) to codex-home/ in
$SWEGEN_AGENT_OUT. Standard library only: it runs with the sandbox's python3.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_common import OUT, endpoint, statement, unreachable, write_result  # noqa: E402

CODEX = os.environ.get("SWEGEN_CODEX_BIN", "/opt/swegen-agent/npm/bin/codex")
TESTBED = os.environ.get("SWEGEN_TESTBED", "/testbed")
#: Items of codex's JSON events that stand for one model request each (a tool call asked for).
TOOL_ITEMS = {"command_execution", "file_change", "mcp_tool_call", "web_search"}


def _argv() -> list[str]:
    argv = [CODEX, "exec", "--json", "--skip-git-repo-check", "--dangerously-bypass-approvals-and-sandbox", "-C", TESTBED,
            "-m", os.environ["SWEGEN_MODEL"]]
    if endpoint():
        provider = (f'{{name="swegen", base_url={json.dumps(endpoint())}, wire_api="responses", env_key="OPENAI_API_KEY"}}')
        argv += ["-c", "model_provider=swegen", "-c", f"model_providers.swegen={provider}"]
    return [*argv, statement()]


def _version() -> str | None:
    try:
        said = subprocess.run([CODEX, "--version"], capture_output=True, text=True, timeout=60).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return None
    return said[-1] if said else None


def _figures(events: list[dict]) -> dict:
    """Turns, tokens and how the run ended, from codex's JSON events."""
    prompt = completion = tools = 0
    failed, answered = None, False
    for event in events:
        kind = event.get("type")
        if kind == "turn.completed":
            usage = event.get("usage") or {}
            prompt += int(usage.get("input_tokens") or 0)
            completion += int(usage.get("output_tokens") or 0)
        elif kind == "turn.failed":
            failed = (event.get("error") or {}).get("message") or "turn failed"
        elif kind == "item.completed":
            item_type = (event.get("item") or {}).get("type")
            tools += item_type in TOOL_ITEMS
            answered = answered or item_type == "agent_message"
    return {"turns": tools + (1 if answered else 0), "prompt_tokens": prompt, "completion_tokens": completion,
            "exit_status": "turn failed" if failed else "turn completed", "failed": failed}


def main() -> int:
    started = time.monotonic()
    figures = {"agent": "codex", "agent_version": _version()}
    down = unreachable(endpoint())
    if down:
        write_result(**figures, turns=0, prompt_tokens=0, completion_tokens=0, exit_status="EndpointUnreachable", infra_error=down)
        return 3
    OUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "CODEX_HOME": str(OUT / "codex-home")}
    Path(env["CODEX_HOME"]).mkdir(parents=True, exist_ok=True)
    with open(OUT / "events.jsonl", "w", encoding="utf-8") as out:
        code = subprocess.run(_argv(), stdin=subprocess.DEVNULL, stdout=out, env=env).returncode
    events = []
    for line in (OUT / "events.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            continue
    found = _figures(events)
    failed = found.pop("failed")
    # a failed turn is codex giving up on the model's endpoint (after its own retries)
    infra = f"the model endpoint failed: {' '.join(failed.split())[:300]}" if failed else None
    write_result(**figures, **found, infra_error=infra, codex_exit=code, seconds=round(time.monotonic() - started, 1))
    return 3 if infra else code


if __name__ == "__main__":
    sys.exit(main())
