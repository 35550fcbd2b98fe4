"""Serving ``/static/`` from the ASGI application (THYWILL_SERVE_STATIC)."""

from __future__ import annotations

import logging

from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponseBadRequest, HttpResponseBase


class StaticFiles(ASGIStaticFilesHandler):
    """Django's static-files handler, answering a path it refuses (one that climbs out of
    the static folders with ``..``) as Django answers any suspicious request, 400 and a
    record on ``django.security``, rather than raising into the server for a 500."""

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        try:
            return await super().get_response_async(request)
        except SuspiciousOperation as exc:
            # Django's handler would log the record with its traceback, which says
            # nothing about a probe for ../../etc/passwd but fills the log: one line.
            logging.getLogger(f"django.security.{type(exc).__name__}").error(
                "%s", exc, extra={"status_code": 400, "request": request}
            )
            return HttpResponseBadRequest("Bad Request", content_type="text/plain")
