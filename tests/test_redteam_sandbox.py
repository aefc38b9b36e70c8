"""A hostile prediction cannot leave the sandbox, touch the host, or be graded resolved: every attack
on the sandbox and on patch application ends unresolved with a reason (never an infrastructure
error, which would take it out of the rates), and each defence has a control showing the attack
works where that defence is off.

Attacks through `swegen evaluate` run on the example's validated tasks (the shared demo run), one
predictions file per attack, grouped in a few evaluate calls; attacks that evaluate cannot express
probe the sandbox directly, with the evaluation's own limits. Controls never send traffic to a
non-loopback address: they read interfaces and routes only.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from conftest import run_cli
from swegen.example import load_manifest

pytestmark = pytest.mark.docker

MODEL = "attack-"
#: The evaluate calls' test timeout: the fork bomb and the sleeper run until it.
TIMEOUT = 12
SLEEP = 20
#: Tight limits for the resource attacks, so they are quick and kind to a shared Docker host.
TIGHT = dict(memory="512m", cpus=1.0, pids=128, disk="400m", file_size="4g")


# -- building hostile patches ------------------------------------------------------------------


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def tasks_by_change(out: Path) -> dict[str, dict]:
    subjects = {row["instance_id"]: row["subject"] for row in lines(out / "candidates.jsonl")}
    ids = {c["subject"]: c["id"] for c in load_manifest()["changes"]}
    return {ids[subjects[t["instance_id"]]]: t for t in lines(out / "tasks.jsonl")}


def new_file(path: str, text: str, mode: str = "100644") -> str:
    body = "".join(f"+{line}\n" for line in text.splitlines())
    end = "\\ No newline at end of file\n" if mode == "120000" else ""
    return f"diff --git a/{path} b/{path}\nnew file mode {mode}\n--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(text.splitlines())} @@\n{body}{end}"


def symlink(path: str, target: str) -> str:
    return new_file(path, target, mode="120000")


def append_hunk(out: Path, task: dict, path: str, added: str) -> str:
    """A diff appending the line `added` to `path` as it is at the task's base commit."""
    repo = json.loads((out / "run.json").read_text())["repo_path"]
    old = subprocess.run(["git", "-C", repo, "show", f"{task['base_commit']}:{path}"], capture_output=True, text=True, check=True).stdout.splitlines()
    context, start = old[-3:], len(old) - 2
    body = "".join(f" {c}\n" for c in context) + f"+{added}\n"
    return f"diff --git a/{path} b/{path}\n--- a/{path}\n+++ b/{path}\n@@ -{start},3 +{start},4 @@\n{body}"


def on_import(out: Path, task: dict, code: str, gold: bool = True) -> str:
    """The gold fix (or nothing) plus `code` run whenever the package is imported."""
    hook = new_file("src/ledger/_attack.py", textwrap.dedent(code)) + append_hunk(out, task, "src/ledger/__init__.py", "from ledger import _attack  # noqa: F401")
    return (task["patch"] if gold else "") + hook


def write_prediction(path: Path, model: str, instance_id: str, patch: str) -> str:
    path.write_text(json.dumps({"instance_id": instance_id, "model_name_or_path": model, "model_patch": patch}) + "\n")
    return str(path)


def results(out: Path, model: str) -> dict[str, dict]:
    return {row["instance_id"]: row for row in lines(out / "evaluations" / model / "results.jsonl")}


def host_processes() -> str:
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout


def leftover_containers(instance_id: str) -> list:
    from swegen.docker_sandbox import docker_client

    return docker_client().containers.list(all=True, filters={"label": f"swegen.instance={instance_id}"})


# -- the attacks, as predictions ---------------------------------------------------------------

FORK_BOMB = """
    import os, sys, time
    if "pytest" in sys.modules:
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(0.05)
"""
MEMORY_BOMB = """
    import sys
    if "pytest" in sys.modules:
        hoard = []
        for _ in range(128):
            hoard.append(bytearray(64 << 20))
"""
DISK_FILLER = """
    import os, sys
    if "pytest" in sys.modules:
        os.makedirs("/testbed/.fill", exist_ok=True)
        block = b"x" * (16 << 20)
        for i in range(512):
            with open(f"/testbed/.fill/{i}", "wb") as f:
                for _ in range(4):
                    f.write(block)
"""
SLEEPER = f"""
    import sys, time
    if "pytest" in sys.modules:
        time.sleep({SLEEP})
"""
KILL_ALL = """
    import os, signal, sys
    if "pytest" in sys.modules:
        os.kill(1, signal.SIGKILL)
        os.kill(-1, signal.SIGKILL)
"""


