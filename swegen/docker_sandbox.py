"""The Docker implementation of the sandbox Protocol, on the docker SDK.

Containers start with no network (unless asked), memory, CPU and pids limits, and labels that
`swegen clean` uses to find leftovers. Every command runs under GNU `timeout` inside the
container, so a hung process is killed there; the host also stops waiting shortly after, so a
wedged daemon cannot hang swegen. Containers are removed on close, on error, on Ctrl-C, and at
interpreter exit as a last resort.

What runs inside is untrusted, and root there, so the container is built to hold it: PID 1 is a
tiny shell loop that code inside cannot kill (the kernel ignores signals to a namespace's init
that it does not handle), that reaps orphans, and that on SIGUSR1 from the host kills every other
process, which is how nothing a command starts outlives it; every capability is dropped but the
few that file ownership needs; one file may not grow past `Limits.file_size`; and while a command
runs, the host checks what the container has written (Docker's SizeRw) and kills its processes
past `Limits.disk`, since Docker's own size limit needs xfs with project quotas.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime as dt
import io
import os
import shlex
import socket
import tarfile
import signal
import threading
import time
from typing import Any, Sequence

from swegen.errors import DockerUnavailable, ImageMissing, SandboxError
from swegen.sandbox import TIMEOUT_EXIT_CODES, ExecResult, SandboxSpec, size_bytes

LABEL_MANAGED = "swegen.managed"
LABEL_PID = "swegen.pid"
LABEL_HOST = "swegen.host"
LABEL_CREATED = "swegen.created"

#: Output kept per stream; the rest is dropped with a marker, so a chatty test cannot eat memory.
OUTPUT_CAP = 8 * 1024 * 1024
#: Seconds GNU timeout waits after TERM before it sends KILL.
KILL_GRACE = 5
#: Extra seconds the host waits past the in-container timeout before it declares the sandbox broken.
HOST_GRACE = 30
#: PID 1 of every sandbox: unkillable from inside, reaps orphans, kills all else on SIGUSR1.
KEEPER = ("trap 'kill -9 -1; kill -9 -1; kill -9 -1' USR1; trap '' HUP INT QUIT TERM USR2 PIPE; "
          "while :; do sleep 86400 & wait; done")
KEEPER_SLEEP = "sleep 86400"
#: File ownership and modes, which package installs and test suites change as root. Not among
#: them: raw sockets, mknod, chroot, binding low ports, setting file capabilities, audit writes.
CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID", "SETGID", "SETUID"]
#: Seconds between two looks at how much a running command has written to disk.
DISK_POLL = 1.0

_live: set[str] = set()
_live_lock = threading.Lock()

START_HINT = (
    "start Docker (`bash scripts/setup.sh` installs and starts one; or `dockerd &`), "
    "or point DOCKER_HOST at a daemon"
)


#: The client of this process, by process id: a client (its pooled connection to the daemon) is
#: never shared with a forked worker. Two workers writing requests on one inherited socket
#: interleave them, and the daemon answers "400 Bad Request" or "invalid character" to both.
_CLIENTS: dict[int, Any] = {}
_CLIENTS_LOCK = threading.Lock()


def docker_client() -> Any:
    """This process's docker SDK client, which has answered a ping; raises DockerUnavailable otherwise."""
    pid = os.getpid()
    client = _CLIENTS.get(pid)
    if client is not None:
        return client
    with _CLIENTS_LOCK:
        if pid not in _CLIENTS:
            try:
                import docker

                client = docker.from_env(timeout=600)
                client.ping()
            except Exception as exc:  # the SDK raises many types for "no daemon"
                raise DockerUnavailable(
                    "Docker daemon is not reachable", hint=START_HINT, detail=repr(exc)
                ) from exc
            _CLIENTS.clear()  # a parent's client, inherited through fork: not ours to use
            _CLIENTS[pid] = client
        return _CLIENTS[pid]


def _forget_client_in_child() -> None:
    global _CLIENTS_LOCK
    _CLIENTS.clear()
    _CLIENTS_LOCK = threading.Lock()  # a parent thread may have held it at the fork


os.register_at_fork(after_in_child=_forget_client_in_child)


