"""``./dev serve`` on an address another process holds."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
BOUND = 20.0  # seconds: the subprocess is killed past this


@pytest.mark.live
def test_dev_serve_fails_at_once_when_its_port_is_taken(tmp_path: Path) -> None:
    """``./dev serve ADDR:PORT`` on a port that another process listens on exits non-zero
    at once, with one line on stderr naming the address, before it installs or starts
    anything."""
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "VIRTUAL_ENV"}
    }
    # Should the check ever come after the installs, they go here, not into the .venv
    # this test runs from.
    env["UV_PROJECT_ENVIRONMENT"] = str(tmp_path / "venv")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        address = f"127.0.0.1:{holder.getsockname()[1]}"
        started = time.monotonic()
        result = subprocess.run(
            [str(ROOT / "dev"), "serve", address],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=BOUND,
            check=False,
        )
        elapsed = time.monotonic() - started
    assert result.returncode != 0
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr  # the message alone: nothing installed or ran
    assert address in lines[0]
    assert "taken" in lines[0]
    assert elapsed < BOUND / 4, f"took {elapsed:.1f} s"
    assert not (tmp_path / "venv").exists()
