"""Is a change a bug fix? A score in [0, 1] with the reasons that made it, kept on every candidate."""

from __future__ import annotations

import re
from dataclasses import dataclass

FIX_WORDS = re.compile(
    r"\b(fix(?:e[sd]|ing)?|bugs?|bugfix|regressions?|crash(?:es|ed|ing)?|wrong(?:ly)?|errors?|incorrect(?:ly)?|"
    r"broken|faulty|mistakes?|fail(?:s|ed|ing|ure)?|exceptions?|leaks?|hangs?|off-by-one|mis\w+)\b",
    re.IGNORECASE,
)
FEATURE_WORDS = re.compile(
    r"^(?:feat(?:ure)?[:(]|add(?:s|ed)?\b|implement(?:s|ed)?\b|introduce[sd]?\b|support\b|new\b|allow(?:s)?\b|enable[sd]?\b|create[sd]?\b)",
    re.IGNORECASE,
)
REVERT = re.compile(r"^revert\b", re.IGNORECASE)
CHORE_WORDS = re.compile(
    # whole words: "formatDuration(0) says 0s" names a function, it announces no reformatting
    r"^(?:(?:refactor(?:s|ed|ing)?|clean ?ups?|tidy|style|format(?:s|ted|ting)?|lint(?:s|ed|ing)?|typos?|spelling|"
    r"rename[sd]?|move[sd]?|bump(?:s|ed)?)\b(?![(.])|"
    r"chore[:(]|docs?[:(]|test[s]?[:(]|ci[:(]|build[:(]|perf[:(]|update (?:dependencies|deps|requirements))",
    re.IGNORECASE,
)
TYPO = re.compile(r"\b(typos?|spelling|misspell\w*)\b", re.IGNORECASE)
BOILERPLATE = re.compile(r"^(Merge (pull request|branch|remote-tracking branch)\b.*)$", re.IGNORECASE)

#: A branch named for a version or a release line: 2.0.x, 1.x, 3.0, proposed/2.8.0, release-1.2, stable.
VERSION_BRANCH = re.compile(
    r"^(?:[\w.-]+/)*(?:(?:v|release[-_]?|maint(?:enance)?[-_]?|stable[-_]?)?\d+(?:\.(?:\d+|x))*(?:\.x|-maint(?:enance)?)?"
    r"|releases?|stable|maint(?:enance)?|release[-_/][\w.-]+)$",
    re.IGNORECASE,
)
#: The branch a merge brings in: "Merge branch 'x'", GitLab's "Merge branch 'x' into 'y'", GitHub's "Merge pull request #1 from o/x".
MERGED_BRANCH = re.compile(r"^Merge (?:remote-tracking )?branch '(?P<a>[^']+)'|^Merge pull request #\d+ from [^/\s]+/(?P<b>\S+)")
#: A release or version change announced in a subject or a pull request's title.
RELEASE_TITLE = re.compile(
    r"^(?:changes for (?:version|release)\b|(?:release[sd]?|releasing)(?: version)?:? v?\d|release$|prepare (?:for )?(?:the )?(?:\S+ )?release\b|"
    r"prepare (?:version )?v?\d|version v?\d+\.\d|v?\d+\.\d+(?:\.\d+)*(?:\s|$)|bump(?:ed|s)? (?:the )?version|update version\b|"
    r"set version\b|start (?:version )?v?\d+\.\d|updates? for (?:version|release) v?\d|version v?\d+(?:\.\d+)* cleanup)",
    re.IGNORECASE,
)
#: Commits that only reformat: "Apply black", "Reformat with ruff", "Run pre-commit on all files".
REFORMAT = re.compile(
    r"^(?:re-?format\w*|blacken\w*|(?:apply|run|ran)\s+(?:black|ruff|isort|pre-commit|autopep8|yapf|pyupgrade|prettier)\b|"
    r"pre-commit autoupdate|\[pre-commit\.ci\]|\[?pre-commit\.ci\]? auto fixes)",
    re.IGNORECASE,
)

#: Source lines changed above which a change is unlikely to be one focused fix.
LARGE_CHANGE = 300
SMALL_CHANGE = 50


@dataclass(frozen=True)
class Evidence:
    """What the miner saw of one change, as plain facts."""

    subjects: tuple[str, ...]          # merge subject first, then branch commit subjects
    message: str                       # all messages joined
    issue_refs: tuple[str, ...]
    source_lines_changed: int
    changed_existing: tuple[str, ...]  # existing definitions the gold patch changes
    added_api: tuple[str, ...]         # definitions the gold patch adds
    tests_use_new_api: tuple[str, ...]  # new definitions the changed tests reference
    tests_use_existing: bool           # the changed tests reference definitions that existed before