def _remove_leftovers() -> None:
    with _live_lock:
        ids = list(_live)
    for container_id in ids:
        try:
            docker_client().containers.get(container_id).remove(force=True)
        except Exception:
            pass  # at exit nothing useful can be done with a failure


atexit.register(_remove_leftovers)


@contextlib.contextmanager
def _daemon_calls(what: str) -> Any:
    """Turn the SDK's own exceptions (the daemon went away, restarted, or answered with an error)
    into SandboxError, so that every stage records an infrastructure error instead of crashing."""
    import docker.errors
    import requests.exceptions

    try:
        yield
    except (docker.errors.DockerException, requests.exceptions.RequestException, ConnectionError) as exc:
        raise SandboxError(f"the Docker daemon failed while {what}", hint="check the Docker daemon (`swegen doctor`)", detail=repr(exc)) from exc


def _daemon_gone(exc: BaseException) -> bool:
    """Did a request fail because no daemon answers (rather than because it refused)?"""
    import requests.exceptions

    return isinstance(exc, (requests.exceptions.ConnectionError, requests.exceptions.Timeout, ConnectionError))


def _wrap(cmd: str | Sequence[str], timeout: float) -> list[str]:
    """The argv that runs `cmd` under GNU timeout inside the container."""
    argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    return ["timeout", "-k", str(KILL_GRACE), f"{max(timeout, 0.1):.3f}", *argv]


class SandboxStopped(SandboxError):
    """The container stopped under a running command: the daemon restarted, or it was killed.

    The stage decides whose failure it is: code under test can stop its own container too."""


