"""``{% thywill_client %}``: a live client of an application on any page of the project.

``{% load thywill %}{% thywill_client "chat" %}`` issues a client of ``chat`` for the
request being answered and renders its configuration as
``<script id="thywill-config-chat" type="application/json">``, and, once per page, the
browser client ``thywill/thywill.js``. The page's JavaScript then connects with
``thywill.connect("chat")`` (documentation/server-api.md, "On your own pages").
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import cast

from asgiref.sync import async_to_sync
from django import template
from django.core.exceptions import ImproperlyConfigured, PermissionDenied
from django.http import HttpRequest
from django.templatetags.static import static
from django.utils.html import format_html, json_script
from django.utils.safestring import SafeString, mark_safe

from thywill.application.spec import ApplicationSpec
from thywill.edge.csp import request_nonce
from thywill.edge.issuing import find_application, issue_client
from thywill.exceptions import ErrorCode, RejectedError
from thywill.types import JSON

register = template.Library()

CLIENTS = "thywill_clients"
"""The context variable of clients issued before rendering: application name → config."""

DEFAULT_ELEMENT_ID = "thywill-config"
"""The configuration element of the page's default client, ``window.thywill``."""

CLIENT_SCRIPT = "thywill/thywill.js"


@dataclass
class _Page:
    """What the tags of one page have rendered so far."""

    element_ids: set[str] = field(default_factory=set)
    client_ids: set[str] = field(default_factory=set)
    client_loaded: bool = False


@register.simple_tag(takes_context=True)
def thywill_client(
    context: template.Context,
    application: str | None = None,
    *,
    transport: str | None = None,
    assets: bool = False,
    as_default: bool = False,
    nonce: str | None = None,
) -> SafeString:
    """Issue a client of ``application`` for the page and render what connects it.

    Renders the client's configuration as ``<script id="thywill-config-<name>"
    type="application/json">`` (``id="thywill-config"`` with ``as_default``), then, on
    the first client of the page only, ``<script src=".../thywill/thywill.js" defer>``,
    then with ``assets`` the application's ``styles`` and ``scripts``.

    A client already issued for the application, in the context variable
    ``thywill_clients`` (application name → configuration), is rendered as it is;
    otherwise the tag issues one. It can only do so when the template renders outside
    an event loop (a sync view): an async view issues first, with ``await
    thywill.issue_client(request, name)``.

    Args:
        context: the template context; it must hold the ``request`` (the
            ``request`` context processor puts it there), unless the client was
            issued already.
        application: the application's name; the default application when omitted.
        transport: the one transport the client must use (``"websocket"``, ``"sse"``
            or ``"longpoll"``); the client chooses when omitted.
        assets: also load the application's own ``styles`` and ``scripts``.
        as_default: make it the page's default client, ``window.thywill``, which
            reads ``#thywill-config``.
        nonce: the Content-Security-Policy nonce its ``<script>`` elements carry; by
            default the context's ``csp_nonce`` (Django 6's context processor), else
            the request's (Django 6's CSP middleware, django-csp, or thywill's
            ``content_security_policy`` decorator); none when there is none.

    Raises:
        ImproperlyConfigured: the tag must issue a client, and the context has no
            ``request``.
        TemplateSyntaxError: no application has that name, the transport is not
            enabled, the page already has this configuration element or this issued
            client, or no client was issued and the template renders in an event loop.
        PermissionDenied: the application's connect event refused the client (Django
            answers 403), with THYWILL_RESUME off; with it on, the event runs on the
            client's first request, which it refuses.
    """
    try:
        app = find_application(application)
    except RejectedError as error:
        raise template.TemplateSyntaxError(f"thywill_client: {error.message}") from None
    element_id = DEFAULT_ELEMENT_ID if as_default else f"{DEFAULT_ELEMENT_ID}-{app.name}"
    page = _page(context)
    if element_id in page.element_ids:
        raise template.TemplateSyntaxError(
            f"thywill_client: this page already has a client in #{element_id}; a page "
            "has one client per application (and one default client)."
        )
    config = _issued(context, app)
    if config is None:
        config = _issue(_request(context), app, transport)
    elif config["clientId"] in page.client_ids:
        raise template.TemplateSyntaxError(
            f"thywill_client: the client issued for {app.name!r} is on this page already; "
            "two elements would make two connections with one client id."
        )
    page.element_ids.add(element_id)
    page.client_ids.add(str(config["clientId"]))
    nonce = _nonce(context, nonce)
    script = '<script src="{}" defer></script>'
    if nonce is not None:
        script = '<script src="{}" nonce="{}" defer></script>'
    parts = [json_script(config, element_id)]
    if not page.client_loaded:
        page.client_loaded = True
        parts.append(format_html(script, static(CLIENT_SCRIPT), *_maybe(nonce)))
    if assets:
        parts.extend(
            format_html('<link rel="stylesheet" href="{}">', static(href))
            for href in app.styles
        )
        parts.extend(
            format_html(script, static(src), *_maybe(nonce)) for src in app.scripts
        )
    return mark_safe("\n".join(parts))  # each part is escaped (json_script, format_html)


