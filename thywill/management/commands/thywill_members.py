"""``manage.py thywill_members APP GROUP``: who is in one of an application's groups."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from thywill.management.errors import command_errors
from thywill.operations import MAX_MEMBERS, GroupMembers, Member, group_members


class Command(BaseCommand):
    help = (
        "List the members of one of an application's groups: each client's id, whether "
        "it is connected, and its user when it has one."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("app", help="the application's name")
        parser.add_argument("group", help="the group's name")
        parser.add_argument(
            "--limit",
            type=int,
            default=MAX_MEMBERS,
            help=f"list at most this many members (default {MAX_MEMBERS}); "
            "the total is always told",
        )
        parser.add_argument(
            "--json", action="store_true", help="print the members as one JSON object"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        with command_errors():
            if options["limit"] < 1:
                raise ValueError(f"--limit must be positive, not {options['limit']}")
            found = group_members(options["app"], options["group"], limit=options["limit"])
        if options["json"]:
            report = {
                "application": found.application,
                "group": found.group,
                "total": found.total,
                "members": [member.as_json() for member in found.members],
            }
            self.stdout.write(json.dumps(report))
        else:
            self.stdout.write("\n".join(describe(found)))


def describe(found: GroupMembers) -> list[str]:
    """The members as lines of text."""
    shown = "" if found.total == len(found.members) else f", {len(found.members)} shown"
    lines = [
        f"Group {found.group!r} of {found.application!r}: {found.total} member(s){shown}"
    ]
    lines += [f"  {member.client_id}  {_who(member)}" for member in found.members]
    return lines


def _who(member: Member) -> str:
    state = "connected" if member.connected else "not connected"
    if member.user is None:
        return f"{state}, anonymous"
    return f"{state}, user {member.user.pk} ({member.user})"
