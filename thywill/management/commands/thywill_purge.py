"""``manage.py thywill_purge``: delete the Client rows whose tokens can no longer work.

Every page load writes a ``Client`` row; nothing else ever deletes one. A row older than
THYWILL_LIMITS["TOKEN_MAX_AGE"] belongs to a client whose token is refused
(``token_expired``), so no request reads it any more. Run this from cron (daily is plenty).
"""

from __future__ import annotations

import datetime
import json
import time
from typing import Any

from asgiref.sync import async_to_sync
from django.core.management.base import BaseCommand, CommandParser

from thywill import conf
from thywill.wiring.runtime import get_runtime


class Command(BaseCommand):
    help = (
        "Delete the records of clients issued more than TOKEN_MAX_AGE ago: their tokens "
        "no longer work. Run it from cron."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="print the counts as one JSON object"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        max_age = conf.get_limits().token_max_age
        before = time.time() - max_age
        deleted = async_to_sync(get_runtime().database.purge_clients)(before)
        issued_before = datetime.datetime.fromtimestamp(before, tz=datetime.UTC)
        if options["json"]:
            report = {
                "deleted_clients": deleted,
                "issued_before": issued_before.isoformat(timespec="seconds"),
                "token_max_age": max_age,
            }
            self.stdout.write(json.dumps(report))
        else:
            self.stdout.write(
                f"Deleted {deleted} client record(s) issued before "
                f"{issued_before:%Y-%m-%d %H:%M:%S} UTC (TOKEN_MAX_AGE {max_age} s)."
            )
