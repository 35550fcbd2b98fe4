"""The cursor: one opaque, URL-safe string for a client's position in its channels."""

from __future__ import annotations

import base64
import json
import re

import pytest

from thywill.exceptions import ErrorCode, RejectedError
from thywill.feed.cursor import MAX_CURSOR_LENGTH, Cursor

URL_SAFE = re.compile(r"\A[A-Za-z0-9_-]*\Z")


def b64(raw: bytes) -> str:
    """URL-safe base64 without padding, as cursors are written."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def rejection(value: str) -> tuple[ErrorCode, str]:
    """The code and message a cursor string is refused with."""
    with pytest.raises(RejectedError) as caught:
        Cursor.decode(value)
    return caught.value.code, caught.value.message


def test_round_trip():
    """A cursor decodes back to the positions it was encoded from."""
    positions = {"client:AbCdEfGhIjKlMnOpQrSt_-": "1f2e3d4c-17", "group:room.1": "9-1"}
    encoded = Cursor(positions).encode()
    assert dict(Cursor.decode(encoded)) == positions


def test_encoding_is_url_safe_without_padding():
    """An encoded cursor uses only [A-Za-z0-9_-], even when base64 would need + / or =."""
    for positions in ({"c": "~~~"}, {"c": "???>>>"}, {"c": "é"}, {"a": "1", "bb": "22"}):
        encoded = Cursor(positions).encode()
        assert URL_SAFE.match(encoded), encoded
        assert dict(Cursor.decode(encoded)) == positions


def test_empty_cursor_encodes_as_empty_string():
    """The empty cursor is the empty string, meaning "from the start"."""
    assert Cursor().encode() == ""
    assert Cursor({}).encode() == ""


@pytest.mark.parametrize("value", [None, ""])
def test_empty_or_missing_string_decodes_to_the_empty_cursor(value):
    """No cursor, or the empty string, is the empty cursor."""
    assert dict(Cursor.decode(value)) == {}


def test_cursor_is_an_immutable_mapping():
    """A cursor reads like a dict, and advancing or restricting it returns copies."""
    cursor = Cursor({"a": "1", "b": "2"})
    assert (len(cursor), list(cursor), cursor["a"], cursor.get("z")) == (
        2,
        ["a", "b"],
        "1",
        None,
    )
    assert dict(cursor.advanced("a", "5")) == {"a": "5", "b": "2"}
    assert dict(cursor.advanced("c", "1")) == {"a": "1", "b": "2", "c": "1"}
    assert dict(cursor.restricted(["b", "z"])) == {"b": "2"}
    assert dict(cursor) == {"a": "1", "b": "2"}
    assert repr(cursor) == "Cursor({'a': '1', 'b': '2'})"
    positions = cursor.positions()
    positions["a"] = "9"
    assert positions == {"a": "9", "b": "2"}
    assert dict(cursor) == {"a": "1", "b": "2"}


def test_cursor_at_the_length_limit_is_accepted():
    """A cursor of exactly MAX_CURSOR_LENGTH characters decodes."""
    # 3072 bytes of JSON encode to exactly 4096 base64 characters.
    positions = {"c": "p" * (3072 - len('{"c":""}'))}
    encoded = Cursor(positions).encode()
    assert len(encoded) == MAX_CURSOR_LENGTH
    assert dict(Cursor.decode(encoded)) == positions


def test_cursor_over_the_length_limit_is_refused():
    """A cursor longer than MAX_CURSOR_LENGTH is refused as too long."""
    encoded = Cursor({"c": "p" * 3100}).encode()
    assert len(encoded) > MAX_CURSOR_LENGTH
    assert rejection(encoded) == (ErrorCode.BAD_CURSOR, "The cursor is too long.")


@pytest.mark.parametrize(
    "value",
    [
        pytest.param("A", id="one-char"),
        pytest.param("!!!!", id="not-base64"),
        pytest.param("====", id="only-padding"),
        pytest.param(b64(b"not json"), id="not-json"),
        pytest.param(b64(b"\xff\xfe\x00"), id="not-utf8"),
        pytest.param(b64(b'{"a": '), id="truncated-json"),
    ],
)
def test_undecodable_cursor_is_refused(value):
    """A string that is not base64 of JSON is refused as bad_cursor."""
    assert rejection(value) == (ErrorCode.BAD_CURSOR, "The cursor cannot be decoded.")


@pytest.mark.parametrize(
    "shape",
    [
        pytest.param([], id="list"),
        pytest.param("text", id="string"),
        pytest.param(7, id="number"),
        pytest.param(None, id="null"),
        pytest.param({"c": 1}, id="number-position"),
        pytest.param({"c": None}, id="null-position"),
        pytest.param({"c": ["1"]}, id="list-position"),
        pytest.param({"c": {"nested": "1"}}, id="object-position"),
    ],
)
def test_wrong_json_shape_is_refused(shape):
    """Valid JSON that is not an object of string positions is refused as bad_cursor."""
    assert rejection(b64(json.dumps(shape).encode())) == (
        ErrorCode.BAD_CURSOR,
        "The cursor does not map channels to positions.",
    )


def test_deeply_nested_json_is_refused_not_crashing():
    """A cursor of deeply nested JSON is refused as bad_cursor, never an unhandled error."""
    value = b64(b"[" * 3000)
    assert len(value) <= MAX_CURSOR_LENGTH
    assert rejection(value)[0] == ErrorCode.BAD_CURSOR
