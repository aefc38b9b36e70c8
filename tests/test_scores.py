"""Public scores ship with their sources, and a model's name finds its own row and says which."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from swegen import scores
from swegen.errors import BadInput
from tests.conftest import run_cli

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "public_swebench_scores.csv"


@pytest.fixture(autouse=True)
def own_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Each test gets its own user score file, never the real one."""
    monkeypatch.setenv("SWEGEN_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_shipped_table_has_every_split_and_a_source_on_every_row():
    rows = scores.load_scores()
    assert {r.benchmark for r in rows} == set(scores.BENCHMARKS)
    assert len(rows) >= 100
    assert all(r.source and r.date and r.system and r.model for r in rows)
    assert all(r.counts() is None or r.counts()[1] in scores.SPLIT_SIZE.values() for r in rows)
    bash_only = [r for r in rows if r.same_scaffold]
    assert len(bash_only) > 20 and all("bash-only" in r.system for r in bash_only)


@pytest.mark.skipif(not REFERENCE.exists(), reason="the shared reference folder is beside the checkout only on developer machines")
def test_shipped_table_keeps_the_reference_facts():
    with open(REFERENCE, encoding="utf-8", newline="") as handle:
        reference = list(csv.DictReader(handle))
    shipped = scores.read_csv(scores.shipped_file())
    assert len(shipped) == len(reference)
    for ours, theirs in zip(shipped, reference):
        assert (ours.model, ours.system, ours.benchmark, ours.date, ours.source) == (
            theirs["model"], theirs["system"], theirs["benchmark"], theirs["date"], theirs["source"])
        assert ours.percent == float(theirs["percent_resolved"])
        assert ours.resolved == (int(theirs["resolved"]) if theirs["resolved"] else None)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("claude-sonnet-4-20250514", "Claude 4 Sonnet (2025-05-14)"),
        ("anthropic/claude-sonnet-4-20250514", "claude-4-sonnet-20250514"),
        ("gpt-4.1-2025-04-14", "GPT 4.1 (20250414)"),
        ("Claude 3.5 Sonnet", "claude-3-5-sonnet"),
        ("openrouter/openai/gpt-5", "GPT-5"),
    ],
)
def test_normalise_makes_spellings_of_one_model_equal(a: str, b: str):
    assert scores.normalise(a) == scores.normalise(b)


def test_normalise_keeps_different_models_apart():
    assert scores.normalise("claude-sonnet-4") != scores.normalise("claude-sonnet-4-5")
    assert scores.normalise("o3") != scores.normalise("o3-mini")
    assert scores.normalise("gpt-4o-2024-05-13").date != scores.normalise("gpt-4o-2024-11-20").date


def test_match_prefers_the_bash_only_row_and_says_so():
    rows = scores.load_scores()
    found = scores.match("gpt-5-2025-08-07", rows)
    assert found.row is not None and found.row.same_scaffold
    assert found.row.percent == 65.0
    assert found.how == "same scaffold (bash-only board)"
    # GPT-5 has vendor (74.9), OpenHands (71.8) and Prometheus (74.4) rows too: all named, not used.
    assert {r.percent for r in found.rows} >= {65.0, 74.9, 71.8, 74.4}
    assert "mini-SWE-agent" in found.row.describe() and "source:" in found.row.describe()


def test_match_falls_back_to_another_scaffold_and_says_so():
    found = scores.match("kimi-k2-0905-preview", scores.load_scores())
    assert found.row is not None and not found.row.same_scaffold
    assert "other scaffold" in found.how


def test_match_snapshot_dates_pick_the_right_model():
    rows = scores.load_scores()
    old = scores.match("gpt-4o-2024-05-13", rows)
    assert old.row is not None and "2024-05-13" in old.row.model
    assert all(r.model != "GPT-4o (2024-11-20)" for r in old.rows)


def test_match_unknown_model_and_override():
    rows = scores.load_scores()
    assert scores.match("my-own-finetune", rows).row is None
    assert scores.match("my-own-finetune", rows).how == "no public score on verified"
    given = scores.match("my-own-finetune", rows, override=42.0)
    assert given.row is not None and given.row.percent == 42.0 and "--public" in given.how
    assert scores.match("devstral-small-2512", rows, benchmark="lite").how.startswith("no public score on lite (there are on: verified)")


