"""Presence leases and disconnect events, in one process on the in-memory backend.

The same rules across processes and through Redis are tested in tests/redis/.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from asgiref.sync import sync_to_async

from tests.apps.models import Departure
from thywill.feed.cursor import Cursor
from thywill.identity.tokens import ClientIdentity, new_client_id
from thywill.wiring.runtime import get_runtime

pytestmark = pytest.mark.django_db(transaction=True)

TTL = 0.3


@pytest.fixture(autouse=True)
def short_leases(settings):
    settings.THYWILL_LIMITS = {"PRESENCE_TTL": TTL}


@pytest.fixture(autouse=True)
async def no_sweeper():
    """The tests sweep by hand; stop this loop's background sweeper afterwards."""
    yield
    await get_runtime().presence.stop()


def new_testkit_identity() -> ClientIdentity:
    return ClientIdentity(new_client_id(), "testkit", "s" * 32)


async def departures(identity: ClientIdentity) -> int:
    return await sync_to_async(
        Departure.objects.filter(client_id=identity.client_id).count
    )()


async def test_a_lapsed_lease_runs_the_disconnect_event_once():
    """After the lease lapses, one sweep runs the disconnect event; later ones don't."""
    identity = new_testkit_identity()
    await get_runtime().presence.renew(identity, force=True)
    await get_runtime().presence.stop()  # sweep by hand only
    assert await get_runtime().presence.sweep() == 0
    await asyncio.sleep(TTL + 0.1)
    assert await get_runtime().presence.sweep() == 1
    assert await get_runtime().presence.sweep() == 0
    assert await departures(identity) == 1


async def test_a_sweep_that_released_clients_trims_the_heap():
    """A sweep that ran disconnect events hands the C heap's free pages back (glibc's
    malloc_trim, on this Debian machine); a sweep that released nobody does not."""
    runtime = get_runtime()
    await runtime.presence.renew(new_testkit_identity(), force=True)
    await runtime.presence.stop()  # sweep by hand only
    assert runtime.memory.trim is not None
    before = runtime.memory.trims
    assert await runtime.presence.sweep() == 0
    assert runtime.memory.trims == before
    await asyncio.sleep(TTL + 0.1)
    assert await runtime.presence.sweep() == 1
    assert runtime.memory.trims == before + 1


async def test_ending_a_client_runs_its_disconnect_event_now_and_once():
    """end() lapses the lease at once and sweeps: the event has run when it returns,
    and the lease is gone, so no later sweep runs it again."""
    identity = new_testkit_identity()
    await get_runtime().presence.renew(identity, force=True)
    await get_runtime().presence.stop()  # sweep by hand only
    assert await get_runtime().presence.end(identity) == 1
    assert await departures(identity) == 1
    await asyncio.sleep(TTL + 0.1)
    assert await get_runtime().presence.sweep() == 0
    assert await departures(identity) == 1


async def test_a_waiting_feed_keeps_its_client_present():
    """A feed that waits longer than the lease renews it while it waits."""
    identity = new_testkit_identity()
    await get_runtime().presence.renew(identity, force=True)  # as the bootstrap page does
    feed = get_runtime().feed(identity, Cursor.decode(""))
    assert not await feed.next(3 * TTL)
    await get_runtime().presence.stop()
    assert await get_runtime().presence.sweep() == 0
    await asyncio.sleep(TTL + 0.1)
    assert await get_runtime().presence.sweep() == 1


async def test_a_client_back_after_its_disconnect_is_connected_again():
    """A feed of a client whose lease was claimed runs the connect event again."""
    identity = new_testkit_identity()
    await get_runtime().presence.renew(identity, force=True)
    await get_runtime().presence.stop()
    await asyncio.sleep(TTL + 0.1)
    assert await get_runtime().presence.sweep() == 1
    feed = get_runtime().feed(identity, Cursor.decode(""))
    batch = await feed.next(0)
    assert [json.loads(m.payload) for m in batch.messages] == [
        {"welcome": identity.client_id}
    ]


async def test_renewals_are_rate_limited_per_client():
    """Renewing again within a third of the lease does not reach the backend."""
    identity = new_testkit_identity()
    assert await get_runtime().presence.renew(identity) is True
    await get_runtime().push.claim_lapsed()  # nothing lapsed: nothing claimed
    # Take the lease away behind the tracker's back: a rate-limited renewal can't tell.
    await asyncio.sleep(TTL + 0.05)
    await get_runtime().push.claim_lapsed()
    assert (
        await get_runtime().presence.renew(identity) is True
    )  # due again: reaches the backend
    assert await get_runtime().presence.renew(identity) is False  # at once: rate-limited


async def test_a_lease_of_an_unknown_application_is_dropped(caplog):
    """A lapsed lease naming an application no longer configured is dropped, logged."""
    identity = ClientIdentity(new_client_id(), "retired-app", "s" * 32)
    await get_runtime().presence.renew(identity, force=True)
    await get_runtime().presence.stop()
    await asyncio.sleep(TTL + 0.1)
    with caplog.at_level(logging.WARNING, logger="thywill.feed.presence"):
        assert await get_runtime().presence.sweep() == 0
    assert "Dropped the lapsed lease" in caplog.text


async def test_the_sweeper_survives_an_unreachable_backend(settings, caplog):
    """A sweep that meets an outage is reported, and the sweeper keeps running."""
    settings.THYWILL_COMPONENTS = {
        "push": {"BACKEND": "tests.apps.fixture_components.UnreachablePushBackend"}
    }
    with caplog.at_level(logging.DEBUG, logger="thywill"):
        get_runtime().presence.ensure_sweeper()
        await asyncio.sleep(TTL)
    assert "Push backend unavailable for (presence sweep)" in caplog.text
    task = get_runtime().presence._sweepers[asyncio.get_running_loop()]
    assert not task.done()
