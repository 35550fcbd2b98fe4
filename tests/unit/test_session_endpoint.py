"""``POST /thywill/<app>/session/``: a client issued as JSON, for single-page apps."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from tests.support.members import channel_data
from tests.unit.expected import client_config
from thywill.identity.tokens import verify_token
from thywill.models import Client

pytestmark = pytest.mark.django_db(transaction=True)

URL = "/thywill/testkit/session/"
SECRET = "s" * 32  # an unmasked CSRF secret: Django accepts it in the header as is
SAME_ORIGIN = "http://testserver"


def error(code: str, message: str) -> dict:
    """The protocol's error body."""
    return {"error": {"code": code, "message": message}}


def strict_client() -> AsyncClient:
    """A client that is checked for CSRF, holding the CSRF cookie a page would have set."""
    client = AsyncClient(enforce_csrf_checks=True)
    client.cookies[django_settings.CSRF_COOKIE_NAME] = SECRET
    return client


async def test_a_post_issues_a_client_and_answers_its_config():
    """The answer is the bootstrap page's configuration, for a new client of the
    session (created for it) whose connect event ran; never cached."""
    client = AsyncClient()
    response = await client.post(URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response["Cache-Control"] == "no-store"
    config = response.json()
    assert config == client_config(config, "testkit")
    session_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    identity = verify_token(config["token"], session_key, max_age=60)
    assert identity.user_id is None
    row = await Client.objects.aget(id=config["clientId"])
    assert (row.application, row.session_key) == ("testkit", session_key)
    assert await channel_data(identity.channel) == [{"welcome": config["clientId"]}]


async def test_the_csrf_token_and_the_sites_origin_pass():
    """With CSRF checks on, the cookie's token in X-CSRFToken and the site's Origin pass."""
    response = await strict_client().post(
        URL, headers={"X-CSRFToken": SECRET, "Origin": SAME_ORIGIN}
    )
    assert response.status_code == 200, response.content


async def test_without_the_csrf_token_it_is_refused():
    """A POST without X-CSRFToken is the JSON 403 csrf_failed, and issues nothing."""
    response = await strict_client().post(URL)
    assert response.status_code == 403
    assert response.json() == error(
        "csrf_failed", "CSRF verification failed: CSRF token missing."
    )
    assert not await Client.objects.aexists()


async def test_another_origin_is_refused():
    """A POST from another site's page is refused as the send endpoint refuses it."""
    response = await strict_client().post(
        URL, headers={"X-CSRFToken": SECRET, "Origin": "https://evil.example"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"
    assert "Origin checking failed" in response.json()["error"]["message"]
    assert not await Client.objects.aexists()


async def test_get_is_not_allowed():
    """Issuing changes state: GET answers the JSON 405, with Allow: POST."""
    response = await AsyncClient().get(URL)
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json() == error(
        "method_not_allowed", "GET is not allowed here; use POST."
    )
    assert not await Client.objects.aexists()


async def test_an_unknown_application_is_404():
    """A name that is not in THYWILL_APPLICATIONS answers the JSON 404."""
    response = await AsyncClient().post("/thywill/nope/session/")
    assert response.status_code == 404
    assert response.json() == error(
        "unknown_application", "No application is named 'nope'."
    )


async def test_a_transport_may_be_forced():
    """``?transport=`` forces an enabled transport; another one is 400 bad_transport."""
    forced = await AsyncClient().post(f"{URL}?transport=sse")
    assert forced.json()["forcedTransport"] == "sse"
    unknown = await AsyncClient().post(f"{URL}?transport=pigeon")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["code"] == "bad_transport"


async def test_a_logged_in_users_id_is_in_the_identity():
    """The client of a logged-in user carries the user's id, in its token and its row."""
    user = await get_user_model().objects.acreate_user("ada", password="pw")
    client = AsyncClient()
    await client.aforce_login(user)
    config = (await client.post(URL)).json()
    session_key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert verify_token(config["token"], session_key, max_age=60).user_id == str(user.pk)
    row = await Client.objects.aget(id=config["clientId"])
    assert row.user_id == user.pk


async def test_a_refused_connect_is_403(settings):
    """When the application's connect event fails, the answer is 403 refused."""
    settings.THYWILL_PIPELINE = ["tests.apps.pages.RefuseConnect"]
    response = await AsyncClient().post(URL)
    assert response.status_code == 403
    assert response.json() == error("refused", "No one may connect today.")
