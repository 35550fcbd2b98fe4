"""``header()``: a request header by name, read from ``META``."""

from __future__ import annotations

from django.test import RequestFactory

from thywill.edge.headers import header


def test_a_header_by_any_case_and_the_unprefixed_ones():
    request = RequestFactory().post(
        "/", b"{}", content_type="application/json", headers={"X-Thywill-Token": "t"}
    )
    assert header(request, "X-Thywill-Token") == "t"
    assert header(request, "x-thywill-token") == "t"
    assert header(request, "Content-Type") == "application/json"
    assert header(request, "Content-Length") == "2"
    assert header(request, "Last-Event-ID") is None
    assert header(request, "Last-Event-ID", "") == ""


def test_an_empty_header_is_there():
    request = RequestFactory().get("/", headers={"X-Thywill-Tokens": ""})
    assert header(request, "X-Thywill-Tokens") == ""
    assert header(request, "X-Thywill-Tokens", "none") == ""
