"""Loading the components and applications named in settings.

Each is named by dotted path with keyword OPTIONS, loaded with Django's ``import_string``,
checked against its base class, built once per process on first use and kept in a plain
dict (not Django's per-context connection handler: one push backend must serve every
request of the process).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import Any, TypeVar

from django.utils.module_loading import import_string

from thywill import conf
from thywill.application.base import Application
from thywill.database.base import BaseDatabase
from thywill.exceptions import ErrorCode, InvalidComponentError, RejectedError
from thywill.identity.tokens import ClientIdentity
from thywill.log.base import BaseLog
from thywill.push.base import BasePushBackend

logger = logging.getLogger(__name__)

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


def load_application(name: str, config: Mapping[str, Any]) -> Application:
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
            "thywill.application.BaseApplication.",
            check_id="thywill.E003",
        )
    return app


class ComponentRegistry:
    """The process's components, built lazily from THYWILL_COMPONENTS."""

    def __init__(self) -> None:
        self._instances: dict[str, object] = {}

    @property
    def push(self) -> BasePushBackend:
        """The push backend."""
        return self._get("push", BasePushBackend)

    @property
    def database(self) -> BaseDatabase:
        """The database component."""
        return self._get("database", BaseDatabase)

    @property
    def log(self) -> BaseLog:
        """The log component."""
        return self._get("log", BaseLog)

    def _get(self, role: str, base: type[T]) -> T:
        instance = self._instances.get(role)
        if instance is None:
            instance = load_component(role, conf.get_component_configs()[role])
            self._instances[role] = instance
        assert isinstance(instance, base)
        return instance

    def reset(self) -> None:
        """Forget every instance; the next use builds them anew from settings."""
        self._instances.clear()

    async def aclose_all(self) -> None:
        """Close the components in reverse creation order, logging failures."""
        for role, instance in reversed(list(self._instances.items())):
            close = getattr(instance, "aclose", None)
            if close is None:
                continue
            try:
                await close()
            except Exception:
                logger.warning("Closing the %s component failed", role, exc_info=True)
        self._instances.clear()


class UnknownApplicationError(LookupError):
    """No application of that name is configured."""


class ApplicationRegistry:
    """The process's applications, built lazily from THYWILL_APPLICATIONS."""

    def __init__(self) -> None:
        self._instances: dict[str, Application] = {}

    def get(self, name: str | None = None) -> Application:
        """The application called ``name``, or the default one.

        Raises:
            UnknownApplicationError: no application of that name is configured.
        """
        if name is None:
            name = conf.get_default_application()
        app = self._instances.get(name)
        if app is None:
            configs = conf.get_application_configs()
            if name not in configs:
                raise UnknownApplicationError(name)
            app = load_application(name, configs[name])
            self._instances[name] = app
        return app

    def all(self) -> list[Application]:
        """Every configured application, in the order of THYWILL_APPLICATIONS."""
        return [self.get(name) for name in conf.get_application_configs()]

    def of_client(self, identity: ClientIdentity) -> Application:
        """The application a client's token names, for its sends.

        Raises:
            RejectedError: ``unknown_application`` when it is no longer configured.
        """
        try:
            return self.get(identity.application)
        except UnknownApplicationError:
            raise RejectedError(
                ErrorCode.UNKNOWN_APPLICATION,
                f"The application {identity.application!r} is no longer configured.",
            ) from None

    def reset(self) -> None:
        """Forget every instance; the next use builds them anew from settings."""
        self._instances.clear()


components = ComponentRegistry()
applications = ApplicationRegistry()


def reset_all() -> None:
    """Forget the cached settings, components, applications and flows."""
    from thywill.events.flows import flows  # flows are built from components: no cycle

    conf.reset()
    components.reset()
    applications.reset()
    flows.reset()
