"""Export validated tasks exactly as the public SWE-bench dataset has them.

In the published dataset FAIL_TO_PASS and PASS_TO_PASS are JSON-encoded strings, not lists, and
an instance carries only SWE-bench's own fields; tools that read SWE-bench read these files.
"""

from __future__ import annotations

import json
from pathlib import Path

from swegen.errors import BadInput, SwegenError
from swegen.records import read_tasks, write_atomic

#: The fields of a SWE-bench instance, in the dataset's order.
SWEBENCH_FIELDS = (
    "repo", "instance_id", "base_commit", "patch", "test_patch", "problem_statement", "hints_text",
    "created_at", "version", "FAIL_TO_PASS", "PASS_TO_PASS", "environment_setup_commit",
)
JSON_ENCODED = ("FAIL_TO_PASS", "PASS_TO_PASS")


def swebench_rows(run_dir: Path) -> list[dict[str, str]]:
    """The validated tasks of `run_dir` as SWE-bench dataset rows."""
    rows = []
    for task in read_tasks(run_dir):
        row = {name: task.get(name, "") for name in SWEBENCH_FIELDS}
        for name in JSON_ENCODED:
            row[name] = json.dumps(list(task.get(name) or []))
        row["version"] = str(row["version"])
        rows.append(row)
    return rows


def export(run_dir: Path, output: Path, formats: tuple[str, ...] = ("jsonl", "parquet")) -> list[Path]:
    """Write `output`.jsonl and/or `output`.parquet; returns the files written."""
    rows = swebench_rows(run_dir)
    if not rows:
        raise BadInput(f"{run_dir} has no validated tasks to export", hint="validation kept none: mine a longer history or relax the filters")
    if output.is_dir():
        raise BadInput(f"export output {output} is a folder", hint="pass a path without extension, e.g. -o DIR/swebench")
    written = []
    if "jsonl" in formats:
        target = output.with_suffix(".jsonl")
        write_atomic(target, "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
        written.append(target)
    if "parquet" in formats:
        written.append(_parquet(rows, output.with_suffix(".parquet")))
    return written


def _parquet(rows: list[dict[str, str]], target: Path) -> Path:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise SwegenError("parquet export needs pyarrow", hint="`pip install 'swegen[parquet]'`, or --format jsonl") from exc
    table = pa.Table.from_pylist(rows, schema=pa.schema([(name, pa.string()) for name in SWEBENCH_FIELDS]))
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        pq.write_table(table, tmp)
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk must not leave half a parquet file behind
        raise
    return target
