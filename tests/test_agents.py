"""The agent presets run the real agents from their registries in the solve sandbox: mini-swe-agent
and aider (PyPI) and codex (npm), each installed into its own cached image layer, fix the example's bugs against the
deterministic fake model (on the sandbox's own loopback, no network) with patches that evaluate
resolves, while the same agents fed nonsense resolve nothing and an endpoint outage is an
infrastructure error, never an empty patch; version, turns, tokens, time and trajectory are kept.
"""

from __future__ import annotations

import io
import json
import shutil
import statistics
import tarfile
from pathlib import Path

import pytest

from conftest import run_cli
from swegen.agents import AGENT_PREFIX, PRESET_NAMES, AgentRun, preset, presets, unpack_run
from swegen import costs
from swegen.errors import BadInput

FAKE = Path(__file__).resolve().parents[1] / "swegen" / "fake_model.py"
PORT = 8765
#: The example's statements the fake model knows a fix for (swegen.fake_model.EXAMPLE_FIXES).
#: Both are in one environment image of the example, so each agent adds one image layer.
KNOWN = ("end date in Ledger.between", "Fix formatting of negative amounts")
AGENT_ENV = {"mini-swe-agent": (), "aider": ("AIDER_EDIT_FORMAT=diff",), "codex": ()}
#: The file of its own each agent's trajectory is kept in.
TRAJECTORY = {"mini-swe-agent": "trajectory.json", "aider": "aider.llm.history", "codex": "events.jsonl"}


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def SLOW(*values):
    """A preset whose tests CI leaves out (each builds its own agent layer, minutes on a fresh
    machine): mini-swe-agent stands for the presets there; `pytest -m slow` runs the others."""
    return pytest.param(*values, marks=pytest.mark.slow)


@pytest.fixture(scope="module")
def run(demo_run, tmp_path_factory) -> Path:
    """A copy of the demo's validated tasks, without its predictions and evaluations."""
    source, _ = demo_run
    folder = tmp_path_factory.mktemp("agents") / "run"
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns("predictions", "evaluations", "report"))
    return folder


def task_ids(run: Path) -> list[str]:
    """The ids of the tasks whose statements the fake model knows, in KNOWN's order."""
    tasks = lines(run / "tasks.jsonl")
    return [next(t["instance_id"] for t in tasks if phrase in t["problem_statement"]) for phrase in KNOWN]


def solve(run: Path, agent: str, name: str, ids: list[str], mode: str | None, *extra: str):
    """`swegen solve` with a preset; `mode` is the fake model's, served in the sandbox (None: nothing listens)."""
    args = ["solve", str(run), "--agent", agent, "--name", name, "--model", "fake-model", "--workers", "1",
            "--agent-env", f"OPENAI_API_BASE=http://127.0.0.1:{PORT}/v1", "--agent-env", "OPENAI_API_KEY=fake-key",
            "--timeout", "600"]
    for item in AGENT_ENV[agent]:
        args += ["--agent-env", item]
    if mode:
        args += ["--agent-file", str(FAKE), "--agent-service", f"python3 /swegen/agent/fake_model.py --port {PORT} --mode {mode}"]
    for instance in ids:
        args += ["--instance", instance]
    return run_cli(*args, *extra, timeout=3000)


def evaluate(run: Path, name: str) -> dict:
    proc = run_cli("evaluate", str(run), "-p", str(run / "predictions" / f"{name}.jsonl"), "--workers", "1", "--no-strict", timeout=3000)
    assert proc.returncode == 0, proc.stderr
    return json.loads((run / "evaluations" / name / "summary.json").read_text())


# -- without Docker --------------------------------------------------------------------------


def test_the_cli_offers_exactly_the_presets():
    assert set(PRESET_NAMES) == set(presets())
    assert preset("aider").requirement() == "aider-chat==0.86.2"
    assert preset("codex").requirement() == "@openai/codex@0.169.0"
    assert preset("mini-swe-agent").requirement("2.0.0") == "mini-swe-agent==2.0.0"
    with pytest.raises(BadInput):
        preset("no-such-agent")


