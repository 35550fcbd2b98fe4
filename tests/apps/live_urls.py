"""The live test servers' URLs: the demo site's, plus a plain Django view that pushes.

``POST /push/<mode>/<n>/`` sends the text ``"<mode> <n>"`` to the rooms application's
``lobby`` group with ``thywill.send_to_group``: ``plain`` outside a transaction,
``atomic`` inside one, ``rollback`` inside one that rolls back, ``signal`` from a
``post_save`` handler of a row saved inside a transaction. (The rooms application's
``on_send`` pipe capitalises text: what arrives shows that it ran.)

``POST /logout/`` logs the request's session out with ``django.contrib.auth.logout``, as
a project's logout view does.

``POST /disconnect/<client_id>/`` ends that client with ``thywill.disconnect``, as a
project's view (or the admin) does: the server process's push backend is the one its
streams read.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import logout
from django.db import transaction
from django.db.models.signals import post_save
from django.http import HttpRequest, HttpResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

import thywill
from tests.apps.models import Departure
from thywill_server.urls import urlpatterns as site_urlpatterns

SIGNALLED = "signal-"


def announce_departure(sender: type[Departure], instance: Departure, **kwargs: Any) -> None:
    """A signal handler that pushes (only for the rows this module's view saves)."""
    if instance.client_id.startswith(SIGNALLED):
        n = int(instance.client_id.removeprefix(SIGNALLED))
        thywill.send_to_group("rooms", "lobby", f"signal {n}")


post_save.connect(announce_departure, sender=Departure)


class RolledBack(Exception):
    """Raised to roll a transaction back."""


@csrf_exempt
def push(request: HttpRequest, mode: str, n: int) -> HttpResponse:
    data = f"{mode} {n}"
    if mode == "plain":
        thywill.send_to_group("rooms", "lobby", data)
    elif mode == "atomic":
        with transaction.atomic():
            thywill.send_to_group("rooms", "lobby", data)
    elif mode == "rollback":
        try:
            with transaction.atomic():
                thywill.send_to_group("rooms", "lobby", data)
                raise RolledBack
        except RolledBack:
            pass
    elif mode == "signal":
        with transaction.atomic():
            Departure.objects.create(client_id=f"{SIGNALLED}{n}")
    else:
        return HttpResponse(status=404)
    return HttpResponse("pushed")


@csrf_exempt
def log_out(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405)
    logout(request)
    return HttpResponse("logged out")


@csrf_exempt
def disconnect(request: HttpRequest, client_id: str) -> HttpResponse:
    if request.method != "POST":
        return HttpResponse(status=405)
    thywill.disconnect(client_id)
    return HttpResponse("disconnected")


urlpatterns = [
    path("push/<str:mode>/<int:n>/", push),
    path("logout/", log_out),
    path("disconnect/<str:client_id>/", disconnect),
    *site_urlpatterns,
]
