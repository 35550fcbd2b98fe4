"""The process's flows: each pipeline composed once per application, event and handler.

The pipes of a flow, outermost first: the global ones (THYWILL_PIPELINE), the
application's (its ``pipeline`` attribute), the handler's (``use_pipes``), the site's
hook scripts (THYWILL_HOOKS), then the application's own hook scripts (its ``hooks``
folder), closest to the core.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from thywill import conf
from thywill.application.base import Application
from thywill.exceptions import ConfigurationError, InvalidComponentError
from thywill.hooks.pipe import HookPipe
from thywill.hooks.scripts import HookScripts
from thywill.pipeline import PIPES_ATTRIBUTE, Flow, Pipe
from thywill.wiring.components import build, load_class

FlowKey = tuple[str, str, str]


def load_pipes() -> list[Pipe]:
    """Build the global pipes named in THYWILL_PIPELINE (E011, or E002-E004 per entry)."""
    pipes = []
    for index, config in enumerate(conf.get_pipeline()):
        setting = f"THYWILL_PIPELINE[{index}]"
        cls = load_class(setting, config["BACKEND"])
        if not issubclass(cls, Pipe):
            raise InvalidComponentError(
                f"{setting}['BACKEND'] = {config['BACKEND']!r} is not a subclass of "
                "thywill.pipeline.Pipe.",
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


def load_app_hooks(app: Application) -> HookPipe | None:
    """The hook scripts of an application's ``hooks`` folder as a pipe, or None when it
    has none. They are reloaded as THYWILL_HOOKS["RELOAD"] says (thywill.E010)."""
    folder = getattr(app, "hooks", None)
    if folder is None:
        return None
    path = Path(folder)
    if not path.is_dir():
        raise ConfigurationError(
            f"The hooks of application {app.name!r} must name a folder of hook "
            f"scripts; {str(folder)!r} is not one.",
            check_id="thywill.E010",
        )
    reload = conf.get_hooks().reload
    return HookPipe(HookScripts(path, reload=reload, namespace=app.name))


class FlowRegistry:
    """Flows built on first use and kept until settings change."""

    def __init__(self) -> None:
        self._flows: dict[FlowKey, Flow] = {}
        self._global: list[Pipe] | None = None
        self._hooks: list[Pipe] | None = None
        self._app_hooks: dict[str, list[Pipe]] = {}

    def pipes_for(self, app: Application, handler: Callable[..., Any] | None) -> list[Pipe]:
        """Every pipe of a flow of ``app`` around ``handler`` (None: no handler)."""
        if self._global is None:
            self._global = load_pipes()
        if self._hooks is None:
            hooks = load_hooks()
            self._hooks = [] if hooks is None else [hooks]
        if app.name not in self._app_hooks:
            app_hooks = load_app_hooks(app)
            self._app_hooks[app.name] = [] if app_hooks is None else [app_hooks]
        app_pipes = list(getattr(app, "pipeline", ()))
        handler_pipes = list(getattr(handler, PIPES_ATTRIBUTE, ()))
        return [
            *self._global,
            *app_pipes,
            *handler_pipes,
            *self._hooks,
            *self._app_hooks[app.name],
        ]

    def get(self, key: FlowKey, build_flow: Callable[[], Flow]) -> Flow:
        """The flow for ``key`` (application, kind, handler), built once."""
        flow = self._flows.get(key)
        if flow is None:
            flow = self._flows[key] = build_flow()
        return flow

    def reset(self) -> None:
        """Forget every flow and pipe; the next event builds them anew."""
        self._flows.clear()
        self._global = None
        self._hooks = None
        self._app_hooks.clear()


flows = FlowRegistry()
