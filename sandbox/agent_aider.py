"""Runs aider headless on /testbed, for `swegen solve --agent aider`.

aider is started as its command line would be with `--message` (the problem statement), through
its own `main(..., return_coder=True)` so that the coder's token totals can be read afterwards:
yes to every question, no auto-commits, no streaming, no update check or analytics, its chat and
LLM history files in $SWEGEN_AGENT_OUT instead of the repository, and its caches kept out of the
patch by the sandbox repository's .git/info/exclude. Any other aider option comes from its own
AIDER_* variables (`--agent-env AIDER_EDIT_FORMAT=diff`).

Model: $SWEGEN_MODEL; with $OPENAI_API_BASE (an OpenAI-compatible endpoint) it is asked as
`openai/<model>`, otherwise the name goes to aider as given.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from agent_common import OUT, endpoint, endpoint_failure, statement, unreachable, write_result  # noqa: E402

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
TESTBED = Path(os.environ.get("SWEGEN_TESTBED", "/testbed"))


class _Calls:
    """Counts the coder's completion calls and keeps the last failure (aider retries and then
    only prints an endpoint's failure, so this is how an outage is told from an answer)."""

    def __init__(self) -> None:
        self.ok, self.failed, self.last_error = 0, 0, None

    def wrap(self, send):
        def send_completion(*args, **kwargs):
            try:
                result = send(*args, **kwargs)
            except Exception as exc:
                self.failed, self.last_error = self.failed + 1, exc
                raise
            self.ok, self.last_error = self.ok + 1, None
            return result

        return send_completion


def _argv() -> list[str]:
    name = os.environ["SWEGEN_MODEL"]
    if endpoint():
        name = name if name.startswith("openai/") else f"openai/{name}"
    OUT.mkdir(parents=True, exist_ok=True)
    return [
        "--model", name, "--yes-always", "--no-auto-commits", "--no-dirty-commits", "--no-stream", "--no-pretty",
        "--no-fancy-input", "--no-check-update", "--analytics-disable", "--no-show-model-warnings", "--no-gitignore",
        "--no-show-release-notes", "--no-detect-urls",
        "--chat-history-file", str(OUT / "aider.chat.history.md"), "--input-history-file", str(OUT / "aider.input.history"),
        "--llm-history-file", str(OUT / "aider.llm.history"),
        *(["--openai-api-base", endpoint()] if endpoint() else []),
    ]


def main() -> int:
    started = time.monotonic()
    import aider
    from aider import models
    from aider.main import main as aider_main

    figures = {"agent": "aider", "agent_version": aider.__version__}
    down = unreachable(endpoint())
    if down:
        write_result(**figures, turns=0, prompt_tokens=0, completion_tokens=0, exit_status="EndpointUnreachable", infra_error=down)
        return 3
    exclude = TESTBED / ".git" / "info" / "exclude"
    if exclude.parent.is_dir():
        with exclude.open("a", encoding="utf-8") as handle:
            handle.write("\n.aider*\n")
    calls = _Calls()
    models.Model.send_completion = calls.wrap(models.Model.send_completion)
    os.chdir(TESTBED)
    coder = aider_main(_argv(), return_coder=True)
    if isinstance(coder, int):  # aider refused its arguments or the model before any call
        write_result(**figures, turns=0, prompt_tokens=0, completion_tokens=0, exit_status=f"exit {coder}", infra_error=None)
        return coder or 1
    exit_status = "done"
    try:
        coder.run(with_message=statement())
    except Exception as exc:
        exit_status = type(exc).__name__
        calls.last_error = calls.last_error or exc
    infra = endpoint_failure(calls.last_error) if calls.last_error is not None else None
    write_result(**figures, turns=calls.ok, failed_calls=calls.failed, prompt_tokens=coder.total_tokens_sent,
                 completion_tokens=coder.total_tokens_received, exit_status="endpoint failed" if infra else exit_status,
                 infra_error=infra, seconds=round(time.monotonic() - started, 1))
    return 0 if not infra else 3


if __name__ == "__main__":
    sys.exit(main())
