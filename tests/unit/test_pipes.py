"""The built-in pipes and THYWILL_PIPELINE: rate limits, size, schema, trace, checks."""

from __future__ import annotations

import logging

import pytest

from tests.support.members import Member, data_read
from thywill.pipeline.pipes import (
    MessageSizePipe,
    RateLimitPipe,
    SchemaPipe,
    TracePipe,
)
from thywill.pipeline.schema import check_schema, errors
from thywill.wiring.checks import check_pipeline

pytestmark = pytest.mark.django_db(transaction=True)

RATE = "thywill.pipeline.pipes.RateLimitPipe"


async def test_rate_limit_refuses_over_the_limit_with_retry_after(settings):
    """Past its burst a client's messages fail with rate_limited and retryAfter."""
    settings.THYWILL_PIPELINE = [{"BACKEND": RATE, "OPTIONS": {"rate": 2, "per": 60}}]
    alice, bob = Member(), Member()
    feed = alice.feed()
    results = [r.as_json(i + 1) for i, r in enumerate(await alice.send("a", "b", "c"))]
    assert [r["status"] for r in results] == ["ok", "ok", "failed"]
    assert results[2]["code"] == "rate_limited"
    assert 29 < results[2]["retryAfter"] <= 30
    assert results[2]["reason"].startswith("Too many messages: at most 2 every 60 s.")
    assert len(await data_read(feed)) == 2
    assert [r.outcome.value for r in await bob.send("x")] == ["ok"]  # per client


def test_rate_limit_refills_over_time(monkeypatch):
    """Tokens come back at rate/per; a full bucket allows a burst again."""
    now = [1000.0]
    monkeypatch.setattr("thywill.pipeline.pipes.time.monotonic", lambda: now[0])
    pipe = RateLimitPipe(rate=1, per=2.0, burst=2)
    assert [pipe.take("c"), pipe.take("c")] == [0.0, 0.0]
    assert pipe.take("c") == pytest.approx(2.0)
    now[0] += 1.0
    assert pipe.take("c") == pytest.approx(1.0)
    now[0] += 1.0
    assert pipe.take("c") == 0.0


@pytest.mark.parametrize(
    "options",
    [{"rate": 0}, {"rate": 1.5}, {"per": 0}, {"per": "1"}, {"burst": 0}, {"rate": True}],
)
def test_rate_limit_options_are_checked(options):
    """Non-positive or non-numeric options are a ValueError."""
    with pytest.raises(ValueError):
        RateLimitPipe(**options)


async def test_message_size_pipe(settings):
    """A message whose data is over max_bytes fails with too_large."""
    settings.THYWILL_PIPELINE = [
        {
            "BACKEND": "thywill.pipeline.pipes.MessageSizePipe",
            "OPTIONS": {"max_bytes": 5},
        }
    ]
    alice = Member()
    ok, big = await alice.send("abc", "abcdef")
    assert ok.outcome.value == "ok"
    assert big.as_json(2) == {
        "seq": 2,
        "status": "failed",
        "code": "too_large",
        "reason": "The message is 8 bytes; the limit is 5.",
        "traceId": big.trace_id,
    }
    assert big.trace_id is not None
    with pytest.raises(ValueError):
        MessageSizePipe(max_bytes=0)


async def test_schema_pipe_for_every_message(settings):
    """A global schema is checked for every message, naming each problem."""
    settings.THYWILL_PIPELINE = [
        {
            "BACKEND": "thywill.pipeline.pipes.SchemaPipe",
            "OPTIONS": {"schema": {"type": "object", "required": ["type"]}},
        }
    ]
    alice = Member()
    [result] = await alice.send([1])
    assert (
        result.as_json(1)["reason"]
        == "The message is not valid: data must be of type object."
    )


