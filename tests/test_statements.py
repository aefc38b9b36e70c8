"""A statement comes from the best source (issue > PR > commit messages) and never holds the fix: no diff, leaks scored, none added by a rewrite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swegen.errors import BadInput
from swegen.fake_model import FakeModelServer, default_responder
from swegen.statements import (
    FixContext,
    IssueIndex,
    Statement,
    build_statement,
    clean_message,
    issue_refs,
    leakage,
    pr_number,
    remove_diffs,
    rewrite_statement,
)

FIXED_LINE = "return items[0] if items else default_value"
OLD_LINE = "return items[0]"
MERGE_SHA = "9f1c2e3d4b5a69788796a5b4c3d2e1f0a9b8c7d6"

PASTED_DIFF = """\
diff --git a/widgets/parse.py b/widgets/parse.py
index 1111111..2222222 100644
--- a/widgets/parse.py
+++ b/widgets/parse.py
@@ -10,3 +10,4 @@ def first(items, default_value=None):
     \"\"\"The first item.\"\"\"
-    return items[0]
+    return items[0] if items else default_value

"""


def ctx_for(*messages: str, failing: str = "") -> FixContext:
    return FixContext(
        repo="acme/widgets",
        fix_commit=MERGE_SHA,
        messages=list(messages),
        added_lines=[f"    {FIXED_LINE}", "    # empty input used to crash", "    )"],
        removed_lines=[f"    {OLD_LINE}"],
        base_identifiers={"items", "first", "parse", "widgets"},
        failing_test_output=failing,
    )


def write(tmp_path: Path, name: str, data: object) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


GH_EXPORT = [
    {"number": 12, "title": "first() crashes on an empty list",
     "body": "Calling `first([])` raises IndexError.\r\n\r\nExpected None.",
     "url": "https://github.com/acme/widgets/issues/12", "labels": [{"name": "bug"}],
     "createdAt": "2024-01-01T00:00:00Z", "closedAt": None},
    {"number": 6, "title": "Handle empty input in first()", "body": "Some context about the change.\n\nFixes #12",
     "mergeCommit": {"oid": MERGE_SHA}, "headRefName": "fix-empty", "url": "https://github.com/acme/widgets/pull/6"},
]


# ------------------------------------------------------------------------------------------
# Loading exports
# ------------------------------------------------------------------------------------------


def test_loads_a_gh_export_with_issues_and_prs(tmp_path):
    index = IssueIndex.load(write(tmp_path, "gh.json", GH_EXPORT))
    issue = index.issue("#12")
    assert issue and issue.kind == "issue" and issue.title == "first() crashes on an empty list"
    assert index.issue("GH-12") == issue and index.issue("https://github.com/acme/widgets/issues/12") == issue
    assert index.issue("6") is None, "a PR is not an issue"
    pr = index.pull_request(None, MERGE_SHA[:10])
    assert pr and pr.kind == "pr" and pr.number_or_key == "6" and pr.merge_commit == MERGE_SHA
    assert index.pull_request("6", None) == pr
    assert index.pull_request("12", "0000000000") is None


def test_loads_a_gitlab_export(tmp_path):
    export = [
        {"iid": 3, "title": "Crash on empty list", "description": "Steps: call first([]).",
         "web_url": "https://gitlab.com/g/widgets/-/issues/3"},
        {"iid": 3, "title": "Fix empty list", "description": "Closes #3",
         "web_url": "https://gitlab.com/g/widgets/-/merge_requests/3", "merge_commit_sha": MERGE_SHA, "source_branch": "fix"},
    ]
    index = IssueIndex.load(write(tmp_path, "gl.json", export))
    assert index.issue("3").body == "Steps: call first([])."
    assert index.pull_request("3", None).title == "Fix empty list", "GitLab issues and MRs number separately"


def test_loads_a_jira_export_wrapped_and_bare(tmp_path):
    issues = [{"key": "WID-7", "self": "https://acme.atlassian.net/rest/api/2/issue/1001",
               "fields": {"summary": "first() crashes", "description": "Empty list raises."}},
              {"key": "WID-8", "fields": {"summary": "ADF body", "description": {"type": "doc", "content": [
                  {"type": "paragraph", "content": [{"type": "text", "text": "Rich text body"}]}]}}}]
    for data in ({"issues": issues}, issues):
        index = IssueIndex.load(write(tmp_path, "jira.json", data))
        assert index.issue("wid-7").title == "first() crashes"
        assert index.issue("WID-7").url == "https://acme.atlassian.net/browse/WID-7"
        assert index.issue("WID-8").body == "Rich text body"


def test_loads_jsonl(tmp_path):
    text = "\n".join(json.dumps(item) for item in GH_EXPORT) + "\n"
    index = IssueIndex.load(write(tmp_path, "gh.jsonl", text))
    assert len(index) == 2 and index.issue("12") and index.pull_request("6", None)


@pytest.mark.parametrize(
    "content, words",
    [
        ("[{\"number\": 1, ", "not valid JSON"),
        ("{\"number\": 1}\n{oops\n", "line 2"),
        ("", "empty"),
        ("{\"total\": 3}", "no \"issues\" list"),
        ("[{\"id\": 5, \"name\": \"x\"}]", "entry 1 has no number"),
        ("[{\"number\": \"abc\", \"title\": \"t\"}]", "not an issue number"),
        ("[{\"number\": 1, \"title\": [\"t\"]}]", "title is a JSON list"),
        ("42", "not a list of issues"),
    ],
)
def test_malformed_export_is_one_line_bad_input_with_a_hint(tmp_path, content, words):
    with pytest.raises(BadInput) as caught:
        IssueIndex.load(write(tmp_path, "bad.json", content))
    assert words in caught.value.message
    assert "\n" not in caught.value.one_line() and "gh issue list" in caught.value.hint


def test_missing_export_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="does not exist"):
        IssueIndex.load(tmp_path / "nope.json")


# ------------------------------------------------------------------------------------------
# References
# ------------------------------------------------------------------------------------------


def test_merge_pull_request_number_is_not_an_issue_ref():
    assert issue_refs("Merge pull request #6 from priya/fix-empty\n\nFix crash on empty input") == []
    assert issue_refs("Merge pull request #6 from priya/fix-empty\n\nFixes #12") == ["12"]


def test_issue_ref_forms_are_normalised_unique_and_ordered():
    text = (
        "Closes #7, GH-9 and acme/widgets#11.\n"
        "See https://github.com/acme/widgets/issues/15 and https://gitlab.com/g/sub/widgets/-/issues/16.\n"
        "Also WID-123 and https://acme.atlassian.net/browse/WID-124. Again #7.\n"
        "Not refs: UTF-8, SHA-256, CVE-2023-1234, PR #3, see !4, https://github.com/acme/widgets/pull/5, a#6, &#8;"
    )
    assert issue_refs(text) == ["7", "9", "11", "15", "16", "WID-123", "WID-124"]


def test_squash_subject_pr_suffix_is_not_an_issue_ref():
    assert issue_refs("Fix crash on empty input (#21)\n\nResolves #20") == ["20"]


@pytest.mark.parametrize(
    "subject, number",
    [
        ("Merge pull request #6 from priya/fix-empty", "6"),
        ("Fix crash on empty input (#21)", "21"),
        ("Merge branch 'fix' into 'main'\n\nFix it\n\nSee merge request g/widgets!34", "34"),
        ("Fix crash on empty input", None),
        ("Fix #21 crash", None),
    ],
)
def test_pr_number(subject, number):
    assert pr_number(subject) == number


# ------------------------------------------------------------------------------------------
# Cleaning messages
# ------------------------------------------------------------------------------------------


def test_clean_message_strips_trailers_boilerplate_and_pasted_diff():
    message = (
        "Merge pull request #6 from priya/fix-empty\n\n"
        "first() no longer crashes on an empty list\n\n"
        "It raised IndexError for [].\n\n"
        + PASTED_DIFF
        + "Thanks to the reporter.\n\n"
        "Fixes: 1234abcd5678 (\"Add first()\")\n"
        "Closes #12\n"
        "Signed-off-by: Priya <priya@example.com>\n"
        "Co-authored-by: Sam <sam@example.com>\n"
        "Reviewed-by: Lee <lee@example.com>\n"
        "Change-Id: I0123456789abcdef\n"
        "Cc: stable@example.com\n"
    )
    assert clean_message(message) == (
        "first() no longer crashes on an empty list\n\nIt raised IndexError for [].\n\nThanks to the reporter."
    )


def test_clean_message_strips_a_fenced_diff_but_keeps_other_code():
    message = (
        "Fix first() on empty lists (#6)\n\nRepro:\n\n```python\nfirst([])\n```\n\n"
        f"```diff\n-    {OLD_LINE}\n+    {FIXED_LINE}\n```\n\nDone.\n\n---------\n\nCo-authored-by: Sam <s@x>"
    )
    assert clean_message(message) == "Fix first() on empty lists\n\nRepro:\n\n```python\nfirst([])\n```\n\nDone."


def test_a_hunk_runs_through_its_blank_context_lines_and_stops_at_prose():
    text = "Before.\n@@ -1,3 +1,3 @@\n-a = 1\n+a = 2\n\n b = 3\n\nAfter: a is 2."
    assert remove_diffs(text) == "Before.\n\nAfter: a is 2."
    loose = "See:\n    +++ b/x.py\n    +new_line()\n    -old_line()\nThat is all."
    assert remove_diffs(loose) == "See:\nThat is all."


# ------------------------------------------------------------------------------------------
# Choosing the source
# ------------------------------------------------------------------------------------------

MERGE_MESSAGE = "Merge pull request #6 from priya/fix-empty\n\nHandle empty input in first()"
BRANCH_MESSAGE = "Make first() return the default for []\n\nIt crashed with IndexError.\n\nFixes #12"


def test_issue_beats_pr_and_commit_message(tmp_path):
    index = IssueIndex.load(write(tmp_path, "gh.json", GH_EXPORT))
    statement = build_statement(ctx_for(MERGE_MESSAGE, BRANCH_MESSAGE), index)
    assert statement.source == "issue"
    assert statement.text.startswith("first() crashes on an empty list\n\nCalling `first([])` raises IndexError.")
    assert statement.issue_refs == ["12"]
    assert statement.hints_text == "Some context about the change.", "the PR description becomes the hint"


def test_issue_linked_only_from_the_pr_description(tmp_path):
    index = IssueIndex.load(write(tmp_path, "gh.json", GH_EXPORT))
    statement = build_statement(ctx_for(MERGE_MESSAGE, "Make first() return the default for []"), index)
    assert statement.source == "issue" and statement.issue_refs == ["12"]


def test_pr_beats_commit_message_when_no_issue_is_exported(tmp_path):
    index = IssueIndex.load(write(tmp_path, "gh.json", GH_EXPORT[1:]))
    statement = build_statement(ctx_for(MERGE_MESSAGE, BRANCH_MESSAGE), index)
    assert statement.source == "pull_request"
    assert statement.text == "Handle empty input in first()\n\nSome context about the change.\n"
    assert statement.hints_text == ""


def test_pr_is_found_by_number_when_the_sha_differs(tmp_path):
    index = IssueIndex.load(write(tmp_path, "gh.json", GH_EXPORT[1:]))
    ctx = FixContext("acme/widgets", "1" * 40, [MERGE_MESSAGE], [], [], set())
    assert build_statement(ctx, index).source == "pull_request"


def test_commit_messages_without_an_export():
    statement = build_statement(ctx_for(MERGE_MESSAGE, BRANCH_MESSAGE, "fixup! Make first() return"))
    assert statement.source == "commit_message"
    assert statement.text == (
        "Handle empty input in first()\n\nMake first() return the default for []\n\nIt crashed with IndexError.\n"
    )
    assert statement.issue_refs == ["12"] and statement.hints_text == ""


def test_squash_commit_message_drops_repeated_bullets_and_ref_prefixes():
    squash = "gh-12: Fix crash on empty input (#21)\n\n* Fix crash on empty input\n\n* Explain the guard\n\n---------\n\nCo-authored-by: A <a@x>"
    assert build_statement(ctx_for(squash)).text == "Fix crash on empty input\n\n* Explain the guard\n"


def test_failing_test_output_section_and_a_custom_template(tmp_path):
    ctx = ctx_for("Fix first() on []", failing="E   IndexError: list index out of range")
    text = build_statement(ctx).text
    assert "## Failing test output\n\n```text\nE   IndexError: list index out of range\n```" in text
    template = write(tmp_path, "mine.j2", "[{{ source }}] {{ title | upper }} in {{ repo }}\n")
    assert build_statement(ctx, template=template).text == "[commit_message] FIX FIRST() ON [] in acme/widgets\n"


def test_a_broken_custom_template_is_bad_input(tmp_path):
    with pytest.raises(BadInput, match="line 1"):
        build_statement(ctx_for("Fix"), template=write(tmp_path, "bad.j2", "{{ title "))
    with pytest.raises(BadInput, match="failed to render") as caught:
        build_statement(ctx_for("Fix"), template=write(tmp_path, "unknown.j2", "{{ nope }}"))
    assert "title" in caught.value.hint


# ------------------------------------------------------------------------------------------
# Never a diff; leakage
# ------------------------------------------------------------------------------------------


def test_statement_never_contains_the_diff_pasted_in_a_commit_message():
    message = "Fix first() on an empty list\n\nIt raised IndexError.\n\n" + PASTED_DIFF + "```diff\n+" + FIXED_LINE + "\n```\n"
    statement = build_statement(ctx_for(message))
    assert "It raised IndexError." in statement.text
    for marker in ("diff --git", "@@", "+++", "--- a/", FIXED_LINE, OLD_LINE):
        assert marker not in statement.text
    assert statement.leakage_score == 0.0


def test_statement_from_an_issue_never_contains_a_diff(tmp_path):
    export = [{"number": 12, "title": "Crash", "body": "Crashes. Patch:\n\n    " + PASTED_DIFF.replace("\n", "\n    ") + "\nThanks"}]
    index = IssueIndex.load(write(tmp_path, "gh.json", export))
    text = build_statement(ctx_for("Fix crash\n\nfixes #12"), index).text
    assert FIXED_LINE not in text and "diff --git" not in text and "Thanks" in text


def test_a_custom_template_cannot_bring_a_diff_back(tmp_path):
    template = write(tmp_path, "t.j2", "{{ title }}\n\n--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-old\n+new\n\nEnd.\n")
    text = build_statement(ctx_for("Fix crash"), template=template).text
    assert text == "Fix crash\n\nEnd.\n"


def test_leakage_is_total_when_the_message_pastes_the_fixed_line():
    statement = build_statement(ctx_for(f"Fix crash on empty list\n\nChanged it to `{FIXED_LINE}`."))
    assert statement.leakage_score == 1.0 and statement.leaked == [FIXED_LINE]


def test_leakage_is_low_for_a_message_describing_the_symptom():
    ctx = ctx_for("first() crashes on an empty list\n\nCalling first([]) raises IndexError instead of returning None.")
    assert build_statement(ctx).leakage_score == 0.0
    assert leakage("The old line return items[0] is fine", ctx) == (0.0, [])


def test_a_moved_line_is_not_a_leak_but_a_new_one_is():
    moved = "raise ValueError(f'bad widget {name}')"
    ctx = FixContext("acme/widgets", MERGE_SHA, [], [moved, "    if not widgets_by_name:"], [f"  {moved}"], {"widgets_by_name"})
    assert leakage(f"It says: {moved}", ctx) == (0.0, [])
    assert leakage("when `if not widgets_by_name:` is reached", ctx) == (1.0, ["if not widgets_by_name:"])


def test_identifier_only_leakage_counts_names_the_fix_introduces():
    ctx = FixContext(
        "acme/widgets", MERGE_SHA, [],
        added_lines=["    path = normalise_path(raw, strict_mode=True)", '    log("missing_file here")'],
        removed_lines=["    path = raw"],
        base_identifiers={"path", "raw", "log"},
    )
    assert leakage("Paths are wrong; normalise_path should exist", ctx) == (0.25, ["normalise_path"])
    assert leakage("normalise_path and strict_mode", ctx) == (0.5, ["normalise_path", "strict_mode"])
    assert leakage("raw path is wrong; a missing_file message; normalise_paths", ctx) == (0.0, [])


# ------------------------------------------------------------------------------------------
# Rewrite through an OpenAI-compatible endpoint (the fake model on loopback)
# ------------------------------------------------------------------------------------------

LEAKY_MESSAGE = f"first() crashes on an empty list\n\nCalling first([]) raises IndexError.\n\nNow it does `{FIXED_LINE}`."


def test_rewrite_end_to_end_against_the_fake_model():
    ctx = ctx_for("first() crashes on an empty list\n\nCalling first([]) raises IndexError.")
    original = build_statement(ctx)
    with FakeModelServer() as server:
        rewritten = rewrite_statement(original, ctx, base_url=server.base_url, model="fake-model", api_key="sk-test", timeout=10)
    assert rewritten.source == "rewrite" and rewritten.note == ""
    assert rewritten.text == "Bug report: first() crashes on an empty list\n"
    assert rewritten.leakage_score == 0.0 and rewritten.issue_refs == original.issue_refs
    [request] = server.requests
    assert request["path"] == "/v1/chat/completions" and request["headers"]["Authorization"] == "Bearer sk-test"
    assert request["body"]["model"] == "fake-model" and request["body"]["temperature"] == 0
    prompt = request["body"]["messages"][-1]["content"]
    assert original.text.strip() in prompt and "never its fix" in prompt
    assert FIXED_LINE not in request["raw"] and OLD_LINE not in request["raw"]


def test_rewrite_redacts_fix_code_before_sending_it():
    ctx = ctx_for(LEAKY_MESSAGE)
    original = build_statement(ctx)
    assert original.leakage_score == 1.0
    with FakeModelServer() as server:
        rewritten = rewrite_statement(original, ctx, base_url=server.base_url, model="m", api_key=None)
    assert FIXED_LINE not in server.requests[0]["raw"] and "Calling first([])" in server.requests[0]["raw"]
    assert "Authorization" not in server.requests[0]["headers"]
    assert rewritten.source == "rewrite" and rewritten.leakage_score == 0.0


def test_rewrite_keeps_the_original_when_the_server_fails():
    ctx = ctx_for("first() crashes on an empty list")
    original = build_statement(ctx)
    with FakeModelServer(fail_with=500) as server:
        kept = rewrite_statement(original, ctx, base_url=server.base_url + "/", model="m", api_key=None, timeout=10)
    assert kept.text == original.text and kept.source == "commit_message"
    assert "HTTP 500" in kept.note and len(server.requests) == 1


def test_rewrite_keeps_the_original_when_the_rewrite_leaks_a_fixed_line():
    ctx = ctx_for("first() crashes on an empty list")
    original = build_statement(ctx)
    with FakeModelServer(lambda messages, model: f"Crash\n\nFix: {FIXED_LINE}") as server:
        kept = rewrite_statement(original, ctx, base_url=server.base_url, model="m", api_key=None, timeout=10)
    assert kept.text == original.text and kept.source == "commit_message" and kept.leakage_score == 0.0
    assert "leaks the fix" in kept.note


def test_rewrite_keeps_the_original_on_bad_json_or_no_server():
    ctx = ctx_for("first() crashes on an empty list")
    original = build_statement(ctx)
    with FakeModelServer() as server:
        port = server.port
        server.complete = lambda body: (200, {"choices": []})  # type: ignore[method-assign]
        kept = rewrite_statement(original, ctx, base_url=server.base_url, model="m", api_key=None, timeout=10)
    assert kept.text == original.text and "not a chat completion" in kept.note
    gone = rewrite_statement(original, ctx, base_url=f"http://127.0.0.1:{port}/v1", model="m", api_key=None, timeout=5)
    assert gone.text == original.text and "cannot reach" in gone.note


def test_rewrite_rejects_a_base_url_that_is_not_http():
    ctx = ctx_for("Fix")
    with pytest.raises(BadInput, match="not an http"):
        rewrite_statement(build_statement(ctx), ctx, base_url="ftp://models.example/v1", model="m", api_key=None)


def test_fake_model_lists_models_and_is_deterministic():
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with FakeModelServer(models=("a", "b")) as server:
        with opener.open(server.base_url + "/models", timeout=5) as response:
            assert [m["id"] for m in json.load(response)["data"]] == ["a", "b"]
        request = urllib.request.Request(
            server.base_url + "/chat/completions", method="POST", headers={"Content-Type": "application/json"},
            data=json.dumps({"model": "a", "messages": [{"role": "user", "content": "<statement>\nT\n\nB\n</statement>"}]}).encode(),
        )
        with opener.open(request, timeout=5) as response:
            answer = json.load(response)
    assert answer["object"] == "chat.completion" and answer["choices"][0]["message"]["content"] == "Bug report: T"
    assert answer["usage"]["total_tokens"] == answer["usage"]["prompt_tokens"] + answer["usage"]["completion_tokens"] > 0
    messages = [{"role": "user", "content": "<statement>\nT\n\nB\n</statement>"}]
    assert default_responder(messages, "x") == default_responder(messages, "y")


def test_statement_is_a_frozen_record():
    statement = Statement("t", "issue", 0.0, [], [], "")
    with pytest.raises(AttributeError):
        statement.text = "x"  # type: ignore[misc]


# -- after validation: redaction, the failing tests' output, quality -----------------------------

from swegen.restate import failing_output, fix_context, restate_tasks, statement_leaks  # noqa: E402
from swegen.statements import redact, statement_quality  # noqa: E402
from swegen.validating import finish  # noqa: E402
from tests.conftest import run_cli  # noqa: E402
from tests.gitrepo import GitRepo  # noqa: E402

MORE_BASE = '''def sliced(seq, n):
    """Yield slices of length n from the sequence seq."""
    count = len(seq) // n + bool(len(seq) % n)
    return [seq[i * n : (i + 1) * n] for i in range(count)]
'''
MORE_FIXED = '''def sliced(seq, n):
    """Yield slices of length n from the sequence seq."""
    if n < 1:
        raise ValueError("n must be at least 1")
    count = len(seq) // n + bool(len(seq) % n)
    return [seq[i * n : (i + 1) * n] for i in range(count)]
'''
TESTS_BASE = '''import unittest

from pkg.more import sliced


class SlicedTests(unittest.TestCase):
    def test_even(self):
        self.assertEqual(sliced([1, 2, 3, 4], 2), [[1, 2], [3, 4]])
'''
TESTS_FIXED = TESTS_BASE + '''
    def test_negative(self):
        with self.assertRaises(ValueError):
            sliced([1, 2, 3], -1)

    def test_zero(self):
        with self.assertRaises(ValueError):
            sliced([1, 2, 3], 0)
'''
SLICED_MESSAGE = (
    "Fix sliced() with n below 1\n\n"
    "sliced(seq, -1) silently returns an empty list, and sliced(seq, 0) fails with ZeroDivisionError. "
    'Guard n < 1 up front and raise ValueError("n must be at least 1") so callers see the problem.\n\n'
    "Add SlicedTests.test_negative and SlicedTests.test_zero.\n"
)


def _sliced_repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "more")
    repo.commit("Initial commit", {"pkg/__init__.py": "", "pkg/more.py": MORE_BASE, "tests/__init__.py": "",
                                   "tests/test_more.py": TESTS_BASE})
    repo.commit(SLICED_MESSAGE, {"pkg/more.py": MORE_FIXED, "tests/test_more.py": TESTS_FIXED})
    return repo


def _mined(tmp_path: Path) -> tuple[Path, Path, dict]:
    repo = _sliced_repo(tmp_path)
    run = tmp_path / "run"
    proc = run_cli("mine", str(repo.path), "-o", str(run), "--no-validate")
    assert proc.returncode == 0, proc.stderr
    [folder] = [p.parent for p in run.glob("*/task.json")]
    return run, folder, json.loads((folder / "task.json").read_text())


def _before_log(tmp_path: Path, folder: Path) -> str:
    """The real pytest -rA --tb=short output of the fix's tests at the base commit (validation's before-1.txt)."""
    import subprocess
    import sys

    tree = tmp_path / "before"
    tree.mkdir()
    for path, text in {"pkg/__init__.py": "", "pkg/more.py": MORE_BASE, "tests/__init__.py": "", "tests/test_more.py": TESTS_FIXED}.items():
        (tree / path).parent.mkdir(parents=True, exist_ok=True)
        (tree / path).write_text(text)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-rA", "--tb=short", "-p", "no:cacheprovider", "tests/test_more.py"],
                          cwd=tree, capture_output=True, text=True)
    assert proc.returncode == 1, proc.stdout
    (folder / "logs").mkdir(exist_ok=True)
    (folder / "logs" / "before-1.txt").write_text(proc.stdout)
    return proc.stdout


def test_mining_redacts_the_sentences_that_give_the_fix_away_and_keeps_the_original(tmp_path: Path):
    _, folder, task = _mined(tmp_path)
    statement = (folder / "problem_statement.md").read_text()
    original = (folder / "problem_statement.original.md").read_text()
    assert "Guard n < 1 up front" in original and "Add SlicedTests.test_negative" in original
    assert "Guard" not in statement and "ValueError" not in statement and "test_negative" not in statement
    assert statement.startswith("Fix sliced() with n below 1\n")
    assert "sliced(seq, -1) silently returns an empty list" in statement
    assert task["problem_statement"] == statement
    assert task["statement_quality_original"] == "leaky" and task["statement_quality"] == "ok"
    assert task["statement_quality_reasons"] == [] and task["statement_sources"] == ["commit_message"]
    reasons = [r["reason"] for r in task["statement_redactions"]]
    assert len(reasons) == 2 and reasons[0].startswith("quotes an added line of the fix")
    assert reasons[1] == "names the test test_negative, which the fix adds"
    assert task["leakage_score"] == 1.0 and task["leakage_score_redacted"] == 0.0


def test_the_failing_output_shows_the_code_under_test_and_never_the_test_code(tmp_path: Path):
    _, folder, task = _mined(tmp_path)
    log = _before_log(tmp_path, folder)
    f2p = ["tests/test_more.py::SlicedTests::test_negative", "tests/test_more.py::SlicedTests::test_zero"]
    output = failing_output(log, f2p, fix_context(task, None), task["test_files"])
    assert "tests/test_more.py:1" in log and "with self.assertRaises(ValueError):" in log  # what must be left out is there
    # how many tests fail, never which: the FAIL_TO_PASS list is not the solver's to see
    assert "test_negative" not in output and "test_zero" not in output and "fails like this" in output
    assert "E   AssertionError: ValueError not raised" in output
    assert "pkg/more.py:3: in sliced" in output and "E   ZeroDivisionError: integer division or modulo by zero" in output
    assert "    count = len(seq) // n + bool(len(seq) % n)" in output  # the code under test, as it was
    assert "tests/test_more.py:1" not in output and "assertRaises" not in output  # no frame of the test file
    assert "test_even" not in output  # passing tests are not failures


def test_validation_restates_with_the_failing_output_and_keeps_swebench_fields(tmp_path: Path):
    run, folder, task = _mined(tmp_path)
    _before_log(tmp_path, folder)
    f2p = ["tests/test_more.py::SlicedTests::test_negative", "tests/test_more.py::SlicedTests::test_zero"]
    row = {"instance_id": task["instance_id"], "kept": True, "reason": None, "step": "kept", "FAIL_TO_PASS": f2p,
           "PASS_TO_PASS": ["tests/test_more.py::SlicedTests::test_even"]}
    (run / "validation.jsonl").write_text(json.dumps(row) + "\n")
    finish(run)
    [line] = [json.loads(x) for x in (run / "tasks.jsonl").read_text().splitlines()]
    for name in ("repo", "instance_id", "base_commit", "patch", "test_patch", "problem_statement", "hints_text",
                 "created_at", "version", "FAIL_TO_PASS", "PASS_TO_PASS", "environment_setup_commit"):
        assert name in line
    assert line["statement_sources"] == ["commit_message", "test_failure"] and line["statement_quality"] == "ok"
    statement = line["problem_statement"]
    assert "## Failing test output" in statement and "ZeroDivisionError: integer division or modulo by zero" in statement
    assert statement == (folder / "problem_statement.md").read_text()
    assert statement_leaks(run) == {}
    finish(run)  # again: the same files, never a statement restated from a restated one
    assert json.loads((run / "tasks.jsonl").read_text())["problem_statement"] == statement


def test_the_scan_of_a_runs_statements_finds_fix_and_test_lines(tmp_path: Path):
    run, folder, _ = _mined(tmp_path)
    assert statement_leaks(run) == {}
    # Control: the original statement, and one that pastes a test line, are caught.
    (folder / "problem_statement.md").write_text((folder / "problem_statement.original.md").read_text())
    found = statement_leaks(run)
    assert list(found) == [folder.name] and any("raise ValueError" in line for line in found[folder.name])
    (folder / "problem_statement.md").write_text("It fails:\n\n    with self.assertRaises(ValueError):\n")
    assert statement_leaks(run)[folder.name] == ["test patch: with self.assertRaises(ValueError):"]


@pytest.mark.parametrize("text, gone", [
    ("sliced() hangs. Use a bounded loop instead of the while loop.", "Use a bounded"),
    ("sliced() hangs.\n\n- Fixed by checking n first\n- callers hang forever", "Fixed by checking"),
    ("sliced() hangs. This commit adds a check for n.", "This commit adds"),
    ("sliced() hangs. Added a regression test.", "regression test"),
    ("sliced() hangs.\n\n```python\nif n < 1:\n    raise ValueError('n must be at least 1')\n```", "raise ValueError"),
])
def test_announcements_and_quoted_code_are_redacted(text: str, gone: str):
    ctx = FixContext("o/r", "a" * 40, [], ["    if n < 1:", "        raise ValueError('n must be at least 1')"], [], {"sliced", "n"})
    kept, removed = redact(text, ctx)
    assert gone not in kept and "sliced() hangs." in kept and removed
    assert statement_quality(text, ctx, False)[0] == "leaky"


def test_a_bare_title_is_thin_and_a_description_is_ok():
    ctx = FixContext("o/r", "a" * 40, [], ["return x"], [], set())
    assert statement_quality("Issue 1003: Multidimensional reshape()\n", ctx, False) == (
        "thin", ["only 4 words of description and no failing test output"])
    described = "reshape() drops a dimension\n\nreshape(a, (2, 3, 4)) returns a 2-D result when the input is 3-D and the last axis is 1.\n"
    assert statement_quality(described, ctx, False) == ("ok", [])


def test_rewrite_that_announces_the_fix_is_rejected_by_the_same_test():
    ctx = ctx_for("first() crashes on an empty list")
    original = build_statement(ctx)
    with FakeModelServer(lambda messages, model: "first() crashes on an empty list. Guard the empty case up front.") as server:
        kept = rewrite_statement(original, ctx, base_url=server.base_url, model="m", api_key=None, timeout=10)
    assert kept.text == original.text and "announces the change" in kept.note


def test_names_already_in_the_base_files_are_not_the_fixes_own(tmp_path: Path):
    helper = "def _check_size(n):\n    return n\n\n\n" + "\n" * 20
    repo = GitRepo(tmp_path / "r")
    base = repo.commit("Initial commit", {"pkg/more.py": helper + MORE_BASE})
    repo.commit("Fix", {"pkg/more.py": helper + MORE_BASE.replace("    count =", "    n = _check_size(n)\n    count =")})
    task = {"patch": repo.git("diff", "HEAD~1", "HEAD"), "base_commit": base, "test_patch": "", "repo": "o/r"}
    text = "sliced() ignores what `_check_size` says about n, so a negative n gives an empty list back."
    assert statement_quality(text, fix_context(task, repo.path), False) == ("ok", [])
    # Control: without the base files, _check_size looks like the fix's own name.
    assert statement_quality(text, fix_context(task, None), False) == ("leaky", ["names _check_size, which only the fix introduces"])
