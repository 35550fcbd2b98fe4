"""Real Redis servers for the tests: the shared one, and private ones to stop and restart.

The shared server is REDIS_URL, or 127.0.0.1:6379 when that answers. Tests that stop or
restart Redis start their own ``redis-server`` on a free port instead, so they never
touch a server they did not start.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import redis

from tests.live import free_port

DEFAULT_URL = "redis://127.0.0.1:6379/0"
START_TIMEOUT = 10.0


def shared_redis_url() -> str | None:
    """The URL of the Redis server the tests share, or None when none answers."""
    url = os.environ.get("REDIS_URL", DEFAULT_URL)
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
        try:
            client.ping()
        finally:
            client.close()
    except (redis.exceptions.RedisError, OSError):
        return None
    return url


class RedisServer:
    """A ``redis-server`` process of our own on a free port of 127.0.0.1.

    Args:
        workdir: where its data and log go.
        persistent: keep data on disk with an fsync per write (appendfsync always), so
            that a restart, even after SIGKILL, keeps every acknowledged write.
    """

    def __init__(self, workdir: Path, *, persistent: bool = True) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @staticmethod
    def available() -> bool:
        """Whether a redis-server binary can be run here."""
        return shutil.which("redis-server") is not None

    def start(self) -> None:
        durability = (
            ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
            if self.persistent
            else ["--appendonly", "no", "--save", ""]
        )
        command = [
            "redis-server",
            *("--bind", "127.0.0.1", "--port", str(self.port)),
            *("--dir", str(self.workdir), "--logfile", str(self.workdir / "redis.log")),
            *durability,
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {self.log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                    s.sendall(b"PING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError(f"redis-server did not answer within {START_TIMEOUT}s")

    def kill(self) -> None:
        """Kill it at once, as a crash would."""
        if self.process is None:
            return
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def log(self) -> str:
        try:
            return (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
        except FileNotFoundError:
            return ""
