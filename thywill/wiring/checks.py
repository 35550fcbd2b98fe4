"""System checks for the THYWILL_* settings (ids thywill.E001 to E018, W001 to W007).

Each check builds what the settings name, exactly as the running site would, and turns
a configuration error into a check message naming the setting. See
documentation/settings.md for the list of ids.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable
from typing import Any

from django.apps import apps as django_apps
from django.conf import settings
from django.core import checks
from django.core.checks import CheckMessage
from django.urls import NoReverseMatch, get_script_prefix, reverse
from django.utils.module_loading import import_string

from thywill import conf
from thywill.exceptions import ConfigurationError
from thywill.wiring.loading import (
    load_app_hooks,
    load_application,
    load_component,
    load_hooks,
    load_pipes,
)

REQUIRED_APPS = (
    "django.contrib.sessions",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
)
REQUIRED_MIDDLEWARE = (
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
)

PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


def _as_error(exc: ConfigurationError) -> CheckMessage:
    return checks.Error(exc.message, id=exc.check_id)


def _collect(*steps: Callable[[], object]) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for step in steps:
        try:
            step()
        except ConfigurationError as exc:
            errors.append(_as_error(exc))
    return errors


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """THYWILL_LIMITS, THYWILL_TRANSPORTS, THYWILL_CSP, THYWILL_RESUME,
    THYWILL_SELFTEST, THYWILL_GC_FREEZE and THYWILL_SHARE_CONNECTIONS are valid."""
    return _collect(
        conf.get_limits,
        conf.get_transports,
        conf.get_csp,
        conf.get_resume,
        conf.get_selftest,
        conf.get_gc_freeze,
        conf.get_share_connections,
    )


STREAM_MESSAGES = 16
"""The fewest largest messages a stream should carry before it is ended (W007)."""


def check_bounds(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The bounds of THYWILL_LIMITS leave room for what clients do (thywill.W006,
    W007)."""
    try:
        limits = conf.get_limits()
    except ConfigurationError:
        return []  # reported by check_settings
    messages: list[CheckMessage] = []
    if limits.max_connections_per_client < 2:
        messages.append(
            checks.Warning(
                "THYWILL_LIMITS['MAX_CONNECTIONS_PER_CLIENT'] is 1: a client that "
                "reconnects before the server noticed its old connection is gone is "
                "refused until then.",
                hint="Allow at least 2 (the default is 8).",
                id="thywill.W006",
            )
        )
    if limits.max_stream_bytes < STREAM_MESSAGES * limits.max_message_bytes:
        messages.append(
            checks.Warning(
                f"THYWILL_LIMITS['MAX_STREAM_BYTES'] ({limits.max_stream_bytes}) is under "
                f"{STREAM_MESSAGES} messages of MAX_MESSAGE_BYTES "
                f"({limits.max_message_bytes}): a WebSocket or SSE stream may end, and "
                "its client reconnect, after every few messages.",
                hint="Allow several MiB (the default is 8 MiB).",
                id="thywill.W007",
            )
        )
    return messages


