"""One chat completion from an OpenAI-compatible endpoint, with nothing but the standard library.

Shared by the statement rewrite and the `openai` solve agent. A call that does not give a usable
answer (network error, non-200, a body that is not a chat completion) raises `ChatFailed` with a
one-line reason; only a base URL that is not http(s) is the user's to fix (BadInput).

`ChatFailed.infra` tells an outage (of ours or the vendor's) from a refusal of this one request:
connection refused or closed, timeouts, HTTP 5xx and 429, and a 200 whose body is not a chat
completion are `transient` and retried with exponential backoff when a `RetryPolicy` is given
(a Retry-After header is honoured, up to the policy's cap); 401, 403, 404 and 407 are not worth
retrying but are infrastructure too (the model was never asked). Any other 4xx (a request too
long for the model, say) is the request's own failure, not infrastructure.
"""

from __future__ import annotations

import email.utils
import http.client
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable

from swegen.errors import BadInput

#: Statuses that mean the endpoint is not there for us (wrong URL, key or proxy): never the model's answer.
UNREACHABLE_STATUSES = frozenset({401, 403, 404, 407})


class ChatFailed(Exception):
    """The model endpoint did not give a usable answer; the message says why, on one line."""

    def __init__(self, message: str, *, transient: bool = False, infra: bool | None = None, retry_after: float | None = None) -> None:
        super().__init__(message)
        #: Worth asking again after a pause: the network, a timeout, HTTP 5xx or 429.
        self.transient = transient
        #: An infrastructure failure (the model gave no answer), not this request's refusal.
        self.infra = transient if infra is None else infra
        #: Seconds the endpoint asked us to wait (its Retry-After header), if it said.
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a transient failure is retried."""

    #: Retries after the first try (0: no retry).
    retries: int = 4
    #: Seconds before the first retry; each next one waits twice as long.
    backoff: float = 2.0
    #: No wait is longer than this, a Retry-After header included.
    max_backoff: float = 60.0

    def __post_init__(self) -> None:
        if self.retries < 0 or self.backoff < 0 or self.max_backoff < 0:
            raise BadInput(f"retry policy {self} has a negative value", hint="give retries and backoff seconds of zero or more")

    def delay(self, retry: int, retry_after: float | None) -> float:
        """Seconds to wait before retry number `retry` (0-based): the backoff, or longer if the endpoint asked."""
        wait = max(self.backoff * 2**retry, retry_after or 0.0)
        return min(wait, self.max_backoff)


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
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> ChatReply:
    """Send `messages` to `endpoint` (from `chat_endpoint`) and return the first choice's text.

    With `retry`, a transient failure is tried again after a growing pause; the last failure is
    raised, saying how many tries were made.
    """
    policy = retry or RetryPolicy(retries=0)
    for attempt in range(policy.retries + 1):
        try:
            return _chat_once(endpoint, model, messages, api_key=api_key, timeout=timeout, temperature=temperature)
        except ChatFailed as exc:
            if not exc.transient or attempt == policy.retries:
                if attempt:
                    raise ChatFailed(f"{exc} (after {attempt + 1} tries)", transient=exc.transient, infra=exc.infra) from None
                raise
            sleep(policy.delay(attempt, exc.retry_after))
    raise AssertionError("unreachable")  # pragma: no cover


def _chat_once(endpoint: str, model: str, messages: list[dict[str, str]], *, api_key: str | None, timeout: float, temperature: float) -> ChatReply:
    payload = {"model": model, "messages": messages, "temperature": temperature}
    headers = {"Content-Type": "application/json", "Accept": "application/json", "User-Agent": "swegen"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    request = urllib.request.Request(endpoint, data=json.dumps(payload).encode(), headers=headers, method="POST")
    try:
        with _opener(endpoint).open(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as exc:
        transient = exc.code == 429 or exc.code >= 500
        retry_after = _retry_after(exc.headers.get("Retry-After") if exc.headers else None)
        raise ChatFailed(
            f"HTTP {exc.code} from {endpoint}{_error_detail(exc)}",
            transient=transient, infra=transient or exc.code in UNREACHABLE_STATUSES, retry_after=retry_after,
        ) from None
    except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
        reason = getattr(exc, "reason", None) or exc
        raise ChatFailed(f"cannot reach {endpoint} ({_one_line(str(reason)) or type(reason).__name__})", transient=True) from None
    except ValueError as exc:  # a URL urllib cannot use: no retry makes it usable
        raise ChatFailed(f"cannot reach {endpoint} ({_one_line(str(exc))})", infra=True) from None
    if status != 200:
        raise ChatFailed(f"HTTP {status} from {endpoint}", transient=status >= 500, infra=True)
    return _reply(raw)


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header: a number of seconds or an HTTP date; None if neither."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


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
        # a proxy's error page or a half-sent body: the endpoint's trouble, not the model's answer
        raise ChatFailed(f"the reply is not a chat completion ({_one_line(raw[:120].decode('utf-8', 'replace'))})", transient=True) from None
    if not isinstance(content, str):
        raise ChatFailed("the reply has no text content")
    usage = answer.get("usage") if isinstance(answer, dict) else None
    return ChatReply(content, _count(usage, "prompt_tokens"), _count(usage, "completion_tokens"))


def _count(usage: Any, key: str) -> int | None:
    value = usage.get(key) if isinstance(usage, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())