def _tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_a_driver_result_is_read_and_nothing_escapes_the_log_folder(tmp_path):
    result = {"agent_version": "1.2", "turns": 3, "prompt_tokens": 10, "completion_tokens": "7", "exit_status": "Submitted"}
    archive = _tar({"out/result.json": json.dumps(result).encode(), "out/trajectory.json": b"[]", "out/../../evil": b"x"})
    run = unpack_run(archive, tmp_path / "logs" / "task")
    assert run == AgentRun("1.2", 3, 10, None, "Submitted", None)  # a count that is not a number is not taken
    assert (tmp_path / "logs" / "task" / "trajectory.json").exists()
    assert not (tmp_path / "evil").exists() and not (tmp_path / "logs" / "evil").exists()
    assert unpack_run(_tar({"out/trajectory.json": b"[]"}), tmp_path / "other") is None


def test_a_preset_without_a_model_is_one_line_and_exit_2(tmp_path):
    (tmp_path / "run.json").write_text(json.dumps({"schema_version": 1, "repo_path": str(tmp_path)}))
    (tmp_path / "tasks.jsonl").write_text("")
    proc = run_cli("solve", str(tmp_path), "--agent", "mini-swe-agent", "--name", "m")
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "--model" in proc.stderr


# -- the real agents, in Docker ---------------------------------------------------------------
# The first run builds one image layer per agent on the example's environment image (minutes
# each: the agents' own dependencies); later runs reuse them, keyed by agent and version.


@pytest.mark.docker
@pytest.mark.timeout(3600)  # the first run installs the agent into its image layer
@pytest.mark.parametrize("agent", ["mini-swe-agent", SLOW("aider"), SLOW("codex")])
def test_a_preset_fixes_the_example_against_the_fake_model_and_nonsense_resolves_nothing(run, agent):
    ids = task_ids(run)
    proc = solve(run, agent, f"{agent}-fake", ids, agent)
    assert proc.returncode == 0, proc.stderr
    predictions = {p["instance_id"]: p for p in lines(run / "predictions" / f"{agent}-fake.jsonl")}
    assert set(predictions) == set(ids)
    for prediction in predictions.values():
        assert not prediction.get("infra_error"), prediction
        assert prediction["agent_version"] == preset(agent).version
        assert prediction["turns"] >= 2 and prediction["prompt_tokens"] > 0 and prediction["completion_tokens"] > 0
        assert prediction["seconds"] > 0 and prediction["agent_seconds"] > 0
        assert "diff --git" in prediction["model_patch"]
        folder = Path(prediction["trajectory"])
        assert (folder / "result.json").exists()
        kept = {path.name for path in folder.iterdir()}
        assert TRAJECTORY[agent] in kept, kept
    summary = evaluate(run, f"{agent}-fake")
    assert sorted(summary["resolved_ids"]) == sorted(ids), summary
    # the report shows the preset's rate, time, turns and tokens (the cost table's row)
    proc = run_cli("report", str(run), "--price", f"{agent}-fake=1/2", env={"COLUMNS": "250"})
    assert proc.returncode == 0, proc.stderr
    row = next(line for line in (run / "report" / "report.md").read_text().splitlines() if line.startswith(f"| {agent}-fake | {len(ids)}/{len(ids)} |"))
    median_turns = costs.turns(statistics.median(p["turns"] for p in predictions.values()))
    tokens_in = costs.tokens(sum(p["prompt_tokens"] for p in predictions.values()), len(ids))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2] != "-" and cells[3] != "-", row  # median and total wall time
    assert cells[4] == median_turns and cells[5] == tokens_in and "$" in cells[8], (row, median_turns, tokens_in)

    # the control: the same agent and pipeline, the model answers nonsense (a well-formed edit of an unrelated file)
    proc = solve(run, agent, f"{agent}-nonsense", ids[:1], f"{agent}-nonsense")
    assert proc.returncode == 0, proc.stderr
    [nonsense] = lines(run / "predictions" / f"{agent}-nonsense.jsonl")
    assert "NOTES.txt" in nonsense["model_patch"] and not nonsense.get("infra_error")
    summary = evaluate(run, f"{agent}-nonsense")
    assert summary["resolved_ids"] == [] and summary["unresolved_ids"] == ids[:1], summary


