"""A deterministic fake OpenAI-compatible model server on loopback, for tests and demos.

No real model is reachable from tests or demos, so `FakeModelServer` serves
`POST /v1/chat/completions` and `GET /v1/models` on 127.0.0.1 from a pure function of the request,
`responder(messages, model)`. It records every request it receives, so a test can check what was
sent (and what was not), and can be told to fail completions (every one, or only the first N)
with an HTTP status and a Retry-After header, or by hanging up without an answer.

    with FakeModelServer() as server:
        rewrite_statement(..., base_url=server.base_url, model="fake-model", api_key=None)
        assert "gold line" not in server.requests[0]["raw"]

Run `python -m swegen.fake_model --port 8765` to serve one by hand.
"""

from __future__ import annotations

import argparse
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Union
from urllib.parse import urlsplit

#: A reply: the assistant's text, or a whole assistant message (e.g. with tool_calls) as a dict.
Reply = Union[str, dict[str, Any]]
Responder = Callable[[list[dict[str, Any]], str], Reply]

DEFAULT_MODEL = "fake-model"


def message_text(message: dict[str, Any]) -> str:
    """The text of a chat message, whether its content is a string or a list of parts."""
    content = message.get("content")
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return content if isinstance(content, str) else ""


def last_user_text(messages: list[dict[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return message_text(message)
    return ""


def default_responder(messages: list[dict[str, Any]], model: str) -> str:
    """Deterministic: a rewrite prompt gets "Bug report: <first paragraph of the statement>".

    Any other prompt gets an echo of the first line of the last user message.
    """
    prompt = last_user_text(messages)
    statement = re.search(r"<statement>\s*(.*?)\s*</statement>", prompt, re.DOTALL)
    if statement:
        paragraphs = [p for p in re.split(r"\n\s*\n", statement.group(1)) if p.strip()]
        first = " ".join(paragraphs[0].split()).lstrip("#").strip() if paragraphs else ""
        return f"Bug report: {first}"
    first_line = prompt.strip().split("\n", 1)[0][:200]
    return f"fake reply to: {first_line}"


#: The example repository's bugs that the agent modes fix: (statement pattern, file, old line, new
#: line). Whole lines, since aider's SEARCH blocks match whole lines.
EXAMPLE_FIXES = (
    (r"end date in Ledger\.between", "src/ledger/ledger.py",
     "        return Ledger(e for e in self._entries if start <= e.date < end)\n",
     "        return Ledger(e for e in self._entries if start <= e.date <= end)\n"),
    (r"Fix formatting of negative amounts", "src/ledger/money.py",
     '    units, rest = divmod(cents, 100)\n    return f"{units:,}.{rest:02d}"\n',
     '    sign = "-" if cents < 0 else ""\n    units, rest = divmod(abs(cents), 100)\n    return f"{sign}{units:,}.{rest:02d}"\n'),
)
#: The line a mini-swe-agent action prints to submit (its LocalEnvironment checks the first line).
MINI_SUBMIT = "echo COMPLETE_TASK_AND_SUBMIT_FINAL_OUTPUT"
#: What a model that answers nonsense writes: a well-formed edit that fixes nothing.
NONSENSE_FILE, NONSENSE_TEXT = "NOTES.txt", "colourless green ideas sleep furiously\n"


def _known_fix(messages: list[dict[str, Any]]) -> tuple[str, str, str] | None:
    text = "\n".join(message_text(m) for m in messages if m.get("role") == "user")
    for pattern, path, old, new in EXAMPLE_FIXES:
        if re.search(pattern, text):
            return path, old, new
    return None


def _bash(command: str, thought: str, textbased: bool, turn: int, tool: tuple[str, str] = ("bash", "command")) -> Reply:
    """One mini-swe-agent action: a `bash` tool call (its default), or a text block (textbased
    config); `tool` names another agent's shell tool and its argument (codex: exec_command, cmd)."""
    if textbased:
        return f"THOUGHT: {thought}\n\n```mswea_bash_command\n{command}\n```"
    call = {"id": f"call_fake_{turn}", "type": "function", "function": {"name": tool[0], "arguments": json.dumps({tool[1]: command})}}
    return {"role": "assistant", "content": thought, "tool_calls": [call]}


def _fix_command(path: str, old: str, new: str) -> str:
    script = f"import pathlib\np = pathlib.Path({path!r})\np.write_text(p.read_text().replace({old!r}, {new!r}, 1))\n"
    return f"python3 - <<'SWEGEN_EOF'\n{script}SWEGEN_EOF"


def codex_responder(nonsense: bool = False) -> Responder:
    """Speaks the codex CLI's protocol (through the Responses API, see `responses_stream`): one
    `exec_command` call that edits the line (with `nonsense`, writes an unrelated file), then a
    plain message, which ends codex's turn."""

    def respond(messages: list[dict[str, Any]], model: str) -> Reply:
        turn = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
        fix = _known_fix(messages)
        if turn > 0 or (fix is None and not nonsense):
            return "The change is made."
        command = f"printf %s {json.dumps(NONSENSE_TEXT)} > {NONSENSE_FILE}" if nonsense else _fix_command(*fix)
        return _bash(command, "Editing the file.", False, turn, ("exec_command", "cmd"))

    return respond


def responses_messages(items: Any) -> list[dict[str, Any]]:
    """The Responses API's input items as chat messages, so that one responder serves both APIs."""
    messages: list[dict[str, Any]] = []
    for item in items if isinstance(items, list) else [{"type": "message", "role": "user", "content": str(items)}]:
        kind = item.get("type", "message") if isinstance(item, dict) else ""
        if kind == "message":
            content = item.get("content")
            text = content if isinstance(content, str) else "\n".join(str(p.get("text", "")) for p in content or [] if isinstance(p, dict))
            messages.append({"role": item.get("role", "user"), "content": text})
        elif kind == "function_call":
            call = {"id": item.get("call_id"), "type": "function", "function": {"name": item.get("name"), "arguments": item.get("arguments", "")}}
            messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": item.get("call_id"), "content": str(item.get("output", ""))})
    return messages


def responses_stream(reply: Reply, messages: list[dict[str, Any]], number: int) -> bytes:
    """A reply as the Responses API streams it (server-sent events): the output items, then
    `response.completed` with the usage."""
    message = reply if isinstance(reply, dict) else {"content": str(reply)}
    items: list[dict[str, Any]] = []
    if message.get("content"):
        items.append({"type": "message", "id": f"msg_fake_{number}", "role": "assistant", "status": "completed",
                      "content": [{"type": "output_text", "text": message["content"], "annotations": []}]})
    for call in message.get("tool_calls") or []:
        items.append({"type": "function_call", "id": f"fc_fake_{number}", "call_id": call["id"], "status": "completed",
                      "name": call["function"]["name"], "arguments": call["function"]["arguments"]})
    prompt = sum(_tokens(message_text(m)) for m in messages)
    completion = sum(_tokens(json.dumps(item)) for item in items)
    response = {"id": f"resp_fake_{number}", "object": "response", "status": "completed", "output": items,
                "usage": {"input_tokens": prompt, "input_tokens_details": {"cached_tokens": 0}, "output_tokens": completion,
                          "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": prompt + completion}}
    events = [{"type": "response.created", "response": {**response, "status": "in_progress", "output": []}}]
    events += [{"type": "response.output_item.done", "output_index": index, "item": item} for index, item in enumerate(items)]
    events.append({"type": "response.completed", "response": response})
    return "".join(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n" for event in events).encode("utf-8")


def mini_swe_agent_responder(nonsense: bool = False) -> Responder:
    """Speaks mini-swe-agent's protocol: one bash action per turn, then the submit command. On a
    statement of EXAMPLE_FIXES it edits the line (with `nonsense`, it writes an unrelated file)."""

    def respond(messages: list[dict[str, Any]], model: str) -> Reply:
        textbased = "mswea_bash_command" in message_text(messages[0]) if messages else False
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        fix = _known_fix(messages)
        if turn > 0 or (fix is None and not nonsense):
            return _bash(MINI_SUBMIT, "The change is made; submitting.", textbased, turn)
        if nonsense:
            command = f"printf %s {json.dumps(NONSENSE_TEXT)} > {NONSENSE_FILE}"
            return _bash(command, "Writing notes.", textbased, turn)
        return _bash(_fix_command(*fix), f"The bug is in {fix[0]}; fixing the line.", textbased, turn)

    return respond


def _search_replace(path: str, old: str, new: str) -> str:
    return f"{path}\n```\n<<<<<<< SEARCH\n{old}=======\n{new}>>>>>>> REPLACE\n```\n"


def aider_responder(nonsense: bool = False) -> Responder:
    """Speaks aider's `diff` edit format: SEARCH/REPLACE blocks naming the file. On a statement of
    EXAMPLE_FIXES it replaces the line (with `nonsense`, it creates an unrelated file), again after
    aider added the file to the chat (it applies no edit of the answer that named the file); on
    aider's other reflections (a block that did not match, lint errors) it says it is done."""

    def respond(messages: list[dict[str, Any]], model: str) -> Reply:
        reflection = re.search(r"failed to match|Fix any errors|did not conform", last_user_text(messages))
        fix = _known_fix(messages)
        if reflection or (fix is None and not nonsense):
            return "Nothing more to change."
        if nonsense:
            return "Here are my notes.\n\n" + _search_replace(NONSENSE_FILE, "", NONSENSE_TEXT) + "That is all."
        return f"The bug is in {fix[0]}.\n\n" + _search_replace(*fix) + "That fixes it."

    return respond


#: Responders by name, for `python -m swegen.fake_model --mode NAME` (inside a sandbox, too).
MODES: dict[str, Callable[[], Responder]] = {
    "default": lambda: default_responder,
    "mini-swe-agent": mini_swe_agent_responder,
    "mini-swe-agent-nonsense": lambda: mini_swe_agent_responder(nonsense=True),
    "aider": aider_responder,
    "aider-nonsense": lambda: aider_responder(nonsense=True),
    "codex": codex_responder,
    "codex-nonsense": lambda: codex_responder(nonsense=True),
}


def _tokens(text: str) -> int:
    """A deterministic stand-in for a token count: words and punctuation marks."""
    return len(re.findall(r"\w+|[^\w\s]", text))


def _error(status: int, message: str, kind: str) -> tuple[int, dict[str, Any]]:
    return status, {"error": {"message": message, "type": kind, "code": status}}


class FakeModelServer:
    """An OpenAI-compatible chat server on 127.0.0.1 in a daemon thread; use it as a context manager."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        fail_with: int | None = None,
        models: tuple[str, ...] = (DEFAULT_MODEL,),
        port: int = 0,
        fail_first: int | None = None,
        retry_after: str | None = None,
        hang_up: bool = False,
    ) -> None:
        #: Called for each completion; may be swapped between requests.
        self.responder: Responder = responder or default_responder
        #: When set, failing chat completions answer with this HTTP status and an error body.
        self.fail_with = fail_with
        #: Only the first this many completions fail (None: every one), for a flaky endpoint.
        self.fail_first = fail_first
        #: The Retry-After header sent with a failing answer (e.g. "1"), if any.
        self.retry_after = retry_after
        #: Failing completions close the connection without a word instead of answering a status.
        self.hang_up = hang_up
        self._completions = 0
        self.models = tuple(models)
        #: Every request received: {"method", "path", "headers", "raw", "body" (parsed JSON or None)}.
        self.requests: list[dict[str, Any]] = []
        self._port = port
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> "FakeModelServer":
        if self._httpd is None:
            self._httpd = ThreadingHTTPServer(("127.0.0.1", self._port), _handler_for(self))
            self._httpd.daemon_threads = True
            self._thread = threading.Thread(
                target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-model", daemon=True
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        self._httpd = self._thread = None
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> "FakeModelServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the fake model server is not running; use it in a with block or call start()")
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        """Like http://127.0.0.1:PORT/v1, what an OpenAI client takes as its base URL."""
        return f"http://127.0.0.1:{self.port}/v1"

    # -- behaviour (no HTTP here, so it can be tested directly) -----------------------------

    def record(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append(entry)

    def list_models(self) -> tuple[int, dict[str, Any]]:
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "swegen"} for name in self.models]
        return 200, {"object": "list", "data": data}

    def failing(self) -> bool:
        """Whether this completion request is one of those told to fail (counts the request)."""
        with self._lock:
            self._completions += 1
            number = self._completions
        told = bool(self.fail_with) or self.hang_up
        return told and (self.fail_first is None or number <= self.fail_first)

    def failure(self) -> tuple[int, dict[str, Any]]:
        return _error(self.fail_with or 500, f"fake model told to fail with HTTP {self.fail_with}", "server_error")

    def complete(self, body: Any) -> tuple[int, dict[str, Any]]:
        """Status and JSON answer for one chat completion request body (the handler has already
        answered the requests told to fail; a server told to fail always fails here too)."""
        if self.fail_with and self.fail_first is None:
            return self.failure()
        if not isinstance(body, dict):
            return _error(400, "the request body must be a JSON object", "invalid_request_error")
        messages, model = body.get("messages"), body.get("model")
        if not isinstance(model, str) or not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return _error(400, "model must be a string and messages a list of objects", "invalid_request_error")
        if body.get("stream"):
            return _error(400, "the fake model does not stream; send stream=false", "invalid_request_error")
        try:
            reply = self.responder(messages, model)
        except Exception as exc:  # a broken responder is the test's bug: report it as the server would
            return _error(500, f"responder failed: {exc!r}", "server_error")
        return 200, self._completion(messages, model, reply)

    def _completion(self, messages: list[dict[str, Any]], model: str, reply: Reply) -> dict[str, Any]:
        message = dict(reply) if isinstance(reply, dict) else {"role": "assistant", "content": str(reply)}
        message.setdefault("role", "assistant")
        prompt_tokens = sum(_tokens(message_text(m)) for m in messages)
        completion_tokens = _tokens(message_text(message))
        with self._lock:
            number = len(self.requests)
        return {
            "id": f"chatcmpl-fake-{number}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": "tool_calls" if message.get("tool_calls") else "stop"}
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }


def _handler_for(fake: FakeModelServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        server_version = "swegen-fake-model/1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            pass

        def do_GET(self) -> None:
            path = self._record("")
            if path in ("/v1/models", "/models"):
                self._send(*fake.list_models())
            else:
                self._send(*_error(404, f"no route GET {path}", "not_found"))

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode("utf-8", "replace") if length > 0 else ""
            path = self._record(raw)
            if path not in ("/v1/chat/completions", "/chat/completions", "/v1/responses", "/responses"):
                self._send(*_error(404, f"no route POST {path}", "not_found"))
                return
            if fake.failing():
                if fake.hang_up:
                    self.close_connection = True  # no status line at all: the client sees the connection closed
                    return
                self._send(*fake.failure(), {"Retry-After": fake.retry_after} if fake.retry_after else {})
                return
            body = self._parsed(raw)
            if body is None:
                self._send(*_error(400, "the request body is not JSON", "invalid_request_error"))
                return
            if path.endswith("/responses"):
                self._stream_response(body)
                return
            self._send(*fake.complete(body))

        def _stream_response(self, body: Any) -> None:
            """The Responses API (codex asks nothing else), streamed as server-sent events."""
            messages = responses_messages(body.get("input") if isinstance(body, dict) else None)
            if isinstance(body, dict) and body.get("instructions"):
                messages.insert(0, {"role": "system", "content": str(body["instructions"])})
            try:
                reply = fake.responder(messages, str(body.get("model", "")) if isinstance(body, dict) else "")
            except Exception as exc:
                self._send(*_error(500, f"responder failed: {exc!r}", "server_error"))
                return
            data = responses_stream(reply, messages, len(fake.requests))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _parsed(self, raw: str) -> Any:
            try:
                return json.loads(raw)
            except ValueError:
                return None

        def _record(self, raw: str) -> str:
            path = urlsplit(self.path).path.rstrip("/") or "/"
            body = self._parsed(raw) if raw else None
            fake.record({"method": self.command, "path": path, "headers": dict(self.headers), "raw": raw, "body": body})
            return path

        def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            try:
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up waiting (a test of timeouts): nothing to tell it

    return Handler


def memorising_responder(remembered: dict[str, str], guess: str = "setup.py") -> Responder:
    """For the memorisation probe (templates/probe_prompt.j2): a model that "remembers" the fixes
    of some issues. `remembered` maps a statement (whitespace ignored) to its fix's patch: asked
    with one of them, it names the patch's files and writes the patch; asked with any other, it
    guesses `guess` with an unrelated edit. `memorising_responder({})` remembers nothing (a control)."""
    known = {" ".join(statement.split()): patch for statement, patch in remembered.items()}

    def respond(messages: list[dict[str, Any]], model: str) -> str:
        issue = re.search(r"<issue>\s*(.*?)\s*</issue>", last_user_text(messages), re.DOTALL)
        patch = known.get(" ".join(issue.group(1).split())) if issue else None
        if patch is None:
            return (f"FILES:\n{guess}\n\nPATCH:\n```diff\n--- a/{guess}\n+++ b/{guess}\n@@ -1 +1 @@\n"
                    '-version = "0.1"\n+version = "0.2"\n```\n')
        files = "\n".join(re.findall(r"^\+\+\+ b/(\S+)", patch, re.MULTILINE))
        return f"FILES:\n{files}\n\nPATCH:\n```diff\n{patch}```\n"

    return respond


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the deterministic fake OpenAI-compatible model on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8765, help="port to listen on (0 picks a free one)")
    parser.add_argument("--mode", choices=sorted(MODES), default="default", help="what the model answers (an agent's protocol)")
    parser.add_argument("--fail-with", type=int, default=None, help="answer every completion with this HTTP status")
    args = parser.parse_args(argv)
    with FakeModelServer(MODES[args.mode](), port=args.port, fail_with=args.fail_with) as server:
        print(f"fake model at {server.base_url} (Ctrl-C stops it)", flush=True)
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
