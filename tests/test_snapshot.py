"""Each validation run starts from the task's snapshot (the project installed once, nothing else
run in it), what one run changes never reaches the next, validation gives the verdicts it gives
without snapshots, and no snapshot outlives its task or, once its owner is killed, `swegen clean`.

Real Docker, the bundled example repository mined in tmp_path, swegen's own validation code.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import run_cli
from swegen.cleanup import clean
from swegen.docker_sandbox import docker_client
from swegen.example import create_example, load_manifest
from swegen.sandbox import Limits
from swegen.snapshot import KIND, Snapshot, remove_abandoned, snapshots
from swegen.testbed import Container, Environments, git_archive
from swegen.validating import ValidateConfig, _needs_install, validate

pytestmark = [pytest.mark.docker, pytest.mark.timeout(1800)]

#: Is a distribution installed from the checkout? (the editable install's record of it)
INSTALLED = ("import importlib.metadata as m, sys; "
             "sys.exit(0 if any('file:///testbed' in (d.read_text('direct_url.json') or '') for d in m.distributions()) else 1)")
#: What a run may leave behind, each checked in the next run: a file in the checkout, a changed
#: source file, a file outside it, and the project uninstalled.
LEAKS = {
    "a new file in the checkout": ("touch /testbed/LEAKED", "test ! -e /testbed/LEAKED"),
    "a changed source file": ("echo 'raise SystemExit(3)' >> /testbed/src/ledger/__init__.py",
                              "! grep -q SystemExit /testbed/src/ledger/__init__.py"),
    "a file outside the checkout": ("mkdir -p /root/.cache && touch /root/.cache/leaked /tmp/leaked",
                                    "test ! -e /root/.cache/leaked && test ! -e /tmp/leaked"),
    "the project uninstalled": ("pip uninstall -y -q ledger", f"python -c \"{INSTALLED}\""),
}


@pytest.fixture(scope="module")
def mined(tmp_path_factory, base_image) -> Path:
    """The example mined (not validated) into a run folder."""
    root = tmp_path_factory.mktemp("snapshot")
    repo = create_example(root / "ledger")
    proc = run_cli("mine", str(repo), "-o", str(root / "mined"), "--no-validate", "--repo-name", "swegen-example/ledger")
    assert proc.returncode == 0, proc.stderr
    return root / "mined"


@pytest.fixture(scope="module")
def bed(mined):
    task = _task(mined, _kept(mined)[0])
    bed, _, error = Environments(mined, Path(json.loads((mined / "run.json").read_text())["repo_path"])).testbed(task, Limits())
    assert error is None and bed is not None, error
    return bed


def _kept(run: Path) -> list[str]:
    return [row["instance_id"] for row in map(json.loads, (run / "candidates.jsonl").read_text().splitlines()) if row.get("kept")]


def _task(run: Path, instance_id: str) -> dict:
    return json.loads((run / instance_id / "task.json").read_text())


def _image_of(container: Container) -> str:
    return docker_client().containers.get(container.box.container_id).attrs["Image"]


def _ours() -> list[str]:
    return [image.id for image in snapshots() if (image.labels or {}).get("swegen.pid") == str(os.getpid())]


def test_runs_start_from_the_snapshot_with_the_project_installed_and_nothing_run(bed):
    archive = git_archive(bed.repo, bed.base_commit)
    with Snapshot(bed, archive, "test-snapshot") as snapshot:
        assert snapshot.usable and snapshot.import_error is None, snapshot.import_error
        image = docker_client().images.get(snapshot.image)
        assert image.labels["swegen.kind"] == KIND and image.labels["swegen.pid"] == str(os.getpid())
        assert image.labels["swegen.instance"] == bed.instance_id
        with snapshot.take() as first, snapshot.take() as second:
            assert _image_of(second) == image.id  # the first is the very container that was committed
            for box in (first, second):
                assert box.box.exec(["python", "-c", INSTALLED], timeout=60).ok, "the project is not installed"
                # the source is the archive's, untouched: no patch applied, nothing compiled
                assert box.box.exec("test -z \"$(find /testbed -name __pycache__)\"", timeout=60).ok
                assert box.box.get("/testbed/src/ledger/money.py") == _member(archive, "src/ledger/money.py")
    # control: a fresh container of the environment image has the source but no install
    with Container(bed, archive, "test-snapshot") as fresh:
        assert not fresh.box.exec(["python", "-c", INSTALLED], timeout=60).ok, "the check cannot tell an install"
    assert snapshot.image is None and _ours() == [], "the snapshot outlived its task"


def _member(archive: bytes, name: str) -> bytes:
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        return tar.extractfile(name).read()  # type: ignore[union-attr]


def test_what_a_run_changes_never_reaches_the_next(bed):
    with Snapshot(bed, git_archive(bed.repo, bed.base_commit), "test-snapshot") as snapshot:
        with snapshot.take() as first:
            for what, (change, absent) in LEAKS.items():
                assert first.box.exec(change, timeout=120).ok, what
                # control: in the run that made it, the check sees the change
                assert not first.box.exec(absent, timeout=120).ok, f"the check cannot see {what}"
        for _ in range(2):  # the committed container is gone: these start from the image
            with snapshot.take() as run:
                for what, (change, absent) in LEAKS.items():
                    assert run.box.exec(absent, timeout=120).ok, f"{what} reached the next run"
                    assert run.box.exec(change, timeout=120).ok, what


def test_validation_with_snapshots_gives_the_verdicts_it_gives_without(mined, tmp_path):
    # two fixes, and the fix whose test passed before it (rejected: no FAIL_TO_PASS)
    passing = [c["subject"] for c in load_manifest()["changes"] if c["kind"] == "fix-test-already-passes"]
    ids = _kept(mined)
    rejected = [i for i in ids if _task(mined, i)["problem_statement"].startswith(tuple(passing))]
    assert len(rejected) == 1, rejected
    subset = [i for i in ids if i not in rejected][:2] + rejected
    runs = {}
    for snapshots_on in (True, False):
        run = Path(shutil.copytree(mined, tmp_path / f"snapshots-{snapshots_on}"))
        lines = (run / "candidates.jsonl").read_text().splitlines(keepends=True)
        (run / "candidates.jsonl").write_text("".join(line for line in lines if json.loads(line)["instance_id"] in subset))
        validate(ValidateConfig(run_dir=run, snapshots=snapshots_on))
        runs[snapshots_on] = run
    assert _ours() == [], "a snapshot outlived its task"
    verdicts = {on: _verdicts(run) for on, run in runs.items()}
    assert verdicts[True] == verdicts[False]
    assert len(verdicts[True]) == len(subset) and any(v["kept"] for v in verdicts[True].values())
    assert any(not v["kept"] for v in verdicts[True].values()), "no rejected candidate: the comparison is one-sided"
    for instance_id in subset:  # each way did what it says: one install per task, or one per run
        logs = {on: {p.name for p in (run / instance_id / "logs").iterdir()} for on, run in runs.items()}
        assert "install.txt" in logs[True] and not any(name.startswith("install-") for name in logs[True]), logs[True]
        assert "install.txt" not in logs[False] and "install-before.txt" in logs[False], logs[False]
    tasks = {on: [_strip(json.loads(line)) for line in (run / "tasks.jsonl").read_text().splitlines()] for on, run in runs.items()}
    assert tasks[True] == tasks[False] and tasks[True]


#: Which tests flip is random on the example (its planted flaky test), and timings are timings.
_VOLATILE = {"seconds", "flaky"}


def _strip(row: dict) -> dict:
    return {k: v for k, v in row.items() if k not in _VOLATILE}


def _verdicts(run: Path) -> dict[str, dict]:
    """Verdicts without what the flaky test decides at random (so the wording of a rejection:
    its code stays), as tests/test_crash.py compares them."""
    rows = {row["instance_id"]: _strip(row) for row in map(json.loads, (run / "validation.jsonl").read_text().splitlines())}
    for row in rows.values():
        row["reason"] = (row["reason"] or "").split(":")[0]
    return rows


_LEAVE_ONE_BEHIND = """
import json, os, socket, sys
if sys.argv[3] != "this":
    socket.gethostname = lambda: sys.argv[3]  # as a run on another machine sharing the daemon labels it
