"""Reading a request's headers on the transports' hot path."""

from __future__ import annotations

from typing import overload

from django.http import HttpRequest
from django.http.request import HttpHeaders


@overload
def header(request: HttpRequest, name: str) -> str | None: ...
@overload
def header(request: HttpRequest, name: str, default: str) -> str: ...
def header(request: HttpRequest, name: str, default: str | None = None) -> str | None:
    """The value of the request header ``name`` (any case), or ``default``.

    Read from ``request.META``: ``request.headers`` builds a mapping of every header
    of the request on first use, a cost paid on every long-poll and send for the one
    or two headers they read.
    """
    return request.META.get(HttpHeaders.to_wsgi_name(name), default)


def host_headers(request: HttpRequest) -> tuple[str | None, ...]:
    """What Django's ``get_host()`` reads of a request, besides settings: the key of a
    Host check, and part of a CSRF check's (``thywill.edge.passed``)."""
    meta = request.META
    return (
        meta.get("HTTP_X_FORWARDED_HOST"),
        meta.get("HTTP_HOST"),
        meta.get("SERVER_NAME"),
        meta.get("SERVER_PORT"),
    )
