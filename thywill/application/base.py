"""The contract between thywill and an application."""

from __future__ import annotations

from collections.abc import Awaitable, Collection, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from thywill.handlers.context import Context
from thywill.pipeline import Pipe
from thywill.types import JSON


@runtime_checkable
class Application(Protocol):
    """What thywill needs of an application object.

    An application lives in any importable package; the class named in
    ``THYWILL_APPLICATIONS`` is built once per process with its ``OPTIONS`` as keyword
    arguments plus ``name``. Handlers may be plain functions or coroutines; plain ones run
    in Django's thread for sync code, inside a database transaction, so the ORM can be
    used directly.

    Besides the handlers below, a message whose data is an object with a ``type`` such as
    ``"chat.say"`` goes to the method ``on_chat_say(ctx, data)`` when the application has
    one (dots become underscores), and to ``on_message`` otherwise. Optional attributes:
    ``description`` (a sentence about the application, for the start page),
    ``pipeline`` (a sequence of ``Pipe`` around every event of the application),
    ``hooks`` (a folder of hook scripts that run for this application's events only),
    ``quiet_groups`` (names of groups whose joins and leaves are not announced to their
    members), ``presence`` (``"client"``: members hear of each client that joins or
    leaves; ``"user"``: of each logged-in user, when the user's first client joins and
    when the last one leaves) and ``transaction_alias`` (the database whose transaction
    wraps sync handlers, ``None`` for none; default ``"default"``).
    """

    name: str
    title: str
    scripts: Sequence[str]
    styles: Sequence[str]

    def client_config(self) -> Mapping[str, JSON]:
        """Settings for the application's JavaScript, as ``thywill.config.app``."""

    def on_connect(self, ctx: Context) -> Awaitable[None] | None:
        """Handle a new client, right after the bootstrap page issued its identity."""

    def on_message(self, ctx: Context, data: JSON) -> Awaitable[None] | None:
        """Handle one message sent by a client; reply with ``ctx.reply(...)``."""

    def on_disconnect(self, ctx: Context) -> Awaitable[None] | None:
        """Handle a client that is gone: its presence lease lapsed (runs once); it then
        leaves its groups."""


class BaseApplication:
    """A convenient base for applications: no-op handlers and no assets.

    Subclasses set ``title`` (and a one-sentence ``description``, both shown on the
    site's start page), list their static files in ``scripts`` and ``styles``
    (paths for Django's ``{% static %}``), and override the handlers they need, plus one
    ``on_<type>`` method per message type of their own. ``hooks`` names a folder of hook
    scripts shipped with the application (usually ``Path(__file__).with_name("hooks")``):
    they run for its events only, inside the site's THYWILL_HOOKS scripts
    (documentation/hooks.md). Joins and leaves of the groups in ``quiet_groups`` send no
    ``thywill.join``/``thywill.leave`` to the members: for a broadcast list whose members
    need not know of each other, a join then costs one write instead of a message to
    every member. Options from settings arrive as keyword arguments;
    declare them in ``__init__``::

        class ChatApplication(BaseApplication):
            pipeline = [RateLimitPipe(rate=5, per=1.0)]

            def __init__(self, *, name: str, history: int = 50) -> None:
                super().__init__(name=name)
                self.history = history

            def on_chat_say(self, ctx: Context, data: JSON) -> None:
                ctx.send_to_group("lobby", data)

    Args:
        name: the application's key in ``THYWILL_APPLICATIONS``.
    """

    title: str = ""
    description: str = ""
    scripts: Sequence[str] = ()
    styles: Sequence[str] = ()
    pipeline: Sequence[Pipe] = ()
    hooks: Path | None = None
    quiet_groups: Collection[str] = frozenset()
    presence: str = "client"
    transaction_alias: str | None = "default"

    def __init__(self, *, name: str) -> None:
        self.name = name
        if not self.title:
            self.title = name

    def client_config(self) -> Mapping[str, JSON]:
        """Settings for the application's JavaScript (none by default)."""
        return {}

    def on_connect(self, ctx: Context) -> Awaitable[None] | None:
        """Handle a new client (does nothing by default)."""
        return None

    def on_message(self, ctx: Context, data: JSON) -> Awaitable[None] | None:
        """Handle one message sent by a client (does nothing by default)."""
        return None

    def on_disconnect(self, ctx: Context) -> Awaitable[None] | None:
        """Handle a client that is gone (does nothing by default)."""
        return None
