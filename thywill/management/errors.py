"""How thywill's operator commands fail: a message on stderr and an exit code a script
can tell apart (documentation/operations.md)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from django.core.management.base import CommandError

from thywill.exceptions import PushUnavailableError, ThywillError

BAD_INPUT = 1
"""Exit code: an unknown application or client, an invalid name or id."""

PUSH_DOWN = 3
"""Exit code: the push backend cannot be reached (2 is argparse's, for bad usage)."""


@contextlib.contextmanager
def command_errors() -> Iterator[None]:
    """Turn thywill's errors into ``CommandError`` with the exit codes above."""
    try:
        yield
    except PushUnavailableError as exc:
        raise push_down(exc) from None
    except (ThywillError, ValueError) as exc:
        raise CommandError(str(exc), returncode=BAD_INPUT) from None


def push_down(exc: PushUnavailableError) -> CommandError:
    """The error of a command whose push backend cannot be reached."""
    return CommandError(f"The push backend cannot be reached: {exc}", returncode=PUSH_DOWN)
