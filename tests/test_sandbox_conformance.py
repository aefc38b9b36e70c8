"""Every sandbox implementation runs commands, enforces limits, moves files and leaves nothing behind."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import tarfile
import textwrap
import time

import pytest

from swegen.docker_sandbox import DockerSandbox, docker_client, list_managed
from swegen.errors import ImageMissing, SandboxError
from swegen.sandbox import Limits, Sandbox, SandboxSpec

pytestmark = pytest.mark.docker

#: Implementations under test, and what each is known to do differently (none yet).
IMPLEMENTATIONS = {"docker": DockerSandbox}
KNOWN_DIFFERENCES: dict[str, set[str]] = {"docker": set()}


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def make(request, base_image):
    """A factory for sandboxes of one implementation, each closed after the test."""
    cls = IMPLEMENTATIONS[request.param]
    made: list[Sandbox] = []

    def factory(**limits) -> Sandbox:
        box = cls(SandboxSpec(image=base_image, limits=Limits(**limits), labels={"swegen.test": "conformance"}))
        made.append(box)
        return box

    yield factory
    for box in made:
        box.close()


def test_is_a_sandbox(make):
    assert isinstance(make(), Sandbox)


def test_exec_returns_output_and_exit_code(make):
    box = make()
    result = box.exec("echo out; echo err >&2; exit 3", timeout=30)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.timed_out and not result.ok
    ok = box.exec(["python3", "-c", "import sys; print(sys.argv[1])", "a b"], timeout=30)
    assert ok.ok and ok.stdout == "a b\n"


def test_exec_workdir_and_env(make):
    box = make()
    result = box.exec("pwd; echo $GREETING", timeout=30, workdir="/tmp", env={"GREETING": "hi"})
    assert result.stdout.split() == ["/tmp", "hi"]
    assert box.exec("pwd", timeout=30).stdout.strip() == "/testbed"


def test_timeout_kills_a_hung_command_and_its_children(make):
    box = make()
    started = time.monotonic()
    result = box.exec("sleep 300 & sleep 300; echo never", timeout=2)
    assert result.timed_out
    assert "never" not in result.stdout
    assert time.monotonic() - started < 20
    left = box.exec("cat /proc/[0-9]*/cmdline 2>/dev/null | tr '\\0' ' ' | grep -c 'sleep 30[0]' || true", timeout=30)
    assert left.stdout.strip() == "0"


def test_network_is_off_by_default(make):
    box = make()
    probe = textwrap.dedent(
        """
        import socket
        try:
            socket.create_connection(("1.1.1.1", 443), timeout=5)
            print("connected")
        except OSError as exc:
            print("blocked", exc)
        try:
            socket.getaddrinfo("pypi.org", 443)
            print("resolved")
        except OSError:
            print("no dns")
        """
    )
    result = box.exec(["python3", "-c", probe], timeout=30)
    assert "blocked" in result.stdout and "no dns" in result.stdout, result.stdout


def test_memory_limit_is_enforced(make):
    box = make(memory="128m")
    result = box.exec(["python3", "-c", "b = bytearray(512 * 1024 * 1024); print('allocated')"], timeout=60)
    assert result.exit_code != 0
    assert "allocated" not in result.stdout


def test_pids_limit_stops_a_fork_bomb(make):
    box = make(pids=40)
    result = box.exec("for i in $(seq 100); do sleep 30 & done; echo started", timeout=20)
    assert "Resource temporarily unavailable" in result.stderr or "fork" in result.stderr.lower()


def test_files_go_in_and_out(make):
    box = make()
    payload = bytes(range(256)) * 100
    box.put("/testbed/deep/dir/blob.bin", payload)
    assert box.get("/testbed/deep/dir/blob.bin") == payload
    box.put("/testbed/run.sh", b"#!/bin/sh\necho ran\n", mode=0o755)
    assert box.exec("./run.sh", timeout=30).stdout == "ran\n"
    assert box.exec("cat deep/dir/blob.bin | wc -c", timeout=30).stdout.strip() == str(len(payload))


def test_tar_streams_go_in_and_out(make):
    box = make()
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, text in {"pkg/__init__.py": b"X = 1\n", "pkg/sub/mod.py": b"Y = 2\n"}.items():
            info = tarfile.TarInfo(name)
            info.size = len(text)
            tar.addfile(info, io.BytesIO(text))
    box.put_archive("/testbed/src", buffer.getvalue())
    assert box.exec("python3 -c 'import pkg.sub.mod as m; print(m.Y)'", timeout=30, workdir="/testbed/src").stdout == "2\n"
    with tarfile.open(fileobj=io.BytesIO(box.get_archive("/testbed/src/pkg"))) as tar:
        names = sorted(tar.getnames())
    assert "pkg/sub/mod.py" in names and "pkg/__init__.py" in names


def test_getting_a_missing_file_raises(make):
    box = make()
    with pytest.raises(SandboxError):
        box.get("/nonexistent/file")


def test_output_is_capped_not_unbounded(make, monkeypatch):
    import swegen.docker_sandbox as ds

    monkeypatch.setattr(ds, "OUTPUT_CAP", 1000)
    box = make()
    result = box.exec("head -c 100000 /dev/zero | tr '\\0' x", timeout=30)
    assert result.stdout.startswith("x" * 1000)
    assert "99000 more bytes of output dropped" in result.stdout


def _containers_labelled(key: str, value: str) -> list:
    return docker_client().containers.list(all=True, filters={"label": f"{key}={value}"})


def test_nothing_left_after_success_or_error(base_image):
    spec = SandboxSpec(image=base_image, labels={"swegen.test": "cleanup-ok"})
    with DockerSandbox(spec) as box:
        assert box.exec("true", timeout=10).ok
    with pytest.raises(RuntimeError):
        with DockerSandbox(SandboxSpec(image=base_image, labels={"swegen.test": "cleanup-error"})):
            raise RuntimeError("boom")
    assert _containers_labelled("swegen.test", "cleanup-ok") == []
    assert _containers_labelled("swegen.test", "cleanup-error") == []


CHILD = """
import faulthandler, signal, sys, time
faulthandler.register(signal.SIGUSR1, all_threads=True)  # where it hangs, if it ever does
from swegen.docker_sandbox import DockerSandbox
from swegen.sandbox import SandboxSpec
with DockerSandbox(SandboxSpec(image=sys.argv[1], labels={"swegen.test": sys.argv[2]})) as box:
    print("ready", flush=True)
    box.exec("sleep 120", timeout=200)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_nothing_left_after_interrupt(base_image, signum):
    label = f"interrupt-{signum}-{os.getpid()}"
    wrapper = CHILD if signum == signal.SIGINT else (
        "import signal\nsignal.signal(signal.SIGTERM, lambda *a: (_ for _ in ()).throw(KeyboardInterrupt()))\n" + CHILD
    )
    child = subprocess.Popen([sys.executable, "-c", wrapper, base_image, label], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    assert len(_containers_labelled("swegen.test", label)) == 1
    time.sleep(1)
    child.send_signal(signum)
    try:
        child.wait(timeout=60)
    except subprocess.TimeoutExpired:
        # Once in CI (stop 20, a loaded machine) the child did not exit within 60 s; 27 tries
        # with the signal at random moments under load did not repeat it. Its threads' stacks
        # go to the captured stderr, so that a next time says where it hung.
        child.send_signal(signal.SIGUSR1)
        time.sleep(2)
        child.kill()
        pytest.fail(f"the sandbox's process did not exit within 60 s of signal {signum} (stacks in the captured stderr)")
    assert _containers_labelled("swegen.test", label) == []


def test_missing_image_is_a_user_error():
    with pytest.raises(ImageMissing) as info:
        DockerSandbox(SandboxSpec(image="swegen-no-such-image:nope"))
    assert "build" in info.value.hint or "pull" in info.value.hint


def test_clean_removes_leftovers_of_a_crashed_run(base_image):
    from swegen.cleanup import clean

    label = f"crashed-{os.getpid()}"
    crash = CHILD.replace('print("ready", flush=True)', 'import os; os._exit(9)')
    subprocess.run([sys.executable, "-c", crash, base_image, label], timeout=60)
    assert len(_containers_labelled("swegen.test", label)) == 1, "a crash without cleanup leaves its container"
    result = clean()
    assert _containers_labelled("swegen.test", label) == []
    assert result.removed_containers
    assert all(c.labels.get("swegen.test") != label for c in list_managed())


def test_clean_leaves_a_running_image_build_step_alone(base_image):
    """A build step's container inherits the base image's swegen labels but is no sandbox."""
    from swegen.cleanup import clean
    from swegen.docker_sandbox import LABEL_PID, docker_client

    client = docker_client()
    step = client.containers.run(base_image, ["sleep", "60"], detach=True, labels={"swegen.test": f"build-{os.getpid()}"})
    try:
        assert step.labels.get("swegen.managed") == "true" and LABEL_PID not in step.labels
        result = clean()
        step.reload()
        assert step.status == "running" and step.short_id in result.kept_in_use
    finally:
        step.remove(force=True)
