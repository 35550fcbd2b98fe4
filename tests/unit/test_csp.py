"""Content-Security-Policy: thywill's pages, its JSON errors, and the project's pages."""

from __future__ import annotations

import re

import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core import checks
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.test import RequestFactory

from thywill import content_security_policy
from thywill.conf import DEFAULT_CSP
from thywill.edge.csp import build_policy
from thywill.wiring.checks import check_settings

pytestmark = pytest.mark.django_db(transaction=True)

SCRIPT_SRC = re.compile(r'<script src="([^"]+)"( nonce="([^"]+)")? defer></script>')


def nonce_of(response: HttpResponse) -> str:
    """The nonce the response's policy allows scripts by."""
    [nonce] = re.findall(r"'nonce-([\w-]+)'", response["Content-Security-Policy"])
    return nonce


def test_the_bootstrap_page_sends_the_default_policy_with_a_fresh_nonce(client):
    """Every load of a bootstrap page has the strict policy and a nonce of its own,
    which each of its scripts carries."""
    first = client.get("/thywill/chat/init/")
    second = client.get("/thywill/chat/init/")
    nonce = nonce_of(first)
    assert first["Content-Security-Policy"] == (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        "style-src 'self'; connect-src 'self'; img-src 'self' data:; "
        "frame-ancestors 'none'; base-uri 'none'; object-src 'none'; form-action 'self'"
    )
    assert nonce != nonce_of(second) and len(nonce) >= 16
    scripts = SCRIPT_SRC.findall(first.content.decode())
    assert [src for src, _, _ in scripts] == [
        "/static/thywill/thywill.js",
        "/static/chat/chat.js",
    ]
    assert {script_nonce for _, _, script_nonce in scripts} == {nonce}


def test_the_policy_is_the_setting(client, settings):
    """THYWILL_CSP replaces the policy; its 'nonce' source is the response's nonce."""
    settings.THYWILL_CSP = {"script-src": ["'self'", "'nonce'"], "img-src": "*"}
    response = client.get("/thywill/echo/init/")
    assert response["Content-Security-Policy"] == (
        f"script-src 'self' 'nonce-{nonce_of(response)}'; img-src *"
    )


def test_no_policy_when_the_setting_is_none(client, settings):
    """THYWILL_CSP = None sends no policy, on pages and on JSON errors."""
    settings.THYWILL_CSP = None
    assert "Content-Security-Policy" not in client.get("/thywill/echo/init/")
    assert "Content-Security-Policy" not in client.get("/thywill/nope/init/")


def test_json_errors_may_load_and_run_nothing(client):
    """A JSON error is data: its policy allows nothing."""
    response = client.get("/thywill/nope/init/")
    assert response.status_code == 404
    assert (
        response["Content-Security-Policy"] == "default-src 'none'; frame-ancestors 'none'"
    )


@pytest.mark.parametrize("path", ["/", "/together/"])
def test_the_demo_sites_pages_send_the_policy(client, path):
    """The start page and /together/ (whose tags write the nonce) have the policy."""
    response = client.get(path)
    nonce = nonce_of(response)
    for _, _, script_nonce in SCRIPT_SRC.findall(response.content.decode()):
        assert script_nonce == nonce


@pytest.mark.parametrize(
    "value",
    [
        "default-src 'self'",
        {},
        {"Script-Src": ["'self'"]},
        {"script-src": ["'self'; img-src *"]},
        {"script-src": [1]},
        {"script-src": None},
    ],
)
def test_an_invalid_setting_is_reported_by_its_check(settings, value):
    """A THYWILL_CSP that is not None or directive -> sources is thywill.E015."""
    settings.THYWILL_CSP = value
    assert [m.id for m in check_settings() if isinstance(m, checks.Error)] == [
        "thywill.E015"
    ]


def test_the_default_and_none_pass_the_check(settings):
    """The default policy and None are valid."""
    assert check_settings() == []
    settings.THYWILL_CSP = None
    assert check_settings() == []


def test_without_a_nonce_the_nonce_source_is_left_out():
    """A policy built without a nonce does not write an empty one."""
    assert build_policy(DEFAULT_CSP, None).startswith(
        "default-src 'self'; script-src 'self'; style-src"
    )


# --- the project's own pages ----------------------------------------------------------

TAG = '{% load thywill %}{% thywill_client "echo" %}'


def render(source: str, request: HttpRequest, context: dict | None = None) -> str:
    return engines["django"].from_string(source).render(context or {}, request)


def page_request() -> HttpRequest:
    request = RequestFactory().get("/page/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
    return request


def test_the_tag_takes_a_nonce_given_to_it():
    """``nonce=`` puts that nonce on the tag's scripts."""
    html = render(
        '{% load thywill %}{% thywill_client "echo" nonce="abc" %}', page_request()
    )
    assert '<script src="/static/thywill/thywill.js" nonce="abc" defer></script>' in html


def test_the_tag_takes_the_contexts_nonce_then_the_requests():
    """Without ``nonce=``: the context's ``csp_nonce`` (Django 6's context processor),
    else ``request.csp_nonce`` (django-csp, thywill's decorator); else no nonce."""
    request = page_request()
    assert 'nonce="ctx"' in render(TAG, request, {"csp_nonce": "ctx"})
    request = page_request()
    request.csp_nonce = "req"  # type: ignore[attr-defined]
    assert 'nonce="req"' in render(TAG, request)
    assert "nonce=" not in render(TAG, page_request())


def test_the_decorator_serves_sync_and_async_views():
    """``thywill.content_security_policy`` gives a view's request a nonce and its
    response the policy, and keeps a policy the view set itself."""

    @content_security_policy
    def sync_view(request):
        return HttpResponse(request.csp_nonce)

    @content_security_policy
    async def async_view(request):
        return HttpResponse(request.csp_nonce)

    @content_security_policy
    def own_policy(request):
        response = HttpResponse()
        response["Content-Security-Policy"] = "default-src 'none'"
        return response

    response = sync_view(RequestFactory().get("/"))
    assert nonce_of(response) == response.content.decode()
    response = async_to_sync(async_view)(RequestFactory().get("/"))
    assert nonce_of(response) == response.content.decode()
    assert own_policy(RequestFactory().get("/"))["Content-Security-Policy"] == (
        "default-src 'none'"
    )
