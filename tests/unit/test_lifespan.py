"""The ASGI lifespan handler closes the components at shutdown."""

from __future__ import annotations

import asyncio

from asgiref.testing import ApplicationCommunicator

from thywill.edge.lifespan import lifespan
from thywill.wiring.runtime import get_runtime

JOURNAL_PUSH = "tests.apps.fixture_components.JournalPushBackend"


async def test_startup_then_shutdown_closes_the_components(settings):
    """Start-up is acknowledged; shutdown closes the components, then is acknowledged."""
    journal: list[str] = []
    settings.THYWILL_COMPONENTS = {
        "push": {"BACKEND": JOURNAL_PUSH, "OPTIONS": {"journal": journal}}
    }
    communicator = ApplicationCommunicator(lifespan, {"type": "lifespan"})
    await communicator.send_input({"type": "lifespan.startup"})
    assert await communicator.receive_output(1) == {"type": "lifespan.startup.complete"}
    assert get_runtime().push is not None  # built while serving
    await communicator.send_input({"type": "lifespan.shutdown"})
    assert await communicator.receive_output(1) == {"type": "lifespan.shutdown.complete"}
    async with asyncio.timeout(1):
        await communicator.wait()
    assert journal == ["push.aclose"]
