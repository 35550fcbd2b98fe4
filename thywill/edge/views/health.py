"""The health endpoint, for load balancers and orchestrators."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from thywill.edge.errors import json_errors
from thywill.wiring.runtime import get_runtime


@json_errors(methods=("GET",))
async def health(request: HttpRequest) -> HttpResponse:
    """Answer 200 when the push backend answers, 503 ``unavailable`` when it doesn't."""
    await get_runtime().push.ping()
    response = JsonResponse({"status": "ok"})
    response["Cache-Control"] = "no-store"
    return response
