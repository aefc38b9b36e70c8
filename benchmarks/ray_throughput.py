"""Validation throughput (jobs per minute) on the example: the local pool, and Ray with 1 and 2 nodes
started on this machine (`ray start`, one `docker` slot per node).

    python benchmarks/ray_throughput.py [--candidates 4] [--out results.jsonl]

Each configuration validates the same freshly mined candidates into its own run folder; the line
it prints has the wall time, jobs per minute and the machine's load average before and after
(other work on the machine slows every configuration: compare ratios measured close in time).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def _port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def start_cluster(root: Path, nodes: int) -> tuple[str, Path, int]:
    """A head and nodes-1 more nodes, each with one sandbox slot; (address, temp dir, port)."""
    port, temp = _port(), root / "ray"
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    for index in range(nodes):
        where = (["--head", "--port", str(port), "--temp-dir", str(temp), "--include-dashboard", "false",
                  "--dashboard-port", str(_port()), "--ray-client-server-port", str(_port())] if index == 0
                 else ["--address", f"127.0.0.1:{port}"])
        ports = [f"--{name}-port={_port()}" for name in ("dashboard-agent-listen", "dashboard-agent-grpc", "metrics-export", "runtime-env-agent")]
        subprocess.run([str(BIN / "ray"), "start", *where, *ports, "--num-cpus", "1", "--resources", json.dumps({"docker": 1}),
                        "--object-store-memory", "80000000", "--disable-usage-stats"],
                       env={**env, "SWEGEN_NODE_CACHE": str(root / f"cache-{index}")}, check=True, capture_output=True)
    time.sleep(5)
    return f"127.0.0.1:{port}", temp, port


def stop_cluster(temp: Path, port: int) -> None:
    """End the processes of this cluster alone (by their ids), never every Ray of the machine."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        table = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    args = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                    table[int(entry.name)] = (int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]), args)
                except (OSError, ValueError, IndexError):
                    continue
        mine = {pid for pid, (_, args) in table.items() if str(temp) in args or f":{port} " in args + " "} - {os.getpid()}
        while more := {pid for pid, (parent, _) in table.items() if parent in mine} - mine:
            mine |= more
        for pid in mine:
            try:
                os.kill(pid, sig)
            except OSError:
                pass
        time.sleep(3)


def validate(repo: Path, run: Path, candidates: int, *extra: str) -> dict:
    subprocess.run([str(BIN / "swegen"), "mine", str(repo), "-o", str(run), "--no-validate", "--max-candidates", str(candidates)],
                   check=True, capture_output=True)
    load = _load()
    started = time.monotonic()
    proc = subprocess.run([str(BIN / "swegen"), "validate", str(run), *extra], capture_output=True, text=True,
                          env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"})
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    verdicts = [json.loads(line) for line in (run / "validation.jsonl").read_text().splitlines()]
    jobs = len(verdicts)
    return {"seconds": round(seconds, 1), "jobs": jobs, "jobs_per_min": round(60 * jobs / seconds, 2),
            # the job functions' own time, summed: what any executor must spend
            "job_seconds": round(sum(v.get("seconds", 0) for v in verdicts), 1),
            "load_before": load, "load_after": _load()}


def node_seconds(root: Path) -> float:
    """Time between each job's start and end lines in the nodes' ledgers, summed: the job plus
    what the node does around it (Docker check, image and repository, scratch copy)."""
    total, started = 0.0, {}
    for ledger in root.glob("cache-*/jobs.jsonl"):
        for line in ledger.read_text().splitlines():
            event = json.loads(line)
            if event["event"] == "start":
                started[(event["pid"], event["job"])] = event["time"]
            elif event["event"] == "end":
                total += event["time"] - started.pop((event["pid"], event["job"]))
    return round(total, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="swegen-raybench-") as scratch:
        root = Path(scratch)
        subprocess.run([str(BIN / "swegen"), "example", "create", str(root / "repo")], check=True, capture_output=True)
        configurations = [("local pool, --workers 1", 0, ["--workers", "1"]),
                          ("ray, 1 node x 1 slot, --workers 1", 1, ["--workers", "1"]),
                          ("ray, 2 nodes x 1 slot, --workers 2", 2, ["--workers", "2"]),
                          ("local pool, --workers 2", 0, ["--workers", "2"])]
        for index, (label, nodes, extra) in enumerate(configurations):
            cluster = None
            if nodes:
                cluster = start_cluster(root / f"c{nodes}", nodes)
                extra = [*extra, "--executor", "ray", "--ray-address", cluster[0]]
            try:
                row = {"configuration": label, **validate(root / "repo", root / f"run-{index}", args.candidates, *extra)}
                if nodes:
                    row["node_seconds"] = node_seconds(root / f"c{nodes}")
            finally:
                if cluster:
                    stop_cluster(cluster[1], cluster[2])
            print(json.dumps(row), flush=True)
            if args.out:
                with open(args.out, "a", encoding="utf-8") as handle:
                    handle.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
