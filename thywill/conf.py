"""The one place that reads THYWILL_* settings, fills in defaults and validates them.

Values are computed once and cached; ``reset()`` (wired to Django's ``setting_changed``
signal in ``apps.py``) drops the cache so that ``override_settings`` works in tests.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings

from thywill.exceptions import ConfigurationError

TRANSPORT_NAMES = ("websocket", "sse", "longpoll")
"""Every transport this version of thywill implements, by its ``?transport=`` name.

Also the default of THYWILL_TRANSPORTS: the order in which the client tries them.
"""

DEFAULT_COMPONENTS: dict[str, dict[str, Any]] = {
    "push": {"BACKEND": "thywill.push.locmem.LocMemPushBackend", "OPTIONS": {}},
    "database": {"BACKEND": "thywill.database.orm.OrmDatabase", "OPTIONS": {}},
    "log": {"BACKEND": "thywill.log.stdlib.StdlibLog", "OPTIONS": {}},
}

APPLICATION_NAME = re.compile(r"[a-z][a-z0-9_-]{0,49}")


@dataclasses.dataclass(frozen=True, slots=True)
class Limits:
    """Sizes and timings, from THYWILL_LIMITS (keys are the upper-case field names)."""

    max_message_bytes: int = 64 * 1024
    max_batch: int = 100
    longpoll_timeout: float = 25.0
    sse_keepalive: float = 15.0
    token_max_age: int = 7 * 24 * 3600
    reconnect_max_delay: float = 30.0
    read_batch: int = 100
    presence_ttl: float = 60.0
    bye_grace: float = 5.0
    max_clients_per_session: int = 100
    max_connections_per_client: int = 8
    max_stream_bytes: int = 8 * 1024 * 1024
    auth_timeout: float = 10.0
    max_clients_per_connection: int = 16

    def as_client_config(self) -> dict[str, float | int]:
        """The limits the browser client needs, with the protocol's camelCase names."""
        return {
            "maxMessageBytes": self.max_message_bytes,
            "maxBatch": self.max_batch,
            "longpollTimeout": self.longpoll_timeout,
            "sseKeepalive": self.sse_keepalive,
            "reconnectMaxDelay": self.reconnect_max_delay,
            "maxClientsPerConnection": self.max_clients_per_connection,
        }


@functools.cache
def get_limits() -> Limits:
    """THYWILL_LIMITS over the defaults; raises ConfigurationError (thywill.E008)."""
    raw = getattr(settings, "THYWILL_LIMITS", {})
    if not isinstance(raw, Mapping):
        raise ConfigurationError("THYWILL_LIMITS must be a dict.", check_id="thywill.E008")
    fields = {field.name: field.type for field in dataclasses.fields(Limits)}
    values: dict[str, float | int] = {}
    for key, value in raw.items():
        name = str(key).lower()
        if name not in fields:
            known = ", ".join(sorted(f.upper() for f in fields))
            raise ConfigurationError(
                f"THYWILL_LIMITS has an unknown key {key!r}; known keys: {known}.",
                check_id="thywill.E008",
            )
        wants_int = fields[name] == "int"
        ok_type = isinstance(value, int) if wants_int else isinstance(value, int | float)
        if isinstance(value, bool) or not ok_type or value <= 0:
            kind = "a positive integer" if wants_int else "a positive number"
            raise ConfigurationError(
                f"THYWILL_LIMITS[{key!r}] must be {kind}, not {value!r}.",
                check_id="thywill.E008",
            )
        values[name] = value
    return Limits(**values)  # type: ignore[arg-type]


@functools.cache
def get_transports() -> tuple[str, ...]:
    """THYWILL_TRANSPORTS, in the order the client tries them (thywill.E007)."""
    raw = getattr(settings, "THYWILL_TRANSPORTS", list(TRANSPORT_NAMES))
    if not isinstance(raw, list | tuple) or not raw:
        raise ConfigurationError(
            "THYWILL_TRANSPORTS must be a non-empty list of transport names.",
            check_id="thywill.E007",
        )
    for name in raw:
        if name not in TRANSPORT_NAMES:
            raise ConfigurationError(
                f"THYWILL_TRANSPORTS names an unknown transport {name!r}; "
                f"available: {', '.join(TRANSPORT_NAMES)}.",
                check_id="thywill.E007",
            )
    if len(set(raw)) != len(raw):
        raise ConfigurationError(
            "THYWILL_TRANSPORTS lists a transport twice.", check_id="thywill.E007"
        )
    return tuple(raw)


