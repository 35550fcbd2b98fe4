"""The server API: what a project's own code asks of thywill."""

from __future__ import annotations

from thywill import conf
from thywill.application.spec import ApplicationSpec
from thywill.wiring.runtime import get_runtime


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