class DockerSandbox:
    """One container. Use as a context manager; `close()` removes it."""

    def __init__(self, spec: SandboxSpec) -> None:
        self.spec = spec
        self._client = docker_client()
        self._container = self._start(spec)

    # -- lifecycle -------------------------------------------------------------------------

    def _start(self, spec: SandboxSpec) -> Any:
        import docker.errors
        import docker.types

        limits = spec.limits
        labels = {
            LABEL_MANAGED: "true",
            LABEL_PID: str(os.getpid()),
            LABEL_HOST: socket.gethostname(),
            LABEL_CREATED: dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            **spec.labels,
        }
        try:
            container = self._client.containers.create(
                spec.image,
                command=["sh", "-c", KEEPER],
                detach=True,
                init=False,  # the keeper is init: docker-init would exit when its child is killed
                labels=labels,
                working_dir=spec.workdir,
                environment=spec.env,
                network_mode="bridge" if limits.network else "none",
                mem_limit=limits.memory,
                memswap_limit=limits.memory,
                nano_cpus=int(limits.cpus * 1e9),
                pids_limit=limits.pids,
                security_opt=["no-new-privileges"],
                cap_drop=["ALL"],
                cap_add=CAPABILITIES,
                ulimits=[docker.types.Ulimit(name="fsize", soft=size_bytes(limits.file_size), hard=size_bytes(limits.file_size))],
            )
        except docker.errors.ImageNotFound as exc:
            raise ImageMissing(
                f"image {spec.image} is not present",
                hint="build it with `swegen images build-base` (or `docker pull` it if you have a registry)",
            ) from exc
        except docker.errors.APIError as exc:
            raise SandboxError("Docker refused to create a container", hint=START_HINT, detail=str(exc)) from exc
        except Exception as exc:  # the daemon went away: the SDK raises requests' errors then
            raise SandboxError("lost the Docker daemon while creating a container", hint=START_HINT, detail=repr(exc)) from exc
        with _live_lock:
            _live.add(container.id)
        try:
            with _daemon_calls("starting a container"):
                container.start()
                container.reload()
            self._init_pid = container.attrs["State"]["Pid"]  # the keeper, as the host numbers it
            self._mkdir(container, spec.workdir)
        except BaseException:
            self._remove(container)
            raise
        return container

    def _mkdir(self, container: Any, path: str) -> None:
        with _daemon_calls(f"creating {path} in the sandbox"):
            code, out = container.exec_run(["mkdir", "-p", path])
        if code != 0:
            raise SandboxError(f"could not create {path} in the sandbox", detail=out.decode(errors="replace"))

    def _remove(self, container: Any) -> None:
        try:
            container.remove(force=True)
        except Exception as exc:
            if _daemon_gone(exc):
                # The daemon is down: what the container did stands (a verdict is not lost for
                # it); it is removed at exit if the daemon is back, else by `swegen clean`.
                return
            if "No such container" not in str(exc) and "404" not in str(exc):
                raise SandboxError("could not remove a sandbox container", detail=str(exc)) from exc
        with _live_lock:
            _live.discard(container.id)

    def close(self) -> None:
        if self._container is not None:
            container, self._container = self._container, None
            self._remove(container)

    def __enter__(self) -> "DockerSandbox":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def container_id(self) -> str:
        return self._live().id

    def _live(self) -> Any:
        if self._container is None:
            raise SandboxError("the sandbox is closed")
        return self._container

    # -- exec ------------------------------------------------------------------------------

    def exec(
        self,
        cmd: str | Sequence[str],
        timeout: float,
        *,
        workdir: str | None = None,
        env: dict[str, str] | None = None,
    ) -> ExecResult:
        container = self._live()
        api = self._client.api
        started = time.monotonic()
        with _daemon_calls("starting a command in the sandbox"):
            exec_id = api.exec_create(
                container.id,
                _wrap(cmd, timeout),
                workdir=workdir or self.spec.workdir,
                environment=env or {},
                stdout=True,
                stderr=True,
            )["Id"]
        out, err = _Capped(), _Capped()
        failure: list[BaseException] = []

        def pump() -> None:
            # Signals go to the waiting main thread, never to this one: a SIGINT delivered here,
            # in a socket read, left the main thread waiting in join() (CPython 3.11).
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
            try:
                for chunk_out, chunk_err in api.exec_start(exec_id, stream=True, demux=True):
                    out.add(chunk_out)
                    err.add(chunk_err)
            except BaseException as exc:  # surfaced in the calling thread
                failure.append(exc)

        reader = threading.Thread(target=pump, daemon=True, name="swegen-exec")
        reader.start()
        limit = self._wait(reader, timeout + KILL_GRACE + HOST_GRACE)
        duration = time.monotonic() - started
        if reader.is_alive():
            self.close()
            raise SandboxError(
                f"a command did not return {timeout + KILL_GRACE + HOST_GRACE:.0f}s after its timeout; "
                "the sandbox was removed",
                hint="check the Docker daemon (`swegen doctor`)",
                detail=_describe(cmd),
            )
        if failure:
            raise SandboxError("lost the connection to the sandbox", hint="check the Docker daemon", detail=repr(failure[0]))
        with _daemon_calls("reading a command's exit code"):
            code = api.exec_inspect(exec_id).get("ExitCode")
            # A failing command is a result only while its container lives: a daemon restart
            # (or a kill from outside) stops the container and fails whatever ran in it.
            stopped = code != 0 and not api.inspect_container(container.id)["State"].get("Running")
        if code is None:
            raise SandboxError("Docker did not report an exit code", detail=_describe(cmd))
        if stopped:
            raise SandboxStopped(
                "the sandbox container stopped while a command ran in it",
                hint="check the Docker daemon (it may have restarted)",
                detail=_describe(cmd),
            )
        timed_out = code in TIMEOUT_EXIT_CODES and duration >= timeout
        strays = self._reap()
        stderr = err.text()
        if limit == "disk":
            stderr += f"\n[swegen: the sandbox wrote more than {self.spec.limits.disk} to disk; its processes were killed]\n"
        return ExecResult(code, out.text(), stderr, timed_out, duration, strays, limit)

    # -- what untrusted commands may not do ---------------------------------------------------

    def _wait(self, reader: threading.Thread, seconds: float) -> str | None:
        """Wait for a command, checking its disk use; "disk" when it went past the limit."""
        cap = size_bytes(self.spec.limits.disk) if self.spec.limits.disk else 0
        deadline, limit = time.monotonic() + seconds, None
        while reader.is_alive() and time.monotonic() < deadline:
            reader.join(min(DISK_POLL, max(deadline - time.monotonic(), 0)))
            if cap and limit is None and reader.is_alive() and self.disk_used() > cap:
                limit = "disk"
                self._kill_all()
        return limit

    def disk_used(self) -> int:
        """Bytes this container has written to its file system (its writable layer)."""
        with _daemon_calls("measuring the sandbox's disk use"):
            rows = self._client.api.containers(all=True, size=True, filters={"id": self._live().id})
        return int(rows[0].get("SizeRw") or 0) if rows else 0

    def _others(self) -> list[list[str]]:
        """The container's processes other than its keeper (PID 1) and the keeper's sleep."""
        with _daemon_calls("listing the sandbox's processes"):
            top = self._client.api.top(self._live().id, ps_args="-eo pid,ppid,args")
        titles = [t.upper() for t in top.get("Titles", [])]
        pid_at, ppid_at, cmd_at = titles.index("PID"), titles.index("PPID"), len(titles) - 1
        rows = top.get("Processes") or []
        init = str(self._init_pid)
        others = [r for r in rows if r[pid_at] != init]
        keeper = [r for r in others if r[ppid_at] == init and r[cmd_at] == KEEPER_SLEEP]
        return [r for r in others if r not in keeper[:1]]

    def _kill_all(self) -> None:
        """Have the keeper kill every other process (it restarts its own sleep)."""
        with _daemon_calls("stopping the sandbox's processes"):
            self._client.api.kill(self._live().id, signal="SIGUSR1")

    def _reap(self) -> int:
        """Kill what the last command left running; how many processes that was."""
        others = self._others()
        strays, deadline = len(others), time.monotonic() + 10
        while others:
            if time.monotonic() > deadline:
                raise SandboxError("could not stop the processes a command left in the sandbox")
            self._kill_all()
            time.sleep(0.05)
            others = self._others()
        return strays

    # -- files -----------------------------------------------------------------------------

    def put(self, path: str, data: bytes, mode: int = 0o644) -> None:
        parent, _, name = path.rstrip("/").rpartition("/")
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
        self.put_archive(parent or "/", buffer.getvalue())

    def get(self, path: str) -> bytes:
        with tarfile.open(fileobj=io.BytesIO(self.get_archive(path))) as tar:
            member = tar.next()
            if member is None or not member.isfile():
                raise SandboxError(f"{path} in the sandbox is not a regular file")
            extracted = tar.extractfile(member)
            assert extracted is not None
            return extracted.read()

    def put_archive(self, dest: str, tar_bytes: bytes) -> None:
        import docker.errors

        container = self._live()
        self._mkdir(container, dest)
        try:
            ok = container.put_archive(dest, tar_bytes)
        except (docker.errors.DockerException, ConnectionError, OSError) as exc:
            raise SandboxError(f"could not copy files to {dest} in the sandbox", detail=str(exc)) from exc
        except Exception as exc:  # requests' errors when the daemon went away
            raise SandboxError(f"lost the Docker daemon while copying files to {dest}", detail=repr(exc)) from exc
        if not ok:
            raise SandboxError(f"could not copy files to {dest} in the sandbox")

    def get_archive(self, path: str) -> bytes:
        import docker.errors

        try:
            stream, _ = self._live().get_archive(path)
            return b"".join(stream)
        except docker.errors.NotFound as exc:
            raise SandboxError(f"{path} does not exist in the sandbox") from exc
        except docker.errors.APIError as exc:
            raise SandboxError(f"could not copy {path} out of the sandbox", detail=str(exc)) from exc
        except Exception as exc:  # requests' errors when the daemon went away
            raise SandboxError(f"lost the Docker daemon while copying {path} out of the sandbox", detail=repr(exc)) from exc


class _Capped:
    """Collects a stream's bytes up to OUTPUT_CAP."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._size = 0
        self._dropped = 0

    def add(self, chunk: bytes | None) -> None:
        if not chunk:
            return
        room = OUTPUT_CAP - self._size
        if room > 0:
            self._parts.append(chunk[:room])
            self._size += min(room, len(chunk))
        self._dropped += max(0, len(chunk) - max(room, 0))

    def text(self) -> str:
        body = b"".join(self._parts).decode("utf-8", errors="replace")
        if self._dropped:
            body += f"\n[swegen: {self._dropped} more bytes of output dropped]\n"
        return body


def _describe(cmd: str | Sequence[str]) -> str:
    return cmd if isinstance(cmd, str) else shlex.join(cmd)


def list_managed(client: Any | None = None) -> list[Any]:
    """Every container that swegen started and that still exists."""
    client = client or docker_client()
    return client.containers.list(all=True, filters={"label": f"{LABEL_MANAGED}=true"})
