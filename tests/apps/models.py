"""Models of the test application: a record of the disconnect events that ran."""

from __future__ import annotations

from django.db import models


class Departure(models.Model):
    """One disconnect event of the testkit application, as its handler recorded it."""

    client_id = models.CharField(max_length=32, db_index=True)
    at = models.DateTimeField(auto_now_add=True)
