"""Check messages that several unit test modules expect, written once."""

from django.core import checks

W001 = checks.Warning(
    "The in-memory push backend serves one process only and loses every message on "
    "restart.",
    hint="Run one server process, or a push backend shared by all of them.",
    id="thywill.W001",
)