def outliver(marker: str) -> str:
    """Spawned by the install's import check, it waits for the test run and forges its report."""
    from swegen.languages.python.run import JUNIT_PATH

    daemon = (
        "import re, sys, time\n"
        "end = time.time() + 300\n"
        "while time.time() < end:\n"
        "    try:\n"
        f"        text = open({JUNIT_PATH!r}).read()\n"
        "    except OSError:\n"
        "        text = ''\n"
        "    if '<failure' in text or '<error' in text:\n"
        f"        open({JUNIT_PATH!r}, 'w').write(re.sub(r'<(failure|error)\\b.*?</\\1>', '', text, flags=re.S))\n"
        "    time.sleep(0.01)\n"
    )
    return f"""
    import subprocess, sys
    if "pytest" not in sys.modules:
        subprocess.Popen([sys.executable, "-c", {daemon!r}, {marker!r}], start_new_session=True,
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
"""


def escape(host: Path, name: str) -> str:
    """A relative path from /testbed/src/ledger that climbs to `host/name` (the host's path)."""
    return "../" * 12 + str(host / name).lstrip("/")


def patch_attacks(out: Path, task: dict, host: Path) -> dict[str, str]:
    gold = task["patch"]
    git_exclude = ("diff --git a/.git/info/exclude b/.git/info/exclude\n--- a/.git/info/exclude\n+++ b/.git/info/exclude\n"
                   "@@ -11,3 +11,5 @@\n build/\n dist/\n .eggs/\n+conftest.py\n+tests/conftest.py\n")
    force_pass = "import pytest\n\n\n@pytest.hookimpl(hookwrapper=True)\ndef pytest_runtest_makereport(item, call):\n    outcome = yield\n    outcome.get_result().outcome = 'passed'\n"
    row = "x" * 99 + "\n"
    return {
        "dotdot": gold + new_file("src/ledger/" + escape(host, "dotdot-pwned"), "pwned\n"),
        "absolute": gold + f"--- /dev/null\n+++ {host / 'absolute-pwned'}\n@@ -0,0 +1 @@\n+pwned\n",
        "symlink-out": gold + symlink("src/ledger/escape", str(host)),
        "symlink-write": gold + symlink("src/ledger/hop", escape(host, "")) + new_file("src/ledger/hop/through-pwned", "pwned\n"),
        "git-rewrite": git_exclude + new_file("conftest.py", force_pass),
        # a diff line, so that it is a patch to the predictions reader (text without one is bad input)
        "binary": "diff --git a/src/ledger/blob b/src/ledger/blob\n" + os.urandom(4096).decode("latin-1"),
        "malformed": "diff --git a/src/ledger/ledger.py b/src/ledger/ledger.py\n--- a/src/ledger/ledger.py\n+++ b/src/ledger/ledger.py\n@@ -1,3 +1,999 @@\n+only this\n",
        "huge": gold + new_file("src/ledger/_table.txt", row * (100 * 1024 * 1024 // len(row))),
    }


def huge_control(task: dict) -> str:
    """The 100 MB attack's shape at 1 MB."""
    row = "x" * 99 + "\n"
    return task["patch"] + new_file("src/ledger/_table.txt", row * (1024 * 1024 // len(row)))


@pytest.fixture(scope="module")
def host(tmp_path_factory) -> Path:
    """A host folder that the traversal attacks aim at by absolute path."""
    path = tmp_path_factory.mktemp("host-target")
    (path / "marker").write_text("the host\n")
    return path


@pytest.fixture(scope="module")
def attacked(demo_run, host, tmp_path_factory) -> dict:
    """Every evaluate-based attack, run at once: two CLI calls (the attacks, and the sleeper's
    control under a long timeout) beside an in-process call with tight limits (the bombs)."""
    from swegen.evaluating import EvaluateConfig, evaluate
    from swegen.sandbox import Limits

    out, _ = demo_run
    files = tmp_path_factory.mktemp("attacks")
    task = tasks_by_change(out)["fix-between-inclusive"]
    iid = task["instance_id"]
    marker = f"swegen-outliver-{secrets.token_hex(6)}"
    patches = patch_attacks(out, task, host)
    runtime = {"sleep": on_import(out, task, SLEEPER), "outliver": on_import(out, task, outliver(marker), gold=False),
               "kill-all": on_import(out, task, KILL_ALL, gold=False)}
    bombs = {"fork-bomb": on_import(out, task, FORK_BOMB), "memory-bomb": on_import(out, task, MEMORY_BOMB), "disk-filler": on_import(out, task, DISK_FILLER)}
    # not UTF-8: the predictions reader refuses the whole file (exit 2) before anything runs
    non_utf8 = run_cli("evaluate", str(out), "-p", write_prediction(files / "non-utf8.jsonl", MODEL + "non-utf8", iid, task["patch"] + new_file("src/ledger/_x.py", "x = '\ud800'\n")))
    started = time.monotonic()
    calls = [evaluate_cli(out, files, iid, patches), evaluate_cli(out, files, iid, runtime),
             evaluate_cli(out, files, iid, {"sleep-control": runtime["sleep"]}, timeout=120)]
    evaluate(EvaluateConfig(run_dir=out, predictions=tuple(write_prediction(files / f"{n}.jsonl", MODEL + n, iid, p) for n, p in bombs.items()),
                            timeout=TIMEOUT, workers=1, limits=Limits(**TIGHT)))
    for proc in calls:
        _, stderr = proc.communicate(timeout=900)
        assert proc.returncode == 0, stderr
    return {"out": out, "iid": iid, "marker": marker, "non_utf8": non_utf8, "seconds": time.monotonic() - started,
            "rows": {name: results(out, MODEL + name)[iid] for name in [*patches, *runtime, *bombs, "sleep-control"]}}


def evaluate_cli(out: Path, files: Path, iid: str, attacks: dict[str, str], timeout: float = TIMEOUT) -> subprocess.Popen:
    """`swegen evaluate` in the background, one predictions file per attack."""
    args = [a for name, patch in attacks.items() for a in ("-p", write_prediction(files / f"{name}.jsonl", MODEL + name, iid, patch))]
    return subprocess.Popen([sys.executable, "-m", "swegen", "evaluate", str(out), *args, "--timeout", str(timeout), "--workers", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def assert_unresolved_with_reason(row: dict) -> None:
    assert row["status"] == "unresolved" and not row["resolved"], row
    assert row["reason"] and "\n" not in row["reason"], row
    assert row["infra_error"] is None, row


# -- resource attacks --------------------------------------------------------------------------


def test_fork_bomb(attacked, make_box):
    """Defence: the pids limit (and the test timeout). Control: the same forking under a larger
    pids limit makes the processes the small limit refused."""
    assert_unresolved_with_reason(attacked["rows"]["fork-bomb"])
    assert not leftover_containers(attacked["iid"])
    forks = textwrap.dedent("""
        import os, time
        made = 0
        for _ in range(300):
            try:
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
            except OSError:
                break
            made += 1
        print(made)
    """)
    small = make_box(pids=64).exec(["python3", "-c", forks], timeout=60)
    large = make_box(pids=1024).exec(["python3", "-c", forks], timeout=60)
    assert int(small.stdout) < 64 and small.strays == int(small.stdout), small
    assert int(large.stdout) == 300 and large.strays == 300, large


def test_memory_bomb(attacked, make_box):
    """Defence: the memory limit, without swap. Control: the same hoarding under a larger limit
    holds what the small one refused."""
    assert_unresolved_with_reason(attacked["rows"]["memory-bomb"])
    hoard = "h = []\nfor i in range(8):\n    h.append(bytearray(64 << 20)); print(len(h) * 64, flush=True)\n"
    small = make_box(memory="256m").exec(["python3", "-c", hoard], timeout=60)
    large = make_box(memory="1g").exec(["python3", "-c", hoard], timeout=60)
    assert small.exit_code != 0 and int((small.stdout.split() or ["0"])[-1]) < 512
    assert large.ok and large.stdout.split()[-1] == "512"


def test_disk_filler(attacked, make_box):
    """Defence: the host watches the container's writable layer and kills its processes past
    Limits.disk. Control: under a larger limit the same filler writes it all."""
    assert_unresolved_with_reason(attacked["rows"]["disk-filler"])
    # paced, so that the host's look once a second sees it pass the small limit mid-way
    fill = "mkdir -p /tmp/fill; for i in $(seq 6); do head -c 67108864 /dev/zero > /tmp/fill/$i || exit 9; sleep 0.4; done; du -sm /tmp/fill"
    small = make_box(disk="100m").exec(fill, timeout=120)
    large = make_box(disk="1g").exec(fill, timeout=120)
    assert small.limit == "disk" and not small.ok and "disk" in small.stderr, small
    assert large.ok and large.limit is None and int(large.stdout.split()[0]) >= 384, large


def test_one_huge_file(make_box):
    """Defence: no file may pass Limits.file_size (the writer gets SIGXFSZ at once, before the disk
    check would see it). Control: a larger file_size lets the same write through."""
    write = "head -c 314572800 /dev/zero > /tmp/huge; echo rc=$?; stat -c %s /tmp/huge"
    small = make_box(file_size="100m").exec(write, timeout=60)
    large = make_box(file_size="1g").exec(write, timeout=60)
    assert "rc=153" in small.stdout and small.stdout.split()[-1] == str(100 << 20), small  # 128 + SIGXFSZ
    assert "rc=0" in large.stdout and large.stdout.split()[-1] == "314572800"


def test_a_process_that_outlives_its_command(attacked, make_box):
    """Defence: when a command returns, everything it left running is killed (and counted), and a
    container's removal kills the rest. The outliver, started by the install's import check, would
    forge the test report; it never sees the test run. Control: started through a plain
    `docker exec`, the same process is still alive after its command returned."""
    row = attacked["rows"]["outliver"]
    assert_unresolved_with_reason(row)
    assert not row.get("tampered") and "required tests fail" in row["reason"], row
    assert attacked["marker"] not in host_processes()
    box = make_box()
    tag = f"swegen-outlive-{secrets.token_hex(4)}"
    detach = f"(setsid python3 -c 'import time; time.sleep(600)' {tag} >/dev/null 2>&1 &); sleep 0.5; echo started"
    reaped = box.exec(detach, timeout=30)
    assert reaped.ok and reaped.strays == 1 and tag not in host_processes(), reaped
    api = box._client.api
    exec_id = api.exec_create(box.container_id, ["sh", "-c", detach])["Id"]
    api.exec_start(exec_id)
    time.sleep(0.5)
    assert tag in host_processes()  # the control: nothing killed it
    box.close()
    assert tag not in host_processes()  # gone with its container


def test_sleep_past_the_timeout(attacked):
    """Defence: the test run's timeout. Control: the same patch under a long timeout resolves (the
    sleep alone fails nothing)."""
    row = attacked["rows"]["sleep"]
    assert_unresolved_with_reason(row)
    assert "timed out" in row["reason"]
    assert attacked["rows"]["sleep-control"]["status"] == "resolved"


def test_killing_every_process_does_not_stop_the_container(attacked, base_image):
    """A run that kills its own container's processes would stop the container, and a stopped
    container is an infrastructure error, which leaves the rates. Defence: PID 1 is a keeper the
    kernel does not let code inside kill. Control: a container whose PID 1 is docker-init with a
    sleeping child (as before) stops when the same kill runs in it."""
    assert_unresolved_with_reason(attacked["rows"]["kill-all"])
    from swegen.docker_sandbox import docker_client

    client = docker_client()
    old = client.containers.run(base_image, ["sleep", "infinity"], init=True, detach=True, network_mode="none", labels={"swegen.test": "redteam"})
    try:
        old.exec_run(["sh", "-c", "kill -9 1; kill -9 -1"])
        time.sleep(1)
        old.reload()
        assert old.status != "running"
    finally:
        old.remove(force=True)


# -- the sandbox's walls -----------------------------------------------------------------------


@pytest.fixture
def make_box(base_image):
    """Sandboxes with the evaluation's limits (overridable), each removed after the test."""
    from swegen.docker_sandbox import DockerSandbox
    from swegen.evaluating import EvaluateConfig
    from swegen.sandbox import SandboxSpec

    made = []

    def factory(**limits):
        import dataclasses

        base = EvaluateConfig(run_dir=Path("."), predictions=()).limits
        box = DockerSandbox(SandboxSpec(image=base_image, limits=dataclasses.replace(base, **limits), labels={"swegen.test": "redteam"}))
        made.append(box)
        return box

    yield factory
    for box in made:
        box.close()


@pytest.fixture
def raw_container(base_image):
    """A container started without swegen's defences, for the controls (removed after the test)."""
    from swegen.docker_sandbox import docker_client

    made = []

    def factory(command: str, **options) -> str:
        container = docker_client().containers.run(base_image, ["sleep", "120"], detach=True, init=True, labels={"swegen.test": "redteam"}, **options)
        made.append(container)
        code, output = container.exec_run(["sh", "-c", command])
        return output.decode(errors="replace")

    yield factory
    for container in made:
        container.remove(force=True)


def test_no_route_out(make_box, raw_container):
    """Defence: no network (only loopback, no routes). Control: with networking on (the host's,
    since this daemon may have no bridge), the same reads show a real interface and a route."""
    read = "ls /sys/class/net; echo routes=$(tail -n +2 /proc/net/route | wc -l)"
    inside = make_box().exec(read, timeout=30).stdout.split()
    assert inside == ["lo", "routes=0"], inside
    outside = raw_container(read, network_mode="host").split()
    assert any(name != "lo" for name in outside[:-1]) and outside[-1] != "routes=0", outside


def test_no_name_resolution(make_box):
    """Defence: no network, so no resolver is reachable. Control: the same lookup of a name the
    sandbox holds locally (/etc/hosts) works, so the resolver itself runs."""
    probe = textwrap.dedent("""
        import socket
        for name in ("pypi.org", "localhost"):
            try:
                socket.getaddrinfo(name, 443)
                print(name, "resolved")
            except OSError as exc:
                print(name, "failed")
    """)
    result = make_box().exec(["python3", "-c", probe], timeout=60).stdout
    assert "pypi.org failed" in result and "localhost resolved" in result, result


def test_no_docker_socket(make_box, raw_container):
    """Defence: nothing of the host is mounted, the Docker socket least of all. Control: bind-
    mounted, the socket is there to be found (it is never used)."""
    find = "for s in /var/run/docker.sock /run/docker.sock; do [ -S $s ] && echo found $s; done; find / -xdev -type s 2>/dev/null | head -3; true"
    assert make_box().exec(find, timeout=60).stdout.strip() == ""
    assert "found /var/run/docker.sock" in raw_container(find, volumes={"/var/run/docker.sock": {"bind": "/var/run/docker.sock", "mode": "ro"}})


def test_no_host_processes_in_proc(make_box, raw_container):
    """Defence: a PID namespace of its own: /proc and /proc/1/root are the container's. Control: in
    the host's PID namespace the same read finds this very test process."""
    me = f"{os.getpid()}"
    read = f"cat /proc/1/cmdline | tr '\\0' ' '; echo; [ -e /proc/{me} ] && tr '\\0' ' ' < /proc/{me}/cmdline; echo; ls /proc/1/root/ | head -50"
    inside = make_box().exec(read, timeout=30).stdout
    assert inside.splitlines()[0].startswith("sh -c trap") and "pytest" not in inside
    assert "pytest" in raw_container(read, pid_mode="host")


def test_no_host_files(make_box, raw_container, host):
    """Defence: no host mounts; host paths named from inside are the container's own. Control:
    bind-mounted, the host folder's marker is read."""
    read = f"cat {host}/marker /proc/*/root{host}/marker 2>/dev/null; true"
    assert make_box().exec(read, timeout=30).stdout == ""
    assert "the host" in raw_container(read, volumes={str(host): {"bind": str(host), "mode": "ro"}})


def test_no_mounts_and_no_cgroup_writes(make_box, raw_container):
    """Defence: no CAP_SYS_ADMIN, and the cgroup controllers mounted read-only. Controls: with
    SYS_ADMIN the same mount succeeds; the same write succeeds on a writable path beside them."""
    write = "for f in {}; do (echo 999999 > $f) 2>/dev/null && echo wrote $f; done; true"
    limits = "/sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes"
    mount = "mkdir -p /mnt/x && mount -t tmpfs none /mnt/x && echo mounted; true"
    box = make_box()
    assert box.exec(mount, timeout=30).stdout == ""
    assert box.exec(write.format(limits), timeout=30).stdout == ""
    assert "mounted" in raw_container(mount, cap_add=["SYS_ADMIN"])
    # the same write works where the file system allows it (the container's own tmpfs above them)
    assert "wrote /sys/fs/cgroup/probe" in box.exec(write.format("/sys/fs/cgroup/probe"), timeout=30).stdout


def test_no_view_of_other_containers(make_box, raw_container):
    """Defence: each sandbox has its own mount and PID namespaces. Control: a container that joins
    the first one's PID namespace reads its secret through /proc/1/root."""
    secret = f"secret-{secrets.token_hex(6)}"
    first, second = make_box(), make_box()
    first.put(f"/testbed/{secret}", b"private\n")
    look = f"cat /proc/*/root/testbed/{secret} 2>/dev/null; find / -xdev -name {secret} 2>/dev/null; true"
    assert second.exec(look, timeout=60).stdout == ""
    assert "private" in raw_container(look, pid_mode=f"container:{first.container_id}", cap_add=["SYS_PTRACE"])


def test_capabilities_are_dropped(make_box, raw_container):
    """Defence: cap_drop ALL but file ownership: no raw sockets, no device nodes. Control: with
    Docker's default capabilities the same calls succeed (a raw socket is opened, never used)."""
    attempt = ("python3 -c 'import socket; socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); print(\"raw socket\")' 2>/dev/null; "
               "mknod /tmp/dev0 c 1 3 2>/dev/null && echo mknod; grep CapEff /proc/self/status")
    inside = make_box().exec(attempt, timeout=30).stdout
    assert "raw socket" not in inside and "mknod" not in inside and inside.split()[-1] == "00000000000000db", inside
    outside = raw_container(attempt, network_mode="none")
    assert "raw socket" in outside and "mknod" in outside


# -- patch application -------------------------------------------------------------------------


def refused(row: dict, words: str) -> None:
    assert_unresolved_with_reason(row)
    assert not row["patch_successfully_applied"] and "refused" in row["reason"] and words in row["reason"], row


def nothing_written(host: Path) -> None:
    assert sorted(p.name for p in host.iterdir()) == ["marker"]


def test_dotdot_paths(attacked, host, tmp_path):
    """Defence: a '..' climbing out of the tree is refused. Control: git apply with its own path
    check off (--unsafe-paths) writes the same file outside the tree."""
    refused(attacked["rows"]["dotdot"], "'..'")
    nothing_written(host)
    tree, outside = scratch(tmp_path)
    relative = "../outside/dotdot-pwned"
    diff = new_file(relative, "pwned\n")
    apply(tree, diff, ["git", "apply", "--unsafe-paths"])
    assert (outside / "dotdot-pwned").exists()


def test_absolute_paths(attacked, host, tmp_path):
    """Defence: absolute paths are refused. Control: git apply --unsafe-paths -p0 writes there."""
    refused(attacked["rows"]["absolute"], "absolute path")
    nothing_written(host)
    tree, outside = scratch(tmp_path)
    apply(tree, f"--- /dev/null\n+++ {outside / 'absolute-pwned'}\n@@ -0,0 +1 @@\n+pwned\n", ["git", "apply", "--unsafe-paths", "-p0"])
    assert (outside / "absolute-pwned").exists()


def test_symlink_out_of_the_tree(attacked, host, tmp_path):
    """Defence: a symlink whose target leaves the tree is refused. Control: plain patch -p1 makes it."""
    refused(attacked["rows"]["symlink-out"], "symlink")
    nothing_written(host)
    tree, outside = scratch(tmp_path)
    apply(tree, symlink("escape", str(outside)), ["patch", "--batch", "-p1"])
    assert (tree / "escape").is_symlink() and (tree / "escape").resolve() == outside.resolve()


def test_symlink_then_a_write_through_it(attacked, host, tmp_path):
    """Defence: refused (the link leaves the tree, and the patch writes beneath its own link).
    Control: the link plain patch -p1 makes carries a later write out of the tree."""
    refused(attacked["rows"]["symlink-write"], "symlink")
    nothing_written(host)
    tree, outside = scratch(tmp_path)
    apply(tree, symlink("hop", "../outside"), ["patch", "--batch", "-p1"])
    (tree / "hop" / "through-pwned").write_text("pwned\n")
    assert (outside / "through-pwned").exists()


def test_a_patch_that_rewrites_git(attacked, tmp_path):
    """Defence: nothing under .git is applied. Control: with the old apply chain (git apply refuses,
    patch -p1 takes it), the rewritten .git/info/exclude hides a new conftest.py from git status,
    which the revert of test edits relies on."""
    refused(attacked["rows"]["git-rewrite"], ".git")
    tree, _ = scratch(tmp_path)
    for command in (["git", "init", "-q"], ["sh", "-c", "printf '__pycache__/\\n*.pyc\\n*.egg-info/\\n.pytest_cache/\\nbuild/\\ndist/\\n.eggs/\\n' >> .git/info/exclude"],
                    ["git", "add", "-A"], ["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "base"]):
        subprocess.run(command, cwd=tree, check=True)
    diff = ("diff --git a/.git/info/exclude b/.git/info/exclude\n--- a/.git/info/exclude\n+++ b/.git/info/exclude\n"
            "@@ -11,3 +11,5 @@\n build/\n dist/\n .eggs/\n+conftest.py\n+tests/conftest.py\n") + new_file("conftest.py", "import pytest\n")
    assert subprocess.run(["git", "apply"], cwd=tree, input=diff, text=True, capture_output=True).returncode != 0
    apply(tree, diff, ["patch", "--batch", "--forward", "--fuzz=0", "-p1"])
    status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"], cwd=tree, capture_output=True, text=True, check=True).stdout
    assert (tree / "conftest.py").exists() and "conftest.py" not in status


def test_binary_garbage(attacked):
    """Defence: binary data is refused before any tool reads it. Control: check_patch passes the
    task's own gold patch (the check is not refusing everything)."""
    from swegen.patching import check_patch

    refused(attacked["rows"]["binary"], "binary")
    out = attacked["out"]
    assert all(check_patch(t["patch"]) is None and check_patch(t["test_patch"]) is None for t in lines(out / "tasks.jsonl"))


def test_malformed_patch(attacked):
    """A diff whose hunk is cut short: every tool refuses it, and that is unresolved with the tool's
    reason, not an error. Control: the gold patch, well formed, applies (the gold baseline)."""
    row = attacked["rows"]["malformed"]
    assert_unresolved_with_reason(row)
    assert "does not apply" in row["reason"] and not row["patch_successfully_applied"]
    gold = results(attacked["out"], "gold")[attacked["iid"]]
    assert gold["status"] == "resolved" and gold["patch_successfully_applied"]


def test_non_utf8_patch(attacked, tmp_path):
    """Defence: a patch that is not UTF-8 (here a lone surrogate escape, which crashed evaluate
    when it hashed the patch) is bad input: one line, exit 2, nothing written; and patching refuses
    it too, should another caller pass one. Control: the same patch in real UTF-8 is read."""
    from swegen.patching import check_patch
    from swegen.predictions import read_predictions

    proc = attacked["non_utf8"]
    assert proc.returncode == 2 and "not UTF-8" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert not (attacked["out"] / "evaluations" / (MODEL + "non-utf8")).exists()
    assert "not text" in check_patch(new_file("src/ledger/_x.py", "x = '\ud800'\n"))
    path = Path(write_prediction(tmp_path / "utf8.jsonl", "m", attacked["iid"], new_file("src/ledger/_x.py", "x = '\u00e9'\n")))
    assert read_predictions(path)[0].model_patch.endswith("x = '\u00e9'\n")


def test_a_100_mb_patch(attacked):
    """Defence: a size limit (10 MB) before the patch is copied anywhere. Control: the same patch
    shape at 1 MB passes the check."""
    from swegen.patching import check_patch

    refused(attacked["rows"]["huge"], "MB limit")
    task = tasks_by_change(attacked["out"])["fix-between-inclusive"]
    assert check_patch(huge_control(task)) is None


def test_no_attack_was_resolved_or_left_anything(attacked, host):
    """The summary over every attack: none resolved, none an error, no container left behind."""
    controls = ("sleep-control",)
    rows = {name: row for name, row in attacked["rows"].items() if name not in controls}
    assert len(rows) >= 14
    assert [n for n, r in rows.items() if r["status"] != "unresolved"] == []
    assert not leftover_containers(attacked["iid"])
    nothing_written(host)
    print(f"attacks through evaluate: {len(rows)}, {attacked['seconds']:.0f}s")


# -- helpers for the controls ------------------------------------------------------------------


def scratch(tmp_path: Path) -> tuple[Path, Path]:
    """A scratch tree and a folder beside it, outside any sandbox."""
    tree, outside = tmp_path / "tree", tmp_path / "outside"
    tree.mkdir()
    outside.mkdir()
    (tree / "a.py").write_text("x = 1\n")
    return tree, outside


def apply(tree: Path, diff: str, command: list[str]) -> None:
    proc = subprocess.run(command, cwd=tree, input=diff, text=True, capture_output=True)  # the diff on stdin
    assert proc.returncode == 0, proc.stdout + proc.stderr
