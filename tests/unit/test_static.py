"""/static/ served by thywill's ASGI application."""

from __future__ import annotations

import asyncio

import pytest
from django.core.asgi import get_asgi_application

from tests.support.asgi import http_scope
from thywill.edge.static import StaticFiles

WAIT = 2.0


async def get(path: str) -> int:
    """The status the static-files application answers for ``path``."""
    sent: list[dict] = []
    requests = [{"type": "http.request", "body": b""}]

    async def receive() -> dict:
        if requests:
            return requests.pop()
        await asyncio.sleep(WAIT)  # Django cancels its disconnect watch once it answered
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        sent.append(message)

    await StaticFiles(get_asgi_application())(http_scope(path), receive, send)
    [status] = [m["status"] for m in sent if m["type"] == "http.response.start"]
    return int(status)


async def test_the_client_is_served():
    """thywill.js is found in the app's static folder."""
    assert await get("/static/thywill/thywill.js") == 200


@pytest.mark.parametrize(
    "path",
    ["/static/../../thywill_server/settings.py", "/static/thywill/../../../etc/passwd"],
)
async def test_a_path_out_of_the_static_folders_is_a_400_not_a_500(path):
    """A path climbing out with .. is refused 400, as Django refuses suspicious requests."""
    assert await get(path) == 400


async def test_a_path_out_of_the_static_folders_is_logged_in_one_line(caplog):
    """The refusal is one record on django.security, without a traceback (found by
    tests/fuzz: Django's own handler logs the exception's traceback with it)."""
    with caplog.at_level("ERROR", logger="django.security"):
        assert await get("/static/../../thywill_server/settings.py") == 400
    [record] = caplog.records
    assert record.name == "django.security.SuspiciousFileOperation"
    assert record.exc_info is None
    assert "outside of the base path" in record.getMessage()
