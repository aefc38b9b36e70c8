#!/usr/bin/env bash
# One week of the private benchmark, for any CI: mine what the team fixed since last time, validate
# it, run the configured agents on the tasks they have not solved yet, grade, and write the report.
#
#   RUN_DIR      the run folder kept between runs (restored from the CI cache), default swegen-run
#   REPO         the repository to mine, with its whole history (not a shallow clone), default .
#   AGENTS_FILE  one agent per line: NAME followed by `swegen solve` options (see below)
#   PRICES_FILE  optional TOML price table for the cost figures
#   WORKERS      parallel Docker jobs, default 2
#
# An agents file (lines starting with # are ignored):
#   gpt-5-mini      --agent mini-swe-agent --model openai/gpt-5-mini --agent-env OPENAI_API_KEY --allow-network
#   qwen3-coder     --agent openai --base-url https://llm.internal/v1 --model qwen3-coder
#
# Every stage resumes and caches: `solve` skips tasks a model already has a prediction for, and
# `evaluate` never grades the same patch on the same task twice, so each week costs only the new tasks.
set -euo pipefail

RUN_DIR=${RUN_DIR:-swegen-run}
REPO=${REPO:-.}
AGENTS_FILE=${AGENTS_FILE:-.swegen/agents}
WORKERS=${WORKERS:-2}

if [ -f "$RUN_DIR/run.json" ]; then
  swegen mine "$REPO" -o "$RUN_DIR" --update --workers "$WORKERS"
else
  swegen mine "$REPO" -o "$RUN_DIR" --workers "$WORKERS"
fi

if [ ! -s "$RUN_DIR/tasks.jsonl" ]; then
  echo "no validated tasks yet: nothing to solve"
  exit 0
fi

predictions=()
if [ -f "$AGENTS_FILE" ]; then
  while read -r name options; do
    case "$name" in ''|'#'*) continue ;; esac
    # shellcheck disable=SC2086  # the options are a command line on purpose
    swegen solve "$RUN_DIR" --name "$name" --workers "$WORKERS" $options
    predictions+=(-p "$RUN_DIR/predictions/${name//\//__}.jsonl")
  done < "$AGENTS_FILE"
fi

swegen evaluate "$RUN_DIR" "${predictions[@]}" -p gold -p empty --workers "$WORKERS"

report=(swegen report "$RUN_DIR")
if [ -n "${PRICES_FILE:-}" ] && [ -f "$PRICES_FILE" ]; then
  report+=(--prices "$PRICES_FILE")
fi
"${report[@]}"
