"""The example project `ledger` and its git history, written out as an ordered list of steps.

Each step is a commit (files written in full, or exact-text edits), a branch operation, or a
`--no-ff` merge. The builder replays the steps in order; manifest.json describes what each
change on `main` is (and what a miner or validator should make of it), by commit subject.

Planted on purpose, so swegen has something real to find and something real to reject:
bug fixes whose tests fail before and pass after (as merges, one with its test in a separate
branch commit, and as a plain commit), a feature, a docs-only change, a refactor, a fix without
tests, a fix whose test already passed before it, and a flaky test (set iteration order, which
depends on PYTHONHASHSEED) riding along in one fix's test patch. Last, a 0.2.x maintenance line:
two bug-fix pull requests merged into it (one with its test in a separate commit, one whose test
change is only new parametrize cases), the branch merged back with "Merge branch '0.2.x'", one of
the fixes cherry-picked to main as well, and a one-commit fix fast-forwarded onto main.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Tuple, Union


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class Commit:
    """Write files, apply edits, and commit everything on the current branch."""

    message: str  # subject line, blank line, body
    date: str  # ISO 8601 with an explicit UTC offset, used as author and committer date
    author: Person
    files: Mapping[str, str] = field(default_factory=dict)  # path -> full new content
    # (path, old, new): `old` must occur exactly once, so a stale edit fails loudly.
    edits: Tuple[Tuple[str, str, str], ...] = ()


@dataclass(frozen=True)
class Branch:
    """Create branch `name` at the current commit and switch to it."""

    name: str


@dataclass(frozen=True)
class Checkout:
    """Switch to an existing branch."""

    name: str


@dataclass(frozen=True)
class Merge:
    """`git merge --no-ff` branch `branch` into the current branch, then delete `branch`."""

    branch: str
    message: str
    date: str
    author: Person


Step = Union[Commit, Branch, Checkout, Merge]

MARIA = Person("Maria Lindqvist", "maria@ledger.example.org")  # maintainer
TOMAS = Person("Tomas Reyes", "tomas.reyes@example.com")  # contributor
PRIYA = Person("Priya Natarajan", "priya.n@example.net")  # contributor


# --- files of the first commits -----------------------------------------------------------

GITIGNORE = """\
__pycache__/
*.py[cod]
*.egg-info/
.pytest_cache/
build/
dist/
.venv/
"""

PYPROJECT = """\
[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "ledger"
version = "0.1.0"
description = "A tiny ledger of money kept in integer cents."
readme = "README.md"
requires-python = ">=3.9"
license = {text = "MIT"}
dependencies = []

[project.optional-dependencies]
test = ["pytest"]

[tool.setuptools.packages.find]
where = ["src"]

[tool.pytest.ini_options]
testpaths = ["tests"]
pythonpath = ["src"]
"""

README = """\
# ledger

A tiny, dependency-free Python library for keeping a ledger of money.
Amounts are stored as integer cents, so totals never drift the way floats do.

## Install

    pip install -e ".[test]"

## Run the tests

    pytest
"""

INIT_PY = '''\
"""A tiny ledger of money kept in integer cents."""

__version__ = "0.1.0"
'''

MONEY_PY = '''\
"""Parse and format money amounts, kept as integer cents."""

from __future__ import annotations

import re

_AMOUNT = re.compile(r"-?\\d+(\\.\\d+)?")


def parse_amount(text: str) -> int:
    """Parse a decimal amount such as ``"1,234.56"`` or ``"-20"`` into cents."""
    cleaned = text.strip().replace(",", "")
    if not _AMOUNT.fullmatch(cleaned):
        raise ValueError(f"not an amount: {text!r}")
    units, _, fraction = cleaned.partition(".")
    fraction = (fraction + "00")[:2]
    return int(units) * 100 + int(fraction)


def format_cents(cents: int) -> str:
    """Format cents as a decimal amount with thousands separators, e.g. ``"1,234.56"``."""
    units, rest = divmod(cents, 100)
    return f"{units:,}.{rest:02d}"
'''

TEST_MONEY_PY = '''\
import pytest

from ledger.money import format_cents, parse_amount


@pytest.mark.parametrize(
    "text, cents",
    [
        ("0", 0),
        ("12", 1200),
        ("12.5", 1250),
        ("12.50", 1250),
        ("1,234.56", 123456),
        ("  7.05 ", 705),
        ("-20", -2000),
    ],
)
def test_parse_amount(text, cents):
    assert parse_amount(text) == cents


@pytest.mark.parametrize("text", ["", "abc", "1.2.3", "12,34.5x", "--1"])
def test_parse_amount_rejects_garbage(text):
    with pytest.raises(ValueError):
        parse_amount(text)


@pytest.mark.parametrize(
    "cents, text",
    [(0, "0.00"), (5, "0.05"), (1250, "12.50"), (123456, "1,234.56"), (-2000, "-20.00")],
)
def test_format_cents(cents, text):
    assert format_cents(cents) == text
'''

LEDGER_PY = '''\
"""A ledger of dated money entries."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Iterable, Iterator


@dataclass(frozen=True)
class Entry:
    """One dated movement of money: positive cents come in, negative cents go out."""

    date: dt.date
    description: str
    cents: int
    category: str = ""


class Ledger:
    """Entries kept in date order."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: list[Entry] = []
        for entry in entries:
            self.add(entry)

    def add(self, entry: Entry) -> None:
        """Add an entry; entries on the same date keep the order they were added in."""
        self._entries.append(entry)
        self._entries.sort(key=lambda e: e.date)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def balance(self) -> int:
        """The sum of all entries, in cents."""
        return sum(e.cents for e in self._entries)

    def between(self, start: dt.date, end: dt.date) -> Ledger:
        """A new ledger with the entries dated from `start` to `end`, both inclusive."""
        return Ledger(e for e in self._entries if start <= e.date < end)

    def categories(self) -> set[str]:
        """The distinct non-empty categories used by the entries."""
        return {e.category for e in self._entries if e.category}
'''

TEST_LEDGER_PY = '''\
import datetime as dt

from ledger.ledger import Entry, Ledger


def make_ledger():
    return Ledger(
        [
            Entry(dt.date(2024, 1, 20), "Groceries", -4500, "food"),
            Entry(dt.date(2024, 1, 5), "Salary", 250000, "salary"),
            Entry(dt.date(2024, 2, 3), "Rent", -90000, "rent"),
        ]
    )


def test_entries_are_kept_in_date_order():
    assert [e.description for e in make_ledger()] == ["Salary", "Groceries", "Rent"]


def test_balance():
    assert make_ledger().balance() == 155500


def test_empty_ledger():
    assert Ledger().balance() == 0
    assert len(Ledger()) == 0


def test_between_filters_by_date():
    january = make_ledger().between(dt.date(2024, 1, 1), dt.date(2024, 1, 31))
    assert [e.description for e in january] == ["Salary", "Groceries"]


def test_categories():
    assert make_ledger().categories() == {"food", "rent", "salary"}
'''

CSVIO_PY = '''\
"""Read and write ledgers as CSV files with a ``date,description,amount,category`` header."""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

from ledger.ledger import Entry, Ledger
from ledger.money import format_cents, parse_amount

HEADER = ["date", "description", "amount", "category"]


def read_csv(path: str | Path) -> Ledger:
    """Load a ledger from a CSV file written by `write_csv` or exported from a spreadsheet."""
    ledger = Ledger()
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        if next(reader, None) != HEADER:
            raise ValueError(f"{path}: expected header {','.join(HEADER)}")
        for row in reader:
            date_text, description, amount, category = row
            entry = Entry(dt.date.fromisoformat(date_text), description, parse_amount(amount), category)
            ledger.add(entry)
    return ledger


def write_csv(ledger: Ledger, path: str | Path) -> None:
    """Write a ledger to a CSV file that `read_csv` reads back."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for entry in ledger:
            amount = format_cents(entry.cents)
            writer.writerow([entry.date.isoformat(), entry.description, amount, entry.category])
'''

TEST_CSVIO_PY = '''\
import datetime as dt

import pytest

from ledger.csvio import read_csv, write_csv
from ledger.ledger import Entry, Ledger

HEADER = "date,description,amount,category\\n"


def test_read_csv(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "2024-01-05,Salary,2500.00,salary\\n2024-02-03,Rent,-900.00,rent\\n")
    ledger = read_csv(path)
    assert [(e.date, e.cents, e.category) for e in ledger] == [
        (dt.date(2024, 1, 5), 250000, "salary"),
        (dt.date(2024, 2, 3), -90000, "rent"),
    ]


def test_read_csv_rejects_wrong_header(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text("when,what,how much\\n2024-01-05,Salary,2500.00\\n")
    with pytest.raises(ValueError, match="expected header"):
        read_csv(path)


def test_write_then_read_round_trips(tmp_path):
    ledger = Ledger(
        [
            Entry(dt.date(2024, 1, 5), "Coffee beans, 1kg", -2400, "food"),
            Entry(dt.date(2024, 1, 6), "Refund", 1299),
        ]
    )
    path = tmp_path / "out.csv"
    write_csv(ledger, path)
    assert list(read_csv(path)) == list(ledger)
'''

REPORT_PY = '''\
"""Plain-text summaries of a ledger."""

from __future__ import annotations

from ledger.ledger import Ledger
from ledger.money import format_cents


def monthly_totals(ledger: Ledger) -> dict[str, int]:
    """Net cents per calendar month, keyed ``"YYYY-MM"``, in date order."""
    totals: dict[str, int] = {}
    for entry in ledger:
        month = entry.date.strftime("%Y-%m")
        if month not in totals:
            totals[month] = 0
        totals[month] += entry.cents
    return totals


def render_summary(ledger: Ledger) -> str:
    """One line per month with its net total, then the closing balance."""
    lines = [f"{month}  {format_cents(cents):>12}" for month, cents in monthly_totals(ledger).items()]
    lines.append(f"balance  {format_cents(ledger.balance()):>12}")
    return "\\n".join(lines) + "\\n"
'''

TEST_REPORT_PY = '''\
import datetime as dt

from ledger.ledger import Entry, Ledger
from ledger.report import monthly_totals, render_summary


def make_ledger():
    return Ledger(
        [
            Entry(dt.date(2024, 1, 5), "Salary", 250000, "salary"),
            Entry(dt.date(2024, 1, 20), "Groceries", -4500, "food"),
            Entry(dt.date(2024, 2, 3), "Rent", -90000, "rent"),
        ]
    )


def test_monthly_totals():
    assert monthly_totals(make_ledger()) == {"2024-01": 245500, "2024-02": -90000}


def test_monthly_totals_of_empty_ledger():
    assert monthly_totals(Ledger()) == {}


def test_render_summary():
    assert render_summary(make_ledger()) == (
        "2024-01      2,455.00\\n"
        "2024-02       -900.00\\n"
        "balance      1,555.00\\n"
    )
'''

# --- later changes, as edits ----------------------------------------------------------------

README_CSV_SECTION = """\
## Usage

    from ledger.csvio import read_csv
    from ledger.report import render_summary

    print(render_summary(read_csv("bank-export.csv")))

## CSV format

A ledger file is UTF-8 CSV with this header row:

    date,description,amount,category

- `date` is ISO 8601 (`2024-01-31`).
- `amount` is a decimal number of the currency unit; money going out is negative
  (`-12.50`). A thousands separator is allowed if the field is quoted (`"1,234.56"`).
- `category` may be empty.

## Install
"""

CHANGELOG = """\
# Changelog

## 0.2.0 (2024-04-30)

- New `Ledger.totals_by_category()`.
- `Ledger.between()` includes its end date, as documented.
- Negative amounts with cents are formatted and parsed correctly.
- `read_csv()` skips blank lines (#7); `write_csv()` writes amounts without thousands separators.
- `parse_amount()` rejects amounts with more than two decimal places instead of truncating them.

## 0.1.0 (2024-03-13)

- First release: money parsing and formatting, the ledger, CSV import and export, monthly report.
"""

FLAKY_AND_BLANK_LINE_TESTS = '''

def test_read_csv_skips_blank_lines(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "2024-01-05,Salary,2500.00,salary\\n\\n2024-02-03,Rent,-900.00,rent\\n\\n")
    assert [e.description for e in read_csv(path)] == ["Salary", "Rent"]


def test_read_csv_skips_rows_of_empty_fields(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(HEADER + "2024-01-05,Salary,2500.00,salary\\n,,,\\n")
    assert [e.description for e in read_csv(path)] == ["Salary"]


def test_read_csv_collects_categories(tmp_path):
    path = tmp_path / "in.csv"
    path.write_text(
        HEADER
        + "2024-01-05,Salary,2500.00,salary\\n"
        + "2024-01-20,Groceries,-45.00,food\\n"
        + "2024-02-03,Rent,-900.00,rent\\n"
    )
    assert list(read_csv(path).categories()) == ["salary", "food", "rent"]
'''


STEPS: tuple[Step, ...] = (
    Commit(
        "Initial commit: project skeleton",
        "2024-03-04T09:15:00+01:00",
        MARIA,
        files={
            ".gitignore": GITIGNORE,
            "pyproject.toml": PYPROJECT,
            "README.md": README,
            "src/ledger/__init__.py": INIT_PY,
        },
    ),
    Commit(
        "Add money parsing and formatting\n\n"
        "Amounts are kept as integer cents everywhere; parse_amount() and\n"
        "format_cents() convert to and from the decimal text people type.",
        "2024-03-05T10:02:00+01:00",
        MARIA,
        files={"src/ledger/money.py": MONEY_PY, "tests/test_money.py": TEST_MONEY_PY},
        edits=(
            (
                "src/ledger/__init__.py",
                '"""\n\n__version__',
                '"""\n\nfrom ledger.money import format_cents, parse_amount\n\n__version__',
            ),
        ),
    ),
    Commit(
        "Add Ledger with dated entries, balance and date filter",
        "2024-03-07T14:40:00+01:00",
        MARIA,
        files={"src/ledger/ledger.py": LEDGER_PY, "tests/test_ledger.py": TEST_LEDGER_PY},
        edits=(
            (
                "src/ledger/__init__.py",
                "from ledger.money",
                "from ledger.ledger import Entry, Ledger\nfrom ledger.money",
            ),
        ),
    ),
    Commit(
        "Add CSV import and export",
        "2024-03-11T11:20:00+01:00",
        MARIA,
        files={"src/ledger/csvio.py": CSVIO_PY, "tests/test_csvio.py": TEST_CSVIO_PY},
        edits=(
            (
                "src/ledger/__init__.py",
                "from ledger.ledger",
                "from ledger.csvio import read_csv, write_csv\nfrom ledger.ledger",
            ),
        ),
    ),
    Commit(
        "Add monthly summary report",
        "2024-03-13T16:05:00+01:00",
        MARIA,
        files={"src/ledger/report.py": REPORT_PY, "tests/test_report.py": TEST_REPORT_PY},
        edits=(
            (
                "src/ledger/__init__.py",
                "from ledger.money import format_cents, parse_amount\n",
                "from ledger.money import format_cents, parse_amount\n"
                "from ledger.report import monthly_totals, render_summary\n",
            ),
        ),
    ),
    Commit(
        "Document the CSV file format in the README",
        "2024-03-15T09:30:00+01:00",
        MARIA,
        edits=(("README.md", "## Install\n", README_CSV_SECTION),),
    ),
    # Bug fix 1: a merged pull request, fix and test in one commit.
    Branch("tomas/between-end-date"),
    Commit(
        "Include the end date in Ledger.between\n\n"
        "The docstring promises an inclusive range, but entries dated on `end`\n"
        "were dropped, so between(Jan 1, Jan 31) silently lost the 31st.",
        "2024-03-18T13:10:00-05:00",
        TOMAS,
        edits=(
            ("src/ledger/ledger.py", "start <= e.date < end", "start <= e.date <= end"),
            (
                "tests/test_ledger.py",
                '    assert [e.description for e in january] == ["Salary", "Groceries"]\n',
                '    assert [e.description for e in january] == ["Salary", "Groceries"]\n'
                "\n\n"
                "def test_between_includes_end_date():\n"
                "    ledger = make_ledger()\n"
                '    ledger.add(Entry(dt.date(2024, 1, 31), "Phone bill", -3000, "utilities"))\n'
                "    january = ledger.between(dt.date(2024, 1, 1), dt.date(2024, 1, 31))\n"
                '    assert [e.description for e in january] == ["Salary", "Groceries", "Phone bill"]\n'
                "\n\n"
                "def test_between_single_day():\n"
                "    day = dt.date(2024, 2, 3)\n"
                '    assert [e.description for e in make_ledger().between(day, day)] == ["Rent"]\n',
            ),
        ),
    ),
    Checkout("main"),
    Merge(
        "tomas/between-end-date",
        "Merge pull request #3 from tomas/between-end-date\n\nInclude the end date in Ledger.between",
        "2024-03-19T10:00:00+01:00",
        MARIA,
    ),
    # Bug fix 2: a merged pull request whose test arrives in a second commit; main moves on
    # (a refactor) while the branch is open.
    Branch("tomas/negative-format"),
    Commit(
        "Format negative amounts with a single leading minus\n\n"
        "divmod() floors towards minus infinity, so format_cents(-5) gave\n"
        '"-1.95" instead of "-0.05". Format the absolute value and add the sign.',
        "2024-03-20T18:30:00-05:00",
        TOMAS,
        edits=(
            (
                "src/ledger/money.py",
                "    units, rest = divmod(cents, 100)\n"
                '    return f"{units:,}.{rest:02d}"\n',
                '    sign = "-" if cents < 0 else ""\n'
                "    units, rest = divmod(abs(cents), 100)\n"
                '    return f"{sign}{units:,}.{rest:02d}"\n',
            ),
        ),
    ),
    Checkout("main"),
    Commit(
        "Refactor monthly_totals to use a defaultdict",
        "2024-03-21T15:45:00+01:00",
        MARIA,
        edits=(
            (
                "src/ledger/report.py",
                "from __future__ import annotations\n\n",
                "from __future__ import annotations\n\nfrom collections import defaultdict\n\n",
            ),
            (
                "src/ledger/report.py",
                "    totals: dict[str, int] = {}\n"
                "    for entry in ledger:\n"
                '        month = entry.date.strftime("%Y-%m")\n'
                "        if month not in totals:\n"
                "            totals[month] = 0\n"
                "        totals[month] += entry.cents\n"
                "    return totals\n",
                "    totals: defaultdict[str, int] = defaultdict(int)\n"
                "    for entry in ledger:\n"
                '        totals[entry.date.strftime("%Y-%m")] += entry.cents\n'
                "    return dict(totals)\n",
            ),
        ),
    ),
    Checkout("tomas/negative-format"),
    Commit(
        "Add tests for formatting negative amounts",
        "2024-03-22T09:05:00-05:00",
        TOMAS,
        edits=(
            (
                "tests/test_money.py",
                "def test_format_cents(cents, text):\n    assert format_cents(cents) == text\n",
                "def test_format_cents(cents, text):\n    assert format_cents(cents) == text\n"
                "\n\n"
                "def test_format_negative_cents():\n"
                '    assert format_cents(-5) == "-0.05"\n'
                '    assert format_cents(-1250) == "-12.50"\n'
                "\n\n"
                "def test_format_negative_thousands():\n"
                '    assert format_cents(-123456) == "-1,234.56"\n',
            ),
        ),
    ),
    Checkout("main"),
    Merge(
        "tomas/negative-format",
        "Merge pull request #5 from tomas/negative-format\n\nFix formatting of negative amounts with cents",
        "2024-03-25T11:00:00+01:00",
        MARIA,
    ),
    # A feature, merged; a fix without tests lands on main while it is open.
    Branch("priya/category-totals"),
    Commit(
        "Add Ledger.totals_by_category",
        "2024-04-02T20:15:00+05:30",
        PRIYA,
        edits=(
            (
                "src/ledger/ledger.py",
                '        return {e.category for e in self._entries if e.category}\n',
                '        return {e.category for e in self._entries if e.category}\n'
                "\n"
                "    def totals_by_category(self) -> dict[str, int]:\n"
                '        """Net cents per category, sorted by category; entries without one are under \'\'."""\n'
                "        totals: dict[str, int] = {}\n"
                "        for entry in self._entries:\n"
                "            totals[entry.category] = totals.get(entry.category, 0) + entry.cents\n"
                "        return dict(sorted(totals.items()))\n",
            ),
            (
                "tests/test_ledger.py",
                'def test_categories():\n    assert make_ledger().categories() == {"food", "rent", "salary"}\n',
                'def test_categories():\n    assert make_ledger().categories() == {"food", "rent", "salary"}\n'
                "\n\n"
                "def test_totals_by_category():\n"
                "    ledger = make_ledger()\n"
                '    ledger.add(Entry(dt.date(2024, 2, 10), "Restaurant", -3200, "food"))\n'
                '    assert ledger.totals_by_category() == {"food": -7700, "rent": -90000, "salary": 250000}\n'
                "\n\n"
                "def test_totals_by_category_keeps_uncategorised_entries():\n"
                '    ledger = Ledger([Entry(dt.date(2024, 1, 1), "Cash", -1000)])\n'
                '    assert ledger.totals_by_category() == {"": -1000}\n',
            ),
        ),
    ),
    Checkout("main"),
    Commit(
        "Fix parse_amount silently dropping sub-cent digits\n\n"
        '"1.999" was read as 1.99. Amounts with more than two decimal places\n'
        "are almost always a typo or a unit-price column, so reject them.",
        "2024-04-03T10:40:00+02:00",
        MARIA,
        edits=(("src/ledger/money.py", r'(\.\d+)?")', r'(\.\d{1,2})?")'),),
    ),
    Merge(
        "priya/category-totals",
        "Merge pull request #6 from priya/category-totals\n\nAdd Ledger.totals_by_category",
        "2024-04-04T09:20:00+02:00",
        MARIA,
    ),
    # Bug fix 3: a merged pull request that closes an issue; its test patch carries a flaky test.
    Branch("priya/csv-blank-lines"),
    Commit(
        "Skip blank lines when reading CSV files\n\n"
        "Spreadsheet exports often end with an empty line or a row of empty\n"
        "fields, and read_csv() crashed on them with a ValueError.\n\n"
        "Fixes #7",
        "2024-04-10T17:55:00+05:30",
        PRIYA,
        edits=(
            (
                "src/ledger/csvio.py",
                "        for row in reader:\n",
                "        for row in reader:\n"
                "            if not any(field.strip() for field in row):\n"
                "                continue  # blank line, or a spreadsheet row of empty cells\n",
            ),
            ("tests/test_csvio.py", "    assert list(read_csv(path)) == list(ledger)\n",
             "    assert list(read_csv(path)) == list(ledger)\n" + FLAKY_AND_BLANK_LINE_TESTS),
        ),
    ),
    Checkout("main"),
    Merge(
        "priya/csv-blank-lines",
        "Merge pull request #8 from priya/csv-blank-lines\n\nSkip blank lines when reading CSV files\n\nFixes #7",
        "2024-04-12T08:45:00+02:00",
        MARIA,
    ),
    # Bug fix 4: a plain commit on main, fix and test together.
    Commit(
        "Fix sign of negative amounts with cents in parse_amount\n\n"
        'parse_amount("-12.50") returned -1150: the minus sign applied to the\n'
        "units only and the cents were added back as positive. Parse the\n"
        "magnitude and apply the sign once.",
        "2024-04-17T14:30:00+02:00",
        MARIA,
        edits=(
            (
                "src/ledger/money.py",
                '    units, _, fraction = cleaned.partition(".")\n'
                '    fraction = (fraction + "00")[:2]\n'
                "    return int(units) * 100 + int(fraction)\n",
                '    sign = -1 if cleaned.startswith("-") else 1\n'
                '    units, _, fraction = cleaned.lstrip("-").partition(".")\n'
                '    fraction = (fraction + "00")[:2]\n'
                "    return sign * (int(units) * 100 + int(fraction))\n",
            ),
            (
                "tests/test_money.py",
                "def test_parse_amount(text, cents):\n    assert parse_amount(text) == cents\n",
                "def test_parse_amount(text, cents):\n    assert parse_amount(text) == cents\n"
                "\n\n"
                "def test_parse_negative_amount_with_cents():\n"
                '    assert parse_amount("-12.50") == -1250\n'
                '    assert parse_amount("-0.05") == -5\n'
                "\n\n"
                "def test_parse_negative_amount_with_thousands():\n"
                '    assert parse_amount("-1,234.5") == -123450\n',
            ),
        ),
    ),
    # A real fix whose new test passed before it too (csv quoting already round-tripped).
    Commit(
        "Fix CSV export quoting amounts of 1,000 and more\n\n"
        "format_cents() adds thousands separators, so write_csv() produced\n"
        '"1,234.56" in quotes, which spreadsheets import as text. Write plain\n'
        "decimals instead.",
        "2024-04-23T12:10:00+02:00",
        MARIA,
        edits=(
            (
                "src/ledger/csvio.py",
                "            amount = format_cents(entry.cents)\n",
                '            amount = format_cents(entry.cents).replace(",", "")\n',
            ),
            (
                "tests/test_csvio.py",
                "    assert list(read_csv(path)) == list(ledger)\n\n\n",
                "    assert list(read_csv(path)) == list(ledger)\n"
                "\n\n"
                "def test_write_csv_round_trips_large_amounts(tmp_path):\n"
                "    ledger = Ledger(\n"
                "        [\n"
                '            Entry(dt.date(2024, 3, 1), "Bonus", 1250000, "salary"),\n'
                '            Entry(dt.date(2024, 3, 2), "Laptop", -189999, "equipment"),\n'
                "        ]\n"
                "    )\n"
                '    path = tmp_path / "out.csv"\n'
                "    write_csv(ledger, path)\n"
                "    assert list(read_csv(path)) == list(ledger)\n"
                "\n\n",
            ),
        ),
    ),
    Commit(
        "Bump version to 0.2.0",
        "2024-04-30T16:00:00+02:00",
        MARIA,
        files={"CHANGELOG.md": CHANGELOG},
        edits=(
            ("pyproject.toml", 'version = "0.1.0"', 'version = "0.2.0"'),
            ("src/ledger/__init__.py", '__version__ = "0.1.0"', '__version__ = "0.2.0"'),
        ),
    ),
    # A maintenance line for 0.2: two bug-fix pull requests are merged into it (they reach main
    # only through the merge of the whole branch back), one of them is also cherry-picked to main,
    # and a contributor's one-commit fix lands on main without a merge commit (fast-forwarded).
    Branch("0.2.x"),
    Branch("tomas/csv-missing-category"),
    Commit(
        "Accept CSV rows that have no category cell\n\n"
        "Spreadsheets drop a trailing empty cell, so a row of an uncategorised\n"
        "entry has three fields, and importing it crashed with\n"
        "ValueError: not enough values to unpack (expected 4, got 3).",
        "2024-05-06T10:20:00-05:00",
        TOMAS,
        edits=(
            (
                "src/ledger/csvio.py",
                "            date_text, description, amount, category = row\n",
                "            if len(row) == 3:\n"
                '                row.append("")  # the empty category cell a spreadsheet dropped\n'
                "            date_text, description, amount, category = row\n",
            ),
        ),
    ),
    Commit(
        "Test importing rows without a category cell",
        "2024-05-07T09:45:00-05:00",
        TOMAS,
        edits=(
            (
                "tests/test_csvio.py",
                "        read_csv(path)\n\n\ndef test_write_then_read_round_trips",
                "        read_csv(path)\n"
                "\n\n"
                "def test_rows_without_a_category_cell_have_no_category(tmp_path):\n"
                '    path = tmp_path / "in.csv"\n'
                '    path.write_text(HEADER + "2024-01-05,Salary,2500.00\\n2024-02-03,Rent,-900.00,rent\\n")\n'
                '    assert [(e.description, e.category) for e in read_csv(path)] == [("Salary", ""), ("Rent", "rent")]\n'
                "\n\n"
                "def test_write_then_read_round_trips",
            ),
        ),
    ),
    Checkout("0.2.x"),
    Merge(
        "tomas/csv-missing-category",
        "Merge pull request #9 from tomas/csv-missing-category\n\nAccept CSV rows that have no category cell",
        "2024-05-08T11:30:00+02:00",
        MARIA,
    ),
    Branch("priya/misplaced-separators"),
    Commit(
        "Reject amounts with misplaced thousands separators\n\n"
        '"1,2,3" was read as 123.00 and "12,34" as 1234.00: the commas were\n'
        "dropped wherever they were. A comma must separate groups of three\n"
        "digits, otherwise the text is most likely a typo.",
        "2024-05-13T19:05:00+05:30",
        PRIYA,
        edits=(
            (
                "src/ledger/money.py",
                '_AMOUNT = re.compile(r"-?\\d+(\\.\\d{1,2})?")\n',
                '_AMOUNT = re.compile(r"-?\\d+(\\.\\d{1,2})?")\n'
                '_GROUPED = re.compile(r"-?\\d{1,3}(,\\d{3})+(\\.\\d*)?")\n',
            ),
            (
                "src/ledger/money.py",
                '    cleaned = text.strip().replace(",", "")\n',
                "    cleaned = text.strip()\n"
                '    if "," in cleaned and not _GROUPED.fullmatch(cleaned):\n'
                '        raise ValueError(f"not an amount: {text!r}")\n'
                '    cleaned = cleaned.replace(",", "")\n',
            ),
            (
                "tests/test_money.py",
                '["", "abc", "1.2.3", "12,34.5x", "--1"]',
                '["", "abc", "1.2.3", "12,34.5x", "--1", "1,2,3", "12,34"]',
            ),
        ),
    ),
    Checkout("0.2.x"),
    Merge(
        "priya/misplaced-separators",
        "Merge pull request #10 from priya/misplaced-separators\n\nReject amounts with misplaced thousands separators",
        "2024-05-14T09:10:00+02:00",
        MARIA,
    ),
    Checkout("main"),
    Commit(
        "Reject amounts with misplaced thousands separators on main too\n\n"
        "The fix from the 0.2.x branch (pull request #10), cherry-picked.",
        "2024-05-15T08:30:00+02:00",
        MARIA,
        edits=(
            (
                "src/ledger/money.py",
                '_AMOUNT = re.compile(r"-?\\d+(\\.\\d{1,2})?")\n',
                '_AMOUNT = re.compile(r"-?\\d+(\\.\\d{1,2})?")\n'
                '_GROUPED = re.compile(r"-?\\d{1,3}(,\\d{3})+(\\.\\d*)?")\n',
            ),
            (
                "src/ledger/money.py",
                '    cleaned = text.strip().replace(",", "")\n',
                "    cleaned = text.strip()\n"
                '    if "," in cleaned and not _GROUPED.fullmatch(cleaned):\n'
                '        raise ValueError(f"not an amount: {text!r}")\n'
                '    cleaned = cleaned.replace(",", "")\n',
            ),
            (
                "tests/test_money.py",
                '["", "abc", "1.2.3", "12,34.5x", "--1"]',
                '["", "abc", "1.2.3", "12,34.5x", "--1", "1,2,3", "12,34"]',
            ),
        ),
    ),
    Commit(
        "Read CSV files that start with a byte-order mark\n\n"
        "Excel saves \"CSV UTF-8\" files with a byte-order mark, so the first\n"
        "header cell read as \"\\ufeffdate\" and such files were refused with\n"
        "\"expected header\". Decode them as utf-8-sig.",
        "2024-05-20T16:40:00-05:00",
        TOMAS,
        edits=(
            (
                "src/ledger/csvio.py",
                '    with open(path, newline="", encoding="utf-8") as handle:\n        reader',
                '    with open(path, newline="", encoding="utf-8-sig") as handle:\n        reader',
            ),
            (
                "tests/test_csvio.py",
                '    assert list(read_csv(path).categories()) == ["salary", "food", "rent"]\n',
                '    assert list(read_csv(path).categories()) == ["salary", "food", "rent"]\n'
                "\n\n"
                "def test_files_with_a_byte_order_mark_are_read(tmp_path):\n"
                '    path = tmp_path / "in.csv"\n'
                '    path.write_bytes(b"\\xef\\xbb\\xbf" + (HEADER + "2024-01-05,Salary,2500.00,salary\\n").encode())\n'
                '    assert [e.description for e in read_csv(path)] == ["Salary"]\n',
            ),
        ),
    ),
    Merge(
        "0.2.x",
        "Merge branch '0.2.x'",
        "2024-05-22T10:00:00+02:00",
        MARIA,
    ),
)