def check_components(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """Every component loads, has the right base class and accepts its OPTIONS."""
    try:
        configs = conf.get_component_configs()
    except ConfigurationError as exc:
        return [_as_error(exc)]
    messages: list[CheckMessage] = []
    for role, config in configs.items():
        try:
            component = load_component(role, config)
        except ConfigurationError as exc:
            messages.append(_as_error(exc))
            continue
        own_check = getattr(component, "check", None)
        if own_check is not None:
            messages.extend(own_check())
    return messages


def check_applications(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The applications are configured, each loads, and the default one exists; one
    with static files is in an installed app, where staticfiles finds them (W002)."""
    try:
        configs = conf.get_application_configs()
    except ConfigurationError as exc:
        return [_as_error(exc)]
    messages = _collect(conf.get_default_application)
    for name, config in configs.items():
        try:
            app = load_application(name, config)
        except ConfigurationError as exc:
            messages.append(_as_error(exc))
            continue
        module = type(app.app).__module__
        if (app.scripts or app.styles) and not django_apps.get_containing_app_config(
            module
        ):
            messages.append(
                checks.Warning(
                    f"THYWILL_APPLICATIONS[{name!r}] is not in a package listed in "
                    "INSTALLED_APPS, so its static files and models are not found.",
                    hint=f"Add {module.rpartition('.')[0]!r} to INSTALLED_APPS.",
                    id="thywill.W002",
                )
            )
    return messages


def check_pipeline(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """THYWILL_PIPELINE is a list of pipes that load and accept their OPTIONS."""
    return _collect(load_pipes)


def check_hooks(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """THYWILL_HOOKS is valid, its scripts and each application's load, and their
    shared state is shared."""
    messages = _collect(load_hooks)
    if messages:
        return messages
    try:
        configs = conf.get_application_configs()
    except ConfigurationError:
        configs = {}  # reported by check_applications
    for name, config in configs.items():
        try:
            app = load_application(name, config)
        except ConfigurationError:
            continue  # reported by check_applications
        messages.extend(_collect(functools.partial(load_app_hooks, app)))
    hooks = conf.get_hooks()
    # Without CACHE, the store is the push backend's when every process shares it, and
    # one process's otherwise (where a push backend of one process allows no other).
    backend = settings.CACHES[hooks.cache]["BACKEND"] if hooks.cache is not None else ""
    if hooks.path is not None and not settings.DEBUG and backend in PER_PROCESS_CACHES:
        messages.append(
            checks.Warning(
                f"THYWILL_HOOKS['CACHE'] is {hooks.cache!r}, a "
                f"{backend.rpartition('.')[2]}: the shared state of hook scripts is not "
                "shared between processes.",
                hint="Use a cache every server process reaches, such as RedisCache.",
                id="thywill.W003",
            )
        )
    return messages


def check_django_setup(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """What the bootstrap page relies on is there: sessions, users and static files, and
    the middleware that loads sessions and users (thywill.E013)."""
    messages: list[CheckMessage] = [
        checks.Error(
            f"thywill needs {app!r} in INSTALLED_APPS.",
            hint="Its bootstrap page binds each client to a session (and a user), and "
            "loads the browser client as a static file.",
            id="thywill.E013",
        )
        for app in REQUIRED_APPS
        if not django_apps.is_installed(app)
    ]
    for required in REQUIRED_MIDDLEWARE:
        if not _has_middleware(import_string(required)):
            messages.append(
                checks.Error(
                    f"thywill needs {required!r} (or a subclass) in MIDDLEWARE.",
                    hint="The bootstrap page reads the request's session and user.",
                    id="thywill.E013",
                )
            )
    return messages


def _has_middleware(required: type) -> bool:
    for path in settings.MIDDLEWARE:
        try:
            middleware = import_string(path)
        except ImportError:
            continue  # Django reports a middleware that does not import
        if isinstance(middleware, type) and issubclass(middleware, required):
            return True
    return False


def check_urls(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """``thywill.urls`` is included in the URLconf (thywill.E014), under a prefix of its
    own (thywill.W005: its last pattern answers every other path with a JSON 404)."""
    try:
        init = reverse("thywill:init")
    except NoReverseMatch:
        return [
            checks.Error(
                "thywill.urls is not included in the URLconf.",
                hint='Add path("thywill/", include("thywill.urls")) to the urlpatterns '
                "of ROOT_URLCONF.",
                id="thywill.E014",
            )
        ]
    if init == get_script_prefix() + "init/":
        return [
            checks.Warning(
                "thywill.urls is included without a prefix: its catch-all pattern "
                "answers every URL listed after it with a JSON 404.",
                hint='Include it under a prefix of its own, such as path("thywill/", '
                'include("thywill.urls")).',
                id="thywill.W005",
            )
        ]
    return []


def check_csrf_storage(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The CSRF token is in its cookie: the send endpoint runs without the session
    middleware (thywill/edge/direct.py), so it cannot read one kept in the session."""
    if not settings.CSRF_USE_SESSIONS:
        return []
    return [
        checks.Error(
            "CSRF_USE_SESSIONS is on, but thywill's send endpoint checks the CSRF token "
            "without loading the session.",
            hint="Leave CSRF_USE_SESSIONS off (Django's default): the token is then kept "
            "in the csrftoken cookie.",
            id="thywill.E012",
        )
    ]


def check_metrics(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """THYWILL_METRICS is valid; when enabled, prometheus_client is installed and
    PROMETHEUS_MULTIPROC_DIR, if set, is a folder (thywill.E017)."""
    try:
        config = conf.get_metrics()
    except ConfigurationError as exc:
        return [_as_error(exc)]
    if not config.enabled:
        return []
    if importlib.util.find_spec("prometheus_client") is None:
        return [
            checks.Error(
                "THYWILL_METRICS is enabled, but prometheus_client is not installed.",
                hint="Install thywill's metrics extra: pip install 'thywill[metrics]'.",
                id="thywill.E017",
            )
        ]
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and not os.path.isdir(directory):
        return [
            checks.Error(
                f"PROMETHEUS_MULTIPROC_DIR is {directory!r}, which is not a folder.",
                hint="Create it (empty) before the server processes start.",
                id="thywill.E017",
            )
        ]
    return []


def register() -> None:
    """Register every check of this module with Django (from ``AppConfig.ready``)."""
    for check in (
        check_settings,
        check_bounds,
        check_components,
        check_applications,
        check_pipeline,
        check_hooks,
        check_django_setup,
        check_urls,
        check_csrf_storage,
        check_metrics,
    ):
        checks.register(check, "thywill")