@functools.cache
def get_component_configs() -> dict[str, dict[str, Any]]:
    """THYWILL_COMPONENTS merged over the defaults, one entry per role (thywill.E001)."""
    raw = getattr(settings, "THYWILL_COMPONENTS", {})
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            "THYWILL_COMPONENTS must be a dict of role -> {'BACKEND', 'OPTIONS'}.",
            check_id="thywill.E001",
        )
    configs = dict(DEFAULT_COMPONENTS)
    for role, config in raw.items():
        if role not in DEFAULT_COMPONENTS:
            raise ConfigurationError(
                f"THYWILL_COMPONENTS has an unknown role {role!r}; "
                f"roles: {', '.join(DEFAULT_COMPONENTS)}.",
                check_id="thywill.E001",
            )
        configs[role] = _entry(f"THYWILL_COMPONENTS[{role!r}]", config, "thywill.E001")
    return configs


@functools.cache
def get_application_configs() -> dict[str, dict[str, Any]]:
    """THYWILL_APPLICATIONS: application name -> {'BACKEND', 'OPTIONS'} (thywill.E005)."""
    raw = getattr(settings, "THYWILL_APPLICATIONS", None)
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigurationError(
            "THYWILL_APPLICATIONS must be a non-empty dict of name -> "
            "{'BACKEND', 'OPTIONS'}.",
            check_id="thywill.E005",
        )
    configs = {}
    for name, config in raw.items():
        if not isinstance(name, str) or not APPLICATION_NAME.fullmatch(name):
            raise ConfigurationError(
                f"THYWILL_APPLICATIONS has an invalid name {name!r}: use 1 to 50 "
                "lower-case letters, digits, '_' or '-', starting with a letter.",
                check_id="thywill.E006",
            )
        configs[name] = _entry(f"THYWILL_APPLICATIONS[{name!r}]", config, "thywill.E005")
    return configs


@functools.cache
def get_default_application() -> str:
    """THYWILL_DEFAULT_APPLICATION, or the first configured application (thywill.E005)."""
    names = list(get_application_configs())
    default = getattr(settings, "THYWILL_DEFAULT_APPLICATION", names[0])
    if default not in names:
        raise ConfigurationError(
            f"THYWILL_DEFAULT_APPLICATION is {default!r}, which is not a key of "
            "THYWILL_APPLICATIONS.",
            check_id="thywill.E005",
        )
    return str(default)


def _entry(setting: str, config: object, check_id: str) -> dict[str, Any]:
    if not isinstance(config, Mapping) or not isinstance(config.get("BACKEND"), str):
        raise ConfigurationError(
            f"{setting} must be a dict with a 'BACKEND' dotted path.", check_id=check_id
        )
    unknown = set(config) - {"BACKEND", "OPTIONS"}
    if unknown:
        raise ConfigurationError(
            f"{setting} has unknown keys {sorted(unknown)}; use 'BACKEND' and 'OPTIONS'.",
            check_id=check_id,
        )
    options = config.get("OPTIONS", {})
    if not isinstance(options, Mapping):
        raise ConfigurationError(f"{setting}['OPTIONS'] must be a dict.", check_id=check_id)
    return {"BACKEND": config["BACKEND"], "OPTIONS": dict(options)}


@dataclasses.dataclass(frozen=True, slots=True)
class HooksConfig:
    """THYWILL_HOOKS: where hook scripts are, whether to reload them, their cache
    (None: the push backend's store when every process shares it, else ``"default"``)."""

    path: Path | None = None
    reload: bool = False
    cache: str | None = None


