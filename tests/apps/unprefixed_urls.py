"""A URLconf that includes thywill without a prefix (what check W005 warns about)."""

from django.urls import include, path

urlpatterns = [path("", include("thywill.urls"))]
