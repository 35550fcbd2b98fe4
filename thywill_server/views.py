"""The site's start page: every application, linked to its bootstrap page."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

import thywill


async def start(request: HttpRequest) -> HttpResponse:
    """Serve ``/``: the applications of THYWILL_APPLICATIONS, in order, with their
    titles, descriptions and links (plus one link per transport, to force it)."""
    entries = [
        {
            "title": app.title,
            "description": app.description,
            "url": reverse("thywill:app-init", args=[app.name]),
        }
        for app in thywill.get_applications()
    ]
    context = {"applications": entries, "transports": thywill.get_transports()}
    return render(request, "thywill_server/start.html", context)
