"""The Django app configuration of thywill: ``INSTALLED_APPS += ["thywill"]``."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed

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


def _reset_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        forget_verified()
    if setting.startswith("THYWILL_"):
        reset_runtime()
