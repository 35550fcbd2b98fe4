"""``manage.py thywill_status``: the components, the push backend's health and the
counts of clients, connected clients and groups."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from thywill.management.errors import PUSH_DOWN
from thywill.operations import Status, status


class Command(BaseCommand):
    help = (
        "Show the components and applications in use, whether the push backend answers, "
        "and how many clients are recorded and connected and how many groups exist. "
        f"Exits with {PUSH_DOWN} when the push backend cannot be reached."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--json", action="store_true", help="print the status as one JSON object"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        report = status()
        if options["json"]:
            self.stdout.write(json.dumps(report.as_json()))
        else:
            self.stdout.write("\n".join(describe(report)))
        if report.push_error is not None:
            raise CommandError(
                f"The push backend cannot be reached: {report.push_error}",
                returncode=PUSH_DOWN,
            )


def describe(report: Status) -> list[str]:
    """The status as lines of text."""
    lines = ["Components:"]
    lines += [f"  {role:<10}{backend}" for role, backend in report.components.items()]
    lines.append(f"Applications (default {report.default_application}):")
    for name, backend in report.applications.items():
        groups = "" if report.groups is None else f"  ({report.groups[name]} group(s))"
        lines.append(f"  {name:<10}{backend}{groups}")
    lines.append(f"Transports: {', '.join(report.transports)}")
    if report.push_error is None:
        lines.append("Push backend: ok")
        lines.append(f"Clients: {report.clients} recorded, {report.connected} connected")
    else:
        lines.append(f"Push backend: UNAVAILABLE ({report.push_error})")
        lines.append(f"Clients: {report.clients} recorded, connected unknown")
    return lines
