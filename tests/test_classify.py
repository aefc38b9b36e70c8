"""The bug-fix classifier reads words, not identifiers that start like them."""

from __future__ import annotations

import pytest

from swegen.classify import Evidence, score_bugfix


def _evidence(subject: str) -> Evidence:
    return Evidence(subjects=(subject,), message=subject, issue_refs=(), source_lines_changed=2,
                    changed_existing=("formatDuration",), added_api=(), tests_use_new_api=(), tests_use_existing=True)


@pytest.mark.parametrize("subject", ["formatDuration(0) says 0s instead of nothing", "lint.py reads an empty file",
                                     "moveCursor skips the last column", "styleFor returns the parent's style"])
def test_a_subject_that_starts_with_a_function_name_is_no_chore(subject):
    verdict = score_bugfix(_evidence(subject))
    assert not any("chore" in r for r in verdict.reasons), verdict.reasons


@pytest.mark.parametrize("subject", ["Format the code with black", "formatting", "Refactoring the parser", "refactor: x",
                                     "Cleanup", "clean up imports", "bumped version", "Linting", "Move helpers", "Tidy"])
def test_a_chore_subject_is_still_one(subject):
    verdict = score_bugfix(_evidence(subject))
    assert any("chore" in r for r in verdict.reasons), verdict.reasons
