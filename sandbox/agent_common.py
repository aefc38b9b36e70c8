"""What the agent preset drivers share inside the solve sandbox (standard library only).

A driver runs with the agent's own interpreter (/opt/swegen-agent/venv), never the project's, and
writes `result.json` into $SWEGEN_AGENT_OUT: the agent's version, its turns and tokens, how it
ended, and `infra_error` when the model endpoint failed (unreachable, 5xx after the agent's own
retries, a refused key), which swegen records as an infrastructure error, never as an empty patch.
"""

from __future__ import annotations

import json
import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit

OUT = Path(os.environ.get("SWEGEN_AGENT_OUT", "/swegen/out"))
#: Exception names (litellm's and openai's) that mean the endpoint failed, not the model.
ENDPOINT_ERRORS = {
    "APIConnectionError", "APITimeoutError", "Timeout", "InternalServerError", "ServiceUnavailableError",
    "BadGatewayError", "RateLimitError", "AuthenticationError", "PermissionDeniedError", "NotFoundError",
    "APIError", "ConnectionError", "ConnectTimeout", "ReadTimeout",
}


def endpoint() -> str | None:
    """The OpenAI-compatible base URL the agent is given, if any."""
    return os.environ.get("OPENAI_API_BASE") or os.environ.get("OPENAI_BASE_URL") or None


def unreachable(url: str | None, wait: float | None = None) -> str | None:
    """Why the endpoint's port does not accept a connection within `wait` seconds, or None.

    A service started beside the agent (--agent-service) may need a moment to listen; an endpoint
    still closed after that is an outage, found before the agent spends its retries on it."""
    if not url:
        return None
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    deadline = time.monotonic() + (wait if wait is not None else float(os.environ.get("SWEGEN_ENDPOINT_WAIT", "20")))
    last = ""
    while True:
        try:
            with socket.create_connection((host, port), timeout=5):
                return None
        except OSError as exc:
            last = f"{type(exc).__name__}: {exc}"
        if time.monotonic() >= deadline:
            return f"the model endpoint {host}:{port} is unreachable from the sandbox ({last})"
        time.sleep(0.25)


def write_result(**fields: object) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "result.json").write_text(json.dumps(fields, indent=2, default=str), encoding="utf-8")


def endpoint_failure(exc: BaseException) -> str | None:
    """The infrastructure error an exception from the agent's model call means, or None."""
    name = type(exc).__name__
    if name in ENDPOINT_ERRORS:
        return f"the model endpoint failed: {name}: {' '.join(str(exc).split())[:300]}"
    return None


def statement() -> str:
    return Path(os.environ.get("SWEGEN_PROBLEM_FILE", "/swegen/problem_statement.md")).read_text(encoding="utf-8")
