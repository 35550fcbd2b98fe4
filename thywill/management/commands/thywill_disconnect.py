"""``manage.py thywill_disconnect CLIENT_ID``: end a client for good."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from thywill.api import disconnect
from thywill.management.errors import command_errors


class Command(BaseCommand):
    help = (
        "Disconnect a client for good: its open streams end with the 'disconnected' "
        "error and its later requests are refused. From another process than the "
        "server's, the push backend must be shared (REDIS_URL)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "client_id",
            help="the client's id; one that starts with '-' goes after '--' "
            "(thywill_disconnect -- -Qx3...), or it reads as an option",
        )
        parser.add_argument(
            "--json", action="store_true", help="print the outcome as one JSON object"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        client_id = options["client_id"]
        with command_errors():
            disconnect(client_id)
        if options["json"]:
            self.stdout.write(json.dumps({"client": client_id, "disconnected": True}))
        else:
            self.stdout.write(f"Disconnected client {client_id}.")
