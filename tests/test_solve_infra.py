"""An outage of the model endpoint or the sandbox is never billed to the model: solve retries it,
records it as `infra_error` (not an empty patch), stops after N in a row, retries exactly those on
the next run, and evaluate and report count them apart, never as empty or unresolved.

The endpoint is the shipped fake model on loopback, told to answer 500 or 429, to hang up, or not
to be there at all (a port nothing listens on); the first tests use a small run folder of their
own (no Docker), the last ones the demo run, through evaluate and report.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from conftest import run_cli
from gitrepo import GitRepo
from swegen.fake_model import FakeModelServer, last_user_text
from swegen.llm import ChatFailed, RetryPolicy, chat, chat_endpoint

CORE = "def answer():\n    return 41\n"
FIX = """```diff
--- a/pkg/core.py
+++ b/pkg/core.py
@@ -1,2 +1,2 @@
 def answer():
-    return 41
+    return 42
```
"""
FAST = ("--retries", "2", "--backoff", "0.01")


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def stderr_lines(proc) -> list[str]:
    return [line for line in proc.stderr.splitlines() if line.strip()]


def free_port() -> int:
    """A loopback port with nothing listening on it (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture()
def run(tmp_path: Path) -> Path:
    """A run folder of five tasks on a one-file repository, as validation would leave it."""
    repo = GitRepo(tmp_path / "repo")
    base = repo.commit("Init", {"pkg/__init__.py": "", "pkg/core.py": CORE})
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text(json.dumps({"schema_version": 1, "repo_path": str(repo.path)}))
    tasks = [
        {"instance_id": f"acme__core-{n}", "base_commit": base, "patch": "", "test_patch": "", "FAIL_TO_PASS": ["t::a"],
         "PASS_TO_PASS": [], "problem_statement": f"answer() is off by one (report {n})", "repo": "acme/core"}
        for n in range(1, 6)
    ]
    (folder / "tasks.jsonl").write_text("".join(json.dumps(t) + "\n" for t in tasks))
    return folder


def solve(run: Path, url: str, name: str, *extra: str):
    return run_cli("solve", str(run), "--agent", "openai", "--name", name, "--base-url", url, "--model", "fake-model", *extra, timeout=300)


def fixed(messages: list[dict], model: str) -> str:
    return "Here it is:\n" + FIX


# -- the retry policy, on the wire --------------------------------------------------------------


def test_a_flaky_endpoint_that_fails_twice_then_answers_is_retried_through():
    with FakeModelServer(fixed, fail_with=503, fail_first=2) as server:
        reply = chat(chat_endpoint(server.base_url), "fake-model", [{"role": "user", "content": "hi"}], api_key=None, timeout=10,
                     retry=RetryPolicy(retries=2, backoff=0.01))
    assert "return 42" in reply.text and len(server.requests) == 3


def test_without_retries_the_same_flaky_endpoint_fails_and_says_it_is_infrastructure():
    """The control: the retry above is what made the call succeed."""
    with FakeModelServer(fixed, fail_with=503, fail_first=2) as server:
        with pytest.raises(ChatFailed) as caught:
            chat(chat_endpoint(server.base_url), "fake-model", [{"role": "user", "content": "hi"}], api_key=None, timeout=10)
    assert caught.value.transient and caught.value.infra and "HTTP 503" in str(caught.value) and len(server.requests) == 1


def test_retry_after_is_honoured():
    with FakeModelServer(fixed, fail_with=429, fail_first=1, retry_after="1") as server:
        started = time.monotonic()
        chat(chat_endpoint(server.base_url), "fake-model", [{"role": "user", "content": "hi"}], api_key=None, timeout=10,
             retry=RetryPolicy(retries=1, backoff=0.01))
        waited = time.monotonic() - started
    assert len(server.requests) == 2 and 1.0 <= waited < 5, waited


def test_a_request_that_times_out_is_retried():
    calls = []

    def slow_once(messages: list[dict], model: str) -> str:
        calls.append(1)
        if len(calls) == 1:
            time.sleep(1.0)
        return fixed(messages, model)

    with FakeModelServer(slow_once) as server:
        reply = chat(chat_endpoint(server.base_url), "fake-model", [{"role": "user", "content": "hi"}], api_key=None, timeout=0.3,
                     retry=RetryPolicy(retries=1, backoff=0.01))
        with pytest.raises(ChatFailed, match="timed out") as caught:  # the control: without the retry it fails
            calls.clear()
            chat(chat_endpoint(server.base_url), "fake-model", [{"role": "user", "content": "hi"}], api_key=None, timeout=0.3)
    assert "return 42" in reply.text and caught.value.infra


def test_backoff_doubles_and_is_capped():
    policy = RetryPolicy(retries=5, backoff=0.5, max_backoff=3)
    assert [policy.delay(n, None) for n in range(4)] == [0.5, 1.0, 2.0, 3]
    assert policy.delay(0, 2.5) == 2.5 and policy.delay(0, 3600) == 3


@pytest.mark.parametrize("kind", ["refused", "hang up", "500"])
def test_outages_are_transient_infrastructure(kind):
    if kind == "refused":
        url, server = f"http://127.0.0.1:{free_port()}/v1", None
    else:
        server = FakeModelServer(fixed, hang_up=True) if kind == "hang up" else FakeModelServer(fixed, fail_with=500)
        url = server.start().base_url
    try:
        with pytest.raises(ChatFailed) as caught:
            chat(chat_endpoint(url), "fake-model", [{"role": "user", "content": "hi"}], api_key=None, timeout=10,
                 retry=RetryPolicy(retries=1, backoff=0.01))
    finally:
        if server:
            server.stop()
    assert caught.value.transient and caught.value.infra and "after 2 tries" in str(caught.value)


def test_a_wrong_key_is_infrastructure_but_not_retried():
    with FakeModelServer(fixed, fail_with=401) as server:
        with pytest.raises(ChatFailed) as caught:
            chat(chat_endpoint(server.base_url), "fake-model", [], api_key="sk-wrong", timeout=10, retry=RetryPolicy(retries=3, backoff=0.01))
    assert caught.value.infra and not caught.value.transient and len(server.requests) == 1


# -- solve, end to end on a run folder of its own ----------------------------------------------


def test_a_refused_endpoint_gives_infra_errors_not_empty_patches_and_a_one_line_exit_2(run):
    proc = solve(run, f"http://127.0.0.1:{free_port()}/v1", "down-model", *FAST)
    assert proc.returncode == 2, proc.stderr
    [line] = stderr_lines(proc)
    assert "solve stopped after 5 infrastructure errors in a row" in line and "cannot reach" in line and "run the same command again" in line
    rows = lines(run / "predictions" / "down-model.jsonl")
    assert len(rows) == 5 and all(r["model_patch"] == "" and "cannot reach" in r["infra_error"] and "after 3 tries" in r["infra_error"] for r in rows)
    assert all(not r.get("error") for r in rows)


def test_solve_stops_after_n_infrastructure_errors_in_a_row(run):
    with FakeModelServer(fixed, fail_with=500) as server:
        proc = solve(run, server.base_url, "stopped-model", *FAST, "--max-infra-errors", "2")
        requests = len(server.requests)
    assert proc.returncode == 2 and "after 2 infrastructure errors in a row" in stderr_lines(proc)[0] and len(stderr_lines(proc)) == 1
    assert len(lines(run / "predictions" / "stopped-model.jsonl")) == 2 and requests == 2 * 3  # 2 tasks, 3 tries each


def test_a_few_tasks_all_failing_is_an_outage_too(run):
    with FakeModelServer(fixed, hang_up=True) as server:
        proc = solve(run, server.base_url, "hungup-model", *FAST, "--instance", "acme__core-1", "--instance", "acme__core-2")
    assert proc.returncode == 2 and "every one of the 2 task(s) failed on infrastructure" in proc.stderr, proc.stderr
    assert all("Remote end closed connection" in r["infra_error"] for r in lines(run / "predictions" / "hungup-model.jsonl"))


def test_a_rerun_retries_exactly_the_infra_errors_and_keeps_the_finished_predictions(run):
    # two tasks answered, then the endpoint goes away while a third is asked
    with FakeModelServer(fixed) as up:
        first = solve(run, up.base_url, "mixed-model", *FAST, "--instance", "acme__core-1", "--instance", "acme__core-2")
    assert first.returncode == 0, first.stderr
    down = f"http://127.0.0.1:{free_port()}/v1"
    proc = solve(run, down, "mixed-model", *FAST, "--instance", "acme__core-3")
    assert proc.returncode == 2 and "failed on infrastructure" in proc.stderr
    path = run / "predictions" / "mixed-model.jsonl"
    before = path.read_text().splitlines()
    assert len(before) == 3 and "infra_error" in json.loads(before[2])
    with FakeModelServer(fixed) as up:
        again = solve(run, up.base_url, "mixed-model", *FAST, "--instance", "acme__core-1", "--instance", "acme__core-2",
                      "--instance", "acme__core-3")
        asked = [last_user_text(r["body"]["messages"]) for r in up.requests]
    assert again.returncode == 0, again.stderr
    assert len(asked) == 1 and "(report 3)" in asked[0], "only the task that failed on infrastructure is asked again"
    after = path.read_text().splitlines()
    assert after[:2] == before[:2], "finished predictions are kept byte for byte"
    assert len(after) == 3 and json.loads(after[2])["model_patch"] and "infra_error" not in json.loads(after[2])
    assert "3 predictions (3 with a patch)" in again.stdout


# -- through evaluate and report, on the demo run (Docker) --------------------------------------


def gold_for_statement(tasks: list[dict]):
    """A fake model that answers each task's statement with its gold patch."""

    def responder(messages: list[dict], model: str) -> str:
        prompt = last_user_text(messages)
        for task in tasks:
            if task["problem_statement"].strip()[:80] in prompt:
                return "```diff\n" + task["patch"] + "```\n"
        return "no idea"

    return responder


def summary(out: Path, model: str) -> dict:
    return json.loads((out / "evaluations" / model / "summary.json").read_text())


def report_counts(out: Path, model: str) -> dict:
    report = json.loads((out / "report" / "summary.json").read_text())
    [entry] = [m for m in report["models"] if m["name"] == model]
    return entry["counts"]


@pytest.mark.docker
def test_an_outage_is_counted_apart_by_evaluate_and_report_and_the_rerun_is_graded(demo_run):
    out, _ = demo_run
    tasks = lines(out / "tasks.jsonl")
    proc = solve(out, f"http://127.0.0.1:{free_port()}/v1", "outage-gpt", *FAST, "--max-infra-errors", "0")
    assert proc.returncode == 0, proc.stderr
    assert f"{len(tasks)} task(s) failed on infrastructure" in proc.stderr and "0 predictions" in proc.stdout
    predictions = out / "predictions" / "outage-gpt.jsonl"
    assert all(r["infra_error"] and r["model_patch"] == "" for r in lines(predictions))
    # the control: the same lines without the mark are what an outage used to become, empty patches
    control = out / "predictions-outage-unmarked.jsonl"
    control.write_text("".join(json.dumps({**{k: v for k, v in r.items() if k != "infra_error"}, "model_name_or_path": "outage-unmarked"}) + "\n"
                               for r in lines(predictions)))
    proc = run_cli("evaluate", str(out), "-p", str(predictions), "-p", str(control), timeout=600)
    assert proc.returncode == 0, proc.stderr
    marked, unmarked = summary(out, "outage-gpt"), summary(out, "outage-unmarked")
    assert marked["error_instances"] == len(tasks) and marked["empty_patch_instances"] == marked["unresolved_instances"] == 0
    assert unmarked["empty_patch_instances"] == len(tasks) and unmarked["error_instances"] == 0
    proc = run_cli("report", str(out), timeout=600)
    assert proc.returncode == 0, proc.stderr
    counts = report_counts(out, "outage-gpt")
    assert counts["graded"] == 0 and counts["errors"] == len(tasks) and counts["resolved"] == 0
    assert report_counts(out, "outage-unmarked")["graded"] == len(tasks)

    with FakeModelServer(gold_for_statement(tasks)) as server:
        proc = solve(out, server.base_url, "outage-gpt", *FAST)
        asked = len(server.requests)
    assert proc.returncode == 0, proc.stderr
    assert asked == len(tasks) and all(r["model_patch"] and not r.get("infra_error") for r in lines(predictions))
    proc = run_cli("evaluate", str(out), "-p", str(predictions), timeout=900)
    assert proc.returncode == 0, proc.stderr
    assert summary(out, "outage-gpt")["resolved_instances"] == len(tasks) and summary(out, "outage-gpt")["error_instances"] == 0


@pytest.mark.docker
def test_an_agent_command_that_cannot_start_is_infrastructure(demo_run):
    out, _ = demo_run
    task = lines(out / "tasks.jsonl")[0]
    proc = run_cli("solve", str(out), "--agent", "command", "--name", "missing-agent", "--cmd", "no-such-agent --fix",
                   "--instance", task["instance_id"], timeout=600)
    assert proc.returncode == 2 and len(stderr_lines(proc)) == 1, proc.stderr
    assert "every one of the 1 task(s) failed on infrastructure" in proc.stderr and "could not start (exit 127" in proc.stderr
    [row] = lines(out / "predictions" / "missing-agent.jsonl")
    assert row["model_patch"] == "" and row["exit_code"] == 127
    proc = run_cli("evaluate", str(out), "-p", str(out / "predictions" / "missing-agent.jsonl"), "--instance", task["instance_id"], timeout=600)
    assert proc.returncode == 0, proc.stderr
    result = summary(out, "missing-agent")
    assert result["error_instances"] == 1 and result["empty_patch_instances"] == 0
