"""Mining finds each real fix once, with the right base and split, and says why everything else was rejected."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from conftest import run_cli
from gitrepo import GitRepo
from swegen.errors import NotAGitRepository
from swegen.example import create_example, load_manifest
from swegen.mining import MineConfig, mine
from swegen.restate import restate_tasks

LIB = "def total(xs):\n    s = 0\n    for x in xs[1:]:\n        s += x\n    return s\n"
LIB_FIXED = "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n"
TEST = "from lib import total\n\ndef test_total():\n    assert total([1, 2]) == 3\n"


def candidates(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "candidates.jsonl").read_text().splitlines()]


def kept(out: Path) -> list[dict]:
    return [c for c in candidates(out) if c["kept"]]


def task(out: Path, candidate: dict) -> dict:
    return json.loads((out / candidate["instance_id"] / "task.json").read_text())


def base_repo(tmp_path: Path) -> GitRepo:
    repo = GitRepo(tmp_path / "repo")
    repo.commit("Initial import", {"lib.py": LIB, "README.md": "# lib\n"})
    return repo


def run(repo: GitRepo | Path, tmp_path: Path, **options) -> Path:
    out = tmp_path / "run"
    mine(MineConfig(repo=getattr(repo, "path", repo), output=out, **options))
    return out


def test_merge_with_test_in_a_separate_branch_commit_is_one_task(tmp_path):
    repo = base_repo(tmp_path)
    base = repo.head()
    repo.branch("fix-total")
    fix_src = repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED})
    fix_test = repo.commit("Add a test for total", {"tests/test_lib.py": TEST})
    repo.checkout("main")
    merge = repo.merge("fix-total", "Merge pull request #4 from dev/fix-total")
    out = run(repo, tmp_path)
    (only,) = kept(out)
    assert (only["fix_commit"], only["base_commit"], only["kind"]) == (merge, base, "merge")
    assert only["source_files"] == ["lib.py"] and only["test_files"] == ["tests/test_lib.py"]
    considered = {c["fix_commit"] for c in candidates(out)}
    assert fix_src not in considered and fix_test not in considered, "branch commits are part of their merge"
    t = task(out, only)
    assert "for x in xs:" in t["patch"] and "tests/test_lib.py" not in t["patch"]
    assert "def test_total" in t["test_patch"] and "lib.py" not in t["test_patch"].replace("tests/test_lib.py", "")
    assert t["touched_tests"] == ["tests/test_lib.py::test_total"]
    assert t["changed_functions"] == ["total"]
    assert sorted(t["branch_commits"]) == sorted([fix_src, fix_test])
    assert (out / only["instance_id"] / "gold.patch").read_text() == t["patch"]
    assert (out / only["instance_id"] / "test.patch").read_text() == t["test_patch"]
    # the gold patch applies at the base commit, and the test patch on top of it
    work = tmp_path / "apply"
    subprocess.run(["git", "clone", "-q", str(repo.path), str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "checkout", "-q", base], check=True)
    for name in ("gold.patch", "test.patch"):
        subprocess.run(["git", "-C", str(work), "apply", str(out / only["instance_id"] / name)], check=True)


def test_squash_merge_is_a_plain_commit_task(tmp_path):
    repo = base_repo(tmp_path)
    base = repo.head()
    squash = repo.commit("Fix total skipping the first item (#12)", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    out = run(repo, tmp_path)
    (only,) = kept(out)
    assert (only["fix_commit"], only["base_commit"], only["kind"]) == (squash, base, "commit")


def test_same_fix_through_a_release_branch_appears_once(tmp_path):
    repo = base_repo(tmp_path)
    repo.branch("release-1.x")
    first = repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    repo.checkout("main")
    repo.commit("Unrelated docs", {"README.md": "# lib\nmore\n"})
    merge_back = repo.merge("release-1.x", "Merge branch 'release-1.x'")
    # and a cherry-pick onto another branch
    repo.branch("release-0.9", "main~1")
    repo.git("cherry-pick", first)
    out = run(repo, tmp_path)
    found = [c for c in candidates(out) if "lib.py" in c["source_files"]]
    # the merge of the release line is decomposed: its commit is the unit, the merge is not
    assert [(c["fix_commit"], c["nested_in"]) for c in found if c["kept"]] == [(first, merge_back)]
    (back,) = [c for c in found if c["fix_commit"] == merge_back]
    assert back["reasons"][0].startswith("release-merge: ") and "decomposed into 1 inner unit," in back["reasons"][0]
    (dup,) = [c for c in found if c["reasons"] == ["duplicate"]]
    assert dup["duplicate_of"].endswith(first[:12])
    assert dup["subject"] == "Fix total skipping the first item" and dup["fix_commit"] != first, "the cherry-pick is the later copy"


def test_a_merge_of_main_into_a_branch_is_not_a_task(tmp_path):
    repo = base_repo(tmp_path)
    repo.branch("feature")
    repo.commit("Start feature", {"feature.py": "X = 1\n"})
    repo.checkout("main")
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    repo.checkout("feature")
    sync = repo.merge("main", "Merge branch 'main' into feature")
    out = run(repo, tmp_path)
    (record,) = [c for c in candidates(out) if c["fix_commit"] == sync]
    assert record["reasons"] == ["sync-merge"]


def test_a_renamed_source_file_is_split_as_a_rename(tmp_path):
    repo = base_repo(tmp_path)
    body = "".join(f"# line {i}\n" for i in range(30))
    repo.commit("Add padding", {"lib.py": LIB + body})
    repo.git("mv", "lib.py", "core.py")
    fix = repo.commit("Fix total skipping the first item", {"core.py": LIB_FIXED + body, "tests/test_lib.py": TEST.replace("from lib", "from core")})
    out = run(repo, tmp_path)
    (only,) = kept(out)
    assert only["fix_commit"] == fix and only["source_files"] == ["core.py"]
    assert "rename from lib.py" in task(out, only)["patch"]


def test_binary_test_data_goes_with_the_tests_and_binary_source_is_rejected(tmp_path):
    repo = base_repo(tmp_path)
    blob = bytes(range(256)) * 4
    fix = repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST, "tests/data/sample.bin": blob})
    binary = repo.commit("Fix the logo", {"lib.py": LIB_FIXED + "# logo\n", "logo.so": b"\0\1" * 50, "tests/test_logo.py": "def test_x():\n    pass\n"})
    out = run(repo, tmp_path)
    by_sha = {c["fix_commit"]: c for c in candidates(out)}
    assert by_sha[fix]["kept"] and "tests/data/sample.bin" in by_sha[fix]["test_files"]
    assert "GIT binary patch" in task(out, by_sha[fix])["test_patch"]
    assert by_sha[binary]["kept"] is False or "logo.so" not in by_sha[binary]["source_files"]


def test_non_utf8_message_and_content(tmp_path):
    repo = base_repo(tmp_path)
    latin = repo.commit("Fix total for caf\xe9 totals\n".encode("latin-1"), {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    bad = repo.commit("Fix encoding of names", {"names.py": b"NAME = '\xe9t\xe9'\n", "tests/test_names.py": "def test_n():\n    pass\n"})
    out = run(repo, tmp_path)
    by_sha = {c["fix_commit"]: c for c in candidates(out)}
    assert by_sha[latin]["kept"], by_sha[latin]["reasons"]
    assert "caf" in by_sha[latin]["subject"]
    assert by_sha[bad]["reasons"][0].startswith("non-utf8")


def test_every_rejection_has_a_reason_and_a_score(tmp_path):
    repo = base_repo(tmp_path)
    repo.commit("Update docs", {"README.md": "# lib\nusage\n"})
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED})
    repo.commit("Add more tests", {"tests/test_lib.py": TEST})
    out = run(repo, tmp_path)
    rows = candidates(out)
    assert len(rows) == 4
    for row in rows:
        assert isinstance(row["bugfix_score"], float) and row["schema_version"] == 1
        assert row["kept"] or row["reasons"]
    reasons = sorted(r["reasons"][0] for r in rows)
    assert reasons == ["no-source", "no-tests", "no-tests", "no-tests"]


def test_instance_ids_and_output_are_stable_across_runs(tmp_path):
    repo = base_repo(tmp_path)
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    first = run(repo, tmp_path)
    snapshot = (first / "candidates.jsonl").read_text()
    again = run(repo, tmp_path)
    assert (again / "candidates.jsonl").read_text() == snapshot


def test_statement_never_contains_the_diff_and_leakage_is_flagged(tmp_path):
    repo = base_repo(tmp_path)
    pasted = (
        "Fix total skipping the first item\n\nThe loop started at index 1. Changed it to\n\n    for x in xs:\n\n"
        "diff --git a/lib.py b/lib.py\n--- a/lib.py\n+++ b/lib.py\n@@ -1,3 +1,3 @@\n-    for x in xs[1:]:\n+    for x in xs:\n"
    )
    repo.commit(pasted, {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    out = run(repo, tmp_path)
    t = task(out, kept(out)[0])
    assert "diff --git" not in t["problem_statement"] and "+++ b/lib.py" not in t["problem_statement"]
    assert t["leakage_score"] >= 0.5, "the message pastes the fixed line"
    clean_repo = GitRepo(tmp_path / "clean")
    clean_repo.commit("Initial import", {"lib.py": LIB})
    clean_repo.commit("Fix total skipping the first item\n\ntotal([1, 2]) returns 2 instead of 3.", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    out2 = tmp_path / "run2"
    mine(MineConfig(repo=clean_repo.path, output=out2))
    assert task(out2, kept(out2)[0])["leakage_score"] < 0.5


def test_issue_export_supplies_the_statement(tmp_path):
    repo = base_repo(tmp_path)
    repo.commit("Fix total skipping the first item\n\nFixes #41", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    export = tmp_path / "issues.json"
    export.write_text(json.dumps([{"number": 41, "title": "total() is off", "body": "total([1, 2]) gives 2, expected 3.", "url": "u"}]))
    out = run(repo, tmp_path, issues=export)
    t = task(out, kept(out)[0])
    assert t["statement_source"] == "issue" and "total() is off" in t["problem_statement"]
    assert "41" in t["issue_refs"]


# -- the example repository --------------------------------------------------------------------


@pytest.fixture(scope="module")
def example_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("example")
    repo = create_example(root / "repo")
    out = root / "run"
    mine(MineConfig(repo=repo, output=out))
    return repo, out


def test_example_every_real_fix_is_found_with_the_right_base_and_split(example_run):
    repo, out = example_run
    rows = {c["subject"]: c for c in candidates(out)}
    for change in load_manifest()["changes"]:
        if change["expected"] not in ("task", "reject:no-fail-to-pass"):
            continue
        row = rows[change["subject"]]
        assert row["kept"], (change["subject"], row["reasons"])
        parent = subprocess.run(["git", "-C", str(repo), "rev-parse", row["fix_commit"] + "^1"], capture_output=True, text=True).stdout.strip()
        assert row["base_commit"] == parent
        assert sorted(row["source_files"]) == sorted(change["source_files"])
        assert sorted(row["test_files"]) == sorted(change["test_files"])
        outer = change.get("reaches_main_through")
        assert row["nested_in"] == (rows[outer]["fix_commit"] if outer else None), change["subject"]
        t = task(out, row)
        for test_id in change.get("fail_to_pass") or []:
            # a parametrized case is touched through its function
            assert test_id.split("[")[0] in t["touched_tests"], (test_id, t["touched_tests"])


def test_example_noise_is_rejected_with_the_right_reason(example_run):
    _, out = example_run
    rows = {c["subject"]: c for c in candidates(out)}
    for change in load_manifest()["changes"]:
        expected = change["expected"]
        if not expected.startswith("reject:") or expected == "reject:no-fail-to-pass":
            continue
        row = rows[change["subject"]]
        assert not row["kept"], change["subject"]
        assert row["reasons"][0].split(":")[0] == expected.split(":", 1)[1], (change["subject"], row["reasons"])


def test_example_counts_every_first_parent_commit_once(example_run):
    _, out = example_run
    subjects = [c["subject"] for c in candidates(out)]
    assert sorted(subjects) == sorted(c["subject"] for c in load_manifest()["changes"])


# -- bad input -----------------------------------------------------------------------------------


def test_not_a_git_repository(tmp_path):
    with pytest.raises(NotAGitRepository):
        mine(MineConfig(repo=tmp_path, output=tmp_path / "out"))
    proc = run_cli("mine", str(tmp_path), "-o", str(tmp_path / "out"))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "is not a git repository" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1


def test_empty_repository(tmp_path):
    GitRepo(tmp_path / "empty")
    proc = run_cli("mine", str(tmp_path / "empty"), "-o", str(tmp_path / "out"))
    assert proc.returncode == 2 and "has no commits" in proc.stderr and "Traceback" not in proc.stderr


def test_bare_repository_works(tmp_path):
    repo = base_repo(tmp_path)
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(repo.path), str(bare)], check=True)
    out = run(bare, tmp_path)
    assert len(kept(out)) == 1


def test_shallow_clone_warns_how_much_is_missing(tmp_path):
    repo = base_repo(tmp_path)
    for i in range(3):
        repo.commit(f"Docs {i}", {"README.md": f"# lib {i}\n"})
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth", "2", f"file://{repo.path}", str(shallow)], check=True)
    refused = run_cli("mine", str(shallow), "-o", str(tmp_path / "out"), "--no-validate")
    assert refused.returncode == 2 and "fetch --unshallow" in refused.stderr  # a cut history is refused unless asked for
    proc = run_cli("mine", str(shallow), "-o", str(tmp_path / "out"), "--no-validate", "--allow-shallow")
    assert proc.returncode == 0, proc.stderr
    assert "shallow clone: only 2 commits" in proc.stderr.replace("\n", " ")


def test_cli_prints_the_funnel(tmp_path):
    repo = base_repo(tmp_path)
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    proc = run_cli("mine", str(repo.path), "-o", str(tmp_path / "out"), "--no-validate")
    assert proc.returncode == 0, proc.stderr
    for label in ("commits scanned", "units found inside other merges", "with test changes", "kept", "top rejection reasons"):
        assert label in proc.stdout


def test_a_pull_merge_of_the_main_branch_and_a_refactor_are_rejected(tmp_path):
    repo = base_repo(tmp_path)
    base = repo.head()
    repo.branch("upstream")
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    repo.checkout("main")
    repo.commit("Local docs", {"README.md": "# lib\nlocal\n"})
    pull = repo.merge("upstream", "Merge branch 'main' of github.com:acme/lib")
    refactor = repo.commit("Refactor the total helper", {"lib.py": LIB_FIXED.replace("s = 0", "s = 0  # running sum"), "tests/test_lib.py": TEST + "\n"})
    out = run(repo, tmp_path)
    by_sha = {c["fix_commit"]: c for c in candidates(out)}
    assert by_sha[pull]["reasons"][0].startswith("sync-merge")
    assert by_sha[refactor]["reasons"][0].startswith("unlikely-fix")
    assert any("refactor" in r for r in by_sha[refactor]["score_reasons"])
    assert base


def test_submodules_warn_and_lfs_pointers_are_rejected(tmp_path):
    sub = GitRepo(tmp_path / "sub")
    sub.commit("Sub", {"x.py": "X = 1\n"})
    repo = base_repo(tmp_path)
    repo.git("-c", "protocol.file.allow=always", "submodule", "add", "-q", str(sub.path), "vendor/sub")
    repo.commit("Add a submodule")
    pointer = "version https://git-lfs.github.com/spec/v1\noid sha256:" + "0" * 64 + "\nsize 12\n"
    repo.write({".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n"})
    lfs = repo.commit("Fix total with recorded data", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST, "tests/data/big.bin": pointer})
    proc = run_cli("mine", str(repo.path), "-o", str(tmp_path / "out"), "--no-validate")
    assert proc.returncode == 0, proc.stderr
    warnings = proc.stderr.replace("\n", " ")
    assert "submodules" in warnings and "Git LFS" in warnings
    (row,) = [c for c in candidates(tmp_path / "out") if c["fix_commit"] == lfs]
    assert row["reasons"][0].startswith("lfs-pointer")


def test_swegen_toml_adds_test_locations(tmp_path):
    repo = base_repo(tmp_path)
    repo.commit("Configure swegen", {"swegen.toml": '[tests]\nglobs = ["spec/**"]\n'})
    fix = repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED, "spec/check_lib.py": TEST})
    out = run(repo, tmp_path)
    (row,) = [c for c in candidates(out) if c["fix_commit"] == fix]
    assert row["kept"] and row["test_files"] == ["spec/check_lib.py"]
    assert task(out, row)["touched_tests"] == ["spec/check_lib.py::test_total"]


def test_branch_commits_found_without_git_match_git_log_even_with_clock_skew(tmp_path, monkeypatch):
    """Merges of branches whose commit dates go back and forth: the walk over the commit graph
    lists the same commits, in the same order, as `git log --reverse base..merge`."""
    from swegen import history
    from swegen.history import BlobReader, Commit, CommitGraph, branch_commits

    dates = [0, 50, 20, 90, 10, 60, 30, 100, 40, 80, 5, 70]  # minutes, deliberately unordered
    stream = []
    for i, minute in enumerate(dates, 1):
        message = f"commit {i}\n"
        when = 1_700_000_000 + 60 * minute
        stream += [f"commit refs/heads/b{i % 3}", f"mark :{i}", f"committer Dev <dev@example.com> {when} +0000"]
        stream += [f"data {len(message)}", message.rstrip("\n")]
        stream += [f"from :{max(1, i - 3)}"] if i > 1 else []
        stream += [f"merge :{i - 1}"] if i > 2 and i % 2 else []
        stream.append("")
    subprocess.run(["git", "init", "-q", str(tmp_path / "r")], check=True)
    subprocess.run(["git", "-C", str(tmp_path / "r"), "fast-import", "--quiet"], input="\n".join(stream).encode(), check=True)
    repo = tmp_path / "r"
    listing = ["git", "-C", str(repo), "rev-list", "--all", "--parents", "--min-parents=2"]
    lines = subprocess.run(listing, capture_output=True, text=True, check=True).stdout.splitlines()
    merges = [Commit(sha, tuple(parents), "", "", 0, 0, "", ()) for sha, *parents in map(str.split, lines)]
    assert len(merges) >= 4
    graph = CommitGraph(repo)
    expected = {merge.sha: branch_commits(repo, merge) for merge in merges}
    assert max(len(listed) for listed in expected.values()) >= 3
    monkeypatch.setattr(history, "git", None)  # no git process per merge
    with BlobReader(repo) as objects:
        for merge in merges:
            assert branch_commits(repo, merge, graph, objects) == expected[merge.sha]


# -- nested merges (issue 11): a pull request that reached main through another merge ----------

LIB2 = LIB_FIXED + "\n\ndef mean(xs):\n    return total(xs) / len(xs) + 1\n"
LIB2_FIXED = LIB_FIXED + "\n\ndef mean(xs):\n    return total(xs) / len(xs)\n"
TEST2 = TEST + "\n\ndef test_mean():\n    from lib import mean\n    assert mean([2, 4]) == 3\n"


def by_sha(out: Path) -> dict[str, dict]:
    return {c["fix_commit"]: c for c in candidates(out)}


def pr_into(repo: GitRepo, target: str, name: str, number: int, commits: list[tuple[str, dict]]) -> tuple[str, str]:
    """A pull request branch off `target`, merged into it with GitHub's subject: (base, merge)."""
    repo.checkout(target)
    base = repo.head()
    repo.branch(name)
    for message, files in commits:
        repo.commit(message, files)
    repo.checkout(target)
    return base, repo.merge(name, f"Merge pull request #{number} from dev/{name}")


