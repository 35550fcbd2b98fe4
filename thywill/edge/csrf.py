"""CSRF protection of the send endpoint, answering refusals with the protocol's JSON.

The send endpoint is served without Django's middleware (``thywill.edge.direct``), so it
checks CSRF itself with Django's own ``CsrfViewMiddleware``; a refusal is the protocol's
403 ``csrf_failed`` whatever the project's CSRF_FAILURE_VIEW renders for its pages. Served
through Django's handler instead (its test client, a plain ASGI or WSGI set-up), the
project's CSRF middleware leaves the view to this check, so the answer is the same.

A client sends every message with the same cookie and headers, and Django's check of
them (unmasking two tokens a character at a time, the Origin against ALLOWED_HOSTS) was
about a tenth of a send's CPU: a check that passed is remembered by its inputs
(``thywill.edge.passed``), and the same inputs pass again without it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar, cast

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.decorators import decorator_from_middleware
from django.views.decorators.csrf import csrf_exempt

from thywill.edge.errors import csrf_failure
from thywill.edge.headers import host_headers
from thywill.edge.passed import PassedChecks

PASSED_CSRF_SIZE = 4096
"""The most passed checks remembered (one per page, mostly: each has its own token)."""

FORM_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")
"""Bodies that Django's check reads a token from, besides the header."""


class JsonCsrfViewMiddleware(CsrfViewMiddleware):
    """Django's CSRF check, refusing with ``{"error": {"code": "csrf_failed", ...}}``,
    and passing the inputs of a check that passed again without doing it again."""

    passed = PassedChecks(PASSED_CSRF_SIZE)

    def process_view(
        self,
        request: HttpRequest,
        callback: Callable[..., Any],
        callback_args: tuple[Any, ...],
        callback_kwargs: dict[str, Any],
    ) -> HttpResponseForbidden | None:
        inputs = check_inputs(request)
        if inputs is not None and inputs in self.passed:
            request.csrf_processing_done = True  # type: ignore[attr-defined]  # as Django marks a pass
            return None
        refused = super().process_view(request, callback, callback_args, callback_kwargs)
        if inputs is not None and refused is None:
            self.passed.add(inputs)
        return refused

    def _reject(self, request: HttpRequest, reason: str) -> HttpResponse:
        # Django's _reject renders CSRF_FAILURE_VIEW and logs; csrf_failure logs once.
        return csrf_failure(request, reason)


def check_inputs(request: HttpRequest) -> Hashable | None:
    """What Django's check of an unsafe request reads of it, besides settings; ``None``
    when the check is not to be remembered: a safe method (nothing is checked), a
    form body (whose token Django reads from the body), a secret kept in the session,
    a request already checked or exempted by a test client."""
    if (
        request.method != "POST"
        or request.content_type in FORM_TYPES
        or settings.CSRF_USE_SESSIONS
        or getattr(request, "csrf_processing_done", False)
        or getattr(request, "_dont_enforce_csrf_checks", False)
    ):
        return None
    meta = request.META
    return (
        request.COOKIES.get(settings.CSRF_COOKIE_NAME),
        meta.get(settings.CSRF_HEADER_NAME),
        meta.get("HTTP_ORIGIN"),
        meta.get("HTTP_REFERER"),
        *host_headers(request),
        meta.get("HTTP_X_FORWARDED_PORT"),
        request.scheme,
    )


V = TypeVar("V", bound=Callable[..., Any])
_check_csrf = decorator_from_middleware(JsonCsrfViewMiddleware)


def csrf_protect(view: V) -> V:
    """Check the view's requests as Django's ``csrf_protect`` does, here and only here
    (the project's CsrfViewMiddleware skips the view), refusing with JSON."""
    return cast(V, csrf_exempt(_check_csrf(view)))
