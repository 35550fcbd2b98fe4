"""Real server processes for integration and browser tests.

A ``LiveServer`` runs Daphne on ``thywill_server.asgi:application`` in a subprocess, on a
free port of 127.0.0.1, on the database it is given (tests/support/databases.py), so tests
can stop, kill and restart it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from tests.support.databases import LiveDatabase

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 20.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """One server process; ``start()``, ``stop()``, ``kill()`` and ``restart()`` it."""

    def __init__(
        self, workdir: Path, database: LiveDatabase, env: dict[str, str] | None = None
    ) -> None:
        self.workdir = workdir
        self.database = database
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / f"server-{self.port}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.live_settings",
            "DATABASE_URL": database.url,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        self.process: subprocess.Popen[bytes] | None = None

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
            timeout=120,
        )

    def command(self) -> list[str]:
        """The server command line: Daphne, or the server THYWILL_TEST_SERVER names."""
        app, port = "thywill_server.asgi:application", str(self.port)
        server = self.env.get("THYWILL_TEST_SERVER", "daphne")
        if server == "daphne":
            return [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", port, app]
        if server == "uvicorn":
            # No --timeout-graceful-shutdown: thywill's drain must end every stream.
            return [
                *(sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", port),
                app,
            ]
        raise ValueError(f"THYWILL_TEST_SERVER={server!r}: use daphne or uvicorn")

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command(),
            cwd=ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited at start-up:\n{self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"server did not listen within {START_TIMEOUT}s:\n{self.log()}")

    def stop(self) -> None:
        """Stop gracefully (SIGTERM), then SIGKILL if it lingers."""
        self._end(signal.SIGTERM)

    def kill(self) -> None:
        """Kill at once, as a crash would."""
        self._end(signal.SIGKILL)

    def terminate(self, timeout: float = 20.0) -> float:
        """SIGTERM, as a process manager stops a server; return how many seconds it took
        to exit. After ``timeout`` seconds it is killed and RuntimeError raised."""
        assert self.process is not None and self.process.poll() is None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)
            raise RuntimeError(
                f"the server did not exit within {timeout}s of SIGTERM:\n{self.log()}"
            ) from None
        finally:
            self.process = None
        return time.monotonic() - started

    def restart(self) -> None:
        self.stop()
        self.start()

    def _end(self, sig: signal.Signals) -> None:
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        """Everything the server printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