@pytest.mark.parametrize("keep_branch", [True, False])
def test_pr_merged_into_a_maintenance_branch_is_a_unit_through_the_branch_merge(tmp_path, keep_branch):
    repo = base_repo(tmp_path)
    repo.branch("2.0.x")
    base, pr = pr_into(repo, "2.0.x", "fix-total", 7, [
        ("Fix total skipping the first item", {"lib.py": LIB_FIXED}),
        ("Add a test for total", {"tests/test_lib.py": TEST}),
    ])
    repo.checkout("main")
    repo.commit("Unrelated docs", {"README.md": "# lib\nmore\n"})
    outer = repo.merge("2.0.x", "Merge branch '2.0.x'")
    if not keep_branch:
        repo.git("branch", "-D", "2.0.x")  # main is then the only way to the pull request
    out = tmp_path / "run"
    funnel = mine(MineConfig(repo=repo.path, output=out))
    (only,) = kept(out)
    assert (only["fix_commit"], only["base_commit"], only["kind"], only["nested_in"]) == (pr, base, "merge", outer)
    t = task(out, only)
    assert t["touched_tests"] == ["tests/test_lib.py::test_total"] and "for x in xs:" in t["patch"]
    reason = by_sha(out)[outer]["reasons"][0]
    assert reason.startswith("release-merge: ") and "'2.0.x'" in reason and "decomposed into 1 inner unit," in reason
    assert (funnel.nested_units, funnel.decomposed_merges) == (1, 1)
    assert funnel.as_dict()["units_from_nested_merges"] == 1


