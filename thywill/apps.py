"""The Django app configuration of thywill: ``INSTALLED_APPS += ["thywill"]``."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.contrib.auth.signals import user_logged_out
from django.core.signals import setting_changed

from thywill.edge.sessions import revoke_on_logout
from thywill.identity.tokens import forget_verified
from thywill.wiring import checks
from thywill.wiring.runtime import reset_runtime


class ThywillConfig(AppConfig):
    name = "thywill"
    verbose_name = "thywill"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        checks.register()
        setting_changed.connect(_reset_on_change)
        # A logout ends the session's clients everywhere (thywill.feed.sessions).
        user_logged_out.connect(revoke_on_logout, dispatch_uid="thywill.revoke_on_logout")


def _reset_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        forget_verified()
    if setting.startswith("THYWILL_"):
        reset_runtime()
