"""The metrics endpoint: Prometheus text for a scraper's bearer token or a staff user."""

from __future__ import annotations

import hmac

from django.http import HttpRequest, HttpResponse

from thywill import conf
from thywill.edge.errors import json_errors
from thywill.edge.staff import is_staff
from thywill.exceptions import ErrorCode, RejectedError
from thywill.metrics.exposition import render
from thywill.wiring.runtime import get_runtime


@json_errors(methods=("GET",))
async def metrics(request: HttpRequest) -> HttpResponse:
    """Answer the metrics; 404 while THYWILL_METRICS is off, 403 without a valid bearer
    token (``Authorization: Bearer <TOKEN>``) or a staff user's session."""
    get_runtime()  # turns metrics on or off, as THYWILL_METRICS says
    config = conf.get_metrics()
    if not config.enabled:
        raise RejectedError(ErrorCode.NOT_FOUND, f"Nothing is at {request.path}.")
    if not (_has_token(request, config.token) or await is_staff(request)):
        raise RejectedError(
            ErrorCode.REFUSED,
            "The metrics need THYWILL_METRICS['TOKEN'] as a bearer token, or a staff "
            "user's session.",
        )
    body, content_type = render()
    response = HttpResponse(body, content_type=content_type)
    response["Cache-Control"] = "no-store"
    return response


def _has_token(request: HttpRequest, token: str | None) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if token is None or scheme.lower() != "bearer":
        return False
    # In constant time: the answer's timing tells nothing of how much of it matched.
    return hmac.compare_digest(given.strip().encode(), token.encode())
