"""Building what settings name: components, applications, pipes and hook scripts.

Each is named by dotted path with keyword OPTIONS, loaded with Django's ``import_string``,
checked against its base class and built with its OPTIONS; a problem is a
``ConfigurationError`` carrying the id of the system check that reports it. The runtime
(``thywill.wiring.runtime``) builds with these once per process; the system checks build
with them too, exactly as the running site would.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any, TypeVar

from django.utils.module_loading import import_string

from thywill import conf
from thywill.application.base import Application
from thywill.application.spec import ApplicationSpec
from thywill.database.base import BaseDatabase
from thywill.exceptions import ConfigurationError, InvalidComponentError
from thywill.hooks.pipe import HookPipe
from thywill.hooks.scripts import HookScripts
from thywill.log.base import BaseLog
from thywill.pipeline import Pipe
from thywill.push.base import BasePushBackend

ROLE_BASES: dict[str, type] = {
    "push": BasePushBackend,
    "database": BaseDatabase,
    "log": BaseLog,
}

T = TypeVar("T")


def load_class(setting: str, path: str) -> type:
    """Import the class a setting names (thywill.E002 when it can't be)."""
    try:
        cls = import_string(path)
    except ImportError as exc:
        raise InvalidComponentError(
            f"{setting}['BACKEND'] = {path!r} cannot be imported: {exc}",
            check_id="thywill.E002",
        ) from exc
    if not isinstance(cls, type):
        raise InvalidComponentError(
            f"{setting}['BACKEND'] = {path!r} is not a class.", check_id="thywill.E003"
        )
    return cls


def build(setting: str, cls: type[T], options: Mapping[str, Any], **extra: Any) -> T:
    """Instantiate ``cls`` with its OPTIONS; unknown or bad options are thywill.E004."""
    kwargs = {**options, **extra}
    try:
        inspect.signature(cls).bind(**kwargs)
    except TypeError as exc:
        raise InvalidComponentError(
            f"Unknown or missing OPTIONS for {setting}: {exc}", check_id="thywill.E004"
        ) from exc
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as exc:
        raise InvalidComponentError(
            f"Invalid OPTIONS for {setting}: {exc}", check_id="thywill.E004"
        ) from exc


def load_component(role: str, config: Mapping[str, Any]) -> object:
    """Build the component for ``role`` from its settings entry."""
    setting = f"THYWILL_COMPONENTS[{role!r}]"
    cls = load_class(setting, config["BACKEND"])
    base = ROLE_BASES[role]
    if not issubclass(cls, base):
        raise InvalidComponentError(
            f"{setting}['BACKEND'] = {config['BACKEND']!r} is not a subclass of "
            f"{base.__module__}.{base.__qualname__}.",
            check_id="thywill.E003",
        )
    return build(setting, cls, config["OPTIONS"])


def load_application(name: str, config: Mapping[str, Any]) -> ApplicationSpec:
    """Build the application called ``name`` from its settings entry."""
    setting = f"THYWILL_APPLICATIONS[{name!r}]"
    cls = load_class(setting, config["BACKEND"])
    handlers = ("client_config", "on_connect", "on_message", "on_disconnect")
    app: object = None
    if all(callable(getattr(cls, h, None)) for h in handlers):
        app = build(setting, cls, config["OPTIONS"], name=name)
    if not isinstance(app, Application):
        raise InvalidComponentError(
            f"{setting}['BACKEND'] = {config['BACKEND']!r} does not provide the "
            "Application interface (name, title, scripts, styles, client_config, "
            "on_connect, on_message, on_disconnect); subclass "
            "thywill.BaseApplication.",
            check_id="thywill.E003",
        )
    return ApplicationSpec.of(app)


def load_pipes() -> list[Pipe]:
    """Build the global pipes named in THYWILL_PIPELINE (E011, or E002-E004 per entry)."""
    pipes = []
    for index, config in enumerate(conf.get_pipeline()):
        setting = f"THYWILL_PIPELINE[{index}]"
        cls = load_class(setting, config["BACKEND"])
        if not issubclass(cls, Pipe):
            raise InvalidComponentError(
                f"{setting}['BACKEND'] = {config['BACKEND']!r} is not a subclass of "
                "thywill.Pipe.",
                check_id="thywill.E003",
            )
        pipes.append(build(setting, cls, config["OPTIONS"]))
    return pipes


def load_hooks() -> HookPipe | None:
    """The hook scripts of THYWILL_HOOKS as a pipe, or None when no folder is set."""
    config = conf.get_hooks()
    if config.path is None:
        return None
    return HookPipe(HookScripts(config.path, reload=config.reload))


def load_app_hooks(app: ApplicationSpec) -> HookPipe | None:
    """The hook scripts of an application's ``hooks`` folder as a pipe, or None when it
    has none. They are reloaded as THYWILL_HOOKS["RELOAD"] says (thywill.E010)."""
    if app.hooks is None:
        return None
    if not app.hooks.is_dir():
        raise ConfigurationError(
            f"The hooks of application {app.name!r} must name a folder of hook "
            f"scripts; {str(app.hooks)!r} is not one.",
            check_id="thywill.E010",
        )
    reload = conf.get_hooks().reload
    return HookPipe(HookScripts(app.hooks, reload=reload, namespace=app.name))
