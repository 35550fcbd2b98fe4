"""The server API: what a project's own code asks of thywill."""

from __future__ import annotations

from django.http import HttpRequest

from thywill import conf
from thywill.application.spec import ApplicationSpec
from thywill.edge import issuing
from thywill.types import JSON
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


async def issue_client(
    request: HttpRequest, application: str | None = None, *, transport: str | None = None
) -> dict[str, JSON]:
    """Issue a client of ``application`` (the default one when omitted) for the request,
    as its bootstrap page does, and return the configuration it connects with.

    For an ``async def`` view whose template has ``{% thywill_client %}``: the tag cannot
    issue a client while the template renders in the event loop, so the view issues it
    and passes it in the context, ``{"thywill_clients": {application: config}}``. The
    response must set the CSRF cookie (``CsrfViewMiddleware`` does).

    Raises:
        ThywillError: no application has that name, the transport is not enabled, or
            the application's connect event refused the client.
    """
    app = issuing.find_application(application)
    return await issuing.issue_client(request, app, forced_transport=transport)
