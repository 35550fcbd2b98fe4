"""A URLconf that includes thywill under a prefix of its own, as a project may."""

from django.urls import include, path

urlpatterns = [path("rt/", include("thywill.urls"))]
