"""`swegen demo`: every stage that exists, run on the bundled example repository.

Each stage extends this as it lands; today it creates the example repository, mines its history
into task candidates, validates them in Docker, solves them with the scripted agent, evaluates
its patches beside the gold and empty baselines, and reports private against public scores.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from swegen import __version__
from swegen.errors import BadInput
from swegen.example import EXAMPLE_REPO_NAME, create_example, create_for
from swegen.images import require_base_image
from swegen.mining import MineConfig, mine
from swegen.records import write_json
from swegen.evaluating import EvaluateConfig, evaluate
from swegen.reporting import ReportConfig, make_report
from swegen.solving import SolveConfig, solve
from swegen.validating import ValidateConfig, validate

#: Stages that this version does not have yet; the demo names them rather than faking them.
PENDING_STAGES: tuple[str, ...] = ()
#: The model name of the scripted agent's predictions in the demo.
SCRIPTED_NAME = "scripted-agent"
SCRIPTED_SKILL = 2
#: The scripted agent again at other skills, under public model names from the shipped score
#: table, so that the demo's report shows its headline (private against public, the gap, the
#: ranking verdict). The report says these are a demonstration of the pipeline, not a measurement.
PUBLIC_STAND_INS: tuple[tuple[str, int], ...] = (("claude-sonnet-4-5", 4), ("gpt-5-mini", 3), ("gpt-4.1", 1))
DEMO_NOTE = (
    "Demonstration of the pipeline, not a measurement: the models named here are swegen's scripted agent at "
    "different skill levels, run under public model names so that the comparison with public scores can be shown."
)

Progress = Callable[[str, int, int | None], None]


@dataclass(frozen=True)
class DemoConfig:
    """How to run the demo."""

    #: A fresh output folder (must not exist, or be empty).
    output: Path
    #: Python version of the base image.
    python: str = "3.11"
    #: An image to use instead of swegen's own base image.
    base_image: str | None = None
    #: CA bundle to inject into images (None: none).
    ca_bundle: Path | None = None
    #: Candidates validated in parallel.
    workers: int = 1
    #: The example's language (swegen.example.LANGUAGES).
    language: str = "python"


@dataclass
class DemoResult:
    output: Path
    repo: Path
    funnel: Any = None
    validation: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    report: Any = None


def _fresh(output: Path) -> None:
    if output.exists() and any(output.iterdir()):
        raise BadInput(f"output folder {output} is not empty", hint="pass a new folder with -o, or remove it")
    output.mkdir(parents=True, exist_ok=True)


def run_demo(
    config: DemoConfig,
    step: Callable[[str], None] = lambda message: None,
    progress: Progress = lambda stage, done, total: None,
) -> DemoResult:
    out = config.output
    _fresh(out)
    if config.base_image is None:
        require_base_image(config.python)  # fail before any work when the sandbox cannot run
    if config.language != "python":
        return _other_language_demo(config, step, progress)
    step("creating the example repository")
    repo = create_example(out / "repo")
    result = DemoResult(out, repo)
    stand_ins = {name: f"swegen's scripted agent, --skill {skill}" for name, skill in PUBLIC_STAND_INS}
    write_json(out / "demo.json", {"swegen_version": __version__, "command": "demo", "repo": str(repo),
                                   "note": DEMO_NOTE, "stand_ins": stand_ins})
    step("mining its history")
    result.funnel = mine(MineConfig(repo=repo, output=out, repo_name=EXAMPLE_REPO_NAME), progress)
    step("validating the candidates in Docker (before and after each fix, with reruns and controls)")
    validation = ValidateConfig(
        run_dir=out,
        repo=repo,
        workers=config.workers,
        python=None if config.base_image else config.python,
        base_image=config.base_image,
        ca_bundle=config.ca_bundle,
    )
    result.validation = validate(validation, progress)
    options = dict(python=None if config.base_image else config.python, base_image=config.base_image, ca_bundle=config.ca_bundle)
    step(f"solving the tasks with swegen's scripted agent ({SCRIPTED_NAME}: at skill 2 it fixes the first two bugs and cheats on the others)")
    solved = [solve(SolveConfig(run_dir=out, agent="scripted", name=SCRIPTED_NAME, skill=SCRIPTED_SKILL, repo=repo,
                                workers=config.workers, **options), progress)]
    names = ", ".join(f"{name} (skill {skill})" for name, skill in PUBLIC_STAND_INS)
    step(f"solving them again with the scripted agent under public model names, as a demonstration only: {names}")
    for name, skill in PUBLIC_STAND_INS:
        solved.append(solve(SolveConfig(run_dir=out, agent="scripted", name=name, skill=skill, repo=repo,
                                        workers=config.workers, **options), progress))
    step("evaluating their predictions and the gold and empty baselines in the sandbox")
    result.evaluation = evaluate(
        EvaluateConfig(run_dir=out, predictions=("gold", "empty", *map(str, solved)), repo=repo, workers=config.workers, **options),
        progress,
    )
    step("reporting: private against public scores")
    result.report = make_report(ReportConfig(out))
    return result


def _other_language_demo(config: DemoConfig, step: Callable[[str], None], progress: Progress) -> DemoResult:
    """The demo on another language's example: mined, validated, and evaluated with the gold and
    empty patches (the scripted agent knows the Python example's bugs only), then reported."""
    out = config.output
    step(f"creating the {config.language} example repository")
    repo, repo_name = create_for(config.language, out / "repo")
    result = DemoResult(out, repo)
    write_json(out / "demo.json", {"swegen_version": __version__, "command": "demo", "language": config.language,
                                   "repo": str(repo)})
    step("mining its history")
    result.funnel = mine(MineConfig(repo=repo, output=out, repo_name=repo_name), progress)
    step("validating the candidates in Docker (before and after each fix, with reruns and controls)")
    result.validation = validate(ValidateConfig(run_dir=out, repo=repo, workers=config.workers, ca_bundle=config.ca_bundle), progress)
    step("evaluating the gold and empty baselines in the sandbox")
    result.evaluation = evaluate(EvaluateConfig(run_dir=out, predictions=("gold", "empty"), repo=repo, workers=config.workers,
                                                ca_bundle=config.ca_bundle), progress)
    step("reporting")
    result.report = make_report(ReportConfig(out))
    return result
