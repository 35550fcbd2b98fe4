"""The site's URLs: thywill under /thywill/, and the root sends visitors to it."""

from __future__ import annotations

from django.urls import include, path
from django.views.generic import RedirectView

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="thywill:init", permanent=False)),
    path("thywill/", include("thywill_server.routes")),
]
