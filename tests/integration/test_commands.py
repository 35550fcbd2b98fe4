"""The operator commands thywill_status, thywill_members and thywill_disconnect, with
real clients (thywill.testing) and the test database (SQLite, or MariaDB under
./dev test-mysql): their output, plain and --json, and how they fail."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import Any

import pytest
from django.core.management import call_command, execute_from_command_line
from django.core.management.base import CommandError

from tests.support.operations import DOWN, Site, feed_answer, make_site
from thywill.testing import SyncTestClient

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def site(thywill_connect_sync: Callable[..., SyncTestClient]) -> Site:
    return make_site(thywill_connect_sync)


def run(*args: str) -> str:
    """What a command prints on stdout."""
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def run_json(command: str, *args: str) -> Any:
    """A command's --json output, parsed (the option first: ``args`` may hold "--")."""
    return json.loads(run(command, "--json", *args))


def fails(*args: str) -> CommandError:
    """The error a command raises (its message goes to stderr, its exit code to the
    shell, as manage.py runs it)."""
    with pytest.raises(CommandError) as raised:
        call_command(*args, stdout=io.StringIO())
    return raised.value


# --- thywill_status -----------------------------------------------------------------


def test_status_counts_clients_connected_clients_and_groups(site: Site) -> None:
    """The counts follow the site: 3 clients recorded and connected, rooms' 2 groups."""
    report = run_json("thywill_status")
    assert report["push"] == "ok" and report["push_error"] is None
    assert (report["clients"], report["connected"]) == (3, 3)
    assert report["groups"] == {
        "echo": 0,
        "chat": 0,
        "testkit": 0,
        "rooms": 2,
        "tictactoe": 0,
        "reloads": 0,
    }
    assert report["components"]["push"] == "thywill.push.locmem.LocMemPushBackend"
    assert report["default_application"] == "echo"
    assert report["transports"] == ["websocket", "sse", "longpoll"]
    site.carol.disconnect()
    assert run_json("thywill_status")["connected"] == 2


def test_status_in_plain_text(site: Site) -> None:
    """The plain status names the components, the applications and the counts."""
    lines = run("thywill_status").splitlines()
    assert "  push      thywill.push.locmem.LocMemPushBackend" in lines
    assert "  rooms     tests.apps.rooms.RoomsApplication  (2 group(s))" in lines
    assert lines[-2:] == ["Push backend: ok", "Clients: 3 recorded, 3 connected"]


def test_status_with_the_push_backend_down_exits_3_after_the_report(
    settings, capsys: pytest.CaptureFixture[str]
) -> None:
    """The status still prints (connected unknown), then the command exits with 3 and
    says why on stderr."""
    settings.THYWILL_COMPONENTS = DOWN
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "thywill_status", "--json"])
    assert exited.value.code == 3
    out, err = capsys.readouterr()
    report = json.loads(out)
    assert (report["push"], report["connected"], report["groups"]) == (
        "unavailable",
        None,
        None,
    )
    assert report["clients"] == 0
    assert "Redis is unavailable" in report["push_error"]
    assert err.splitlines()[-1].startswith(
        "CommandError: The push backend cannot be reached: Redis is unavailable"
    )
    with pytest.raises(CommandError) as plain:
        call_command("thywill_status", stdout=(text := io.StringIO()))
    assert plain.value.returncode == 3
    assert "Clients: 0 recorded, connected unknown" in text.getvalue()


# --- thywill_members ----------------------------------------------------------------


def test_members_lists_each_member_with_its_user(site: Site) -> None:
    """--json: every member, whether connected, and its user when logged in."""
    report = run_json("thywill_members", "rooms", "lobby")
    assert report == {
        "application": "rooms",
        "group": "lobby",
        "total": 2,
        "members": sorted(
            [
                {
                    "client": site.alice.client_id,
                    "user": {"pk": site.user.pk, "name": "alice"},
                    "connected": True,
                },
                {"client": site.bob.client_id, "user": None, "connected": True},
            ],
            key=lambda member: member["client"],
        ),
    }


