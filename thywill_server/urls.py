"""The site's URLs: the start page at the root, thywill under /thywill/."""

from __future__ import annotations

from django.urls import include, path

from thywill_server.views import start

urlpatterns = [
    path("", start, name="start"),
    path("thywill/", include("thywill.urls")),
]
