"""The admin pages of groups, which are not rows but live state in the push backend:
an application's groups a page at a time, and one group's members."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from thywill.api import get_applications
from thywill.exceptions import PushUnavailableError, UnknownApplicationError
from thywill.operations import GROUPS_PAGE, count_groups
from thywill.operations import group_members as members
from thywill.operations import groups as list_groups


def application_groups(
    model_admin: admin.ModelAdmin[Any], request: HttpRequest
) -> HttpResponse:
    """The groups of one application (``?app=``, the first by default) that have
    members, ``GROUPS_PAGE`` at a time after ``?after=``, and each application's count."""
    _require_view(model_admin, request)
    names = [spec.name for spec in get_applications()]
    app = request.GET.get("app") or names[0]
    after = request.GET.get("after") or None
    if app not in names:
        raise Http404(f"No application is called {app!r}.")
    context: dict[str, Any] = {"app": app, "after": after, "page_size": GROUPS_PAGE}
    try:
        context["counts"] = {name: count_groups(name) for name in names}
        context["groups"] = list_groups(app, after=after, limit=GROUPS_PAGE)
    except PushUnavailableError as exc:
        return _render(model_admin, request, "groups.html", context, "Groups", exc)
    context["next"] = (
        context["groups"][-1] if len(context["groups"]) == GROUPS_PAGE else None
    )
    return _render(model_admin, request, "groups.html", context, "Groups")


def group_members(
    model_admin: admin.ModelAdmin[Any], request: HttpRequest, app: str, group: str
) -> HttpResponse:
    """One group's members: each client, its user and whether it is connected."""
    _require_view(model_admin, request)
    context: dict[str, Any] = {"app": app, "group": group}
    try:
        context["found"] = members(app, group)
    except (UnknownApplicationError, ValueError) as exc:
        raise Http404(str(exc)) from None
    except PushUnavailableError as exc:
        return _render(model_admin, request, "group.html", context, group, exc)
    return _render(model_admin, request, "group.html", context, f"Group {group}")


def _require_view(model_admin: admin.ModelAdmin[Any], request: HttpRequest) -> None:
    if not model_admin.has_view_permission(request):
        raise PermissionDenied


def _render(
    model_admin: admin.ModelAdmin[Any],
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    title: str,
    error: PushUnavailableError | None = None,
) -> TemplateResponse:
    """A page of the admin site; a push backend that cannot be reached answers 503."""
    page = {
        **model_admin.admin_site.each_context(request),
        **context,
        "title": title,
        "opts": model_admin.opts,
        "error": None if error is None else str(error),
    }
    status = 200 if error is None else 503
    return TemplateResponse(request, f"thywill/admin/{template}", page, status=status)
