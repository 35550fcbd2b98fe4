"""The site's own pages: the start page, every application linked to its bootstrap page,
and a page of the site with two applications on it."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

import thywill


@thywill.content_security_policy  # THYWILL_CSP, as on thywill's own pages
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


@thywill.content_security_policy  # the tags put the nonce on their scripts
def together(request: HttpRequest) -> HttpResponse:
    """Serve ``/together/``: a page of the site, not a bootstrap page, with a client of
    echo and one of chat on it (``{% thywill_client %}``), which its script talks to.

    A sync view on purpose: the tags issue their clients while the template renders,
    which they can do outside the event loop only (an ``async def`` view issues them
    first with ``thywill.issue_client``).
    """
    return render(request, "thywill_server/together.html")
