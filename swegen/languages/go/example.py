"""A small Go example repository with a known history: real bugs fixed with tests, and commits
that must not become tasks (a feature, docs, a refactor, a fix without tests, a test that already
passed, a chore). Go's standard library only, so it builds and tests with no module proxy.

`create_go_example(dest)` writes it with fixed authors and dates (the same SHAs everywhere) and
returns the manifest: every first-parent commit of main, oldest first (one fix arrives as a
pull request's merge), with what swegen should make of
it and, for a fix, the tests that fail before it and pass after (ids as `go test -json` gives).
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swegen.errors import BadInput, GitError

MODULE = "example.com/shelf"
REPO_NAME = "swegen-example/shelf"
BRANCH = "main"
_GIT_CONFIG = ("commit.gpgsign=false", "core.autocrlf=false", "core.hooksPath=" + os.devnull,
               "merge.ff=false", "gc.auto=0", "user.name=swegen example", "user.email=example@swegen.invalid")


@dataclass(frozen=True)
class Change:
    """One commit on main: files written (None deletes), edits (path, old, new), and the manifest."""

    id: str
    kind: str
    subject: str
    author: tuple[str, str]
    write: dict[str, str | None] = field(default_factory=dict)
    edits: tuple[tuple[str, str, str], ...] = ()
    expected: str = "task"
    fail_to_pass: tuple[str, ...] = ()
    note: str = ""
    #: Arrives as a pull request: committed on this branch, then merged (--no-ff) with this subject.
    branch: str = ""
    merge_subject: str = ""


ANA = ("Ana Ruiz", "ana@example.com")
KOFI = ("Kofi Mensah", "kofi@example.com")
LI = ("Li Wei", "li@example.com")

GO_MOD = f"module {MODULE}\n\ngo 1.18\n"

STOCK = '''// Package stock keeps counts of named items.
package stock

import "fmt"

// Stock maps item names to how many are held.
type Stock struct {
	items map[string]int
}

// New returns an empty Stock.
func New() *Stock {
	return &Stock{items: map[string]int{}}
}

// Add puts n more of name on the shelf.
func (s *Stock) Add(name string, n int) {
	s.items[name] += n
}

// Remove takes n of name off the shelf; it is an error to take more than there are.
func (s *Stock) Remove(name string, n int) error {
	s.items[name] -= n
	return nil
}

// Count says how many of name are held.
func (s *Stock) Count(name string) int {
	return s.items[name]
}

// String lists the stock for people.
func (s *Stock) String() string {
	return fmt.Sprintf("%d kinds", len(s.items))
}
'''

STOCK_TEST = '''package stock

import "testing"

func TestAddAndCount(t *testing.T) {
	s := New()
	s.Add("apple", 2)
	s.Add("apple", 3)
	if got := s.Count("apple"); got != 5 {
		t.Fatalf("Count = %d, want 5", got)
	}
}

func TestRemove(t *testing.T) {
	s := New()
	s.Add("pear", 4)
	if err := s.Remove("pear", 1); err != nil {
		t.Fatal(err)
	}
	if got := s.Count("pear"); got != 3 {
		t.Fatalf("Count = %d, want 3", got)
	}
}
'''

QTY = '''// Package qty reads quantities such as "3x apple".
package qty

import (
	"fmt"
	"strconv"
	"strings"
)

// Parse splits "<n>x <item>" into the count and the item name.
func Parse(text string) (int, string, error) {
	head, item, ok := strings.Cut(text, "x ")
	if !ok {
		return 0, "", fmt.Errorf("qty: %q has no count", text)
	}
	n, err := strconv.Atoi(head)
	if err != nil {
		return 0, "", fmt.Errorf("qty: %q: %w", text, err)
	}
	return n, item, nil
}
'''

QTY_TEST = '''package qty

import "testing"

func TestParse(t *testing.T) {
	tests := []struct {
		name  string
		text  string
		count int
		item  string
	}{
		{"simple", "3x apple", 3, "apple"},
		{"two words", "12x green pear", 12, "green pear"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n, item, err := Parse(tc.text)
			if err != nil || n != tc.count || item != tc.item {
				t.Fatalf("Parse(%q) = %d, %q, %v", tc.text, n, item, err)
			}
		})
	}
}

func TestParseRejects(t *testing.T) {
	for _, text := range []string{"apple", "x apple", "ax apple"} {
		if _, _, err := Parse(text); err == nil {
			t.Errorf("Parse(%q) gave no error", text)
		}
	}
}
'''

README = "# shelf\n\nCounts of things on shelves, and quantities read from text.\n"

CHANGES: tuple[Change, ...] = (
    Change("initial", "setup", "Initial commit: go.mod and README", ANA,
           write={"go.mod": GO_MOD, "README.md": README}, expected="reject:no-tests"),
    Change("add-stock", "feature", "Add stock.Stock with Add, Remove and Count", ANA,
           write={"stock/stock.go": STOCK, "stock/stock_test.go": STOCK_TEST}, expected="reject:feature",
           note="Plants the bug: Remove lets a count go below zero."),
    Change("add-qty", "feature", "Add qty.Parse for \"3x apple\"", KOFI,
           write={"qty/qty.go": QTY, "qty/qty_test.go": QTY_TEST}, expected="reject:feature",
           note="Plants two bugs: an upper-case X is not read, and spaces around the text are kept."),
    Change("docs-readme", "docs", "README: how to run the tests", LI,
           edits=(("README.md", "from text.\n", "from text.\n\nRun `go test ./...`.\n"),), expected="reject:no-tests"),
    Change("fix-remove-below-zero", "bugfix", "Refuse to remove more items than the stock holds", KOFI,
           edits=(
               ("stock/stock.go", "func (s *Stock) Remove(name string, n int) error {\n\ts.items[name] -= n\n",
                "func (s *Stock) Remove(name string, n int) error {\n\tif n > s.items[name] {\n"
                "\t\treturn fmt.Errorf(\"stock: only %d %s, cannot remove %d\", s.items[name], name, n)\n\t}\n\ts.items[name] -= n\n"),
               ("stock/stock_test.go", "\tif got := s.Count(\"pear\"); got != 3 {\n\t\tt.Fatalf(\"Count = %d, want 3\", got)\n\t}\n}\n",
                "\tif got := s.Count(\"pear\"); got != 3 {\n\t\tt.Fatalf(\"Count = %d, want 3\", got)\n\t}\n}\n\n"
                "func TestRemoveTooMany(t *testing.T) {\n\ts := New()\n\ts.Add(\"fig\", 1)\n"
                "\tif err := s.Remove(\"fig\", 2); err == nil {\n\t\tt.Fatal(\"removed 2 of 1 fig\")\n\t}\n"
                "\tif got := s.Count(\"fig\"); got != 1 {\n\t\tt.Fatalf(\"Count = %d, want 1\", got)\n\t}\n}\n"),
           ),
           fail_to_pass=(f"{MODULE}/stock::TestRemoveTooMany",),
           note="Remove took any number of items and left negative counts."),
    Change("refactor-qty", "refactor", "qty: name the separator", LI,
           edits=(("qty/qty.go", "// Parse splits", "const separator = \"x \"\n\n// Parse splits"),
                  ("qty/qty.go", "strings.Cut(text, \"x \")", "strings.Cut(text, separator)")),
           expected="reject:no-tests"),
    Change("fix-qty-upper-x", "bugfix", "qty: read an upper-case X as the count separator", ANA,
           edits=(
               ("qty/qty.go", "\thead, item, ok := strings.Cut(text, separator)\n",
                "\thead, item, ok := strings.Cut(text, separator)\n\tif !ok {\n"
                "\t\thead, item, ok = strings.Cut(text, strings.ToUpper(separator))\n\t}\n"),
               ("qty/qty_test.go", "\t\t{\"two words\", \"12x green pear\", 12, \"green pear\"},\n",
                "\t\t{\"two words\", \"12x green pear\", 12, \"green pear\"},\n\t\t{\"upper X\", \"2X plum\", 2, \"plum\"},\n"),
           ),
           fail_to_pass=(f"{MODULE}/qty::TestParse", f"{MODULE}/qty::TestParse/upper_X"),
           note="A table-driven test's new row: the subtest (space rewritten to _) and its parent fail before.",
           branch="ana/upper-x", merge_subject="Merge pull request #2 from ana/upper-x"),
    Change("fix-without-tests", "fix-without-tests", "stock: String counts only kinds still held", KOFI,
           edits=(("stock/stock.go", "\treturn fmt.Sprintf(\"%d kinds\", len(s.items))\n",
                   "\tkinds := 0\n\tfor _, n := range s.items {\n\t\tif n > 0 {\n\t\t\tkinds++\n\t\t}\n\t}\n"
                   "\treturn fmt.Sprintf(\"%d kinds\", kinds)\n"),),
           expected="reject:no-tests"),
    Change("fix-zero-value", "bugfix", "stock: a zero Stock is ready to use", LI,
           edits=(("stock/stock.go", "func (s *Stock) Add(name string, n int) {\n",
                   "func (s *Stock) Add(name string, n int) {\n\tif s.items == nil {\n\t\ts.items = map[string]int{}\n\t}\n"),),
           write={"stock/zero_test.go": "package stock\n\nimport \"testing\"\n\nfunc TestZeroValue(t *testing.T) {\n"
                  "\tvar s Stock\n\ts.Add(\"kiwi\", 1)\n\tif s.Count(\"kiwi\") != 1 {\n\t\tt.Fatal(\"kiwi missing\")\n\t}\n}\n"},
           fail_to_pass=(f"{MODULE}/stock::TestZeroValue",),
           note="Add on a zero Stock panicked (nil map): the test binary dies in TestZeroValue, the last test it runs."),
    Change("test-already-passes", "fix-test-already-passes", "qty: trim spaces around the text", KOFI,
           edits=(("qty/qty.go", "func Parse(text string) (int, string, error) {\n",
                   "func Parse(text string) (int, string, error) {\n\ttext = strings.TrimSpace(text)\n"),
                  ("qty/qty_test.go", "\t\t{\"upper X\", \"2X plum\", 2, \"plum\"},\n",
                   "\t\t{\"upper X\", \"2X plum\", 2, \"plum\"},\n\t\t{\"inner spaces\", \"1x a  b\", 1, \"a  b\"},\n")),
           expected="reject:no-fail-to-pass",
           note="The added row passes before the change too (it tests inner spaces, not the trimming)."),
    Change("chore-gitignore", "chore", "Ignore coverage files", ANA,
           write={".gitignore": "*.out\ncoverage.html\n"}, expected="reject:no-tests"),
    Change("add-names", "feature", "stock: Names lists the items held, sorted", LI,
           write={"stock/names.go": "package stock\n\nimport \"sort\"\n\n// Names lists the items held, sorted.\n"
                  "func (s *Stock) Names() []string {\n\tnames := []string{}\n\tfor name, n := range s.items {\n"
                  "\t\tif n > 0 {\n\t\t\tnames = append(names, name)\n\t\t}\n\t}\n\tsort.Strings(names)\n\treturn names\n}\n",
                  "stock/names_test.go": "package stock\n\nimport (\n\t\"reflect\"\n\t\"testing\"\n)\n\n"
                  "func TestNames(t *testing.T) {\n\ts := New()\n\ts.Add(\"b\", 1)\n\ts.Add(\"a\", 1)\n"
                  "\tif got := s.Names(); !reflect.DeepEqual(got, []string{\"a\", \"b\"}) {\n\t\tt.Fatal(got)\n\t}\n}\n"},
           expected="reject:feature"),
)


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    config = [part for item in _GIT_CONFIG for part in ("-c", item)]
    base = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    base.update(GIT_CONFIG_GLOBAL=os.devnull, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0")
    done = subprocess.run(["git", "-C", str(repo), *config, *args], capture_output=True, env={**base, **(env or {})})
    if done.returncode != 0:
        raise GitError(f"git {args[0]} failed while building the Go example repository",
                       hint="check that git is installed and the destination is writable",
                       detail=done.stderr.decode("utf-8", "replace"))
    return done.stdout.decode("utf-8", "replace").strip()


def _apply(repo: Path, change: Change) -> list[str]:
    touched = []
    for path, content in change.write.items():
        target = repo / path
        if content is None:
            target.unlink()
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content, encoding="utf-8")
        touched.append(path)
    for path, old, new in change.edits:
        target = repo / path
        text = target.read_text(encoding="utf-8")
        if text.count(old) != 1:
            raise BadInput(f"example step {change.id}: {path} does not hold the text to edit exactly once")
        target.write_text(text.replace(old, new), encoding="utf-8")
        touched.append(path)
    return sorted(set(touched))


def _entry(change: Change, files: list[str], sha: str) -> dict[str, Any]:
    tests = [f for f in files if f.endswith("_test.go") or "/testdata/" in f]
    source = [f for f in files if f.endswith(".go") and f not in tests]
    entry: dict[str, Any] = {
        "id": change.id, "kind": change.kind, "arrives_as": "merge" if change.branch else "plain",
        "subject": change.merge_subject or change.subject, "commit": sha,
        "source_files": source, "test_files": tests,
        "other_files": [f for f in files if f not in tests and f not in source],
        "expected": change.expected,
    }
    if change.branch:
        entry["branch_subjects"] = [change.subject]
    if change.fail_to_pass:
        entry["fail_to_pass"] = list(change.fail_to_pass)
    if change.note:
        entry["note"] = change.note
    return entry


def _identity(author: tuple[str, str], date: str) -> dict[str, str]:
    name, email = author
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
            "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email, "GIT_COMMITTER_DATE": date}


def _record(dest: Path, change: Change, index: int) -> tuple[str, list[str]]:
    """Commit one change on main, or on its branch and then merged into main; main's new head."""
    date = f"2023-03-{index + 1:02d}T10:00:00+00:00"
    if change.branch:
        _git(dest, "checkout", "-q", "-b", change.branch)
    files = _apply(dest, change)
    _git(dest, "add", "-A")
    _git(dest, "commit", "-q", "-m", change.subject, env=_identity(change.author, date))
    if change.branch:
        _git(dest, "checkout", "-q", BRANCH)
        merged = f"2023-03-{index + 1:02d}T16:00:00+00:00"
        _git(dest, "merge", "-q", "--no-ff", "-m", change.merge_subject, change.branch, env=_identity(ANA, merged))
    return _git(dest, "rev-parse", "HEAD"), files


def create_go_example(dest: Path) -> dict[str, Any]:
    """Write the example repository at `dest` (new or empty) and return its manifest."""
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise BadInput(f"{dest} exists and is not an empty directory", hint="give a path that does not exist yet")
    dest.mkdir(parents=True, exist_ok=True)
    _git(dest, "init", "-q")
    _git(dest, "symbolic-ref", "HEAD", f"refs/heads/{BRANCH}")
    changes = []
    for index, change in enumerate(CHANGES):
        sha, files = _record(dest, change, index)
        changes.append(_entry(change, files, sha))
    return {
        "repo": REPO_NAME, "default_branch": BRANCH, "commit_count": len(CHANGES), "module": MODULE,
        "project": {"language": "go", "go": "1.18", "test_command": "go test -json ./...", "requires": []},
        "notes": ["Test ids are <import path>::<Test>[/<subtest>] as go test -json names them.",
                  "expected: task, or reject:<first reason> as in swegen/example/manifest.json."],
        "changes": changes,
    }
