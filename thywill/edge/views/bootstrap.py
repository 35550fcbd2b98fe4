"""The bootstrap page: issues a client identity and loads the application's client code."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse
from django.views.decorators.clickjacking import xframe_options_deny
from django.views.decorators.csrf import ensure_csrf_cookie

from thywill.edge.csp import content_security_policy
from thywill.edge.errors import json_errors
from thywill.edge.issuing import find_application, issue_client
from thywill.exceptions import ErrorCode, RejectedError


@json_errors(methods=("GET",))
@content_security_policy  # THYWILL_CSP, with the nonce the tag puts on its scripts
@ensure_csrf_cookie  # the send endpoint checks it; the project may not set it otherwise
@xframe_options_deny
async def init(request: HttpRequest, app_name: str | None = None) -> HttpResponse:
    """Serve ``/thywill/init/`` or ``/thywill/<app>/init/`` for a new client."""
    app = find_application(app_name)
    if getattr(app.app, "staff_only", False):
        refusal = await _refuse_unless_staff(request)
        if refusal is not None:
            return refusal
    config = await issue_client(request, app, forced_transport=request.GET.get("transport"))
    # The page is built by the {% thywill_client %} tag, which takes this config instead
    # of issuing a client itself: it cannot, rendered here in the event loop.
    response = render(
        request,
        "thywill/bootstrap.html",
        {"app": app, "thywill_clients": {app.name: config}},
    )
    response["Cache-Control"] = "no-store"
    return response


async def _refuse_unless_staff(request: HttpRequest) -> HttpResponse | None:
    """For an application only staff may use (the inspector): None for an active staff
    user; the admin's login page for an anonymous one (when the admin is installed).

    Raises:
        RejectedError: ``refused`` (403) for anyone else.
    """
    user = await request.auser()
    if user.is_active and getattr(user, "is_staff", False):
        return None
    if not user.is_authenticated:
        try:
            login = reverse("admin:login")
        except NoReverseMatch:
            pass  # no admin: a plain 403
        else:
            return redirect_to_login(request.get_full_path(), login)
    raise RejectedError(ErrorCode.REFUSED, "This page is for staff users only.")
