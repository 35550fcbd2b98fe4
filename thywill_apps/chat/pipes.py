"""The chat's pipe: every text a person types is trimmed and checked before a handler
sees it."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from thywill import Event, NextPipe, Pipe, fail


class CleanText(Pipe):
    """Trims one string field of a message and refuses it when empty, too long or
    holding control characters.

    The cleaned value replaces the field in the message's data, so the hook scripts and
    the handler behind this pipe see it. Refusals carry a reason meant for the person
    typing (the page shows it): codes ``bad_message`` (no such string field), ``empty``,
    ``too_long`` (with ``maxLength``) and ``bad_text``.

    Args:
        field: the key of the message's data to clean.
        label: what the field is, in words, to start a sentence: ``"A nickname"``.
        max_length: the most characters (Unicode code points) the cleaned text may have.
        single_line: collapse every run of whitespace, line breaks included, to one
            space; otherwise line breaks are kept (as ``\\n``).
    """

    def __init__(
        self, field: str, *, label: str, max_length: int, single_line: bool = False
    ) -> None:
        self.field = field
        self.label = label
        self.max_length = max_length
        self.single_line = single_line

    async def pipe_message(self, next_pipe: NextPipe, event: Event, **kwargs: Any) -> Any:
        data = event.data if isinstance(event.data, Mapping) else {}
        value = data.get(self.field)
        if not isinstance(value, str):
            fail(f"{self.label} is missing.", code="bad_message")
        text = self.clean(value)
        if not text:
            fail(f"{self.label} cannot be empty.", code="empty")
        if len(text) > self.max_length:
            fail(
                f"{self.label} can have at most {self.max_length} characters; "
                f"this one has {len(text)}.",
                code="too_long",
                maxLength=self.max_length,
            )
        if any(unicodedata.category(c) == "Cc" and c != "\n" for c in text):
            fail(f"{self.label} cannot contain control characters.", code="bad_text")
        event.data = {**data, self.field: text}
        return await next_pipe(**kwargs)

    def clean(self, value: str) -> str:
        """``value`` trimmed, its line breaks made ``\\n`` (or spaces when single-line)."""
        if self.single_line:
            return " ".join(value.split())
        return value.replace("\r\n", "\n").replace("\r", "\n").strip()
