"""The session endpoint: a client issued as JSON, for pages that build themselves."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from thywill.edge.csrf import csrf_protect
from thywill.edge.errors import json_errors
from thywill.edge.issuing import find_application, issue_client


@json_errors(methods=("POST",))
@csrf_protect  # a POST that issues a client: checked (CSRF token, Origin) as a send is
async def session(request: HttpRequest, app_name: str) -> HttpResponse:
    """Serve ``POST /thywill/<app>/session/``: issue a client of the application to the
    request's session, as its bootstrap page does, and answer its configuration."""
    app = find_application(app_name)
    config = await issue_client(request, app, forced_transport=request.GET.get("transport"))
    response = JsonResponse(config)
    response["Cache-Control"] = "no-store"
    return response
