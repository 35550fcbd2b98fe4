"""The framework's own database models."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Client(models.Model):
    """One browser tab's identity in one application, issued by the bootstrap page, the
    session endpoint or the {% thywill_client %} tag."""

    id = models.CharField(primary_key=True, max_length=32, editable=False)
    application = models.CharField(max_length=50)
    session_key = models.CharField(max_length=40, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="thywill_clients",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("created_at",)
        # The admin lists the newest first, by application or not; thywill_purge deletes
        # by age. A row is written on every page load, so these must not scan the table.
        indexes = (
            models.Index(fields=["created_at"], name="thywill_client_created"),
            models.Index(
                fields=["application", "created_at"], name="thywill_client_app_created"
            ),
        )

    def __str__(self) -> str:
        return f"{self.application}:{self.id}"