def test_members_in_plain_text_and_limited(site: Site) -> None:
    """The plain list has a line per member; --limit caps it and says how many."""
    lines = run("thywill_members", "rooms", "lobby").splitlines()
    assert lines[0] == "Group 'lobby' of 'rooms': 2 member(s)"
    assert f"  {site.alice.client_id}  connected, user {site.user.pk} (alice)" in lines
    assert f"  {site.bob.client_id}  connected, anonymous" in lines
    limited = run("thywill_members", "rooms", "lobby", "--limit", "1").splitlines()
    assert limited[0] == "Group 'lobby' of 'rooms': 2 member(s), 1 shown"
    assert len(limited) == 2
    empty = run_json("thywill_members", "echo", "nobody")
    assert (empty["total"], empty["members"]) == (0, [])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope", "lobby"], "nope"),
        (["rooms", "no spaces"], "invalid group name"),
        (["rooms", "lobby", "--limit", "0"], "--limit must be positive"),
    ],
)
def test_members_explains_bad_input_with_exit_code_1(args: list[str], message: str) -> None:
    """An unknown application, an invalid group name or limit: exit code 1."""
    error = fails("thywill_members", *args)
    assert (error.returncode, message in str(error)) == (1, True)


def test_members_with_the_push_backend_down_exits_3(settings) -> None:
    """A push backend that cannot be reached: exit code 3, and it says so."""
    settings.THYWILL_COMPONENTS = DOWN
    error = fails("thywill_members", "rooms", "lobby")
    assert error.returncode == 3
    assert str(error).startswith("The push backend cannot be reached: Redis")


# --- thywill_disconnect -------------------------------------------------------------


def test_disconnect_ends_the_client(site: Site) -> None:
    """The client's feed answers 410 disconnected; the others' do not."""
    # "--" first: a client id may start with "-" (see the test of that below).
    assert run("thywill_disconnect", "--", site.bob.client_id) == (
        f"Disconnected client {site.bob.client_id}.\n"
    )
    assert feed_answer(site.bob) == (410, "disconnected")
    assert feed_answer(site.alice) == (200, None)
    assert run_json("thywill_disconnect", "--", site.carol.client_id) == {
        "client": site.carol.client_id,
        "disconnected": True,
    }
    assert feed_answer(site.carol) == (410, "disconnected")


def test_disconnect_explains_an_unknown_client_on_stderr_with_exit_code_1(
    site: Site, capsys: pytest.CaptureFixture[str]
) -> None:
    """A client id never issued, or not a client id: exit code 1, reason on stderr."""
    with pytest.raises(SystemExit) as exited:
        execute_from_command_line(["manage.py", "thywill_disconnect", "A" * 22])
    assert exited.value.code == 1
    out, err = capsys.readouterr()
    assert out == ""
    # After any system check messages:
    assert err.endswith(f"\nCommandError: No client {'A' * 22!r} was issued.\n")
    error = fails("thywill_disconnect", "not an id!")
    assert (error.returncode, "not a client id" in str(error)) == (1, True)
    assert feed_answer(site.alice) == (200, None)


def test_disconnect_takes_an_id_that_starts_with_a_dash_after_two(site: Site) -> None:
    """Client ids are URL-safe base64, so one may start with "-": after "--" it is
    read as the id, not as an option."""
    error = fails("thywill_disconnect", "--", "-v" + "A" * 20)
    assert (error.returncode, str(error)) == (
        1,
        f"No client {'-v' + 'A' * 20!r} was issued.",
    )


def test_disconnect_with_the_push_backend_down_exits_3(site: Site, settings) -> None:
    """A push backend that cannot be reached: exit code 3, and it says so."""
    settings.THYWILL_COMPONENTS = DOWN
    error = fails("thywill_disconnect", "--", site.alice.client_id)
    assert error.returncode == 3
    assert "Redis is unavailable" in str(error)
