"""thywill in Django's admin, with real clients (thywill.testing) and the test database
(SQLite, or MariaDB under ./dev test-mysql): the client list with who is connected, the
groups and their members, and the disconnect and test-message actions."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client as Browser
from django.urls import reverse

from tests.support.operations import DOWN, Site, feed_answer, make_site
from thywill.admin.clients import TEST_MESSAGE
from thywill.models import Client
from thywill.testing import SyncTestClient

pytestmark = pytest.mark.django_db(transaction=True)

CHANGELIST = "admin:thywill_client_changelist"


@pytest.fixture
def site(thywill_connect_sync: Callable[..., SyncTestClient]) -> Site:
    return make_site(thywill_connect_sync)


@pytest.fixture
def staff(admin_client: Browser) -> Browser:
    """A browser logged in as a superuser (pytest-django's admin_client)."""
    return admin_client


def rows(html: str) -> list[str]:
    """The result rows of a change list, as their text."""
    body = html.split('id="result_list"', 1)[1].split("</table>", 1)[0]
    return [row.split("</tr>", 1)[0] for row in body.split("<tr")[2:]]


def test_the_client_list_shows_each_client_its_user_and_that_it_is_connected(
    site: Site, staff: Browser, django_assert_max_num_queries: Any
) -> None:
    """Each client's row, newest first: its application, its user, and connected; the
    page costs a fixed number of queries."""
    with django_assert_max_num_queries(4):  # session, user, count, rows: none per row
        response = staff.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    assert reverse("admin:thywill_client_groups") in html  # the Groups button
    tabs = (site.alice, site.bob, site.carol)
    found = {
        tab.client_id: row for row in rows(html) for tab in tabs if tab.client_id in row
    }
    assert set(found) == {tab.client_id for tab in tabs}
    assert len(rows(html)) == 3
    # Newest first; the logged-in user's client is the only one with a user.
    order = [tab for row in rows(html) for tab in tabs if tab.client_id in row]
    assert order == [site.carol, site.bob, site.alice]
    assert [">alice<" in found[tab.client_id] for tab in tabs] == [True, False, False]
    assert [">rooms<" in found[tab.client_id] for tab in tabs] == [True, True, False]
    assert ">echo<" in found[site.carol.client_id]
    # Every client holds a presence lease: the admin's "yes" icon on each row.
    assert all('alt="True"' in row for row in found.values())


def test_a_disconnected_client_shows_as_not_connected(site: Site, staff: Browser) -> None:
    """A client whose lease ended shows as not connected."""
    site.carol.disconnect()  # its lease ends now
    html = staff.get(reverse(CHANGELIST)).content.decode()
    [carol] = [row for row in rows(html) if site.carol.client_id in row]
    assert 'alt="False"' in carol


def test_the_list_filters_by_application_and_finds_a_client_or_a_user(
    site: Site, staff: Browser
) -> None:
    """The application filter, and the search by exact client id or username."""
    url = reverse(CHANGELIST)
    echo = staff.get(url, {"application": "echo"}).content.decode()
    assert [site.carol.client_id in row for row in rows(echo)] == [True]
    by_id = staff.get(url, {"q": site.bob.client_id}).content.decode()
    assert len(rows(by_id)) == 1 and site.bob.client_id in rows(by_id)[0]
    by_user = staff.get(url, {"q": "alice"}).content.decode()
    assert len(rows(by_user)) == 1 and site.alice.client_id in rows(by_user)[0]


def test_a_clients_page_shows_its_groups_and_never_its_session(
    site: Site, staff: Browser
) -> None:
    """A client's page: its groups now and connected, read-only, without its session key."""
    url = reverse("admin:thywill_client_change", args=[site.alice.client_id])
    response = staff.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert "lobby, tea" in html
    assert 'alt="True"' in html  # connected
    session_key = Client.objects.get(id=site.alice.client_id).session_key
    assert session_key not in html
    assert 'name="_save"' not in html  # read-only: thywill writes the records


def test_the_groups_page_lists_each_applications_groups(site: Site, staff: Browser) -> None:
    """The groups page counts each application's groups and lists one's, sorted."""
    url = reverse("admin:thywill_client_groups")
    html = staff.get(url, {"app": "rooms"}).content.decode()
    assert "rooms (2)" in html and "echo (0)" in html
    groups = html.split('id="thywill-groups"', 1)[1].split("</table>", 1)[0]
    lobby = reverse("admin:thywill_client_group", args=["rooms", "lobby"])
    tea = reverse("admin:thywill_client_group", args=["rooms", "tea"])
    assert groups.index(lobby) < groups.index(tea)
    assert staff.get(url, {"app": "nope"}).status_code == 404


def test_the_groups_page_pages_through_many_groups(
    site: Site, staff: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A page holds GROUPS_PAGE names and links the next page."""
    monkeypatch.setattr("thywill.admin.groups.GROUPS_PAGE", 1)
    url = reverse("admin:thywill_client_groups")
    first = staff.get(url, {"app": "rooms"}).content.decode()
    assert "/rooms/lobby/" in first and "/rooms/tea/" not in first
    assert "after=lobby" in first
    second = staff.get(url, {"app": "rooms", "after": "lobby"}).content.decode()
    assert "/rooms/tea/" in second and "/rooms/lobby/" not in second


def test_a_groups_page_lists_its_members_with_their_users(
    site: Site, staff: Browser
) -> None:
    """A group's page: each member, its user (or none) and connected; a bad name: 404."""
    url = reverse("admin:thywill_client_group", args=["rooms", "lobby"])
    response = staff.get(url)
    assert response.status_code == 200
    table = response.content.decode().split('id="thywill-members"', 1)[1]
    members = table.split("</table>", 1)[0].split("<tr>")[2:]
    by_client = {m.split("</a>", 1)[0].rsplit(">", 1)[1]: m for m in members}
    assert set(by_client) == {site.alice.client_id, site.bob.client_id}
    assert "<td>alice</td>" in by_client[site.alice.client_id]
    assert "<td>&mdash;</td>" in by_client[site.bob.client_id]
    assert all("<td>yes</td>" in m for m in members)
    assert "2 member(s)" in response.content.decode()
    bad = reverse("admin:thywill_client_group", args=["rooms", "no room"])
    assert staff.get(bad).status_code == 404


def test_the_disconnect_action_ends_the_client(site: Site, staff: Browser) -> None:
    """The action disconnects the selected client (its feed answers 410) and no other."""
    response = staff.post(
        reverse(CHANGELIST),
        {"action": "disconnect_clients", "_selected_action": [site.bob.client_id]},
        follow=True,
    )
    assert "Disconnected 1 client(s)." in response.content.decode()
    assert feed_answer(site.bob) == (410, "disconnected")
    assert site.alice.send({"type": "room.who", "room": "lobby"}) == {"status": "ok"}


def test_the_test_message_action_reaches_each_selected_client(
    site: Site, staff: Browser
) -> None:
    """The test message arrives in the feeds of the selected clients, and not another's."""
    selected = [site.alice.client_id, site.carol.client_id]
    response = staff.post(
        reverse(CHANGELIST),
        {"action": "send_test_message", "_selected_action": selected},
        follow=True,
    )
    assert "Sent a test message to 2 client(s)." in response.content.decode()
    assert site.alice.receive_one("thywill.test") == TEST_MESSAGE
    assert site.carol.receive_one("thywill.test") == TEST_MESSAGE
    assert "thywill.test" not in json.dumps(site.bob.receive())


def test_staff_without_the_change_permission_see_but_cannot_act(
    site: Site, client: Browser
) -> None:
    """View permission shows the pages without the actions; staff without it get a 403."""
    viewer = get_user_model().objects.create_user("viewer", password="x", is_staff=True)
    viewer.user_permissions.add(
        Permission.objects.get(codename="view_client", content_type__app_label="thywill")
    )
    client.force_login(viewer)
    page = client.get(reverse(CHANGELIST))
    assert page.status_code == 200
    assert "disconnect_clients" not in page.content.decode()
    assert client.get(reverse("admin:thywill_client_groups")).status_code == 200
    outsider = get_user_model().objects.create_user("outsider", is_staff=True)
    client.force_login(outsider)
    assert client.get(reverse("admin:thywill_client_groups")).status_code == 403


def test_with_the_push_backend_down_the_pages_say_so(staff: Browser, settings) -> None:
    """Push backend down: the list shows connected as unknown with a warning, the groups
    page answers 503, and an action fails with the reason."""
    Client.objects.create(id="c" * 22, application="echo", session_key="s" * 32)
    settings.THYWILL_COMPONENTS = DOWN
    page = staff.get(reverse(CHANGELIST))
    html = page.content.decode()
    assert page.status_code == 200
    assert "Who is connected is unknown: Redis is unavailable" in html
    [row] = rows(html)
    assert "c" * 22 in row and 'alt="None"' in row
    groups = staff.get(reverse("admin:thywill_client_groups"))
    assert groups.status_code == 503
    assert "The push backend cannot be reached" in groups.content.decode()
    sent = staff.post(
        reverse(CHANGELIST),
        {"action": "send_test_message", "_selected_action": ["c" * 22]},
        follow=True,
    )
    assert "Failed for 1 client(s)" in sent.content.decode()


def test_a_page_of_a_long_list_costs_what_a_short_one_does(
    site: Site, staff: Browser, django_assert_max_num_queries: Any
) -> None:
    """With more rows than a page, a page shows 100 of them for the same four queries,
    and "Show all" shows no more."""
    Client.objects.bulk_create(
        Client(id=f"{n:022d}", application="echo", session_key="s" * 32) for n in range(250)
    )
    with django_assert_max_num_queries(4):
        page = staff.get(reverse(CHANGELIST)).content.decode()
    assert len(rows(page)) == 100
    assert len(rows(staff.get(reverse(CHANGELIST), {"all": ""}).content.decode())) == 100
    last = staff.get(reverse(CHANGELIST), {"p": "3"}).content.decode()
    assert len(rows(last)) == 253 - 200
