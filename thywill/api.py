"""The server API: what a project's own code asks of thywill.

Pushing from anywhere: a view, a signal handler, a management command, a worker process.
Every send has a sync and an async twin. What is sent runs through the application's
``on_send`` transforms (its pipes and hook scripts), as a handler's sends do.

A sync send made inside ``transaction.atomic()`` is released when the outermost
transaction commits, and never when it rolls back; outside one (and from async code) it is
published at once. Either way the call returns once the message is stored in its channel
(or, inside a transaction, once it is ready to be), or raises.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from django.db import DEFAULT_DB_ALIAS, transaction
from django.http import HttpRequest

from thywill import conf
from thywill.application.spec import ApplicationSpec
from thywill.edge import issuing
from thywill.edge.csp import (  # a view decorator: thywill.content_security_policy
    content_security_policy as content_security_policy,
)
from thywill.exceptions import PushNotSharedError, UnknownClientError
from thywill.feed import users
from thywill.feed.channels import group_channel, user_channel
from thywill.identity.tokens import ClientIdentity, check_client_id
from thywill.types import JSON
from thywill.wiring.runtime import Runtime, get_runtime

Entries = list[tuple[str, str]]

# --- queries -------------------------------------------------------------------------


def get_applications() -> list[ApplicationSpec]:
    """Every application of THYWILL_APPLICATIONS, in order: its ``name``, ``title``,
    ``description``, assets and the application object (``app``).

    Its page is ``reverse("thywill:app-init", args=[name])``.
    """
    return get_runtime().applications()


def get_transports() -> tuple[str, ...]:
    """The transports THYWILL_TRANSPORTS enables, in the order the client tries them;
    each may be forced with ``?transport=<name>`` on an application's page."""
    return conf.get_transports()


async def amembers(app: str, group: str) -> list[str]:
    """The ids of the clients in one of an application's groups now, sorted.

    Raises:
        UnknownApplicationError: no application is called ``app``.
        ValueError: an invalid group name.
    """
    runtime = get_runtime()
    return await runtime.push.members(group_channel(runtime.application(app).name, group))


def members(app: str, group: str) -> list[str]:
    """``amembers()`` for sync code."""
    return async_to_sync(amembers)(app, group)


async def auser_counts(app: str, group: str) -> dict[str, int]:
    """The logged-in users among a group's members: each user's primary key (as a
    string) and how many of the user's clients (tabs, devices) are in the group.

    Raises:
        UnknownApplicationError: no application is called ``app``.
        ValueError: an invalid group name.
    """
    runtime = get_runtime()
    name = runtime.application(app).name
    return await users.user_counts(runtime.push, name, group_channel(name, group))


def user_counts(app: str, group: str) -> dict[str, int]:
    """``auser_counts()`` for sync code."""
    return async_to_sync(auser_counts)(app, group)


# --- clients on the project's own pages ----------------------------------------------


async def issue_client(
    request: HttpRequest, application: str | None = None, *, transport: str | None = None
) -> dict[str, JSON]:
    """Issue a client of ``application`` (the default one when omitted) for the request,
    as its bootstrap page does, and return the configuration it connects with.

    For an ``async def`` view whose template has ``{% thywill_client %}``: the tag cannot
    issue a client while the template renders in the event loop, so the view issues it
    and passes it in the context, ``{"thywill_clients": {application: config}}``. The
    response must set the CSRF cookie (``CsrfViewMiddleware`` does).

    With THYWILL_RESUME on (the default) the client is pending: its record, its connect
    event and its presence lease come with its first request (documentation/transports.md,
    "Reloads").

    Raises:
        ThywillError: no application has that name, the transport is not enabled, or
            (THYWILL_RESUME off) the application's connect event refused the client.
    """
    app = issuing.find_application(application)
    return await issuing.issue_client(request, app, forced_transport=transport)


# --- sends ---------------------------------------------------------------------------


async def asend_to_client(client_id: str, data: JSON) -> None:
    """Send ``data`` to one client, by id.

    Raises:
        ValueError: ``client_id`` is not a client id.
        UnknownClientError: no such client was issued.
        HandlerOutputError: ``data`` cannot be sent as JSON.
        FlowFailedError: an ``on_send`` transform of its application refused it.
        PushNotSharedError: this process reaches no client (see ``_reachable``).
        PushUnavailableError: the push backend cannot be reached.
    """
    runtime = _reachable()
    await runtime.push.publish_many(await _to_client(runtime, client_id, data))


