"""The inspector application: name it in THYWILL_APPLICATIONS to turn the inspector on.

::

    THYWILL_APPLICATIONS = {
        ...,
        "inspector": {"BACKEND": "thywill.inspector.application.InspectorApplication"},
    }

Its page is the application's page, ``<prefix>inspector/init/``: staff users only (the
bootstrap page sends others to the admin's login, or answers 403), and its connect event
refuses any other client. documentation/operations.md#the-inspector tells what it shows
and what it costs.
"""

from __future__ import annotations

from collections.abc import Mapping

from thywill.application.base import BaseApplication
from thywill.handlers.context import Context
from thywill.inspector.watcher import GROUP, Watcher
from thywill.pipeline import fail
from thywill.types import JSON

STALE = 5.0
"""Seconds after which the page drops a process whose snapshot was not refreshed."""


class InspectorApplication(BaseApplication):
    """A live view of the site, for staff: each server process pushes its snapshot to
    every open inspector page once a second, and the page sums them.

    Args:
        name: the application's key in THYWILL_APPLICATIONS.
        interval: seconds between two snapshots of a process (at least 0.2).
        errors: how many of its latest errors each process keeps and shows (1 to 500).
    """

    title = "Inspector"
    description = "Connections, message rates, groups and errors, live (staff only)."
    scripts = ("thywill/inspector/inspector.js",)
    styles = ("thywill/inspector/inspector.css",)
    quiet_groups = frozenset({GROUP})
    transaction_alias = None
    staff_only = True
    """Read by the bootstrap page: only active staff users get it."""

    def __init__(self, *, name: str, interval: float = 1.0, errors: int = 50) -> None:
        super().__init__(name=name)
        if not 0.2 <= interval <= 60:
            raise ValueError(f"interval must be 0.2 to 60 seconds, not {interval!r}")
        if not 1 <= errors <= 500:
            raise ValueError(f"errors must be 1 to 500, not {errors!r}")
        self.background = Watcher(name, interval=interval, errors=errors)

    def client_config(self) -> Mapping[str, JSON]:
        return {"interval": self.background.interval, "stale": STALE}

    async def on_connect(self, ctx: Context) -> None:
        user = await ctx.auser()
        if not (user.is_active and getattr(user, "is_staff", False)):
            fail("The inspector is for staff users only.", code="refused")
        ctx.join(GROUP)
        # Wakes every process's watcher: each starts pushing its snapshots.
        ctx.send_to_group(GROUP, {"type": "inspector.hello"})

    async def on_message(self, ctx: Context, data: JSON) -> None:
        fail("The inspector takes no messages.", code="bad_message")
