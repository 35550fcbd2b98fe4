"""Content-Security-Policy for the pages thywill renders, and for the project's own.

A page's scripts run under a strict policy (THYWILL_CSP) when each carries the
response's nonce. The nonce is the project's when it has one: Django 6's
``ContentSecurityPolicyMiddleware`` (``django.middleware.csp.get_nonce``) or
django-csp's (``request.csp_nonce``); otherwise ``content_security_policy`` makes
one per response and puts it on ``request.csp_nonce``, where ``{% thywill_client %}``
finds it.
"""

from __future__ import annotations

import functools
import secrets
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from asgiref.sync import iscoroutinefunction
from django.http import HttpRequest, HttpResponseBase

from thywill import conf

try:  # Django 6.0 and later, with its ContentSecurityPolicyMiddleware
    from django.middleware.csp import (  # type: ignore[import-not-found,unused-ignore]
        get_nonce as django_nonce,
    )
except ImportError:  # Django 5.2
    django_nonce = None  # type: ignore[assignment,unused-ignore]

HEADER = "Content-Security-Policy"
NO_CONTENT = "default-src 'none'; frame-ancestors 'none'"
"""The policy of thywill's JSON answers: they are data, never a document to run."""

V = TypeVar("V", bound=Callable[..., Any])


def request_nonce(request: HttpRequest) -> str | None:
    """The nonce of this response, if the project (or thywill) made one."""
    nonce = None if django_nonce is None else django_nonce(request)
    if nonce is None:
        nonce = getattr(request, "csp_nonce", None)  # django-csp, or this module
    return None if nonce is None else str(nonce)


def build_policy(policy: Mapping[str, Sequence[str]], nonce: str | None) -> str:
    """The header's value: each directive and its sources, the nonce written in."""
    directives = []
    for directive, sources in policy.items():
        written = [
            f"'nonce-{nonce}'" if source == conf.CSP_NONCE else source
            for source in sources
            if source != conf.CSP_NONCE or nonce is not None
        ]
        directives.append(" ".join([directive, *written]))
    return "; ".join(directives)


def _prepare(request: HttpRequest) -> str:
    nonce = request_nonce(request)
    if nonce is None:
        nonce = secrets.token_urlsafe(16)
        request.csp_nonce = nonce  # type: ignore[attr-defined]
    return nonce


def _apply(response: HttpResponseBase, nonce: str) -> HttpResponseBase:
    policy = conf.get_csp()
    if policy is not None and HEADER not in response:
        response[HEADER] = build_policy(policy, nonce)
    return response


def content_security_policy(view: V) -> V:
    """Send THYWILL_CSP with the view's responses, with a nonce for the page's scripts.

    The view's request gets a nonce (the project's when it has one, see the module's
    docstring), which ``{% thywill_client %}`` writes on its ``<script>`` elements and a
    template reads as ``{{ request.csp_nonce }}`` for a script of its own. A response
    that has a Content-Security-Policy already keeps it; none is sent when THYWILL_CSP
    is ``None``. For sync and async views alike.
    """
    if iscoroutinefunction(view):

        @functools.wraps(view)
        async def async_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
            nonce = _prepare(request)
            return _apply(await view(request, *args, **kwargs), nonce)

        return cast(V, async_view)

    @functools.wraps(view)
    def sync_view(request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        nonce = _prepare(request)
        return _apply(view(request, *args, **kwargs), nonce)

    return cast(V, sync_view)
