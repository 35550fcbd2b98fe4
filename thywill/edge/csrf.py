"""CSRF protection of the send endpoint, answering refusals with the protocol's JSON.

The send endpoint is served without Django's middleware (``thywill.edge.direct``), so it
checks CSRF itself with Django's own ``CsrfViewMiddleware``; a refusal is the protocol's
403 ``csrf_failed`` whatever the project's CSRF_FAILURE_VIEW renders for its pages. Served
through Django's handler instead (its test client, a plain ASGI or WSGI set-up), the
project's CSRF middleware leaves the view to this check, so the answer is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import decorator_from_middleware
from django.views.decorators.csrf import csrf_exempt

from thywill.edge.errors import csrf_failure


class JsonCsrfViewMiddleware(CsrfViewMiddleware):
    """Django's CSRF check, refusing with ``{"error": {"code": "csrf_failed", ...}}``."""

    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        # Django's _reject renders CSRF_FAILURE_VIEW and logs; csrf_failure logs once.
        return csrf_failure(request, reason)


V = TypeVar("V", bound=Callable[..., Any])
_check_csrf = decorator_from_middleware(JsonCsrfViewMiddleware)


def csrf_protect(view: V) -> V:
    """Check the view's requests as Django's ``csrf_protect`` does, here and only here
    (the project's CsrfViewMiddleware skips the view), refusing with JSON."""
    return cast(V, csrf_exempt(_check_csrf(view)))
