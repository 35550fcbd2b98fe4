"""An application as thywill runs it: its object, with every optional attribute
resolved once, when it loads (as Django resolves a model's ``Meta`` into ``_meta``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from pathlib import Path

from thywill.application.base import Application
from thywill.pipeline import Pipe
from thywill.types import JSON

PRESENCE_KINDS = ("client", "user")
"""What a group's join and leave events are about: each client, or each logged-in user."""


@dataclasses.dataclass(frozen=True, slots=True)
class ApplicationSpec:
    """One configured application: the object built from THYWILL_APPLICATIONS, and its
    optional attributes with their defaults (``BaseApplication`` documents each)."""

    app: Application
    name: str
    title: str
    description: str
    scripts: tuple[str, ...]
    styles: tuple[str, ...]
    pipeline: tuple[Pipe, ...]
    hooks: Path | None
    quiet_groups: frozenset[str]
    per_user_presence: bool
    transaction_alias: str | None

    @classmethod
    def of(cls, app: Application) -> ApplicationSpec:
        """Resolve ``app``'s attributes, optional ones included."""
        hooks = getattr(app, "hooks", None)
        presence = getattr(app, "presence", "client")
        if presence not in PRESENCE_KINDS:
            raise ValueError(
                f"{app.name}: presence must be one of {', '.join(PRESENCE_KINDS)}, "
                f"not {presence!r}"
            )
        return cls(
            app=app,
            name=app.name,
            title=app.title or app.name,
            description=str(getattr(app, "description", "")),
            scripts=tuple(app.scripts),
            styles=tuple(app.styles),
            pipeline=tuple(getattr(app, "pipeline", ())),
            hooks=None if hooks is None else Path(hooks),
            quiet_groups=_names(getattr(app, "quiet_groups", ())),
            per_user_presence=presence == "user",
            transaction_alias=getattr(app, "transaction_alias", "default"),
        )

    def announces(self, group: str) -> bool:
        """Whether joins and leaves of ``group`` are announced to its members: not for
        the application's ``quiet_groups``."""
        return group not in self.quiet_groups

    def client_config(self) -> Mapping[str, JSON]:
        """What the application's JavaScript gets as ``thywill.config.app``."""
        return self.app.client_config()


def _names(names: Collection[str] | str) -> frozenset[str]:
    # One name given as a string is that name, not its letters.
    return frozenset([names] if isinstance(names, str) else names)
