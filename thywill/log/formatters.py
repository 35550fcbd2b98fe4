"""A ``logging`` formatter that writes one JSON object a line, for log collectors.

Use it in ``LOGGING``::

    "formatters": {"json": {"()": "thywill.log.formatters.JsonFormatter"}},

Each line carries ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, the
stable fields thywill sets on its records without their ``thywill_`` prefix
(``client_id``, ``code``, ``trace_id``, ``event``, ``outcome``, ...), and ``exception``
(the formatted traceback) when there is one. Records of other loggers get the same shape.
"""

from __future__ import annotations

import datetime
import json
import logging
from typing import Any

PREFIX = "thywill_"


class JsonFormatter(logging.Formatter):
    """Formats each record as one line of JSON (see the module's docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name.startswith(PREFIX) and value is not None:
                line[name.removeprefix(PREFIX)] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        # default=str: an extra of the project's own that JSON cannot carry is written as
        # its str(), not an exception inside logging. ASCII escapes keep a lone surrogate
        # from a client's text writable to any stream.
        return json.dumps(line, default=str)