@functools.cache
def get_hooks() -> HooksConfig:
    """THYWILL_HOOKS over the defaults (thywill.E010). RELOAD defaults to DEBUG."""
    raw = getattr(settings, "THYWILL_HOOKS", {})
    setting = "THYWILL_HOOKS"
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{setting} must be a dict.", check_id="thywill.E010")
    unknown = sorted(set(raw) - {"PATH", "RELOAD", "CACHE"})
    if unknown:
        raise ConfigurationError(
            f"{setting} has unknown keys {unknown}; use 'PATH', 'RELOAD' and 'CACHE'.",
            check_id="thywill.E010",
        )
    path = raw.get("PATH")
    if path is not None:
        if not isinstance(path, str | Path) or not Path(path).is_dir():
            raise ConfigurationError(
                f"{setting}['PATH'] must name a folder of hook scripts; "
                f"{path!r} is not one.",
                check_id="thywill.E010",
            )
        path = Path(path)
    reload = raw.get("RELOAD", settings.DEBUG)
    if not isinstance(reload, bool):
        raise ConfigurationError(
            f"{setting}['RELOAD'] must be True or False, not {reload!r}.",
            check_id="thywill.E010",
        )
    cache = raw.get("CACHE")
    if cache is not None and (not isinstance(cache, str) or cache not in settings.CACHES):
        raise ConfigurationError(
            f"{setting}['CACHE'] must be a key of CACHES, not {cache!r}.",
            check_id="thywill.E010",
        )
    return HooksConfig(path, reload, cache)


@functools.cache
def get_pipeline() -> tuple[dict[str, Any], ...]:
    """THYWILL_PIPELINE: the global pipes, each as {'BACKEND', 'OPTIONS'} (thywill.E011).

    An entry is a dotted path, or a dict with 'BACKEND' and 'OPTIONS'.
    """
    raw = getattr(settings, "THYWILL_PIPELINE", [])
    if not isinstance(raw, list | tuple):
        raise ConfigurationError(
            "THYWILL_PIPELINE must be a list of pipes (dotted paths or "
            "{'BACKEND', 'OPTIONS'} dicts).",
            check_id="thywill.E011",
        )
    entries = []
    for index, entry in enumerate(raw):
        if isinstance(entry, str):
            entry = {"BACKEND": entry}
        entries.append(_entry(f"THYWILL_PIPELINE[{index}]", entry, "thywill.E011"))
    return tuple(entries)


CSP_NONCE = "'nonce'"
"""In a THYWILL_CSP source list: this response's nonce, written ``'nonce-<value>'``."""

DEFAULT_CSP: dict[str, tuple[str, ...]] = {
    "default-src": ("'self'",),
    "script-src": ("'self'", CSP_NONCE),
    "style-src": ("'self'",),
    # 'self' covers ws: and wss: of the page's own host (CSP Level 3).
    "connect-src": ("'self'",),
    "img-src": ("'self'", "data:"),
    "frame-ancestors": ("'none'",),
    "base-uri": ("'none'",),
    "object-src": ("'none'",),
    "form-action": ("'self'",),
}

_CSP_DIRECTIVE = re.compile(r"[a-z][a-z-]*")
_CSP_SOURCE = re.compile(r"[^\s;,]+")


@functools.cache
def get_csp() -> dict[str, tuple[str, ...]] | None:
    """THYWILL_CSP: the Content-Security-Policy of thywill's pages, directive -> sources,
    or ``None`` (no policy). Default: ``DEFAULT_CSP`` (thywill.E015)."""
    raw = getattr(settings, "THYWILL_CSP", DEFAULT_CSP)
    if raw is None:
        return None
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigurationError(
            "THYWILL_CSP must be None or a non-empty dict of directive -> list of sources.",
            check_id="thywill.E015",
        )
    policy: dict[str, tuple[str, ...]] = {}
    for directive, sources in raw.items():
        if not isinstance(directive, str) or not _CSP_DIRECTIVE.fullmatch(directive):
            raise ConfigurationError(
                f"THYWILL_CSP has an invalid directive name {directive!r}.",
                check_id="thywill.E015",
            )
        if isinstance(sources, str):
            sources = sources.split()
        if not isinstance(sources, list | tuple) or not all(
            isinstance(source, str) and _CSP_SOURCE.fullmatch(source) for source in sources
        ):
            raise ConfigurationError(
                f"THYWILL_CSP[{directive!r}] must be a list of sources, each without "
                f"spaces, ';' or ',', not {sources!r}.",
                check_id="thywill.E015",
            )
        policy[directive] = tuple(sources)
    return policy


