"""The runtime: thywill in one process, built from settings and wired together here.

This is the one place that knows every part. It builds the components named in
THYWILL_COMPONENTS (push, database, log) and the applications of THYWILL_APPLICATIONS on
first use, and hands each part what it needs: the event runner gets the push backend, the
log and the flows; presence gets the push backend and reports back here, which runs the
connect and disconnect events through the runner; each client's feed gets the push
backend and presence. The edge (views, transports, the lifespan) asks ``get_runtime()``
for what it serves; nothing below the edge reaches for it.

A change to a THYWILL_* setting (``override_settings`` in tests) drops the runtime, and
the next use builds a new one.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
from typing import Protocol, TypeVar

from thywill import conf, metrics
from thywill.application.spec import ApplicationSpec
from thywill.database.base import BaseDatabase
from thywill.events.flows import FlowRegistry
from thywill.events.runner import EventRunner
from thywill.exceptions import ErrorCode, RejectedError, UnknownApplicationError
from thywill.feed.connections import ConnectionLimiter
from thywill.feed.cursor import Cursor
from thywill.feed.feed import DISCONNECTED_REASON, ClientFeed
from thywill.feed.presence import Presence
from thywill.hooks.shared import shared
from thywill.identity.tokens import ClientIdentity, forget_client
from thywill.log.base import BaseLog
from thywill.metrics.exposition import clean_up_at_exit
from thywill.push.base import BasePushBackend
from thywill.wiring.loading import (
    load_app_hooks,
    load_application,
    load_component,
    load_hooks,
    load_pipes,
)
from thywill.wiring.memory import MemoryTrimmer, glibc_malloc_trim

logger = logging.getLogger(__name__)

T = TypeVar("T")

WIRED = ("flows", "events", "presence", "connections")
"""The parts wired from the components, dropped with them."""


class Background(Protocol):
    """Background work an application object carries as its ``background`` attribute:
    the runtime starts it on the event loop that serves (the lifespan's, or the first
    transport request's), stops it with the runtime, and cancels it when the runtime is
    replaced. Internal: the inspector's ticker uses it (thywill.inspector); not part of
    the public application API."""

    def ensure_running(self) -> None:
        """Start on the running event loop, unless running already."""

    async def stop(self) -> None:
        """Stop, and wait until stopped."""

    def cancel(self) -> None:
        """Stop without waiting (from any thread)."""


class Runtime:
    """The process's components, applications, flows, event runner and presence."""

    def __init__(self) -> None:
        self._components: dict[str, object] = {}
        self._applications: dict[str, ApplicationSpec] = {}
        self._background_loop: asyncio.AbstractEventLoop | None = None
        if conf.get_metrics().enabled:
            metrics.enable()
            clean_up_at_exit()
        else:
            metrics.disable()

    # --- components ------------------------------------------------------------------

    @property
    def push(self) -> BasePushBackend:
        """The push backend (THYWILL_COMPONENTS["push"])."""
        return self._component("push", BasePushBackend)

    @property
    def database(self) -> BaseDatabase:
        """The database component (THYWILL_COMPONENTS["database"])."""
        return self._component("database", BaseDatabase)

    @property
    def log(self) -> BaseLog:
        """The log component (THYWILL_COMPONENTS["log"])."""
        return self._component("log", BaseLog)

    def _component(self, role: str, base: type[T]) -> T:
        instance = self._components.get(role)
        if instance is None:
            instance = load_component(role, conf.get_component_configs()[role])
            self._components[role] = instance
            if isinstance(instance, BasePushBackend):
                instance.use_log(self.log)  # where it reports the end of an outage
                shared.use_push_cache(instance.shared_cache())
        assert isinstance(instance, base)
        return instance

    # --- applications ----------------------------------------------------------------

    def application(self, name: str | None = None) -> ApplicationSpec:
        """The application called ``name``, or the default one.

        Raises:
            UnknownApplicationError: no application of that name is configured.
        """
        if name is None:
            name = conf.get_default_application()
        app = self._applications.get(name)
        if app is None:
            configs = conf.get_application_configs()
            if name not in configs:
                raise UnknownApplicationError(name)
            app = self._applications[name] = load_application(name, configs[name])
        return app

    def applications(self) -> list[ApplicationSpec]:
        """Every configured application, in the order of THYWILL_APPLICATIONS."""
        return [self.application(name) for name in conf.get_application_configs()]

    def application_of(self, identity: ClientIdentity) -> ApplicationSpec:
        """The application a client's token names, for its sends.

        Raises:
            RejectedError: ``unknown_application`` when it is no longer configured.
        """
        try:
            return self.application(identity.application)
        except UnknownApplicationError:
            raise RejectedError(
                ErrorCode.UNKNOWN_APPLICATION,
                f"The application {identity.application!r} is no longer configured.",
            ) from None

    # --- events and feeds ------------------------------------------------------------

    @functools.cached_property
    def flows(self) -> FlowRegistry:
        """The flows, each built on first use."""
        return FlowRegistry(
            load_pipes=load_pipes, load_hooks=load_hooks, load_app_hooks=load_app_hooks
        )

    @functools.cached_property
    def events(self) -> EventRunner:
        """The event runner: the only way into application code."""
        return EventRunner(push=self.push, log=self.log, flows=self.flows)

    @functools.cached_property
    def presence(self) -> Presence:
        """Presence leases, reporting lapsed and returning clients to the runner."""
        return Presence(
            self.push,
            log=self.log,
            ttl=conf.get_limits().presence_ttl,
            on_returned=self._connect_again,
            on_lapsed=self._disconnect,
            on_released=self.memory.released,
        )

    @functools.cached_property
    def memory(self) -> MemoryTrimmer:
        """Gives the C heap's free pages back once departed clients have freed them."""
        return MemoryTrimmer(glibc_malloc_trim())

    @functools.cached_property
    def connections(self) -> ConnectionLimiter:
        """The open transport connections of each client, capped at
        THYWILL_LIMITS["MAX_CONNECTIONS_PER_CLIENT"]."""
        return ConnectionLimiter(conf.get_limits().max_connections_per_client)

    def feed(self, identity: ClientIdentity, cursor: Cursor) -> ClientFeed:
        """A feed of the client's messages after ``cursor``."""
        self.ensure_background()
        return ClientFeed(
            self.push,
            self.presence,
            identity,
            cursor,
            limit=conf.get_limits().read_batch,
        )

    @property
    def reaches_clients(self) -> bool:
        """Whether what this process publishes can reach clients: the push backend is
        shared by every process, or this process serves clients itself (it built the
        ASGI application, or a client was present through it)."""
        if self.push.shared or _serving:
            return True
        return "presence" in self.__dict__ and self.presence.served

    async def _connect_again(self, identity: ClientIdentity) -> None:
        # A connected client whose lease had lapsed is back: its connect event runs again,
        # unless the server ended it.
        if await self.events.is_ended(identity.client_id):
            raise RejectedError(ErrorCode.DISCONNECTED, DISCONNECTED_REASON)
        await self.events.handle_connect(self.application(identity.application), identity)

    async def _disconnect(self, identity: ClientIdentity) -> None:
        # The client is gone: this process forgets its token (the push backend forgets
        # what it held when the sweeper settles the claim, ack_lapsed).
        forget_client(identity.client_id)
        await self.events.handle_disconnect(
            self.application(identity.application), identity
        )

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Start the background work of the running event loop (the presence sweeper)."""
        self.presence.ensure_sweeper()
        self.start_background()

    def ensure_background(self) -> None:
        """``start_background()``, unless it ran on the running event loop already: what
        every request does (Daphne sends no lifespan), for the cost of one comparison.
        Outside an event loop, nothing: the work needs one."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        if self._background_loop is not loop:
            self.start_background()

    def start_background(self) -> None:
        """Start the applications' background work (``Background``) on the running
        event loop, once per loop; an application that cannot load is logged, not
        raised (its own requests report it). Then, unless THYWILL_GC_FREEZE is off,
        freeze what start-up built out of the garbage collector's way."""
        self._background_loop = asyncio.get_running_loop()
        for work in self._backgrounds():
            work.ensure_running()
        if conf.get_gc_freeze():
            # What start-up built (Django, the settings, the applications, the pipeline)
            # lives as long as the process: frozen, a full collection under load does
            # not walk it again and again (performance.md: it shows in the p99).
            gc.freeze()

    def _backgrounds(self) -> list[Background]:
        found: list[Background] = []
        try:
            names = list(conf.get_application_configs())
        except Exception:
            logger.warning("THYWILL_APPLICATIONS cannot be read", exc_info=True)
            return found
        for name in names:
            try:
                app = self.application(name).app
            except Exception:
                logger.warning("Application %r cannot load", name, exc_info=True)
                continue
            work = getattr(app, "background", None)
            if work is not None:
                found.append(work)
        return found

    async def aclose(self) -> None:
        """Stop the running loop's background work, then close the components in reverse
        creation order, logging failures. The runtime is then as new: its next use
        builds everything again."""
        if "presence" in self.__dict__:
            await self.presence.stop()
        for work in self._backgrounds_loaded():
            await work.stop()
        self._background_loop = None
        for role, instance in reversed(list(self._components.items())):
            close = getattr(instance, "aclose", None)
            if close is None:
                continue
            try:
                await close()
            except Exception:
                logger.warning("Closing the %s component failed", role, exc_info=True)
        self._components.clear()
        self._applications.clear()
        for built in WIRED:
            self.__dict__.pop(built, None)

    def discard(self) -> None:
        """Cancel background work without waiting: this runtime is being replaced."""
        if "presence" in self.__dict__:
            self.presence.cancel()
        for work in self._backgrounds_loaded():
            work.cancel()

    def _backgrounds_loaded(self) -> list[Background]:
        # Only the applications built already: stopping must not build any.
        apps = [spec.app for spec in self._applications.values()]
        found = [getattr(app, "background", None) for app in apps]
        return [work for work in found if work is not None]


_runtime: Runtime | None = None
_serving = False


def serve_clients() -> None:
    """Note that this process serves clients (``thywill.asgi`` calls it)."""
    global _serving
    _serving = True


def get_runtime() -> Runtime:
    """The process's runtime, built on first use."""
    global _runtime
    if _runtime is None:
        _runtime = Runtime()
    return _runtime


def reset_runtime() -> None:
    """Forget the cached settings and the runtime; the next use builds them anew."""
    global _runtime
    conf.reset()
    shared.use_push_cache(None)
    if _runtime is not None:
        _runtime.discard()
    _runtime = None