def test_two_levels_of_nesting(tmp_path):
    repo = base_repo(tmp_path)
    repo.branch("2.0.x")
    repo.branch("2.1.x", "main")
    base, pr = pr_into(repo, "2.0.x", "fix-total", 3, [("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})])
    repo.checkout("2.1.x")
    repo.commit("Start 2.1 docs", {"README.md": "# lib 2.1\n"})
    middle = repo.merge("2.0.x", "Merge branch '2.0.x' into 2.1.x")
    repo.checkout("main")
    outer = repo.merge("2.1.x", "Merge branch '2.1.x'")
    for name in ("2.0.x", "2.1.x"):
        repo.git("branch", "-D", name)
    out = tmp_path / "run"
    funnel = mine(MineConfig(repo=repo.path, output=out))
    (only,) = kept(out)
    assert (only["fix_commit"], only["base_commit"], only["nested_in"]) == (pr, base, middle)
    found = by_sha(out)
    assert found[middle]["nested_in"] == outer and "decomposed into 1 inner unit," in found[middle]["reasons"][0]
    # the 2.1.x line holds the middle merge and its own docs commit
    assert "decomposed into 2 inner units," in found[outer]["reasons"][0]
    assert funnel.nested_units == 3 and funnel.decomposed_merges == 2


def test_a_pull_merge_of_remote_main_holding_a_pr_merge(tmp_path):
    repo = base_repo(tmp_path)
    repo.branch("upstream")  # origin's main, where the pull request was merged
    base, pr = pr_into(repo, "upstream", "fix-total", 11, [("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})])
    repo.checkout("main")
    repo.commit("Local docs", {"README.md": "# lib\nlocal\n"})
    pull = repo.merge("upstream", "Merge remote-tracking branch 'origin/master'")
    repo.git("branch", "-D", "upstream")
    out = run(repo, tmp_path)
    (only,) = kept(out)
    assert (only["fix_commit"], only["base_commit"], only["nested_in"]) == (pr, base, pull)
    reason = by_sha(out)[pull]["reasons"][0]
    assert reason.startswith("sync-merge: ") and "decomposed into 1 inner unit," in reason


def test_same_fix_via_a_maintenance_branch_and_a_cherry_pick_is_kept_once(tmp_path):
    repo = base_repo(tmp_path)
    repo.branch("2.0.x")
    repo.checkout("main")
    base, pr = pr_into(repo, "2.0.x", "fix-total", 5, [("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})])
    fix = repo.git("rev-parse", f"{pr}^2")
    repo.checkout("main")
    repo.commit("Unrelated docs", {"README.md": "# lib\nmore\n"})
    repo.git("cherry-pick", fix)
    pick = repo.head()
    outer = repo.merge("2.0.x", "Merge branch '2.0.x'")
    out = run(repo, tmp_path)
    (only,) = kept(out)
    assert (only["fix_commit"], only["nested_in"]) == (pr, outer), "the earliest copy: the pull request on 2.0.x"
    found = by_sha(out)
    assert found[pick]["reasons"] == ["duplicate"] and found[pick]["duplicate_of"].endswith(pr[:12])
    assert found[outer]["reasons"][0].startswith("release-merge")


def test_a_release_merge_is_decomposed_and_itself_rejected(tmp_path):
    repo = base_repo(tmp_path)
    repo.commit("Add mean", {"lib.py": LIB2, "tests/test_lib.py": TEST})
    repo.branch("version-2.0")
    rename = repo.commit("Rename the README", {"README.md": "# lib 2\n"})
    fix = repo.commit("Fix mean being off by one", {"lib.py": LIB2_FIXED, "tests/test_lib.py": TEST2})
    bump = repo.commit("Bump version to 2.0", {"VERSION": "2.0\n"})
    repo.checkout("main")
    release = repo.git("merge", "-q", "--no-ff", "-m", "Merge pull request #20 from acme/version-2.0\n\nChanges for version 2.0", "version-2.0") or repo.head()
    repo.git("branch", "-D", "version-2.0")
    out = run(repo, tmp_path)
    found = by_sha(out)
    reason = found[release]["reasons"][0]
    assert reason.startswith("release: 'Changes for version 2.0'") and "decomposed into 3 inner units," in reason
    assert [c["fix_commit"] for c in kept(out)] == [fix]
    assert found[fix]["nested_in"] == release and found[fix]["kind"] == "commit"
    assert {found[rename]["reasons"][0], found[bump]["reasons"][0]} <= {"no-tests", "no-source"}


def test_a_branch_holding_pull_request_merges_is_decomposed_whatever_its_name(tmp_path):
    repo = base_repo(tmp_path)
    repo.branch("integration")
    base, pr = pr_into(repo, "integration", "fix-total", 8, [("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})])
    repo.checkout("main")
    repo.commit("Unrelated docs", {"README.md": "# lib\nmore\n"})
    outer = repo.merge("integration", "Merge branch 'integration'")
    out = run(repo, tmp_path)
    assert [(c["fix_commit"], c["nested_in"]) for c in kept(out)] == [(pr, outer)]
    assert by_sha(out)[outer]["reasons"][0].startswith("branch-merge: ")


def test_control_a_pr_that_merged_main_in_stays_one_unit(tmp_path):
    """The control: merges of the base into a pull request's branch bring nothing in, so the
    pull request is not decomposed."""
    repo = base_repo(tmp_path)
    base = repo.head()
    repo.branch("fix-total")
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED})
    repo.checkout("main")
    repo.commit("Unrelated docs", {"README.md": "# lib\nmore\n"})
    repo.checkout("fix-total")
    repo.merge("main", "Merge branch 'main' into fix-total")
    repo.commit("Add a test for total", {"tests/test_lib.py": TEST})
    repo.checkout("main")
    merge = repo.merge("fix-total", "Merge pull request #4 from dev/fix-total")
    out = tmp_path / "run"
    funnel = mine(MineConfig(repo=repo.path, output=out))
    (only,) = kept(out)
    assert (only["fix_commit"], only["nested_in"], funnel.nested_units) == (merge, None, 0)
    assert base


# -- touched tests beyond test functions (issue 11) ---------------------------------------------

PARAM_TEST = (
    "import pytest\nfrom lib import total\n\n@pytest.mark.parametrize('xs, want', [\n    ([2, 2], 4),\n])\n"
    "def test_total(xs, want):\n    assert total(xs) == want\n\ndef test_empty():\n    assert total([]) == 0\n"
)


def test_a_parametrize_only_test_change_touches_its_test(tmp_path):
    repo = base_repo(tmp_path)
    repo.commit("Add tests", {"tests/test_lib.py": PARAM_TEST})
    fix = repo.commit("Fix total skipping the first item", {
        "lib.py": LIB_FIXED, "tests/test_lib.py": PARAM_TEST.replace("    ([2, 2], 4),\n", "    ([2, 2], 4),\n    ([1, 2], 3),\n"),
    })
    out = run(repo, tmp_path)
    (only,) = kept(out)
    assert only["fix_commit"] == fix
    assert task(out, only)["touched_tests"] == ["tests/test_lib.py::test_total"]


CONFTEST = "import pytest\n\n@pytest.fixture\ndef numbers():\n    return [2, 2]\n\n@pytest.fixture\ndef other():\n    return 1\n"
USES = (
    "from lib import total\n\ndef test_sum(numbers):\n    assert total(numbers) == sum(numbers)\n\n"
    "def test_other(other):\n    assert other == 1\n"
)


def test_a_changed_conftest_fixture_touches_the_tests_that_use_it_in_its_folder(tmp_path):
    repo = base_repo(tmp_path)
    repo.commit("Add tests", {"tests/conftest.py": CONFTEST, "tests/unit/test_sum.py": USES, "other/test_far.py": USES})
    fix = repo.commit("Fix total skipping the first item", {
        "lib.py": LIB_FIXED, "tests/conftest.py": CONFTEST.replace("return [2, 2]", "return [1, 2]"),
    })
    out = run(repo, tmp_path)
    (only,) = kept(out)
    assert only["fix_commit"] == fix and only["test_files"] == ["tests/conftest.py"]
    # the fixture's users below tests/, not its other tests, nor tests outside the conftest's folder
    assert task(out, only)["touched_tests"] == ["tests/unit/test_sum.py::test_sum"]


def test_control_a_conftest_change_no_test_uses_is_still_rejected(tmp_path):
    repo = base_repo(tmp_path)
    repo.commit("Add tests", {"tests/conftest.py": CONFTEST + "\ndef unused():\n    return 0\n", "tests/test_sum.py": USES})
    fix = repo.commit("Fix total skipping the first item", {
        "lib.py": LIB_FIXED, "tests/conftest.py": CONFTEST + "\ndef unused():\n    return 1\n",
    })
    out = run(repo, tmp_path)
    assert by_sha(out)[fix]["reasons"][0].startswith("no-touched-tests")


def test_a_changed_test_helper_module_touches_the_tests_that_import_it(tmp_path):
    helper = "def make(n):\n    return [n, n]\n"
    user = "from helpers import make\nfrom lib import total\n\ndef test_make():\n    assert total(make(1)) == 2\n\ndef test_plain():\n    assert True\n"
    repo = base_repo(tmp_path)
    repo.commit("Add tests", {"tests/helpers.py": helper, "tests/test_make.py": user})
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/helpers.py": helper.replace("[n, n]", "[n, n, 0]")})
    out = run(repo, tmp_path)
    (only,) = kept(out)
    assert task(out, only)["touched_tests"] == ["tests/test_make.py::test_make"]


# -- pull requests without a merge commit (issue 11) --------------------------------------------


def test_a_rebased_pr_named_in_its_subjects_is_one_unit(tmp_path):
    repo = base_repo(tmp_path)
    base = repo.head()
    repo.commit("Fix total skipping the first item (#21)", {"lib.py": LIB_FIXED})
    tip = repo.commit("Test total with the first item (#21)", {"tests/test_lib.py": TEST})
    repo.commit("Unrelated docs (#22)", {"README.md": "# lib\nmore\n"})
    out = run(repo, tmp_path)
    (only,) = kept(out)
    assert (only["fix_commit"], only["base_commit"]) == (tip, base)
    t = task(out, only)
    assert "for x in xs:" in t["patch"] and t["touched_tests"] == ["tests/test_lib.py::test_total"]
    assert len(t["branch_commits"]) == 1


def test_a_fast_forwarded_pr_is_found_by_its_head_ref_and_the_ref_is_not_walked(tmp_path):
    repo = base_repo(tmp_path)
    base = repo.head()
    repo.git("tag", "v1.0")  # where the pull request began is known: the commit of a release
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED})
    tip = repo.commit("Test total", {"tests/test_lib.py": TEST})
    repo.git("update-ref", "refs/pull/5/head", tip)
    # a fork's pull request that was never merged: reachable only through its head ref
    repo.branch("fork", base)
    fork = repo.commit("Fix total in the fork", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST.replace("3", "3 ")})
    repo.checkout("main")
    repo.git("branch", "-D", "fork")
    repo.git("update-ref", "refs/merge-requests/6/head", fork)
    out = run(repo, tmp_path)
    (only,) = kept(out)
    assert (only["fix_commit"], only["base_commit"]) == (tip, base)
    assert fork not in by_sha(out), "history reachable only through pull request refs is not mined"


def test_a_rebased_pr_is_matched_to_its_head_ref_by_author_time_and_subject(tmp_path):
    repo = base_repo(tmp_path)
    base = repo.head()
    repo.branch("pr")
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED})
    head = repo.commit("Test total", {"tests/test_lib.py": TEST})
    repo.checkout("main")
    repo.commit("Unrelated docs", {"README.md": "# lib\nmore\n"})
    after = repo.head()
    repo.git("cherry-pick", f"{head}~1", head)  # what "Rebase and merge" does: new commits, same authors
    tip = repo.head()
    repo.git("branch", "-D", "pr")
    repo.git("update-ref", "refs/pull/9/head", head)
    out = run(repo, tmp_path)
    (only,) = kept(out)
    assert (only["fix_commit"], only["base_commit"]) == (tip, after)
    assert base


def test_control_without_head_refs_or_numbers_single_commits_stay_single(tmp_path):
    repo = base_repo(tmp_path)
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED})
    tip = repo.commit("Test total", {"tests/test_lib.py": TEST})
    out = run(repo, tmp_path)
    assert kept(out) == [] and by_sha(out)[tip]["reasons"] == ["no-source"]


@pytest.mark.parametrize("subject, reason", [
    ("Release 2.0", "release: 'Release 2.0'"),
    ("Bump version to 2.0.1", "release: 'Bump version to 2.0.1'"),
    ("Apply black to the whole code base", "reformat: 'Apply black"),
    ("Merge stable into main (#3521)", "release-merge: "),
    ('Revert "Merge Stable into master"', "release-merge: "),
    ("Updates for version 4.1.0 (#194)", "release: "),
])
def test_releases_version_bumps_and_reformatting_stay_out_with_reasons(tmp_path, subject, reason):
    repo = base_repo(tmp_path)
    sha = repo.commit(subject, {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    out = run(repo, tmp_path)
    assert by_sha(out)[sha]["reasons"][0].startswith(reason)


def test_control_a_fix_whose_subject_mentions_a_release_is_kept(tmp_path):
    repo = base_repo(tmp_path)
    sha = repo.commit("Fix total skipping the first item since release 1.0", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    out = run(repo, tmp_path)
    assert [c["fix_commit"] for c in kept(out)] == [sha]


def test_control_a_fast_forwarded_head_without_a_known_start_is_not_grouped(tmp_path):
    """Below the head there is only the root commit: where the pull request began is unknown,
    so its commits stay single (grouping them could swallow direct commits before it)."""
    repo = base_repo(tmp_path)
    repo.commit("Fix total skipping the first item", {"lib.py": LIB_FIXED})
    tip = repo.commit("Test total", {"tests/test_lib.py": TEST})
    repo.git("update-ref", "refs/pull/5/head", tip)
    out = run(repo, tmp_path)
    assert kept(out) == [] and by_sha(out)[tip]["reasons"] == ["no-source"]


def test_a_pr_that_reached_a_long_lived_non_default_branch_only_through_a_merge(tmp_path):
    repo = base_repo(tmp_path)
    repo.branch("3.0")
    repo.commit("Start 3.0", {"README.md": "# lib 3\n"})
    repo.branch("next-features")
    base, pr = pr_into(repo, "next-features", "fix-total", 12, [("Fix total skipping the first item", {"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})])
    repo.checkout("3.0")
    outer = repo.merge("next-features", "Merge branch 'next-features' into 3.0")
    repo.git("branch", "-D", "next-features", "fix-total")  # 3.0 is never merged into main
    repo.checkout("main")
    out = run(repo, tmp_path)
    assert [(c["fix_commit"], c["base_commit"], c["nested_in"]) for c in kept(out)] == [(pr, base, outer)]
    assert by_sha(out)[outer]["reasons"][0].startswith("branch-merge: ")


def folder_bytes(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.glob("*/*")) if p.is_file()}


def test_mined_task_folders_are_already_restated(tmp_path, example_run):
    """Mining's workers restate each statement as they make the task; restating the run folder
    afterwards (what validation does) must find nothing to change, byte for byte (checked to fail
    when mining writes the statement as mined instead of restated). The fix's message has CRLF
    line ends: the statement kept as the original has LF ones, as restate_task reads it back."""
    repo = base_repo(tmp_path)
    repo.write({"lib.py": LIB_FIXED, "tests/test_lib.py": TEST})
    repo.git("add", "-A")
    message = "Fix total skipping the first item\r\n\r\nThe total left out the first item\r\nof the list, so sums were short.\r\n"
    repo.git("commit", "-q", "--cleanup=verbatim", "-m", message)
    out = run(repo, tmp_path)
    (statement,) = [v for k, v in folder_bytes(out).items() if k.endswith("problem_statement.original.md")]
    assert b"first item\n" in statement and b"\r" not in statement
    for out in (out, example_run[1]):
        mined = folder_bytes(out)
        restate_tasks(out)
        assert folder_bytes(out) == mined
