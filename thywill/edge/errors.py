"""Turning rejected input into the protocol's JSON errors, logged exactly once."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Coroutine
from typing import Any, TypeAlias

from django.core.exceptions import BadRequest, RequestDataTooBig, SuspiciousOperation
from django.http import HttpRequest, HttpResponse, HttpResponseBase, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.views.decorators.csrf import csrf_exempt

from thywill import conf
from thywill.edge import csp
from thywill.exceptions import (
    ErrorCode,
    PushUnavailableError,
    RejectedError,
)
from thywill.wiring.runtime import get_runtime

AsyncView: TypeAlias = Callable[..., Coroutine[Any, Any, HttpResponseBase]]


def error_response(
    request: HttpRequest, error: RejectedError, *, client_id: str | None = None
) -> JsonResponse:
    """Log a rejection once and answer it with ``{"error": {"code", "message"}}``."""
    get_runtime().log.rejected(error, path=request.path, client_id=client_id)
    response = _json_error(error)
    # We just logged it: stop django.request from logging the 4xx a second time.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def _json_error(error: RejectedError) -> JsonResponse:
    response = JsonResponse({"error": error.as_json()}, status=error.status)
    if conf.get_csp() is not None:
        response[csp.HEADER] = csp.NO_CONTENT  # data: nothing in it may load or run
    return response


def unavailable_response(request: HttpRequest, exc: PushUnavailableError) -> JsonResponse:
    """Answer 503 when the push backend cannot be reached."""
    get_runtime().log.unavailable(exc, path=request.path)
    error = RejectedError.unavailable()
    response = _json_error(error)
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


def json_errors(*, methods: Collection[str]) -> Callable[[AsyncView], AsyncView]:
    """Make an async view answer bad input with the protocol's JSON errors.

    Only ``methods`` are allowed; ``RejectedError`` and ``PushUnavailableError`` raised
    by the view become 4xx / 503 answers, and so do the exceptions Django raises for a
    request it cannot parse (``SuspiciousOperation`` and the like), as its handler would.

    The view is exempt from the project's CSRF middleware, whose refusal is an HTML page:
    a view that takes POSTs checks CSRF itself (``thywill.edge.csrf.csrf_protect``, a
    JSON 403), and any other answers a POST with its JSON 405.
    """

    def decorate(view: AsyncView) -> AsyncView:
        @functools.wraps(view)
        async def wrapper(
            request: HttpRequest, *args: Any, **kwargs: Any
        ) -> HttpResponseBase:
            if request.method not in methods:
                error = RejectedError(
                    ErrorCode.METHOD_NOT_ALLOWED,
                    f"{request.method} is not allowed here; use {', '.join(methods)}.",
                )
                response = error_response(request, error)
                response["Allow"] = ", ".join(methods)
                return response
            try:
                return await view(request, *args, **kwargs)
            except RejectedError as error:
                return error_response(request, error)
            except PushUnavailableError as exc:
                return unavailable_response(request, exc)
            except (SuspiciousOperation, BadRequest, MultiPartParserError) as exc:
                # What Django's handler answers 400 (or 413): a request Django's own
                # parsing refused (too many fields, a body over its limits, a broken
                # multipart body), reached through request.GET or CSRF's request.POST.
                return error_response(request, django_refusal(exc))

        return csrf_exempt(wrapper)

    return decorate


def django_refusal(exc: Exception) -> RejectedError:
    """The protocol error for a request that Django's request parsing refused."""
    if isinstance(exc, RequestDataTooBig):
        return RejectedError(ErrorCode.TOO_LARGE, f"The request is too large: {exc}")
    return RejectedError(ErrorCode.BAD_REQUEST, f"The request is malformed: {exc}")


@csrf_exempt  # a POST is answered the JSON 404 too, not the CSRF middleware's HTML 403
async def not_found(request: HttpRequest, path: str = "") -> HttpResponse:
    """Any other URL under thywill's prefix: a JSON 404, like every answer of thywill."""
    error = RejectedError(ErrorCode.NOT_FOUND, f"Nothing is at {request.path}.")
    return error_response(request, error)


@csrf_exempt  # as not_found
async def upgrade_required(request: HttpRequest) -> HttpResponse:
    """The WebSocket transport's URL asked for over plain HTTP: a JSON 426."""
    error = RejectedError(
        ErrorCode.UPGRADE_REQUIRED, f"{request.path} takes WebSocket connections only."
    )
    response = error_response(request, error)
    response["Upgrade"] = "websocket"
    return response


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """CSRF_FAILURE_VIEW: a JSON 403 instead of Django's HTML page."""
    error = RejectedError(ErrorCode.CSRF_FAILED, f"CSRF verification failed: {reason}")
    return error_response(request, error)
