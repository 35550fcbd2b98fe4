"""Staff users on live servers: created in a server's database, logged in through the
admin's login form (for the inspector's tests)."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx

from tests.live import ROOT, LiveServer

PASSWORD = "inspect-me-9"


def create_staff_user(server: LiveServer, username: str) -> None:
    """A superuser (so staff) in the server's database, with ``PASSWORD``."""
    subprocess.run(
        [sys.executable, "manage.py", "createsuperuser", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={
            **server.env,
            "DJANGO_SUPERUSER_USERNAME": username,
            "DJANGO_SUPERUSER_EMAIL": f"{username}@example.com",
            "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
        },
        check=True,
        timeout=60,
    )


def log_in(http: httpx.Client, username: str) -> None:
    """Log ``http``'s session in through the admin's login form, as a browser does."""
    page = http.get("/admin/login/")
    page.raise_for_status()
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    assert match is not None, page.text[:500]
    answer = http.post(
        "/admin/login/",
        data={
            "csrfmiddlewaretoken": match.group(1),
            "username": username,
            "password": PASSWORD,
            "next": "/admin/",
        },
    )
    assert answer.status_code == 302, answer.text[:500]
