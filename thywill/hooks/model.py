"""The model a hook function receives: valid only while that call runs."""

from __future__ import annotations

import os
import sys
from typing import Any

from thywill.exceptions import StaleModelError


class Model:
    """The fields of one event, for one hook call.

    Read fields as attributes (``model.client_id``); the writable ones (``data``) can be
    assigned in a ``pre_`` function to change what the core receives. Once the call that
    received the model has returned, every use raises ``StaleModelError`` naming the
    script and line that used it: keep copies of fields, never the model.
    """

    __slots__ = ("_event", "_fields", "_live", "_writable")

    def __init__(
        self, event: str, fields: dict[str, Any], writable: frozenset[str]
    ) -> None:
        object.__setattr__(self, "_event", event)
        object.__setattr__(self, "_fields", fields)
        object.__setattr__(self, "_writable", writable)
        object.__setattr__(self, "_live", True)

    def __getattr__(self, name: str) -> Any:
        self._check()
        try:
            return self._fields[name]
        except KeyError:
            known = ", ".join(sorted(self._fields))
            raise AttributeError(
                f"a {self._event} model has no field {name!r}; fields: {known}"
            ) from None

    def __setattr__(self, name: str, value: Any) -> None:
        self._check()
        if name not in self._writable:
            writable = ", ".join(sorted(self._writable)) or "none"
            raise AttributeError(
                f"field {name!r} of a {self._event} model cannot be changed "
                f"(writable: {writable})"
            )
        self._fields[name] = value

    def fields(self) -> dict[str, Any]:
        """A copy of every field, as a dict (safe to keep)."""
        self._check()
        return dict(self._fields)

    def __repr__(self) -> str:
        state = "" if self._live else " (expired)"
        return f"<{self._event} model{state}>"

    def _check(self) -> None:
        if self._live:
            return
        # The frame that touched the model: two up from here (__getattr__/__setattr__).
        frame = sys._getframe(2)
        where = f"{_short(frame.f_code.co_filename)} line {frame.f_lineno}"
        raise StaleModelError(
            f"{where} used a {self._event} model after the hook call that received it "
            "had returned. A model is valid only during that call: copy the fields you "
            "need (model.fields(), model.data) instead of keeping the model."
        )

    def expire(self) -> dict[str, Any]:
        """End the model's validity; return its fields for the next stage."""
        object.__setattr__(self, "_live", False)
        fields: dict[str, Any] = self._fields
        return fields


def _short(filename: str) -> str:
    try:
        return os.path.relpath(filename)
    except ValueError:  # another drive, on Windows
        return filename
