"""The send endpoint: messages from a client to its application."""

from __future__ import annotations

import functools
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    JsonResponse,
    RawPostDataException,
)

from thywill import conf, metrics
from thywill.edge.csrf import csrf_protect
from thywill.edge.errors import AsyncView, json_errors
from thywill.edge.headers import header
from thywill.edge.sessions import authenticate
from thywill.exceptions import ErrorCode, RejectedError
from thywill.wire.inbound import parse_send_body
from thywill.wire.results import send_results
from thywill.wiring.runtime import get_runtime


def count_refusals(view: AsyncView) -> AsyncView:
    """Count a send refused as a whole in the metrics: ``refused`` (4xx, including a
    failed CSRF check) or ``unavailable`` (503). Its messages' outcomes are counted
    where they are handled."""

    @functools.wraps(view)
    async def counted(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        get_runtime()  # a first request of the process turns metrics on, as configured
        response = await view(request, *args, **kwargs)
        if response.status_code >= 400:
            metrics.sent("unavailable" if response.status_code == 503 else "refused")
        return response

    return counted


@count_refusals
@json_errors(methods=("POST",))
@csrf_protect  # here rather than by middleware: edge/direct.py serves this view
async def send(request: HttpRequest) -> HttpResponse:
    """Handle a batch of client messages in order; answer a result per message."""
    limits = conf.get_limits()
    declared = header(request, "Content-Length", "")
    if (
        declared.isascii()
        and declared.isdigit()
        and int(declared) > limits.max_message_bytes
    ):
        raise RejectedError(
            ErrorCode.TOO_LARGE,
            f"The body is {declared} bytes; the limit is {limits.max_message_bytes}.",
        )
    try:
        raw = request.body
    except RawPostDataException:
        # The CSRF check read a multipart form from the stream: a send is JSON, never one.
        raise RejectedError(
            ErrorCode.BAD_REQUEST,
            "The body must be JSON (Content-Type: application/json), not a form.",
        ) from None
    except RequestDataTooBig:
        # A chunked body gives no Content-Length to refuse early; Django stops reading it.
        raise RejectedError(
            ErrorCode.TOO_LARGE, f"The body is over {limits.max_message_bytes} bytes."
        ) from None
    body = parse_send_body(
        raw, max_bytes=limits.max_message_bytes, max_batch=limits.max_batch
    )
    identity = await authenticate(body.token, request.COOKIES)
    runtime = get_runtime()
    app = runtime.application_of(identity)
    results = await runtime.events.handle_messages(app, identity, body.messages)
    return JsonResponse({"results": send_results(body.messages, results)})
