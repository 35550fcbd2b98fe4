"""``{% thywill_client %}``: clients of applications on the project's own pages."""

from __future__ import annotations

import json
import re

import pytest
from asgiref.sync import async_to_sync
from django import test
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.template import TemplateSyntaxError, engines
from django.test import RequestFactory

from tests.apps.pages import ONE_CLIENT
from tests.support.members import channel_data
from thywill.identity.tokens import verify_token
from thywill.models import Client

pytestmark = pytest.mark.django_db(transaction=True)

CONFIGS = re.compile(
    r'<script id="(thywill-config[\w-]*)" type="application/json">(.*?)</script>', re.S
)
CLIENT_SCRIPT = '<script src="/static/thywill/thywill.js" defer></script>'
CONFIG_KEYS = {
    "clientId",
    "token",
    "application",
    "cursor",
    "resume",
    "share",
    "transports",
    "forcedTransport",
    "csrfToken",
    "endpoints",
    "limits",
    "app",
}


def configs(html: str) -> dict[str, dict]:
    """The configuration elements of a page, by element id, in page order."""
    return {element_id: json.loads(raw) for element_id, raw in CONFIGS.findall(html)}


def page_request() -> HttpRequest:
    """A GET with its session and user loaded, as the middleware would."""
    request = RequestFactory().get("/page/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    AuthenticationMiddleware(lambda r: HttpResponse()).process_request(request)
    return request


def render(source: str, context: dict | None = None) -> str:
    """Render a template given as text for a new request (outside any event loop)."""
    return engines["django"].from_string(source).render(context or {}, page_request())


@pytest.mark.urls("tests.apps.pages")
def test_a_page_issues_a_client_per_tag_and_loads_the_client_once(client: test.Client):
    """A sync view's page gets one configuration element per application, each a new
    client of the request's session whose connect event ran, and one thywill.js."""
    response = client.get("/two/")
    assert response.status_code == 200
    html = response.content.decode()
    found = configs(html)
    assert list(found) == ["thywill-config-echo", "thywill-config-testkit"]
    assert html.count("thywill.js") == 1
    assert CLIENT_SCRIPT in html
    echo, testkit = found.values()
    assert set(echo) == set(testkit) == CONFIG_KEYS
    assert (echo["application"], testkit["application"]) == ("echo", "testkit")
    assert (echo["forcedTransport"], testkit["forcedTransport"]) == (None, "sse")
    session_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    rows = {(row.id, row.application, row.session_key) for row in Client.objects.all()}
    assert rows == {
        (echo["clientId"], "echo", session_key),
        (testkit["clientId"], "testkit", session_key),
    }
    identity = verify_token(testkit["token"], session_key, max_age=60)
    assert identity.client_id == testkit["clientId"]
    assert async_to_sync(channel_data)(identity.channel) == [
        {"welcome": testkit["clientId"]}
    ]
    # The config carries the CSRF token: the response sets its cookie for the sends.
    assert django_settings.CSRF_COOKIE_NAME in response.cookies


@pytest.mark.urls("tests.apps.pages")
def test_a_logged_in_users_client_carries_the_user(client: test.Client):
    """The client issued by the tag is bound to the logged-in user too."""
    user = get_user_model().objects.create_user("ada", password="pw")
    client.force_login(user)
    [config] = configs(client.get("/issued/").content.decode()).values()
    row = Client.objects.get(id=config["clientId"])
    assert row.user_id == user.pk
    session_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert verify_token(config["token"], session_key, max_age=60).user_id == str(user.pk)


@pytest.mark.urls("tests.apps.pages")
def test_an_async_view_issues_and_the_tag_renders_that_client(client: test.Client):
    """A client in ``thywill_clients`` is rendered as it is: issued once, not twice."""
    response = client.get("/issued/")
    assert response.status_code == 200
    [(element_id, config)] = configs(response.content.decode()).items()
    assert element_id == "thywill-config-testkit"
    assert [row.id for row in Client.objects.all()] == [config["clientId"]]


@pytest.mark.urls("tests.apps.pages")
def test_in_an_event_loop_a_tag_with_no_issued_client_says_how_to_issue(
    client: test.Client,
):
    """Rendered by an async view that issued nothing, the tag refuses, naming
    thywill.issue_client, and no client is issued."""
    with pytest.raises(TemplateSyntaxError, match=r"await thywill\.issue_client"):
        client.get("/not-issued/")
    assert not Client.objects.exists()


@pytest.mark.urls("tests.apps.pages")
def test_a_refused_connect_answers_403(client: test.Client, settings):
    """When the application's connect event fails, the page is 403 Forbidden."""
    settings.THYWILL_PIPELINE = ["tests.apps.pages.RefuseConnect"]
    assert client.get("/two/").status_code == 403


def test_included_templates_share_the_page():
    """A tag in an {% include %}d template is on the same page: thywill.js once."""
    inner = engines["django"].from_string(ONE_CLIENT)
    html = render(
        '{% load thywill %}{% thywill_client "echo" %}{% include inner %}', {"inner": inner}
    )
    assert list(configs(html)) == ["thywill-config-echo", "thywill-config-testkit"]
    assert html.count(CLIENT_SCRIPT) == 1


def test_each_render_is_a_page_of_its_own():
    """Two renders of one template each load the client and issue their own client."""
    template = engines["django"].from_string(ONE_CLIENT)
    first = template.render({}, page_request())
    second = template.render({}, page_request())
    assert CLIENT_SCRIPT in first
    assert CLIENT_SCRIPT in second
    assert configs(first) != configs(second)
    assert Client.objects.count() == 2


def test_without_an_application_it_is_the_default_one():
    """``{% thywill_client %}`` issues a client of the default application."""
    [(element_id, config)] = configs(
        render("{% load thywill %}{% thywill_client %}")
    ).items()
    assert (element_id, config["application"]) == ("thywill-config-echo", "echo")


def test_the_default_client_with_its_assets():
    """``as_default`` writes #thywill-config (window.thywill's); ``assets`` loads the
    application's styles and scripts after thywill.js."""
    html = render(
        '{% load thywill %}{% thywill_client "testkit" as_default=True assets=True %}'
    )
    assert list(configs(html)) == ["thywill-config"]
    client_script = html.index(CLIENT_SCRIPT)
    assert (
        html.index('<link rel="stylesheet" href="/static/echo/echo.css">') > client_script
    )
    assert html.index('<script src="/static/echo/echo.js" defer></script>') > client_script


def test_assets_are_left_out_unless_asked():
    """Without ``assets``, only the configuration and thywill.js are rendered."""
    html = render(ONE_CLIENT)
    assert "echo.js" not in html
    assert "echo.css" not in html


def test_a_forced_transport():
    """``transport=`` forces one of the enabled transports."""
    [config] = configs(
        render('{% load thywill %}{% thywill_client "echo" transport="longpoll" %}')
    ).values()
    assert config["forcedTransport"] == "longpoll"


def test_a_transport_that_is_not_enabled_is_an_error():
    """An unknown transport fails the render, naming the enabled ones."""
    with pytest.raises(TemplateSyntaxError, match="Unknown transport 'pigeon'; enabled"):
        render('{% load thywill %}{% thywill_client "echo" transport="pigeon" %}')
    assert not Client.objects.exists()


def test_an_unknown_application_is_an_error():
    """A name missing from THYWILL_APPLICATIONS fails the render, and issues nothing."""
    with pytest.raises(TemplateSyntaxError, match="No application is named 'nope'"):
        render('{% load thywill %}{% thywill_client "nope" %}')
    assert not Client.objects.exists()


def test_one_element_per_application_and_page():
    """A second client in the same element id fails the render before issuing it."""
    with pytest.raises(TemplateSyntaxError, match="already has a client in #thywill-"):
        render('{% load thywill %}{% thywill_client "echo" %}{% thywill_client "echo" %}')
    assert Client.objects.count() == 1


def test_without_the_request_the_tag_names_the_context_processor():
    """Rendered without the request, the tag says which context processor to add."""
    template = engines["django"].from_string(ONE_CLIENT)
    with pytest.raises(
        ImproperlyConfigured, match=r"'django\.template\.context_processors\.request'"
    ):
        template.render({})
    assert not Client.objects.exists()


def test_an_unknown_option_is_a_syntax_error():
    """The tag's options are checked when the template compiles."""
    with pytest.raises(TemplateSyntaxError, match="unexpected keyword argument 'colour'"):
        engines["django"].from_string("{% load thywill %}{% thywill_client colour=1 %}")


def test_the_bootstrap_page_is_built_by_the_tag(client: test.Client):
    """The bootstrap page has one client, in #thywill-config, issued once by its view,
    then thywill.js and the application's assets."""
    response = client.get("/thywill/testkit/init/")
    html = response.content.decode()
    [(element_id, config)] = configs(html).items()
    assert element_id == "thywill-config"
    assert [row.id for row in Client.objects.all()] == [config["clientId"]]
    # Its scripts carry the nonce of the page's Content-Security-Policy.
    [nonce] = re.findall(r"'nonce-([\w-]+)'", response["Content-Security-Policy"])
    script = f'<script src="/static/thywill/thywill.js" nonce="{nonce}" defer></script>'
    assert html.count(script) == 1
    assert html.index(script) < html.index(f'"/static/echo/echo.js" nonce="{nonce}"')


def test_the_bootstrap_page_needs_no_request_context_processor(
    client: test.Client, settings
):
    """Its view issues the client, so a project without the ``request`` context
    processor still serves the bootstrap page."""
    settings.TEMPLATES = [{**settings.TEMPLATES[0], "OPTIONS": {"context_processors": []}}]
    response = client.get("/thywill/testkit/init/")
    assert response.status_code == 200
    assert list(configs(response.content.decode())) == ["thywill-config"]


def test_an_issued_client_is_rendered_once():
    """The client a view issued cannot be written to a second element of the page."""
    issued = {"testkit": {"clientId": "c" * 22, "token": "t"}}
    with pytest.raises(TemplateSyntaxError, match="is on this page already"):
        render(
            '{% load thywill %}{% thywill_client "testkit" %}'
            '{% thywill_client "testkit" as_default=True %}',
            {"thywill_clients": issued},
        )
