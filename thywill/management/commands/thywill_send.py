"""``manage.py thywill_send``: push JSON to a client, a group or a user from a shell."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from thywill.api import send_to_client, send_to_group, send_to_user
from thywill.exceptions import ThywillError


class Command(BaseCommand):
    help = (
        "Send JSON to a client, to a group of an application, or to every client of a "
        "user, through the application's on_send pipes. From another process than the "
        "server's, the push backend must be shared (REDIS_URL)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        target = parser.add_mutually_exclusive_group(required=True)
        target.add_argument(
            "--client",
            metavar="CLIENT_ID",
            help="a client's id; one that starts with '-' goes after '=' "
            "(--client=-Qx3...), or it reads as an option",
        )
        target.add_argument(
            "--group", nargs=2, metavar=("APP", "GROUP"), help="an application's group"
        )
        target.add_argument("--user", metavar="PK", help="a user's primary key")
        parser.add_argument(
            "--app", help="with --user: only this application's clients (default: all)"
        )
        parser.add_argument("data", help='the message, as JSON: \'{"text": "hello"}\'')

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            data = json.loads(options["data"])
        except ValueError as exc:
            raise CommandError(f"The message is not JSON: {exc}") from None
        if options["app"] is not None and options["user"] is None:
            raise CommandError("--app goes with --user.")
        try:
            if options["client"] is not None:
                send_to_client(options["client"], data)
                target = f"client {options['client']}"
            elif options["group"] is not None:
                app, group = options["group"]
                send_to_group(app, group, data)
                target = f"group {group!r} of {app!r}"
            else:
                send_to_user(options["user"], data, app=options["app"])
                target = f"user {options['user']}"
        except (ThywillError, ValueError) as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Sent to {target}.")
