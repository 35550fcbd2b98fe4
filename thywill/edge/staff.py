"""Who may see the operators' pages: the metrics, the self-test."""

from __future__ import annotations

from django.http import HttpRequest


async def is_staff(request: HttpRequest) -> bool:
    """Whether the request's session is an active staff user's."""
    auser = getattr(request, "auser", None)  # AuthenticationMiddleware's (thywill.E013)
    if auser is None:
        return False
    user = await auser()
    return bool(user.is_active and user.is_staff)