@pytest.mark.parametrize(
    ("value", "schema", "found"),
    [
        ("x", {"type": "string", "maxLength": 0}, ["data must be at most 0 characters"]),
        ("", {"minLength": 1}, ["data must be at least 1 characters"]),
        (True, {"type": "integer"}, ["data must be of type integer"]),
        (5, {"type": ["integer", "null"], "minimum": 6}, ["data must be at least 6"]),
        (5, {"maximum": 4}, ["data must be at most 4"]),
        ("b", {"enum": ["a"]}, ["data must be one of ['a']"]),
        (
            [1, "2"],
            {"items": {"type": "integer"}, "maxItems": 1},
            ["data must have at most 1 items", "data[1] must be of type integer"],
        ),
        ([], {"minItems": 1}, ["data must have at least 1 items"]),
        (
            {"a": 1, "b": 2},
            {"properties": {"a": {"type": "string"}}, "additionalProperties": False},
            ["data.a must be of type string", "data.b is not allowed"],
        ),
        ({"a": "x"}, {"type": "object", "properties": {"a": {"type": "string"}}}, []),
    ],
)
def test_schema_errors(value, schema, found):
    """Each supported keyword reports where the data breaks it."""
    check_schema(schema)
    assert errors(value, schema) == found


@pytest.mark.parametrize(
    "schema",
    [{"pattern": "x"}, {"type": "float"}, {"properties": {"a": {"format": "email"}}}],
)
def test_unsupported_schema_is_refused(schema):
    """A keyword or type the validator does not know is refused at build time."""
    with pytest.raises(ValueError):
        check_schema(schema)
    with pytest.raises(ValueError):
        SchemaPipe(types={"x": schema})


async def test_trace_pipe_logs_one_structured_line_per_event(settings, caplog):
    """TracePipe logs kind, client, trace id, outcome and per-pipe timings."""
    settings.THYWILL_PIPELINE = [
        "thywill.pipeline.pipes.TracePipe",
        {"BACKEND": RATE, "OPTIONS": {"rate": 1, "per": 60}},
    ]
    alice = Member()
    with caplog.at_level(logging.INFO, logger="thywill.trace"):
        await alice.send({"type": "shout", "text": "a"}, "b")
    ok, failed = [r for r in caplog.records if r.name == "thywill.trace"]
    assert (
        ok.thywill_outcome == "ok" and failed.thywill_outcome == "failed: RateLimitedError"
    )
    assert failed.levelno == logging.INFO
    assert ok.thywill_client_id == alice.id
    assert len(ok.thywill_trace_id) == 16 and ok.thywill_trace_id != failed.thywill_trace_id
    assert set(ok.thywill_timings) == {"RateLimitPipe"}
    assert "rooms message:shout client=" in ok.getMessage()
    with pytest.raises(ValueError):
        TracePipe(level="LOUD")


@pytest.mark.parametrize(
    ("value", "check_id", "message"),
    [
        ("x", "thywill.E011", "THYWILL_PIPELINE must be a list"),
        ([3], "thywill.E011", "THYWILL_PIPELINE[0] must be a dict with a 'BACKEND'"),
        (
            ["no.such.Pipe"],
            "thywill.E002",
            "THYWILL_PIPELINE[0]['BACKEND'] = 'no.such.Pipe'",
        ),
        (["thywill.log.stdlib.StdlibLog"], "thywill.E003", "is not a subclass of"),
        ([{"BACKEND": RATE, "OPTIONS": {"rat": 1}}], "thywill.E004", "Unknown or missing"),
        ([{"BACKEND": RATE, "OPTIONS": {"rate": -1}}], "thywill.E004", "rate must be"),
    ],
)
def test_bad_pipeline_settings_are_reported(settings, value, check_id, message):
    """Each wrong THYWILL_PIPELINE is one error with its id, naming the entry."""
    settings.THYWILL_PIPELINE = value
    [error] = check_pipeline()
    assert error.id == check_id
    assert message in error.msg


def test_default_pipeline_checks_clean():
    """The project's own settings pass the pipeline check."""
    assert check_pipeline() == []