@dataclass(frozen=True)
class Verdict:
    score: float
    reasons: tuple[str, ...]
    is_feature: bool


def _meaningful(subjects: tuple[str, ...]) -> list[str]:
    return [s for s in subjects if s and not BOILERPLATE.match(s)]


def score_bugfix(ev: Evidence) -> Verdict:
    """Score how likely a change fixes a bug; every point comes with its reason."""
    score, reasons = 0.2, []
    subjects = _meaningful(ev.subjects)
    fix_hit = FIX_WORDS.search(ev.message)
    feature_hit = next((s for s in subjects if FEATURE_WORDS.match(s)), None)
    if fix_hit:
        score += 0.45
        reasons.append(f"message says '{fix_hit.group(0).lower()}'")
    if ev.issue_refs:
        score += 0.15
        reasons.append(f"references issue {ev.issue_refs[0]}")
    if any(REVERT.match(s) for s in subjects):
        score += 0.15
        reasons.append("reverts a change")
    chore_hit = next((s for s in subjects if CHORE_WORDS.match(s)), None) or (
        next((s for s in subjects if TYPO.search(s)), None)
    )
    if chore_hit:
        score -= 0.3
        reasons.append(f"message announces a refactor or chore: '{chore_hit[:60]}'")
    if feature_hit and not fix_hit:
        score -= 0.3
        reasons.append(f"message announces a feature: '{feature_hit[:60]}'")
    only_new_api = bool(ev.tests_use_new_api) and not ev.changed_existing
    if only_new_api:
        score -= 0.35
        reasons.append(f"tests exercise only new API ({', '.join(ev.tests_use_new_api[:3])})")
    elif ev.changed_existing:
        score += 0.15
        reasons.append(f"changes existing code ({', '.join(ev.changed_existing[:3])})")
    if ev.source_lines_changed <= SMALL_CHANGE:
        score += 0.05
        reasons.append(f"small change ({ev.source_lines_changed} source lines)")
    elif ev.source_lines_changed > LARGE_CHANGE:
        score -= 0.15
        reasons.append(f"large change ({ev.source_lines_changed} source lines)")
    is_feature = not fix_hit and (bool(feature_hit) or only_new_api)
    return Verdict(round(min(1.0, max(0.0, score)), 3), tuple(reasons), is_feature)


def pr_title(message: str) -> str:
    """The pull request title a merge message carries on its first body line (GitHub's form)."""
    body = message.split("\n", 1)[1] if "\n" in message else ""
    return next((line.strip() for line in body.splitlines() if line.strip()), "")


#: Hand-written merges of a whole line: "merged with 0.5-maintenance", "Merge stable into main (#3521)".
LINE_MERGE = re.compile(
    r"^(?!merge (?:branch|pull request|remote-tracking)\b)merged? (?:with |from |in )?[`']?(?P<c>[\w./-]+?)[`']?(?: into .*)?$", re.I
)
MAIN_NAMES = re.compile(r"^(?:[\w.-]+/)?(?:master|main|develop|dev|trunk|stable)$", re.IGNORECASE)
#: 'Revert "Merge stable into master"', any number of times over.
REVERT_PREFIX = re.compile(r'^(?:revert\s+"+)+', re.IGNORECASE)
PR_SUFFIX = re.compile(r"\s*\(#\d+\)\s*$")


def release_reason(message: str, is_merge: bool) -> str | None:
    """Why a change is a release, a merge of a release or maintenance line, a version bump or a
    reformatting rather than one fix; None when it is none of them."""
    subject = message.split("\n", 1)[0].strip()
    branch = MERGED_BRANCH.match(subject) if is_merge else None
    name = branch and (branch["a"] or branch["b"])
    if name and VERSION_BRANCH.match(name):
        return f"release-merge: merges the release or maintenance branch '{name}' (many changes, not one fix)"
    line = LINE_MERGE.match(PR_SUFFIX.sub("", REVERT_PREFIX.sub("", subject)).rstrip('"'))
    if line and (VERSION_BRANCH.match(line["c"]) or MAIN_NAMES.match(line["c"])):
        return f"release-merge: '{subject[:60]}' merges (or reverts a merge of) the line '{line['c']}', not one fix"
    for text in (subject, pr_title(message) if is_merge else ""):
        if text and RELEASE_TITLE.match(text):
            return f"release: '{text[:60]}' is a release or version change, not one fix"
        if text and REFORMAT.match(text):
            return f"reformat: '{text[:60]}' only reformats"
    return None