def test_overrides_parse_and_find_models_by_normalised_name():
    overrides = scores.parse_overrides(["anthropic/claude-sonnet-4-20250514=61.5", "gpt-5=70"], "--public", float)
    assert scores.override_for("claude-4-sonnet-20250514", overrides) == 61.5
    assert scores.override_for("gpt-5", overrides) == 70.0
    assert scores.override_for("gpt-5-2025-08-07", overrides) == 70.0, "a dateless name covers every snapshot"
    assert scores.override_for("claude-sonnet-4-20990101", overrides) is None, "a dated name covers only its own"
    assert scores.override_for("o3", overrides) is None
    with pytest.raises(BadInput):
        scores.parse_overrides(["gpt-5"], "--public", float)
    with pytest.raises(BadInput):
        scores.parse_overrides(["gpt-5=lots"], "--public", float)


def test_derive_count_needs_exactly_one_integer():
    assert scores.derive_count(56.4, 500) == 282
    assert scores.derive_count(33.83, 2294) == 776
    assert scores.derive_count(39.58, 500) is None


def _leaderboard(tmp_path: Path) -> Path:
    data = {"leaderboards": [
        {"name": "bash-only", "results": [{
            "name": "Future Model (high)", "model_display": "Future Model", "mini-swe-agent_version": "2.0.0",
            "resolved": 50.0, "date": "2026-08-18", "folder": "20260818_mini-v2.0.0_future-model", "model_release_date": 20260801,
            "tags": ["Model: future-model-1", "System: Attempts - 1"],
            "per_instance_details": {"a": {"resolved": True}, "b": {"resolved": False}},
        }]},
        {"name": "Verified", "results": [{
            "name": "Agent X + Future Model", "resolved": 56.4, "date": "2026-08-20", "folder": "20260820_agentx",
            "tags": ["Model: future-model-1", "System: Attempts - 2+"],
        }]},
        {"name": "Multimodal", "results": [{"name": "ignored", "resolved": 10.0}]},
    ]}
    path = tmp_path / "leaderboards.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_read_leaderboard_json(tmp_path: Path):
    rows = scores.read_leaderboard(str(_leaderboard(tmp_path)))
    assert len(rows) == 2
    bash, verified = rows
    assert (bash.model, bash.system, bash.board, bash.resolved, bash.total) == ("Future Model", "mini-SWE-agent v2.0.0 (bash-only)", "bash-only", 1, 2)
    assert bash.release_date == "2026-08-01" and bash.attempts == "1"
    assert (verified.model, verified.board, verified.attempts, verified.resolved, verified.total) == ("future-model-1", "Verified", "2+", 282, 500)
    assert "leaderboards.json" in verified.source


def test_read_leaderboard_from_the_page_that_embeds_it(tmp_path: Path):
    data = json.loads(_leaderboard(tmp_path).read_text())["leaderboards"]
    page = tmp_path / "index.html"
    page.write_text(f'<html><body><script type="application/json" id="leaderboard-data">{json.dumps(data)}</script></body></html>')
    assert [r.model for r in scores.read_leaderboard(str(page))] == ["Future Model", "future-model-1"]


def test_read_leaderboard_rejects_other_json(tmp_path: Path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"models": []}', encoding="utf-8")
    with pytest.raises(BadInput):
        scores.read_leaderboard(str(bad))
    with pytest.raises(BadInput):
        scores.read_leaderboard(str(tmp_path / "missing.json"))


def test_scores_update_and_list_on_the_command_line(tmp_path: Path, own_data_dir: Path):
    env = {"SWEGEN_DATA_DIR": str(own_data_dir), "COLUMNS": "250"}
    source = _leaderboard(tmp_path)
    updated = run_cli("scores", "update", "--from", str(source), env=env)
    assert updated.returncode == 0, updated.stderr
    assert "2 new row(s)" in updated.stdout
    assert (own_data_dir / "public_scores.csv").exists()
    again = run_cli("scores", "update", "--from", str(source), env=env)
    assert "0 new row(s)" in again.stdout
    listed = run_cli("scores", "list", "--model", "future-model-1", env=env)
    assert listed.returncode == 0, listed.stderr
    assert "Future Model" in listed.stdout and "bash-only" in listed.stdout
    marked = [line for line in listed.stdout.splitlines() if line.startswith("│ *")]
    assert len(marked) == 1 and "mini-SWE-agent v2.0.0 (bash-only)" in marked[0]
    everything = run_cli("scores", "list", env=env)
    assert "Devstral Small 2 (2512)" in everything.stdout
    bad = run_cli("scores", "update", "--from", str(tmp_path / "nothing.json"), env=env)
    assert bad.returncode == 2 and "error:" in bad.stderr and "Traceback" not in bad.stderr
