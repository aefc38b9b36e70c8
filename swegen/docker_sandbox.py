"""The Docker implementation of the sandbox Protocol, on the docker SDK.

Containers start with no network (unless asked), memory, CPU and pids limits, and labels that
`swegen clean` uses to find leftovers. Every command runs under GNU `timeout` inside the
container, so a hung process is killed there; the host also stops waiting shortly after, so a
wedged daemon cannot hang swegen. Containers are removed on close, on error, on Ctrl-C, and at
interpreter exit as a last resort.
"""

from __future__ import annotations

import atexit
import datetime as dt
import functools
import io
import os
import shlex
import socket
import tarfile
import threading
import time
from typing import Any, Sequence

from swegen.errors import DockerUnavailable, ImageMissing, SandboxError
from swegen.sandbox import TIMEOUT_EXIT_CODES, ExecResult, SandboxSpec

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

_live: set[str] = set()
_live_lock = threading.Lock()

START_HINT = (
    "start Docker (`bash scripts/setup.sh` installs and starts one; or `dockerd &`), "
    "or point DOCKER_HOST at a daemon"
)


@functools.lru_cache(maxsize=1)
def docker_client() -> Any:
    """A docker SDK client that has answered a ping; raises DockerUnavailable otherwise."""
    try:
        import docker

        client = docker.from_env(timeout=600)
        client.ping()
    except Exception as exc:  # the SDK raises many types for "no daemon"
        raise DockerUnavailable(
            "Docker daemon is not reachable", hint=START_HINT, detail=repr(exc)
        ) from exc
    return client


def _remove_leftovers() -> None:
    with _live_lock:
        ids = list(_live)
    for container_id in ids:
        try:
            docker_client().containers.get(container_id).remove(force=True)
        except Exception:
            pass  # at exit nothing useful can be done with a failure


atexit.register(_remove_leftovers)


def _wrap(cmd: str | Sequence[str], timeout: float) -> list[str]:
    """The argv that runs `cmd` under GNU timeout inside the container."""
    argv = ["sh", "-c", cmd] if isinstance(cmd, str) else list(cmd)
    return ["timeout", "-k", str(KILL_GRACE), f"{max(timeout, 0.1):.3f}", *argv]


class DockerSandbox:
    """One container. Use as a context manager; `close()` removes it."""

    def __init__(self, spec: SandboxSpec) -> None:
        self.spec = spec
        self._client = docker_client()
        self._container = self._start(spec)

    # -- lifecycle -------------------------------------------------------------------------

    def _start(self, spec: SandboxSpec) -> Any:
        import docker.errors

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
                command=["sleep", "infinity"],
                detach=True,
                init=True,
                labels=labels,
                working_dir=spec.workdir,
                environment=spec.env,
                network_mode="bridge" if limits.network else "none",
                mem_limit=limits.memory,
                memswap_limit=limits.memory,
                nano_cpus=int(limits.cpus * 1e9),
                pids_limit=limits.pids,
                security_opt=["no-new-privileges"],
            )
        except docker.errors.ImageNotFound as exc:
            raise ImageMissing(
                f"image {spec.image} is not present",
                hint="build it with `swegen images build-base` (or `docker pull` it if you have a registry)",
            ) from exc
        except docker.errors.APIError as exc:
            raise SandboxError("Docker refused to create a container", hint=START_HINT, detail=str(exc)) from exc
        with _live_lock:
            _live.add(container.id)
        try:
            container.start()
            self._mkdir(container, spec.workdir)
        except BaseException:
            self._remove(container)
            raise
        return container

    def _mkdir(self, container: Any, path: str) -> None:
        code, out = container.exec_run(["mkdir", "-p", path])
        if code != 0:
            raise SandboxError(f"could not create {path} in the sandbox", detail=out.decode(errors="replace"))

    def _remove(self, container: Any) -> None:
        try:
            container.remove(force=True)
        except Exception as exc:
            if "No such container" not in str(exc) and "404" not in str(exc):
                raise SandboxError("could not remove a sandbox container", detail=str(exc)) from exc
        finally:
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
            try:
                for chunk_out, chunk_err in api.exec_start(exec_id, stream=True, demux=True):
                    out.add(chunk_out)
                    err.add(chunk_err)
            except BaseException as exc:  # surfaced in the calling thread
                failure.append(exc)

        reader = threading.Thread(target=pump, daemon=True, name="swegen-exec")
        reader.start()
        reader.join(timeout + KILL_GRACE + HOST_GRACE)
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
        code = api.exec_inspect(exec_id).get("ExitCode")
        if code is None:
            raise SandboxError("Docker did not report an exit code", detail=_describe(cmd))
        timed_out = code in TIMEOUT_EXIT_CODES and duration >= timeout
        return ExecResult(code, out.text(), err.text(), timed_out, duration)

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
        except docker.errors.APIError as exc:
            raise SandboxError(f"could not copy files to {dest} in the sandbox", detail=str(exc)) from exc
        if not ok:
            raise SandboxError(f"could not copy files to {dest} in the sandbox")

    def get_archive(self, path: str) -> bytes:
        import docker.errors

        try:
            stream, _ = self._live().get_archive(path)
        except docker.errors.NotFound as exc:
            raise SandboxError(f"{path} does not exist in the sandbox") from exc
        except docker.errors.APIError as exc:
            raise SandboxError(f"could not copy {path} out of the sandbox", detail=str(exc)) from exc
        return b"".join(stream)


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
