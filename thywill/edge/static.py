"""Serving ``/static/`` from the ASGI application (THYWILL_SERVE_STATIC)."""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
from django.core.exceptions import SuspiciousOperation
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponseBase


class StaticFiles(ASGIStaticFilesHandler):
    """Django's static-files handler, answering a path it refuses (one that climbs out of
    the static folders with ``..``) as Django answers any suspicious request, 400 and one
    line on ``django.security``, rather than raising into the server for a 500."""

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        try:
            return await super().get_response_async(request)
        except SuspiciousOperation as exc:
            return await sync_to_async(response_for_exception, thread_sensitive=False)(
                request, exc
            )
