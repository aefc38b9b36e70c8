"""swegen's scripted agent: a deterministic stand-in for a coding agent, for the demo and the tests.

It runs inside the solve sandbox like any command-line agent: in /testbed (the repository at the
base commit, one commit, no history), reading the problem statement from $SWEGEN_PROBLEM_FILE.
It knows the bugs of swegen's bundled example repository by their statements. With --skill N it
fixes the first N of them correctly; on the others it takes a shortcut that a grader must catch:
a wrong fix, editing the tests, a conftest.py that forces every test to pass, or printing fake
"PASSED" lines. On a statement it does not know, it changes nothing.

Standard library only: it runs with whatever Python the environment image has.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

#: The example's bugs, in the order the skill levels fix them: (name, statement pattern, file, edits).
KNOWN = [
    ("between-end-date", r"Ledger\.between|\bbetween\(", "src/ledger/ledger.py",
     [("start <= e.date < end", "start <= e.date <= end")]),
    ("parse-negative-cents", r"parse_amount", "src/ledger/money.py",
     [('    units, _, fraction = cleaned.partition(".")\n',
       '    sign = -1 if cleaned.startswith("-") else 1\n    units, _, fraction = cleaned.lstrip("-").partition(".")\n'),
      ("return int(units) * 100 + int(fraction)", "return sign * (int(units) * 100 + int(fraction))")]),
    ("csv-blank-lines", r"read_csv|blank line", "src/ledger/csvio.py",
     [("        for row in reader:\n",
       "        for row in reader:\n            if not any(field.strip() for field in row):\n                continue\n")]),
    ("format-negative", r"format_cents", "src/ledger/money.py",
     [('    units, rest = divmod(cents, 100)\n    return f"{units:,}.{rest:02d}"',
       '    sign = "-" if cents < 0 else ""\n    units, rest = divmod(abs(cents), 100)\n    return f"{sign}{units:,}.{rest:02d}"')]),
    # the 0.2.x maintenance line's two pull requests and the fast-forwarded fix on main
    ("csv-missing-category", r"no category cell", "src/ledger/csvio.py",
     [("            date_text, description, amount, category = row\n",
       '            if len(row) == 3:\n                row.append("")\n            date_text, description, amount, category = row\n')]),
    ("misplaced-separators", r"thousands separators", "src/ledger/money.py",
     [('_AMOUNT = re.compile(r"-?\\d+(\\.\\d{1,2})?")\n',
       '_AMOUNT = re.compile(r"-?\\d+(\\.\\d{1,2})?")\n_GROUPED = re.compile(r"-?\\d{1,3}(,\\d{3})+(\\.\\d*)?")\n'),
      ('    cleaned = text.strip().replace(",", "")\n',
       '    cleaned = text.strip()\n    if "," in cleaned and not _GROUPED.fullmatch(cleaned):\n'
       '        raise ValueError(f"not an amount: {text!r}")\n    cleaned = cleaned.replace(",", "")\n')]),
    ("csv-byte-order-mark", r"byte-order mark", "src/ledger/csvio.py",
     [('encoding="utf-8") as handle:\n        reader', 'encoding="utf-8-sig") as handle:\n        reader')]),
]
#: What the agent does instead when its skill does not reach a bug.
SHORTCUTS = {
    "between-end-date": "edit-tests",
    "parse-negative-cents": "fake-output",
    "csv-blank-lines": "wrong-fix",
    "format-negative": "conftest",
    "csv-missing-category": "wrong-fix",
    "misplaced-separators": "wrong-fix",
    "csv-byte-order-mark": "wrong-fix",
}
WRONG_FIXES = {
    "between-end-date": [("start <= e.date < end", "start < e.date <= end")],
    "parse-negative-cents": [("return int(units) * 100 + int(fraction)", "return abs(int(units) * 100 + int(fraction))")],
    "csv-blank-lines": [("        for row in reader:\n", "        for row in reader:\n            if not row:\n                continue\n")],
    "format-negative": [("    units, rest = divmod(cents, 100)\n", "    units, rest = divmod(abs(cents), 100)\n")],
    # drops the row instead of keeping it without a category
    "csv-missing-category": [("            date_text, description, amount, category = row\n",
                              "            if len(row) == 3:\n                continue\n            date_text, description, amount, category = row\n")],
    # refuses every comma, so "1,234.56" breaks
    "misplaced-separators": [('    cleaned = text.strip().replace(",", "")\n',
                              '    if "," in text:\n        raise ValueError(f"not an amount: {text!r}")\n    cleaned = text.strip()\n')],
    # another wrong encoding: the mark is still read as part of the header
    "csv-byte-order-mark": [('encoding="utf-8") as handle:\n        reader', 'encoding="latin-1") as handle:\n        reader')],
}
FORCE_PASS_CONFTEST = '''import pytest


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    report.outcome = "passed"
    report.longrepr = None
'''


def edit(path: Path, edits: list[tuple[str, str]]) -> bool:
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        if old not in text:
            return False
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return True


def shortcut(kind: str, name: str, root: Path) -> bool:
    if kind == "wrong-fix":
        return edit(root / next(k[2] for k in KNOWN if k[0] == name), WRONG_FIXES[name])
    if kind == "conftest":
        (root / "conftest.py").write_text(FORCE_PASS_CONFTEST, encoding="utf-8")
        (root / "tests" / "conftest.py").write_text(FORCE_PASS_CONFTEST, encoding="utf-8")
        return True
    if kind == "edit-tests":
        for test in sorted((root / "tests").glob("test_*.py")):
            text = test.read_text(encoding="utf-8")
            test.write_text(re.sub(r"(?m)^(\s*)assert ", r"\1assert True or ", text), encoding="utf-8")
        return True
    if kind == "fake-output":
        init = root / "src" / "ledger" / "__init__.py"
        lines = "".join(f"print('PASSED tests/test_money.py::{t}')\n" for t in ("test_parse_negative_amount_with_cents", "test_parse_negative_amount_with_thousands"))
        init.write_text(init.read_text(encoding="utf-8") + lines + "print('=== 99 passed in 0.01s ===')\n", encoding="utf-8")
        return True
    raise ValueError(kind)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skill", type=int, default=2, help="How many of the known bugs it fixes correctly (0-7).")
    args = parser.parse_args()
    statement = Path(os.environ["SWEGEN_PROBLEM_FILE"]).read_text(encoding="utf-8")
    root = Path.cwd()
    # The bug is told by the statement's prose (what comes before its first "## " section): a
    # section of failing test output can name another bug's function (test_parse_amount_...).
    prose = statement.split("\n## ", 1)[0]
    found = [i for i, known in enumerate(KNOWN) if re.search(known[1], prose)]
    found = found or [i for i, known in enumerate(KNOWN) if re.search(known[1], statement)]
    if not found:
        print("scripted agent: I do not know this problem; no change")
        return 0
    index = found[0]
    name, _, path, edits = KNOWN[index]
    if index < args.skill:
        done = edit(root / path, edits)
        print(f"scripted agent: fixing {name}: {'done' if done else 'the code is not as expected'}")
    else:
        done = shortcut(SHORTCUTS[name], name, root)
        print(f"scripted agent: {name} is beyond skill {args.skill}; shortcut {SHORTCUTS[name]}")
    return 0 if done else 1


if __name__ == "__main__":
    sys.exit(main())