def send_to_client(client_id: str, data: JSON, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """``asend_to_client()`` for sync code; inside ``transaction.atomic(using=...)`` it
    is released when that transaction commits."""
    runtime = _reachable()
    _release(runtime, partial(_to_client, runtime, client_id, data), using)


async def asend_to_group(app: str, group: str, data: JSON) -> None:
    """Send ``data`` to every member of one of an application's groups.

    Raises:
        UnknownApplicationError: no application is called ``app``.
        ValueError: an invalid group name.
        HandlerOutputError, FlowFailedError, PushNotSharedError, PushUnavailableError:
            as for ``asend_to_client()``.
    """
    runtime = _reachable()
    await runtime.push.publish_many(await _to_group(runtime, app, group, data))


def send_to_group(
    app: str, group: str, data: JSON, *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """``asend_to_group()`` for sync code; inside ``transaction.atomic(using=...)`` it
    is released when that transaction commits."""
    runtime = _reachable()
    _release(runtime, partial(_to_group, runtime, app, group, data), using)


async def asend_to_user(user: Any, data: JSON, app: str | None = None) -> None:
    """Send ``data`` to every client (tab, device) of a logged-in user, in one
    application or (``app=None``) in every application.

    Args:
        user: a user object, or its primary key.

    Raises:
        UnknownApplicationError: no application is called ``app``.
        HandlerOutputError, FlowFailedError, PushNotSharedError, PushUnavailableError:
            as for ``asend_to_client()``.
    """
    runtime = _reachable()
    await runtime.push.publish_many(await _to_user(runtime, user, data, app))


def send_to_user(
    user: Any, data: JSON, app: str | None = None, *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """``asend_to_user()`` for sync code; inside ``transaction.atomic(using=...)`` it is
    released when that transaction commits."""
    runtime = _reachable()
    _release(runtime, partial(_to_user, runtime, user, data, app), using)


async def adisconnect(client_id: str) -> None:
    """Disconnect a client for good: its open streams end with the ``disconnected``
    error (the page's ``onError`` shows it), and its later reads and sends are refused.
    Its disconnect event runs once its presence lease lapses, as for a closed tab.

    Raises:
        ValueError: ``client_id`` is not a client id.
        UnknownClientError: no such client was issued.
        PushNotSharedError, PushUnavailableError: as for ``asend_to_client()``.
    """
    runtime = _reachable()
    identity = await _client(runtime, client_id)
    await runtime.events.end_client(identity)


def disconnect(client_id: str) -> None:
    """``adisconnect()`` for sync code (at once, transaction or not)."""
    async_to_sync(adisconnect)(client_id)


# --- how -----------------------------------------------------------------------------


def _reachable() -> Runtime:
    """The runtime, when what it publishes can reach a client.

    Raises:
        PushNotSharedError: the push backend keeps messages in this process's memory and
            this process serves no client.
    """
    runtime = get_runtime()
    if not runtime.reaches_clients:
        raise PushNotSharedError(
            "This process serves no clients and its push backend is in-memory, so a "
            "send from here would reach nobody. Share a Redis push backend between "
            "the server processes and this one: set REDIS_URL (or "
            'THYWILL_COMPONENTS["push"]) to use thywill.push.redis.RedisPushBackend.'
        )
    return runtime


async def _client(runtime: Runtime, client_id: str) -> ClientIdentity:
    identity = await runtime.database.find_client(check_client_id(client_id))
    if identity is None:
        raise UnknownClientError(f"No client {client_id!r} was issued.")
    return identity


async def _to_client(runtime: Runtime, client_id: str, data: JSON) -> Entries:
    identity = await _client(runtime, client_id)
    app = runtime.application(identity.application)
    return [(identity.channel, runtime.events.outbound(app, data))]


async def _to_group(runtime: Runtime, app: str, group: str, data: JSON) -> Entries:
    spec = runtime.application(app)
    channel = group_channel(spec.name, group)
    return [(channel, runtime.events.outbound(spec, data))]


async def _to_user(runtime: Runtime, user: Any, data: JSON, app: str | None) -> Entries:
    user_id = str(getattr(user, "pk", user))
    apps = runtime.applications() if app is None else [runtime.application(app)]
    entries = [
        (user_channel(spec.name, user_id), runtime.events.outbound(spec, data))
        for spec in apps
    ]
    return entries


def _release(
    runtime: Runtime, prepare: Callable[[], Awaitable[Entries]], using: str
) -> None:
    """Prepare the sends now (so that a mistake raises at the call), and publish them now
    or, inside a transaction, when it commits."""
    entries = async_to_sync(prepare)()
    publish = async_to_sync(runtime.push.publish_many)
    if transaction.get_connection(using).in_atomic_block:
        transaction.on_commit(lambda: publish(entries), using=using)
    else:
        publish(entries)
