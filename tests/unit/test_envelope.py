"""What crosses the wire: send bodies in, delivered messages out (envelope.py)."""

from __future__ import annotations

import json

import pytest

from thywill.exceptions import ErrorCode, RejectedError
from thywill.push.base import StoredMessage
from thywill.wire.inbound import MAX_SEQ, InboundMessage, SendRequest, parse_send_body
from thywill.wire.outbound import encode_delivery, encode_reset

MAX_BYTES = 1000
MAX_BATCH = 3


def parse(body) -> SendRequest:
    """Parse a body (bytes, or any value to encode as JSON) with the test limits."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return parse_send_body(raw, max_bytes=MAX_BYTES, max_batch=MAX_BATCH)


def rejection(body) -> tuple[ErrorCode, str]:
    """The code and message a body is refused with."""
    with pytest.raises(RejectedError) as caught:
        parse(body)
    return caught.value.code, caught.value.message


def test_valid_body_is_parsed_in_order():
    """A valid body gives its token and its messages, in order, data untouched."""
    body = {
        "token": "tok",
        "messages": [
            {"seq": 1, "data": {"text": "hello"}},
            {"seq": 2, "data": "hi"},
            {"seq": 7, "data": None},
        ],
    }
    assert parse(body) == SendRequest(
        "tok",
        [
            InboundMessage(1, {"text": "hello"}),
            InboundMessage(2, "hi"),
            InboundMessage(7, None),
        ],
    )


def test_any_json_value_is_valid_data():
    """data may be any JSON value, and extra keys in a message are ignored."""
    values = [0, [1, [2]], {"deep": {"er": True}}]
    body = {
        "token": "t",
        "messages": [{"seq": i + 1, "data": v, "extra": 1} for i, v in enumerate(values)],
    }
    assert [m.data for m in parse(body).messages] == values


def test_largest_seq_is_accepted():
    """The largest integer a browser counts exactly (2**53 - 1) is a valid seq."""
    body = {"token": "t", "messages": [{"seq": MAX_SEQ, "data": 1}]}
    assert parse(body).messages == [InboundMessage(MAX_SEQ, 1)]


def test_body_at_the_size_limit_is_accepted():
    """A body of exactly max_bytes is accepted."""
    prefix = b'{"token":"t","messages":[{"seq":1,"data":"'
    suffix = b'"}]}'
    body = prefix + b"x" * (MAX_BYTES - len(prefix) - len(suffix)) + suffix
    assert len(body) == MAX_BYTES
    assert parse(body).token == "t"


def test_body_over_the_size_limit_is_too_large():
    """A body over max_bytes is refused as too_large before it is parsed."""
    body = b"x" * (MAX_BYTES + 1)
    assert rejection(body) == (
        ErrorCode.TOO_LARGE,
        f"The body is {MAX_BYTES + 1} bytes; the limit is {MAX_BYTES}.",
    )


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"{", id="truncated"),
        pytest.param(b"{'token': 'single quotes'}", id="python-literal"),
        pytest.param(b'{"seq": 1} trailing', id="trailing-garbage"),
    ],
)
def test_body_that_is_not_json_is_bad_json(body):
    """A body that does not parse as JSON is refused as bad_json."""
    code, message = rejection(body)
    assert code == ErrorCode.BAD_JSON
    assert message.startswith("The body is not JSON: ")


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_json_number_constants_are_bad_json(constant):
    """NaN and Infinity are not JSON: a body using them is refused as bad_json."""
    body = b'{"token":"t","messages":[{"seq":1,"data":' + constant + b"}]}"
    assert rejection(body)[0] == ErrorCode.BAD_JSON


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b'"\\ud800"', id="lone-high-surrogate"),
        pytest.param(b'{"text": "a\\udfff b"}', id="lone-low-surrogate"),
        pytest.param(b'{"\\ud83d": 1}', id="in-a-key"),
        pytest.param(b'["\\udc00\\ud800"]', id="reversed-pair"),
    ],
)
def test_text_that_cannot_be_encoded_is_bad_json(data):
    """A lone surrogate is valid JSON but not text: it could never be delivered, so it is
    refused as bad_json, naming the problem."""
    body = b'{"token":"t","messages":[{"seq":1,"data":' + data + b"}]}"
    code, message = rejection(body)
    assert code == ErrorCode.BAD_JSON
    assert "cannot be encoded" in message


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(b'"\xed\xa0\x80"', id="utf8-encoded-surrogate"),
        pytest.param(b'"\xff"', id="not-utf8"),
        pytest.param(b'\xff\xfe"\x00a\x00"\x00', id="utf16-with-bom"),
    ],
)
def test_a_body_that_is_not_utf8_is_bad_json(raw):
    """JSON over HTTP is UTF-8: bytes that are not (a surrogate encoded as if it were a
    character, another encoding) are refused, not decoded leniently into text that could
    never be delivered."""
    body = b'{"token":"t","messages":[{"seq":1,"data":' + raw + b"}]}"
    code, message = rejection(body)
    assert code == ErrorCode.BAD_JSON
    assert "UTF-8" in message


def test_a_surrogate_pair_is_fine():
    """An escaped surrogate pair is one character (here an emoji) and passes."""
    body = b'{"token":"t","messages":[{"seq":1,"data":"\\ud83d\\ude00"}]}'
    assert parse(body).messages[0].data == "\U0001f600"


@pytest.mark.parametrize("number", [b"1e99999", b"-1e400", b"[1, 2e308]"])
def test_numbers_beyond_a_double_are_bad_json(number):
    """A number that only parses to infinity is refused, as NaN and Infinity are."""
    body = b'{"token":"t","messages":[{"seq":1,"data":' + number + b"}]}"
    code, message = rejection(body)
    assert code == ErrorCode.BAD_JSON
    assert "out of range" in message


def test_deeply_nested_body_is_refused_not_crashing():
    """A body of deeply nested JSON is refused (bad_json), never an unhandled error."""
    body = b"[" * 5000 + b"]" * 5000
    assert len(body) <= 64 * 1024
    with pytest.raises(RejectedError) as caught:
        parse_send_body(body, max_bytes=64 * 1024, max_batch=MAX_BATCH)
    assert caught.value.code in (ErrorCode.BAD_JSON, ErrorCode.BAD_MESSAGE)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param([], "The body must be a JSON object.", id="list"),
        pytest.param("text", "The body must be a JSON object.", id="string"),
        pytest.param(None, "The body must be a JSON object.", id="null"),
        pytest.param({"messages": []}, "'token' must be a string.", id="token-missing"),
        pytest.param(
            {"token": 1, "messages": []}, "'token' must be a string.", id="token-int"
        ),
        pytest.param({"token": None}, "'token' must be a string.", id="token-null"),
        pytest.param(
            {"token": "t"}, "'messages' must be a non-empty list.", id="msgs-missing"
        ),
        pytest.param(
            {"token": "t", "messages": []},
            "'messages' must be a non-empty list.",
            id="msgs-empty",
        ),
        pytest.param(
            {"token": "t", "messages": {"seq": 1, "data": 1}},
            "'messages' must be a non-empty list.",
            id="msgs-object",
        ),
        pytest.param(
            {"token": "t", "messages": "1"},
            "'messages' must be a non-empty list.",
            id="msgs-string",
        ),
        pytest.param(
            {"token": "t", "messages": [{"seq": s, "data": 1} for s in range(1, 5)]},
            "'messages' has 4 items; the limit is 3.",
            id="too-many",
        ),
        pytest.param(
            {"token": "t", "messages": [1]},
            "messages[0] must be an object with 'seq' and 'data'.",
            id="msg-not-object",
        ),
        pytest.param(
            {"token": "t", "messages": [{"seq": 1}]},
            "messages[0] must be an object with 'seq' and 'data'.",
            id="data-missing",
        ),
        pytest.param(
            {"token": "t", "messages": [{"seq": 1, "data": 1}, {"seq": 2}]},
            "messages[1] must be an object with 'seq' and 'data'.",
            id="second-data-missing",
        ),
        pytest.param(
            {"token": "t", "messages": [{"data": 1}]},
            "messages[0].seq must be a positive integer.",
            id="seq-missing",
        ),
        pytest.param(
            {"token": "t", "messages": [{"seq": True, "data": 1}]},
            "messages[0].seq must be a positive integer.",
            id="seq-bool",
        ),
        pytest.param(
            {"token": "t", "messages": [{"seq": 0, "data": 1}]},
            "messages[0].seq must be a positive integer.",
            id="seq-zero",
        ),
        pytest.param(
            {"token": "t", "messages": [{"seq": -3, "data": 1}]},
            "messages[0].seq must be a positive integer.",
            id="seq-negative",
        ),
        pytest.param(
            {"token": "t", "messages": [{"seq": 1.0, "data": 1}]},
            "messages[0].seq must be a positive integer.",
            id="seq-float",
        ),
        pytest.param(
            {"token": "t", "messages": [{"seq": "1", "data": 1}]},
            "messages[0].seq must be a positive integer.",
            id="seq-string",
        ),
        pytest.param(
            {"token": "t", "messages": [{"seq": MAX_SEQ + 1, "data": 1}]},
            "messages[0].seq must be a positive integer.",
            id="seq-too-big",
        ),
        pytest.param(
            {"token": "t", "messages": [{"seq": 2, "data": 1}, {"seq": 2, "data": 1}]},
            "messages[1].seq must be above the one before it.",
            id="seq-repeated",
        ),
        pytest.param(
            {"token": "t", "messages": [{"seq": 5, "data": 1}, {"seq": 4, "data": 1}]},
            "messages[1].seq must be above the one before it.",
            id="seq-decreasing",
        ),
    ],
)
def test_malformed_body_is_bad_message_naming_the_field(body, message):
    """Each malformed field is refused as bad_message with a message naming it."""
    assert rejection(body) == (ErrorCode.BAD_MESSAGE, message)


def test_huge_integer_is_bad_json_not_a_crash():
    """A number too long for Python to convert is refused as bad_json."""
    body = b'{"token":"t","messages":[{"seq":' + b"9" * 5000 + b',"data":1}]}'
    with pytest.raises(RejectedError) as caught:
        parse_send_body(body, max_bytes=10_000, max_batch=MAX_BATCH)
    assert caught.value.code == ErrorCode.BAD_JSON


# --- outgoing ------------------------------------------------------------------------


def test_delivery_is_valid_json_with_the_payload_verbatim():
    """A delivered message is a JSON object holding the stored payload byte for byte."""
    payload = '{ "text" : "héllo ✓",\n "n": [1, 2.5e3, null] }'
    message = StoredMessage("client:AbC", "1f2e3d4c-17", payload)
    encoded = encode_delivery(message)
    assert encoded == '{"channel":"client:AbC","id":"1f2e3d4c-17","data":' + payload + "}"
    assert json.loads(encoded) == {
        "channel": "client:AbC",
        "id": "1f2e3d4c-17",
        "data": {"text": "héllo ✓", "n": [1, 2500.0, None]},
    }


@pytest.mark.parametrize("payload", ['"text"', "17", "null", "[]", "true", '"a\\"b"'])
def test_delivery_embeds_any_json_payload(payload):
    """Any JSON value as payload gives a valid delivery with that value as data."""
    encoded = encode_delivery(StoredMessage("c", "p", payload))
    assert json.loads(encoded) == {"channel": "c", "id": "p", "data": json.loads(payload)}


def test_delivery_escapes_channel_and_position():
    """Quotes and backslashes in the channel or position cannot break the JSON."""
    encoded = encode_delivery(StoredMessage('we"ird\\', 'p"os', "1"))
    assert json.loads(encoded) == {"channel": 'we"ird\\', "id": 'p"os', "data": 1}


def test_reset_body_names_the_channels():
    """A reset says which channels lost history and why, as compact JSON."""
    assert encode_reset(["client:a", "group:b"]) == (
        '{"channels":["client:a","group:b"],"reason":"history_lost"}'
    )
