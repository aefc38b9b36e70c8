"""The `openai` agent turns a statement and a base tree into a patch that applies and fixes the bug,
end to end against the shipped fake model on loopback, and shows the model only source files."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from swegen.errors import BadInput, SwegenError
from swegen.fake_model import FakeModelServer, last_user_text
from swegen.llm import RetryPolicy
from swegen.openai_agent import (
    MAX_FILE_BYTES,
    AgentOutcome,
    OpenAIAgentConfig,
    apply_check,
    extract_diff,
    normalise_diff,
    rank_files,
    solve_with_openai,
    source_files,
)
from gitrepo import GitRepo

CORE = '''"""Small helpers over sequences."""


def first(items, default=None):
    """The first item, or `default` when there is none."""
    return items[0]


def last(items, default=None):
    """The last item, or `default` when there is none."""
    return items[-1] if items else default
'''
# Words of the statement everywhere: on words alone this file looks the most relevant.
DISTRACTOR = '''"""Empty list handling: the default for an empty list, the first empty item."""


def empty_list_default(items, default=None):
    """Return the default for an empty list of items; the first empty list item is the default."""
    empty = [item for item in items if not item]
    return empty or default  # an empty list returns the default, the list of items otherwise


def first_empty(items, default=None):
    """The first empty item of the list, or the default."""
    return next((item for item in items if not item), default)
'''
TEST_FILE = '''from pkg.core import first

SECRET_TEST_MARKER = "tests are never shown"


def test_first_of_empty():
    assert first([], "d") == "d"
'''
TRACEBACK = '''first() crashes on an empty list

Calling `first([])` should return the default, but it raises:

    Traceback (most recent call last):
      File "/home/me/app/run.py", line 3, in <module>
        print(first([]))
      File "/home/me/venv/lib/python3.11/site-packages/pkg/core.py", line 6, in first
        return items[0]
    IndexError: list index out of range
'''
WORDS_ONLY = "Taking the first item crashes on an empty list: it should give the default for an empty list of items."

GOOD_DIFF = '''diff --git a/pkg/core.py b/pkg/core.py
--- a/pkg/core.py
+++ b/pkg/core.py
@@ -3,7 +3,7 @@
 
 def first(items, default=None):
     """The first item, or `default` when there is none."""
-    return items[0]
+    return items[0] if items else default
 
 
 def last(items, default=None):
'''
# What models often send: no `diff --git`, no a/ b/, wrong counts, no trailing context, CRLF.
SLOPPY_REPLY = (
    "Here is the fix:\r\n\r\n```diff\r\n--- pkg/core.py\r\n+++ pkg/core.py\r\n@@ -4,9 +4,9 @@ def first\r\n"
    "     \"\"\"The first item, or `default` when there is none.\"\"\"\r\n-    return items[0]\r\n"
    "+    return items[0] if items else default\r\n```\r\n\r\nThis returns the default.\r\n"
)


def fenced(diff: str) -> str:
    return f"The bug is in first().\n\n```diff\n{diff}```\n\nThat should fix it.\n"


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    """A base tree as `git archive` gives it: no .git, tests and docs included."""
    root = tmp_path / "base"
    files = {
        "pkg/__init__.py": "",
        "pkg/core.py": CORE,
        "pkg/empty_list.py": DISTRACTOR,
        "tests/test_core.py": TEST_FILE,
        "docs/usage.md": "Use `first(items)` for the first item of an empty list.\n",
        "setup.py": "from setuptools import setup\n\nsetup(name='pkg')\n",
        "pkg/logo.png": b"\x89PNG\r\n\x1a\n\x00\x00 first empty list",
    }
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return root


def config(server: FakeModelServer, **changes: object) -> OpenAIAgentConfig:
    defaults = {"timeout": 10, "retry": RetryPolicy(retries=2, backoff=0.01)}
    return OpenAIAgentConfig(base_url=server.base_url, model="fake-model", **{**defaults, **changes})  # type: ignore[arg-type]


def applied_and_run(source: Path, patch: str, tmp_path: Path) -> str:
    """Apply `patch` with plain `git apply` in a git copy of the tree and call first([], 'd') there."""
    repo = GitRepo(tmp_path / "check")
    shutil.copytree(source, repo.path, dirs_exist_ok=True)
    repo.git("add", "-A")
    repo.git("commit", "-q", "-m", "base")
    (tmp_path / "model.patch").write_text(patch)
    repo.git("apply", str(tmp_path / "model.patch"))
    code = "from pkg.core import first; print(repr(first([], 'd')), repr(first([1, 2])))"
    proc = subprocess.run([sys.executable, "-c", code], cwd=repo.path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def usage_of(server: FakeModelServer, key: str) -> int:
    """Tokens the fake model reported for the requests it received (it answers deterministically)."""
    return sum(server.complete(r["body"])[1]["usage"][key] for r in server.requests)


# ------------------------------------------------------------------------------------------
# End to end against the fake model
# ------------------------------------------------------------------------------------------


def test_a_correct_diff_applies_fixes_the_bug_and_records_tokens_and_time(source, tmp_path, monkeypatch):
    monkeypatch.setenv("SWEGEN_TEST_MODEL_KEY", "sk-test")
    with FakeModelServer(lambda messages, model: fenced(GOOD_DIFF)) as server:
        outcome = solve_with_openai(source, TRACEBACK, config(server, api_key_env="SWEGEN_TEST_MODEL_KEY"))
    assert isinstance(outcome, AgentOutcome) and outcome.error is None
    assert outcome.model_patch == GOOD_DIFF
    assert applied_and_run(source, outcome.model_patch, tmp_path) == "'d' 1"
    assert outcome.seconds > 0
    assert outcome.prompt_tokens == usage_of(server, "prompt_tokens") > 0
    assert outcome.completion_tokens == usage_of(server, "completion_tokens") > 0
    [request] = server.requests
    assert request["path"] == "/v1/chat/completions" and request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["body"]["model"] == "fake-model" and request["body"]["temperature"] == 0.0
    prompt = last_user_text(request["body"]["messages"])
    assert TRACEBACK.strip() in prompt and CORE in prompt and '<file path="pkg/core.py">' in prompt
    assert outcome.files_shown[0] == "pkg/core.py"
    for hidden in ("SECRET_TEST_MARKER", "tests/test_core.py", "docs/usage.md", "logo.png"):
        assert hidden not in request["raw"]


def test_a_sloppy_fenced_diff_is_normalised_into_one_git_apply_takes(source, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with FakeModelServer(lambda messages, model: SLOPPY_REPLY) as server:
        outcome = solve_with_openai(source, TRACEBACK, config(server))
    assert outcome.error is None and len(server.requests) == 1
    assert "Authorization" not in server.requests[0]["headers"]
    assert outcome.model_patch.startswith("diff --git a/pkg/core.py b/pkg/core.py\n--- a/pkg/core.py\n+++ b/pkg/core.py\n@@ -5,3 +5,3 @@")
    assert "\r" not in outcome.model_patch
    assert applied_and_run(source, outcome.model_patch, tmp_path) == "'d' 1"


def test_garbage_first_then_a_good_diff_on_the_retry(source, tmp_path):
    def responder(messages: list[dict], model: str) -> str:
        return "I think you should check the list length." if len(messages) == 1 else fenced(GOOD_DIFF)

    with FakeModelServer(responder) as server:
        outcome = solve_with_openai(source, TRACEBACK, config(server))
    assert outcome.error is None and applied_and_run(source, outcome.model_patch, tmp_path) == "'d' 1"
    first, retry = server.requests
    messages = retry["body"]["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[0] == first["body"]["messages"][0] and messages[1]["content"].startswith("I think")
    assert "the reply has no unified diff" in messages[2]["content"]
    assert outcome.prompt_tokens == usage_of(server, "prompt_tokens")
    assert outcome.completion_tokens == usage_of(server, "completion_tokens")


def test_a_diff_that_never_applies_gives_no_patch_and_says_why(source):
    wrong = GOOD_DIFF.replace("-    return items[0]\n", "-    return items[1]\n")
    with FakeModelServer(lambda messages, model: fenced(wrong)) as server:
        outcome = solve_with_openai(source, TRACEBACK, config(server, attempts=3))
    assert outcome.model_patch == "" and len(server.requests) == 3
    assert outcome.error is not None and "\n" not in outcome.error
    assert outcome.error.startswith("no usable diff after 3 replies: the diff does not apply:") and "pkg/core.py" in outcome.error
    assert "the diff does not apply" in last_user_text(server.requests[-1]["body"]["messages"])


def test_an_http_error_is_retried_then_recorded_as_infrastructure_not_raised(source):
    with FakeModelServer(fail_with=500) as server:
        outcome = solve_with_openai(source, TRACEBACK, config(server))
    assert outcome.model_patch == "" and "HTTP 500" in (outcome.infra_error or "") and len(server.requests) == 3
    assert outcome.error is None and "after 3 tries" in (outcome.infra_error or "")
    assert outcome.prompt_tokens is None and outcome.completion_tokens is None
    assert outcome.files_shown[0] == "pkg/core.py" and outcome.seconds >= 0


def test_a_request_the_endpoint_refuses_is_the_attempts_failure_not_infrastructure(source):
    with FakeModelServer(fail_with=400) as server:
        outcome = solve_with_openai(source, TRACEBACK, config(server))
    assert len(server.requests) == 1 and outcome.infra_error is None and "HTTP 400" in (outcome.error or "")


def test_an_unreachable_endpoint_is_recorded_as_infrastructure_not_raised(source):
    with FakeModelServer() as server:
        gone = config(server)
    outcome = solve_with_openai(source, TRACEBACK, gone)
    assert outcome.model_patch == "" and "cannot reach" in (outcome.infra_error or "") and outcome.error is None


def test_a_timeout_is_recorded_not_raised(source):
    def slow(messages: list[dict], model: str) -> str:
        time.sleep(1.5)
        return fenced(GOOD_DIFF)

    with FakeModelServer(slow) as server:
        outcome = solve_with_openai(source, TRACEBACK, config(server, timeout=0.3, retry=RetryPolicy(retries=0)))
    assert outcome.model_patch == "" and "timed out" in (outcome.infra_error or "")


def test_the_prompt_template_can_be_replaced(source, tmp_path):
    template = tmp_path / "mine.j2"
    template.write_text(
        "{% if error %}AGAIN: {{ error }}{% else %}{{ problem_statement | trim }}\n"
        "{% for f in files %}[{{ f.path }}]{% endfor %} {{ layout | length }}{% endif %}"
    )
    with FakeModelServer(lambda messages, model: "no idea") as server:
        outcome = solve_with_openai(source, WORDS_ONLY, config(server, prompt_template=template, max_files=2))
    first, retry = (last_user_text(r["body"]["messages"]) for r in server.requests)
    assert first == f"{WORDS_ONLY}\n[pkg/empty_list.py][pkg/core.py] 4"
    assert retry.startswith("AGAIN: the reply has no unified diff")
    assert outcome.files_shown == ["pkg/empty_list.py", "pkg/core.py"]


def test_bad_configuration_and_templates_are_the_users_to_fix(source, tmp_path):
    with pytest.raises(BadInput, match="not an http"):
        OpenAIAgentConfig(base_url="ftp://models.example/v1", model="m")
    with pytest.raises(SwegenError, match="attempts"):
        OpenAIAgentConfig(base_url="http://127.0.0.1:9/v1", model="m", attempts=0)
    broken = tmp_path / "broken.j2"
    broken.write_text("{{ problem_statement ")
    with pytest.raises(BadInput, match="line 1"):
        solve_with_openai(source, WORDS_ONLY, OpenAIAgentConfig("http://127.0.0.1:9/v1", "m", prompt_template=broken))
    unknown = tmp_path / "unknown.j2"
    unknown.write_text("{{ gold_patch }}")
    with pytest.raises(BadInput, match="failed to render") as caught:
        solve_with_openai(source, WORDS_ONLY, OpenAIAgentConfig("http://127.0.0.1:9/v1", "m", prompt_template=unknown))
    assert "problem_statement" in caught.value.hint


# ------------------------------------------------------------------------------------------
# Retrieval
# ------------------------------------------------------------------------------------------


def test_the_file_a_traceback_names_ranks_first_and_tests_docs_binaries_are_never_candidates(source):
    files = source_files(source)
    assert sorted(f.path for f in files) == ["pkg/__init__.py", "pkg/core.py", "pkg/empty_list.py", "setup.py"]
    on_words = [f.path for _, f in rank_files(files, WORDS_ONLY)]
    assert on_words[0] == "pkg/empty_list.py", "the distractor wins on words alone"
    assert [f.path for _, f in rank_files(files, TRACEBACK)][0] == "pkg/core.py"
    windows = 'File "C:\\Users\\me\\venv\\Lib\\site-packages\\pkg\\core.py", line 6'
    assert rank_files(files, f"{WORDS_ONLY}\n{windows}")[0][1].path == "pkg/core.py"


def test_a_named_symbol_or_module_outranks_word_counts(source):
    files = source_files(source)
    assert rank_files(files, "The `first` helper of pkg.core misbehaves on an empty list.")[0][1].path == "pkg/core.py"
    assert rank_files(files, "Calling first(x) on an empty list of items gives no default")[0][1].path == "pkg/core.py"


def test_vendored_and_huge_files_are_skipped(source):
    (source / "pkg" / "_vendor").mkdir()
    (source / "pkg" / "_vendor" / "six.py").write_text("def first(): pass\n")
    (source / "pkg" / "generated.py").write_text("X = 1\n" * (MAX_FILE_BYTES // 6 + 1))
    (source / "node_modules").mkdir()
    (source / "node_modules" / "x.js").write_text("function first() {}\n")
    assert "pkg/core.py" in {f.path for f in source_files(source)}
    assert not {"pkg/_vendor/six.py", "pkg/generated.py", "node_modules/x.js"} & {f.path for f in source_files(source)}


def test_a_file_too_big_for_the_budget_is_shown_as_excerpts_around_the_traceback(source):
    filler = "".join(f"def helper_{n}(value):\n    return value + {n}\n\n\n" for n in range(400))
    (source / "pkg" / "core.py").write_text(filler + CORE)
    bug_line = (filler + CORE).splitlines().index("    return items[0]") + 1
    statement = TRACEBACK.replace("line 6, in first", f"line {bug_line}, in first")
    with FakeModelServer(lambda messages, model: "no diff") as server:
        outcome = solve_with_openai(source, statement, config(server, max_context_chars=3_000, attempts=1))
    prompt = last_user_text(server.requests[0]["body"]["messages"])
    assert outcome.files_shown[0] == "pkg/core.py" and "(excerpts of" in prompt
    assert "    return items[0]\n" in prompt and "def helper_0(" not in prompt
    assert len(prompt) < 3_000 + 2_500, "the budget bounds the repository text"


# ------------------------------------------------------------------------------------------
# Diffs from replies
# ------------------------------------------------------------------------------------------


def test_diffs_are_found_in_fences_bare_text_and_not_in_prose():
    body = GOOD_DIFF
    assert extract_diff(fenced(body)) == body
    assert extract_diff(f"```patch\n{body}```") == body
    assert extract_diff(f"Some words.\n\n```\n{body}```") == body
    assert extract_diff(f"```diff\n{body}") == body, "an unclosed last fence runs to the end"
    assert extract_diff(body) == body
    assert extract_diff("Just change `items[0]` to handle the empty list.") == ""
    assert extract_diff("```python\nprint('no diff')\n```") == ""
    other = "--- a/setup.py\n+++ b/setup.py\n@@ -1 +1 @@\n-x\n+y\n"
    two_blocks = f"First:\n```python\nfirst([])\n```\n```diff\n{body}```\nand\n```diff\n{other}```\n"
    assert extract_diff(two_blocks) == body + other, "one block per file is one diff"


def test_normalising_finds_paths_adds_context_and_recounts(source):
    sloppy = "--- /abs/checkout/pkg/core.py\n+++ /abs/checkout/pkg/core.py\n@@ @@\n-    return items[0]\n+    return items[0] if items else default\n"
    patch = normalise_diff(sloppy, source)
    assert patch == (
        "diff --git a/pkg/core.py b/pkg/core.py\n--- a/pkg/core.py\n+++ b/pkg/core.py\n"
        '@@ -5,3 +5,3 @@\n     """The first item, or `default` when there is none."""\n'
        "-    return items[0]\n+    return items[0] if items else default\n \n"
    )
    assert apply_check(patch, source) is None
    new_file = "--- /dev/null\n+++ b/pkg/extra.py\n@@ -0,0 +1 @@\n+X = 1\n"
    assert apply_check(normalise_diff(new_file, source), source) is None
    assert normalise_diff("@@ -1 +1 @@\n-a\n+b\n", source) == "", "hunks with no file header are not a diff"


def test_a_crlf_file_gets_crlf_lines(source, tmp_path):
    (source / "pkg" / "core.py").write_bytes(CORE.replace("\n", "\r\n").encode())
    patch = normalise_diff(extract_diff(SLOPPY_REPLY), source)
    assert "-    return items[0]\r\n+    return items[0] if items else default\r\n" in patch
    assert apply_check(patch, source) is None


def test_apply_check_is_not_fooled_by_a_repository_around_the_tree(source, tmp_path):
    outer = GitRepo(tmp_path / "outer")
    inner = outer.path / "work" / "base"
    shutil.copytree(source, inner)
    wrong = GOOD_DIFF.replace("-    return items[0]\n", "-    return items[1]\n")
    assert "pkg/core.py" in (apply_check(wrong, inner) or "")
    assert apply_check(GOOD_DIFF, inner) is None
