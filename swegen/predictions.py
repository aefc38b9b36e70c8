"""Predictions in SWE-bench's format: read them strictly, write them line by line.

A predictions file is JSONL (one object per line), or JSON holding a list of objects or a dict
keyed by instance id. Each object has `instance_id`, `model_name_or_path` and `model_patch` (a
unified diff; empty or null means "no patch"). swegen's solve stage adds its own fields (agent,
seconds, tokens, exit code), which SWE-bench's tools ignore; `infra_error` marks a task the
agent could not be run on (the endpoint or the sandbox failed), which is no prediction at all.

Reading is strict, because a file that is wrong as a whole would otherwise be graded as a model
that failed every task: the file must be UTF-8 JSON, each task may appear once per model, every
instance id must be a task of the run folder, and a non-empty model_patch must look like a diff
(a patch that is a diff but does not apply is the model's failure, graded as such).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swegen.errors import BadInput

#: Built-in baselines: the gold patch, and no patch at all.
BASELINES = ("gold", "empty")
#: A line any unified, git or binary diff has; text with none of them is not a patch at all.
_DIFF_LINE = re.compile(r"^(?:diff --git |--- |\+\+\+ |@@ |Index: |GIT binary patch|Binary files )", re.MULTILINE)


@dataclass(frozen=True)
class Prediction:
    """One model's patch for one task."""

    instance_id: str
    model_name_or_path: str
    model_patch: str
    #: swegen's extra fields (agent, seconds, tokens, exit code...), kept as given.
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"instance_id": self.instance_id, "model_name_or_path": self.model_name_or_path, "model_patch": self.model_patch, **self.extra}

    @property
    def infra_error(self) -> str | None:
        """Why the agent could not be run on this task (solve's infrastructure error), or None."""
        value = self.extra.get("infra_error")
        return str(value) if value else None


def model_dir_name(model: str) -> str:
    """A folder name for a model, as SWE-bench's harness makes it ("org/model" -> "org__model")."""
    name = model.replace("/", "__").strip()
    if not name or name in (".", "..") or any(c in name for c in "\\\0"):
        raise BadInput(f"model name {model!r} cannot name a folder", hint="give predictions a plain model_name_or_path")
    return name


def _objects(path: Path, text: str) -> list[tuple[str, Any]]:
    """(where, object) pairs from JSONL, a JSON list, or a JSON dict keyed by instance id."""
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno})", hint="fix the file, or write one JSON object per line") from None
        return [(f"item {i}", item) for i, item in enumerate(data)]
    if stripped.startswith("{"):
        try:
            data = json.loads(text)
        except json.JSONDecodeError:
            data = None  # JSONL whose lines are objects
        if isinstance(data, dict) and data and all(isinstance(v, dict) for v in data.values()) and "instance_id" not in data:
            return [(f"key {k!r}", {"instance_id": k, **v}) for k, v in data.items()]
        if isinstance(data, dict):
            return [("the object", data)]
    objects = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            objects.append((f"line {number}", json.loads(line)))
        except json.JSONDecodeError as exc:
            raise BadInput(f"{path} line {number} is not JSON ({exc.msg})", hint="predictions are JSONL: one JSON object per line") from None
    return objects


def _text(path: Path) -> str:
    if path.is_dir():
        raise BadInput(f"predictions file {path} is a folder", hint="pass the predictions JSONL file itself, e.g. RUN_DIR/predictions/MODEL.jsonl")
    if not path.is_file():
        raise BadInput(f"predictions file {path} does not exist", hint="pass a SWE-bench predictions JSONL, or 'gold' / 'empty'")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"cannot read predictions file {path} ({exc.strerror})", hint="make it readable by this user") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise BadInput(
            f"{path} line {line} is not UTF-8 (byte 0x{data[exc.start]:02x})",
            hint="write predictions as UTF-8 JSON; bytes of a binary patch go in as \\u escapes",
        ) from None


def _is_unicode(text: str) -> bool:
    """Can `text` be written as UTF-8? A JSON \\ud800 escape makes a string that cannot."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def read_predictions(path: Path, model: str | None = None, known: set[str] | None = None) -> list[Prediction]:
    """Every prediction in a file; a malformed file is a BadInput naming the line.

    With `known` (every instance id of the run folder), a prediction for another task is a BadInput too.
    """
    text = _text(path)
    predictions, seen = [], set()
    for where, item in _objects(path, text):
        if not isinstance(item, dict):
            raise BadInput(f"{path} {where} is not a JSON object", hint="each prediction is {instance_id, model_name_or_path, model_patch}")
        instance_id = item.get("instance_id")
        if not isinstance(instance_id, str) or not instance_id:
            raise BadInput(f"{path} {where} has no instance_id", hint="each prediction needs instance_id, model_name_or_path and model_patch")
        patch = item.get("model_patch")
        if patch is not None and not isinstance(patch, str):
            raise BadInput(f"{path} {where}: model_patch is not a string", hint="model_patch is a unified diff as one string (or null)")
        name = model or item.get("model_name_or_path")
        if not isinstance(name, str) or not name.strip():
            raise BadInput(f"{path} {where} has no model_name_or_path", hint="add it to each prediction, or pass --model NAME")
        if (name, instance_id) in seen:
            raise BadInput(f"{path} {where}: a second prediction of {name} for {instance_id}", hint="keep one prediction per model and task")
        if known is not None and instance_id not in known:
            raise BadInput(f"{path} {where}: {instance_id} is not a task of this run folder",
                           hint="evaluate predictions made for this run's tasks.jsonl, or remove that line")
        if patch and not _is_unicode(patch):
            raise BadInput(f"{path} {where}: the model_patch of {instance_id} is not UTF-8 (a \\ud800-\\udfff escape)",
                           hint="write patches as UTF-8 text; a lone surrogate escape encodes no character")
        if patch and patch.strip() and not _DIFF_LINE.search(patch):
            raise BadInput(f"{path} {where}: the model_patch of {instance_id} is not a diff",
                           hint="model_patch must be a unified diff (git diff output); use \"\" for no patch")
        seen.add((name, instance_id))
        extra = {k: v for k, v in item.items() if k not in ("instance_id", "model_name_or_path", "model_patch")}
        predictions.append(Prediction(instance_id, name.strip(), patch or "", extra))
    if not predictions:
        raise BadInput(f"{path} holds no predictions", hint="write one JSON object per line")
    return predictions


def baseline_predictions(name: str, tasks: list[dict]) -> list[Prediction]:
    """The gold patch, or the empty patch, for every task."""
    return [Prediction(t["instance_id"], name, t["patch"] if name == "gold" else "") for t in tasks]
