"""The processes a benchmark run starts: one redis-server and thywill server processes.

Every process is started here, on a port of 127.0.0.1, in its own session (so a Ctrl-C
in the terminal reaches only the benchmark, which then stops them in order), and is
stopped by its own pid: SIGTERM, then SIGKILL if it lingers. Nothing else is touched.
"""

from __future__ import annotations

import contextlib
import ctypes
import http.client
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
START_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
MIGRATE_TIMEOUT = 180.0
PR_SET_PDEATHSIG = 1
"""prctl(2): the signal a process gets when the thread that started it ends (Linux)."""


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def git_commit() -> str | None:
    """The project's commit, ``-dirty`` when the work tree has changes (None: no git)."""
    described = subprocess.run(
        ["git", "describe", "--always", "--dirty"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    ).stdout.strip()
    return described or None


def usable_cpus() -> list[int]:
    """The CPUs this process may run on, in order."""
    return sorted(os.sched_getaffinity(0))


def pinned(command: list[str], cpu: int | None) -> list[str]:
    """``command`` run on one CPU with taskset (which execs it: the pid stays the same)."""
    if cpu is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "--cpu-list", str(cpu), *command]


def cpu_seconds(pid: int) -> float | None:
    """User plus system CPU seconds a process has used so far (Linux ``/proc``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _end_with_parent() -> None:
    """In a new child, before it runs its program: be sent SIGTERM when its parent ends."""
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


class Process:
    """A child process of ours, listening on ``port``.

    Args:
        log_path: where its output goes; ``None`` shares ours.
        tied: it is sent SIGTERM when the process that started it ends, however that
            ends (Linux), for a process that has no other way to stop it.
    """

    def __init__(
        self,
        name: str,
        command: list[str],
        port: int,
        log_path: Path | None,
        env: Mapping[str, str],
        *,
        tied: bool = False,
    ) -> None:
        self.name = name
        self.port = port
        self.log_path = log_path
        with contextlib.ExitStack() as stack:
            log = None if log_path is None else stack.enter_context(log_path.open("ab"))
            self.popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env=dict(env),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                preexec_fn=_end_with_parent if tied else None,
            )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def stop(self) -> None:
        """SIGTERM our own pid; SIGKILL it if it is still there after STOP_TIMEOUT."""
        if not self.running():
            return
        self.popen.terminate()
        try:
            self.popen.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(timeout=STOP_TIMEOUT)

    def log_tail(self, size: int = 3000) -> str:
        """The end of what it printed (nothing when it prints to our output)."""
        if self.log_path is None:
            return ""
        try:
            return self.log_path.read_text(errors="replace")[-size:]
        except OSError:
            return ""

    def wait_until(self, ready: Callable[[], bool], what: str) -> None:
        """Poll ``ready()`` until it holds; stop the process and raise if it never does."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.log_tail()}")
            if ready():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} was not {what} within {START_TIMEOUT}s")


def redis_answers(port: int) -> bool:
    """Whether a Redis server on ``port`` answers PING."""
    try:
        with socket.create_connection((HOST, port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def health_ok(port: int) -> bool:
    """Whether a thywill server on ``port`` answers ``/thywill/health/`` with 200."""
    connection = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        connection.request("GET", "/thywill/health/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[tuple[str, Process]]:
    """A redis-server of our own without persistence; yields its URL and process."""
    port = free_port()
    command = [
        *("redis-server", "--bind", HOST, "--port", str(port)),
        *("--save", "", "--appendonly", "no", "--dir", str(workdir)),
    ]
    process = Process("redis-server", command, port, workdir / "redis.log", os.environ)
    try:
        process.wait_until(lambda: redis_answers(port), "answering PING")
        yield f"redis://{HOST}:{port}/0", process
    finally:
        process.stop()


def server_env(
    database: Path,
    redis_url: str | None,
    prefix: str,
    secret: str,
    settings: str = "thywill_server.settings",
) -> dict[str, str]:
    """The environment of a server process: production-like settings, on our Redis when
    ``redis_url`` is given (else the in-memory push backend of one process).

    Every process of a run shares the secret key (tokens signed by one are checked by
    the other), the key prefix and the SQLite file ``database``.
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": settings,
        "DEBUG": "0",
        "SECRET_KEY": secret,
        "ALLOWED_HOSTS": HOST,
        "DATABASE_URL": f"sqlite:///{database}",
        "THYWILL_REDIS_PREFIX": prefix,
        "THYWILL_SERVE_STATIC": "0",
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("REDIS_URL", None)
    if redis_url is not None:
        env["REDIS_URL"] = redis_url
    return env


def migrate(env: Mapping[str, str]) -> None:
    """Create the database tables (``manage.py migrate``), bounded in time."""
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=dict(env),
        check=True,
        timeout=MIGRATE_TIMEOUT,
        stdin=subprocess.DEVNULL,
    )


# Open SSE streams never end by themselves: bound the graceful shutdown.
CROSS_PROCESS_OPTIONS = ("--timeout-graceful-shutdown", "2", "--timeout-keep-alive", "60")
"""uvicorn's options in cross_process.py."""


def uvicorn_command(port: int, options: Sequence[str]) -> list[str]:
    """The command of a uvicorn process serving thywill on ``port`` of 127.0.0.1."""
    return [
        *(sys.executable, "-m", "uvicorn", "thywill_server.asgi:application"),
        *("--host", HOST, "--port", str(port), "--no-access-log", "--log-level", "warning"),
        *options,
    ]


def start_thywill(
    workdir: Path | None,
    env: Mapping[str, str],
    cpu: int | None,
    *,
    port: int | None = None,
    options: Sequence[str] = CROSS_PROCESS_OPTIONS,
    tied: bool = False,
) -> Process:
    """A uvicorn process serving thywill, on ``port`` (default: a free one), pinned to
    ``cpu`` if given; returns once it is healthy. Its output goes to a log file in
    ``workdir``, or to ours when ``workdir`` is ``None``; ``tied`` as for ``Process``.
    """
    port = free_port() if port is None else port
    command = uvicorn_command(port, options)
    log_path = None if workdir is None else workdir / f"thywill-{port}.log"
    process = Process(
        f"thywill:{port}", pinned(command, cpu), port, log_path, env, tied=tied
    )
    try:
        process.wait_until(lambda: health_ok(port), "healthy")
    except BaseException:
        process.stop()
        raise
    return process