def _nonce(context: template.Context, given: str | None) -> str | None:
    """The nonce the page's scripts carry: given, in the context, or the request's."""
    if given is not None:
        return str(given)
    in_context = context.get("csp_nonce")
    if in_context is not None and str(in_context):
        return str(in_context)
    request = context.get("request")
    return request_nonce(request) if isinstance(request, HttpRequest) else None


def _maybe(nonce: str | None) -> tuple[str, ...]:
    return () if nonce is None else (nonce,)


def _page(context: template.Context) -> _Page:
    """The page's record, shared by every template of one render."""
    # render_context.dicts[0] lives as long as the whole render, {% include %}d
    # templates included (each template pushes its own state above it): Django's
    # IncludeNode keeps its cache of templates there too.
    # (django-stubs types that dict for IncludeNode's entries only.)
    state = cast("dict[object, object]", context.render_context.dicts[0])
    page = state.get(_Page)
    if not isinstance(page, _Page):
        page = state[_Page] = _Page()
    return page


def _request(context: template.Context) -> HttpRequest:
    """The request the page answers, which a client is issued for."""
    request = context.get("request")
    if not isinstance(request, HttpRequest):
        raise ImproperlyConfigured(
            "{% thywill_client %} needs the request in the template context: add "
            "'django.template.context_processors.request' to the context_processors "
            "of TEMPLATES, and render with the request (render(request, ...))."
        )
    return request


def _issued(context: template.Context, app: ApplicationSpec) -> dict[str, JSON] | None:
    """The configuration of a client the view issued for ``app`` already, if any."""
    clients = context.get(CLIENTS)
    if not isinstance(clients, Mapping):
        return None
    config = clients.get(app.name)
    return config if isinstance(config, dict) else None


def _issue(
    request: HttpRequest, app: ApplicationSpec, transport: str | None
) -> dict[str, JSON]:
    """Issue a client of ``app`` from the sync code that renders the template."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass  # no loop in this thread: async_to_sync can run the issuing
    else:
        raise template.TemplateSyntaxError(
            f"thywill_client: no client of {app.name!r} was issued, and the tag cannot "
            "issue one while the template renders in an event loop (an async view). "
            f"Issue it in the view: config = await thywill.issue_client(request, "
            f"{app.name!r}), and render with {{{CLIENTS!r}: {{{app.name!r}: config}}}} "
            "in the context; or render from a sync view."
        )
    try:
        return async_to_sync(issue_client)(request, app, forced_transport=transport)
    except RejectedError as error:
        if error.code is ErrorCode.REFUSED:
            raise PermissionDenied(error.message) from error
        raise template.TemplateSyntaxError(f"thywill_client: {error.message}") from None
