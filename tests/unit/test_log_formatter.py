"""The JSON log formatter: one line of JSON a record, with thywill's stable fields."""

from __future__ import annotations

import json
import logging

import pytest

from thywill.exceptions import ErrorCode, RejectedError
from thywill.log.formatters import JsonFormatter
from thywill.log.stdlib import StdlibLog


@pytest.fixture
def lines(logs: pytest.LogCaptureFixture) -> list[str]:
    """What the ``thywill`` logger writes from here on, formatted as JSON lines."""
    logs.set_level(logging.INFO, logger="thywill")
    written: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            written.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("thywill")
    logger.addHandler(handler)
    yield written
    logger.removeHandler(handler)


def test_a_handler_failure_carries_client_trace_and_traceback(lines: list[str]) -> None:
    """The line names the client and the trace id, and holds the traceback, on one line."""
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        StdlibLog().handler_failed(
            application="echo", client_id="c1", event="message", trace_id="0123456789abcdef"
        )
    [line] = lines
    assert "\n" not in line
    record = json.loads(line)
    assert record["level"] == "ERROR"
    assert record["logger"] == "thywill"
    assert record["message"] == (
        "Handler for message in application 'echo' failed trace=0123456789abcdef"
    )
    assert (record["client_id"], record["trace_id"]) == ("c1", "0123456789abcdef")
    assert record["exception"].endswith("RuntimeError: boom")
    assert record["time"].endswith("+00:00")


def test_a_rejection_carries_its_code_and_leaves_out_what_is_unknown(
    lines: list[str],
) -> None:
    """A rejection before the token was checked has a code and no client id."""
    StdlibLog().rejected(
        RejectedError(ErrorCode.BAD_JSON, "The body is not JSON."), path="/thywill/send/"
    )
    record = json.loads(lines[0])
    assert record["code"] == "bad_json"
    assert record["level"] == "WARNING"
    assert "client_id" not in record and "exception" not in record


def test_text_json_cannot_carry_is_written_anyway() -> None:
    """A lone surrogate in the message and an extra JSON cannot encode: still a line."""
    record = logging.LogRecord(
        "app", logging.INFO, __file__, 1, "said %s", ("\ud800",), exc_info=None
    )
    record.thywill_event = object()
    line = JsonFormatter().format(record)
    assert line.isascii()
    decoded = json.loads(line)
    assert decoded["message"] == "said \ud800"
    assert decoded["event"].startswith("<object object")
