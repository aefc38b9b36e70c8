"""Grading: one pure function, used by validation's controls and by evaluation alike.

Statuses map as SWE-bench maps them: PASSED and XFAIL pass; FAILED, ERROR and a test missing from
the report fail. A skipped FAIL_TO_PASS test counts as failing (a skipped test proves no fix); a
skipped PASS_TO_PASS test is neither success nor failure, as in SWE-bench's own grading.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PASSING = frozenset({"PASSED", "XFAIL"})
FAILING = frozenset({"FAILED", "ERROR", "XPASS"})


def passed(status: str | None) -> bool:
    """Did a test pass, given its status (None: the test is missing from the report)?"""
    return status in PASSING


@dataclass(frozen=True)
class Outcome:
    """success / failure lists, as in SWE-bench's report.json."""

    success: list[str] = field(default_factory=list)
    failure: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Grade:
    """The verdict on one run of a task's tests."""

    resolved: bool
    FAIL_TO_PASS: Outcome
    PASS_TO_PASS: Outcome
    FAIL_TO_FAIL: Outcome
    PASS_TO_FAIL: Outcome
    #: Set when the run cannot be trusted (no report, or a report the exit code contradicts).
    infra_error: str | None = None

    def tests_status(self) -> dict[str, dict[str, list[str]]]:
        return {
            name: {"success": list(getattr(self, name).success), "failure": list(getattr(self, name).failure)}
            for name in ("FAIL_TO_PASS", "PASS_TO_PASS", "FAIL_TO_FAIL", "PASS_TO_FAIL")
        }


def _split(tests: list[str], statuses: dict[str, str], skipped_fails: bool) -> Outcome:
    success = [t for t in tests if passed(statuses.get(t))]
    failure = [
        t for t in tests if not passed(statuses.get(t)) and (skipped_fails or statuses.get(t) != "SKIPPED")
    ]
    return Outcome(success, failure)


def grade(
    statuses: dict[str, str],
    fail_to_pass: list[str],
    pass_to_pass: list[str],
    infra_error: str | None = None,
) -> Grade:
    """Resolved only when every FAIL_TO_PASS and every PASS_TO_PASS test passes and the run is sound."""
    f2p = _split(fail_to_pass, statuses, skipped_fails=True)
    p2p = _split(pass_to_pass, statuses, skipped_fails=False)
    resolved = infra_error is None and not f2p.failure and not p2p.failure and bool(fail_to_pass)
    return Grade(
        resolved=resolved,
        FAIL_TO_PASS=f2p,
        PASS_TO_PASS=p2p,
        FAIL_TO_FAIL=Outcome(),
        PASS_TO_FAIL=Outcome(),
        infra_error=infra_error,
    )
