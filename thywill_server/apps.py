"""The Django app configuration of the framework."""

from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed


class ThywillServerConfig(AppConfig):
    name = "thywill_server"
    verbose_name = "thywill"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from thywill_server import checks  # noqa: F401  (registers the system checks)

        setting_changed.connect(_reset_on_change)


def _reset_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting in ("SECRET_KEY", "SECRET_KEY_FALLBACKS"):
        from thywill_server.identity.tokens import forget_verified

        forget_verified()
    if setting.startswith("THYWILL_"):
        from thywill_server.components import reset_all

        reset_all()
