"""The site's URLs: the start page at the root, two applications on one page at
/together/, thywill under /thywill/, Django's admin under /admin/."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from thywill_server.views import start, together

urlpatterns = [
    path("", start, name="start"),
    path("together/", together, name="together"),
    path("thywill/", include("thywill.urls")),
    path("admin/", admin.site.urls),
]