from swegen.snapshot import Snapshot
from swegen.testbed import Testbed, git_archive
bed = Testbed(**{**json.loads(sys.argv[1]), "limits": json.loads(sys.argv[2])})
snapshot = Snapshot(bed, git_archive(bed.repo, bed.base_commit), "test-snapshot")
snapshot.take().box.close()  # its container goes; the image stays, as after a kill
print(snapshot.image, flush=True)
os._exit(0)
"""


def _leave_one_behind(bed, host: str) -> str:
    import dataclasses

    fields = {k: v for k, v in dataclasses.asdict(bed).items() if k != "limits"}
    left = subprocess.run([sys.executable, "-c", _LEAVE_ONE_BEHIND, json.dumps(fields), json.dumps(bed.limits), host],
                          capture_output=True, text=True, timeout=600)
    assert left.returncode == 0, left.stderr
    return left.stdout.strip()


def _exists(tag: str) -> bool:
    return any(tag in (image.tags or []) for image in snapshots())


def test_a_killed_runs_snapshot_is_removed_by_clean_and_a_live_ones_kept(bed):
    here, elsewhere = _leave_one_behind(bed, "this"), _leave_one_behind(bed, "another-host.invalid")
    assert docker_client().images.get(elsewhere).labels["swegen.kind"] == KIND
    with Snapshot(bed, git_archive(bed.repo, bed.base_commit), "test-snapshot") as live:
        # the next validation on this host removes what a killed run of this host left (any
        # validation running beside this test may do it first), never another host's or a live one's
        remove_abandoned()
        assert not _exists(here), "a killed run's snapshot outlived the next validation"
        assert _exists(elsewhere) and docker_client().images.get(live.image)
        result = clean(dry_run=True)
        assert elsewhere in result.removed_snapshots and live.image in result.kept_snapshots and _exists(elsewhere)
        result = clean()
        assert elsewhere in result.removed_snapshots and live.image in result.kept_snapshots, result
        assert not _exists(elsewhere), "clean left the snapshot of a run it cannot see alive"
        assert docker_client().images.get(live.image), "clean removed a running validation's snapshot"


def test_patches_that_the_install_reads_are_installed_over():
    paths = frozenset({"src/pkg/__init__.py", "src/pkg/core.py", "tests/test_core.py"})

    def diff(path: str, new: bool = False) -> str:
        head = f"diff --git a/{path} b/{path}\n" + ("new file mode 100644\n--- /dev/null\n" if new else f"--- a/{path}\n")
        return head + f"+++ b/{path}\n@@ -{0 if new else 1},{0 if new else 1} +1 @@\n" + ("" if new else "-x = 1\n") + "+x = 2\n"

    assert not _needs_install("", paths, source_code=True)
    assert not _needs_install(diff("src/pkg/core.py"), paths, source_code=True)
    assert not _needs_install(diff("src/pkg/extra.py", new=True), paths, source_code=True)  # a module of a package
    assert not _needs_install(diff("tests/test_new.py", new=True), paths, source_code=False)  # a test file
    assert _needs_install(diff("src/newpkg/__init__.py", new=True), paths, source_code=True)  # a new package
    assert _needs_install(diff("setup.py"), paths, source_code=True)
    assert _needs_install(diff("src/pkg/speedups.c"), paths, source_code=True)
    assert _needs_install(diff("tests/setup.cfg"), paths, source_code=False)
