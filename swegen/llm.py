"""One chat completion from an OpenAI-compatible endpoint, with nothing but the standard library.

Shared by the statement rewrite and the `openai` solve agent. A call that does not give a usable
answer (network error, non-200, a body that is not a chat completion) raises `ChatFailed` with a
one-line reason; only a base URL that is not http(s) is the user's to fix (BadInput).
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from swegen.errors import BadInput


class ChatFailed(Exception):
    """The model endpoint did not give a usable answer; the message says why, on one line."""


@dataclass(frozen=True)
class ChatReply:
    """The assistant's text and the token counts the endpoint reported (None when it did not)."""

    text: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None


def chat_endpoint(base_url: str) -> str:
    """POST URL for chat completions under an OpenAI-compatible base URL (BadInput if not http(s))."""
    url = (base_url or "").strip().rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise BadInput(
            f"model base URL {base_url!r} is not an http(s) URL",
            hint="pass an OpenAI-compatible endpoint such as http://localhost:8000/v1",
        )
    return url if url.endswith("/chat/completions") else f"{url}/chat/completions"


def chat(
    endpoint: str,
    model: str,
    messages: list[dict[str, str]],
    *,
    api_key: str | None,
    timeout: float,
    temperature: float = 0,
) -> ChatReply:
    """Send `messages` to `endpoint` (from `chat_endpoint`) and return the first choice's text."""
    payload = {"model": model, "messages": messages, "temperature": temperature}
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "swegen"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(endpoint, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with _opener(endpoint).open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        raise ChatFailed(f"HTTP {exc.code} from {endpoint}{_error_detail(exc)}") from None
    except (urllib.error.URLError, OSError, http.client.HTTPException, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ChatFailed(f"cannot reach {endpoint} ({_one_line(str(reason))})") from None
    if status != 200:
        raise ChatFailed(f"HTTP {status} from {endpoint}")
    return _reply(raw)


def _opener(endpoint: str) -> urllib.request.OpenerDirector:
    """Loopback endpoints (local servers, the fake model) bypass any configured HTTP proxy."""
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    if host in ("localhost", "127.0.0.1", "::1"):
        return urllib.request.build_opener(urllib.request.ProxyHandler({}))
    return urllib.request.build_opener()


def _error_detail(exc: urllib.error.HTTPError) -> str:
    try:
        body = exc.read(300).decode("utf-8", "replace")
    except (OSError, http.client.HTTPException):
        body = ""
    finally:
        exc.close()
    return f": {_one_line(body)[:200]}" if body.strip() else ""


def _reply(raw: bytes) -> ChatReply:
    try:
        answer = json.loads(raw)
        content = answer["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError):
        raise ChatFailed(f"the reply is not a chat completion ({_one_line(raw[:120].decode('utf-8', 'replace'))})") from None
    if not isinstance(content, str):
        raise ChatFailed("the reply has no text content")
    usage = answer.get("usage") if isinstance(answer, dict) else None
    return ChatReply(content, _count(usage, "prompt_tokens"), _count(usage, "completion_tokens"))


def _count(usage: Any, key: str) -> int | None:
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())