@pytest.mark.docker
@pytest.mark.timeout(3600)  # the first run installs the agent into its image layer
@pytest.mark.parametrize("agent", ["mini-swe-agent", SLOW("aider"), SLOW("codex")])
def test_an_endpoint_that_does_not_answer_is_an_infra_error_not_an_empty_patch(run, agent):
    ids = task_ids(run)[:1]
    proc = solve(run, agent, f"{agent}-down", ids, None, "--agent-env", "SWEGEN_ENDPOINT_WAIT=1")
    assert proc.returncode == 2, proc.stderr  # every task of the run failed on infrastructure: an outage
    [line] = lines(run / "predictions" / f"{agent}-down.jsonl")
    assert line["model_patch"] == "" and "unreachable" in line["infra_error"], line
    assert line["agent_version"] == preset(agent).version


@pytest.mark.docker
@pytest.mark.timeout(3600)  # the first run installs the agent into its image layer
@pytest.mark.parametrize("agent, retries, said", [
    ("mini-swe-agent", ("--agent-env", "MSWEA_MODEL_RETRY_STOP_AFTER_ATTEMPT=1"), "InternalServerError"),
    SLOW("codex", (), "the model endpoint failed"),  # codex words a 500 as "high demand", without the status
])
def test_an_endpoint_that_fails_after_the_agents_retries_is_an_infra_error(run, agent, retries, said):
    ids = task_ids(run)[:1]
    proc = solve(run, agent, f"{agent}-500", ids, f"{agent} --fail-with 500", *retries)
    assert proc.returncode == 2, proc.stderr
    [line] = lines(run / "predictions" / f"{agent}-500.jsonl")
    assert line["model_patch"] == "" and said in line["infra_error"], line


@pytest.mark.docker
@pytest.mark.timeout(3600)  # the first run installs the agent into its image layer
def test_agent_images_are_cached_labelled_and_keep_the_project_environment_apart(run):
    from swegen.agents.images import LABEL_AGENT, LABEL_AGENT_VERSION
    from swegen.images import list_images
    from swegen.sandbox import SandboxSpec
    from swegen.docker_sandbox import DockerSandbox

    def mini_images() -> dict[str, str]:
        return {i.id: i.labels.get(LABEL_AGENT_VERSION) for i in list_images("agent") if i.labels.get(LABEL_AGENT) == "mini-swe-agent"}

    before = mini_images()
    assert "2.4.6" in before.values()  # built by the first test of this module (or an earlier run)
    ids = task_ids(run)[:1]
    proc = solve(run, "mini-swe-agent", "mini-cached", ids, "mini-swe-agent")
    assert proc.returncode == 0, proc.stderr
    assert mini_images() == before  # reused, not built again
    assert list((run / "envs").glob("agent-mini-swe-agent-*.log"))  # the build log (or "reused") is kept
    images = [i for i in list_images("agent") if i.labels.get(LABEL_AGENT) == "mini-swe-agent"]
    tag = next(t for i in images for t in i.tags if t.startswith("swegen-agent:mini-swe-agent-2.4.6-"))
    with DockerSandbox(SandboxSpec(image=tag)) as box:
        project = box.exec("python -c 'import litellm'", timeout=120)
        agent = box.exec(f"{AGENT_PREFIX}/venv/bin/python -c 'import minisweagent, litellm'", timeout=120)
    assert project.exit_code != 0 and "No module named 'litellm'" in project.stderr  # the project's venv is untouched
    assert agent.exit_code == 0, agent.stderr
