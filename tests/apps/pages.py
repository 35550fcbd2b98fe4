"""A project's own pages with thywill clients on them (``{% thywill_client %}``), served
by a URLconf of their own: ``pytest.mark.urls("tests.apps.pages")``."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import include, path

import thywill
from thywill import Event, NextPipe, Pipe, fail

TWO_CLIENTS = (
    '{% load thywill %}<main>{% thywill_client "echo" %}'
    '{% thywill_client "testkit" transport="sse" %}</main>'
)
ONE_CLIENT = '{% load thywill %}{% thywill_client "testkit" %}'


def render(request: HttpRequest, source: str, context: dict[str, Any]) -> HttpResponse:
    """Render a template given as text, with the request (and its context processors)."""
    return HttpResponse(engines["django"].from_string(source).render(context, request))


def two_clients(request: HttpRequest) -> HttpResponse:
    """A sync view: the tags issue their clients while the template renders."""
    return render(request, TWO_CLIENTS, {})


async def issued_first(request: HttpRequest) -> HttpResponse:
    """An async view: it issues the client, and the tag renders that one."""
    config = await thywill.issue_client(request, "testkit")
    return render(request, ONE_CLIENT, {"thywill_clients": {"testkit": config}})


async def not_issued(request: HttpRequest) -> HttpResponse:
    """An async view that forgot to issue: the tag cannot issue in the event loop."""
    return render(request, ONE_CLIENT, {})


class RefuseConnect(Pipe):
    """Fails every connect event, as a pipe that admits no one would."""

    async def pipe_connect(self, next_pipe: NextPipe, event: Event, **kwargs: Any) -> Any:
        fail("No one may connect today.")


urlpatterns = [
    path("thywill/", include("thywill.urls")),
    path("two/", two_clients),
    path("issued/", issued_first),
    path("not-issued/", not_issued),
]