@dataclasses.dataclass(frozen=True, slots=True)
class MetricsConfig:
    """THYWILL_METRICS: whether thywill keeps Prometheus metrics and serves them, and the
    bearer token a scraper presents (staff users may read them without one)."""

    enabled: bool = False
    token: str | None = None


MIN_METRICS_TOKEN = 16
"""The fewest characters of THYWILL_METRICS["TOKEN"]: a guessable token is no guard."""


@functools.cache
def get_metrics() -> MetricsConfig:
    """THYWILL_METRICS over the defaults (thywill.E017)."""
    raw = getattr(settings, "THYWILL_METRICS", {})
    setting = "THYWILL_METRICS"
    if not isinstance(raw, Mapping):
        raise ConfigurationError(f"{setting} must be a dict.", check_id="thywill.E017")
    unknown = sorted(set(raw) - {"ENABLED", "TOKEN"})
    if unknown:
        raise ConfigurationError(
            f"{setting} has unknown keys {unknown}; use 'ENABLED' and 'TOKEN'.",
            check_id="thywill.E017",
        )
    enabled = raw.get("ENABLED", False)
    if not isinstance(enabled, bool):
        raise ConfigurationError(
            f"{setting}['ENABLED'] must be True or False, not {enabled!r}.",
            check_id="thywill.E017",
        )
    token = raw.get("TOKEN")
    if token is not None and (
        not isinstance(token, str)
        or len(token) < MIN_METRICS_TOKEN
        or token != token.strip()
        or not token.isprintable()
    ):
        # (the value itself stays out of the message: it is a secret)
        raise ConfigurationError(
            f"{setting}['TOKEN'] must be None or a string of at least "
            f"{MIN_METRICS_TOKEN} printable characters, without surrounding spaces.",
            check_id="thywill.E017",
        )
    return MetricsConfig(enabled, token)


def serve_static() -> bool:
    """THYWILL_SERVE_STATIC: whether the ASGI application serves /static/ itself
    (default: DEBUG, as ``runserver`` does)."""
    return bool(getattr(settings, "THYWILL_SERVE_STATIC", settings.DEBUG))


@functools.cache
def get_resume() -> bool:
    """THYWILL_RESUME: whether a reloaded page resumes its tab's client (default True,
    thywill.E016 when it is not a bool)."""
    return _bool_setting("THYWILL_RESUME", True, "thywill.E016")


SELFTEST_MAX_HOLD = 60.0
"""The longest a self-test endpoint holds a request or stream open, in seconds, whatever
the page asks for: the self-test's connections are bounded in time."""


@functools.cache
def get_selftest() -> bool:
    """THYWILL_SELFTEST: whether the deployment self-test page and its endpoints are
    served, to staff users (default False, thywill.E018 when it is not a bool)."""
    return _bool_setting("THYWILL_SELFTEST", False, "thywill.E018")


@functools.cache
def get_gc_freeze() -> bool:
    """THYWILL_GC_FREEZE: whether the objects built at start-up are frozen out of the
    garbage collector's way once the server runs (``gc.freeze()``; default True,
    thywill.E019 when it is not a bool)."""
    return _bool_setting("THYWILL_GC_FREEZE", True, "thywill.E019")


@functools.cache
def get_share_connections() -> bool:
    """THYWILL_SHARE_CONNECTIONS: whether the tabs of a browser share one connection to
    the server (default True, thywill.E020 when it is not a bool)."""
    return _bool_setting("THYWILL_SHARE_CONNECTIONS", True, "thywill.E020")


def _bool_setting(name: str, default: bool, check_id: str) -> bool:
    value = getattr(settings, name, default)
    if not isinstance(value, bool):
        raise ConfigurationError(
            f"{name} must be True or False, not {value!r}.", check_id=check_id
        )
    return value


def reset() -> None:
    """Forget every cached value (called when a THYWILL_* setting changes)."""
    for cached in (
        get_limits,
        get_transports,
        get_component_configs,
        get_application_configs,
        get_default_application,
        get_hooks,
        get_pipeline,
        get_csp,
        get_resume,
        get_metrics,
        get_selftest,
        get_gc_freeze,
        get_share_connections,
    ):
        cached.cache_clear()
