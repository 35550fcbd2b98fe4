"""A URLconf that forgot thywill (what check E014 reports)."""

urlpatterns: list[object] = []
