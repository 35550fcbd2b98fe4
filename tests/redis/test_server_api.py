"""The server API from a process that serves no clients, on two servers sharing Redis.

A worker process (``manage.py shell``, ``manage.py thywill_send``) pushes through the
shared Redis; browsers' tabs on either server receive every message once, in order, on
every transport. On the in-memory backend the same call fails and says why.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed

from tests.live import ROOT, LiveServer
from tests.support.cluster import Cluster, start_cluster
from tests.support.http_client import (
    ThywillHttpClient,
    ThywillHttpError,
    data_of,
    delivered,
)

pytestmark = pytest.mark.live

COMMAND_TIMEOUT = 60.0


@pytest.fixture(scope="module")
def cluster(live_factory: Callable[..., LiveServer], redis_url: str) -> Cluster:
    """Two servers, A and B, sharing the test Redis and a database; tabs stay present
    while the worker runs without reading."""
    return start_cluster(live_factory, redis_url, THYWILL_TEST_PRESENCE_TTL="60")


def manage(
    server: LiveServer, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``manage.py`` in a process of its own, configured as ``server`` is (or with
    ``env``)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=server.env if env is None else env,
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT,
        check=False,
    )


def worker(server: LiveServer, script: str) -> str:
    """Run Python in a worker process of its own (``manage.py shell -c``), configured as
    ``server`` is; return what it printed."""
    done = manage(server, "shell", "-c", script)
    assert done.returncode == 0, done.stderr
    return done.stdout


def pushed(messages: list[Any]) -> list[Any]:
    """The data that is not a group's presence event."""
    return [m for m in messages if not (isinstance(m, dict) and "group" in m)]


def in_lobby(
    server: LiveServer, cookies: dict[str, str] | None = None
) -> ThywillHttpClient:
    tab = ThywillHttpClient(server.url, "rooms")
    if cookies:
        tab.http.cookies.update(cookies)
    tab.bootstrap()
    assert tab.send({"type": "room.join", "room": "lobby"})[0]["status"] == "ok"
    return tab


def test_a_worker_reaches_every_tab_of_a_group_on_every_transport(cluster):
    cluster.ensure_running()
    a, b = cluster.servers
    polling, streaming, socket = in_lobby(a), in_lobby(b), in_lobby(a)
    try:
        with socket.websocket() as connection:
            socket.ws_frames(connection, lambda fs: any(f["type"] == "open" for f in fs))
            script = (
                "import thywill\n"
                "for n in range(20):\n"
                "    thywill.send_to_group('rooms', 'lobby', {'n': n})\n"
            )
            worker(a, script)
            command = manage(b, "thywill_send", "--group", "rooms", "lobby", '{"n": 20}')
            assert command.returncode == 0, command.stderr
            assert "Sent to group 'lobby' of 'rooms'." in command.stdout

            expected = [{"n": n} for n in range(21)]

            def complete(messages: Any) -> bool:
                return len(pushed(messages)) >= len(expected)

            frames = socket.ws_frames(connection, lambda f: complete(delivered(f)))
        assert pushed(delivered(frames)) == expected
        for tab, transport in ((polling, "longpoll"), (streaming, "sse")):
            got = data_of(tab.receive(lambda m: complete(data_of(m)), transport=transport))
            assert pushed(got) == expected, transport
            # Nothing more: each message came exactly once.
            assert pushed(data_of(tab.receive(1, timeout=0.5))) == []
    finally:
        for tab in (polling, streaming, socket):
            tab.close()


def login_cookies(server: LiveServer, username: str) -> dict[str, str]:
    """The session cookie of a logged-in user, made in the servers' shared database."""
    script = (
        "from django.contrib.auth import get_user_model, SESSION_KEY, BACKEND_SESSION_KEY,"
        " HASH_SESSION_KEY\n"
        "from django.contrib.sessions.backends.db import SessionStore\n"
        f"user, _ = get_user_model().objects.get_or_create(username={username!r})\n"
        "session = SessionStore()\n"
        "session[SESSION_KEY] = str(user.pk)\n"
        "session[BACKEND_SESSION_KEY] = 'django.contrib.auth.backends.ModelBackend'\n"
        "session[HASH_SESSION_KEY] = user.get_session_auth_hash()\n"
        "session.create()\n"
        "print(user.pk, session.session_key)\n"
    )
    _, key = worker(server, script).splitlines()[-1].split()
    return {"sessionid": key}


def test_a_user_send_reaches_every_tab_of_that_user_on_both_servers_and_no_other(cluster):
    cluster.ensure_running()
    a, b = cluster.servers
    ada, bob = login_cookies(a, "ada"), login_cookies(a, "bob")
    tabs = [in_lobby(a, ada), in_lobby(b, ada), in_lobby(b, bob), in_lobby(a)]
    try:
        for tab in tabs:  # read up to now
            tab.receive(lambda m: False, timeout=0.3)
        script = (
            "import thywill\n"
            "from django.contrib.auth import get_user_model\n"
            "thywill.send_to_user(get_user_model().objects.get(username='ada'), 'hi ada')\n"
        )
        worker(b, script)
        for tab in tabs[:2]:
            # The rooms application's Upper pipe ran in the worker.
            assert data_of(tab.receive(1)) == ["HI ADA"]
            assert data_of(tab.receive(1, timeout=0.5)) == []
        for tab in tabs[2:]:
            assert data_of(tab.receive(1, timeout=1.0)) == []
    finally:
        for tab in tabs:
            tab.close()


def test_on_the_in_memory_backend_a_worker_is_told_to_share_the_push_backend(cluster):
    server = cluster.servers[0]
    env = {k: v for k, v in server.env.items() if not k.startswith("THYWILL_TEST_REDIS")}
    result = manage(server, "thywill_send", "--group", "rooms", "lobby", "1", env=env)
    assert result.returncode == 1
    assert "serves no clients" in result.stderr
    assert "REDIS_URL" in result.stderr


def test_a_disconnected_tab_is_told_on_every_transport_and_can_no_longer_send(cluster):
    cluster.ensure_running()
    a, b = cluster.servers
    tab = in_lobby(a)
    try:
        with tab.websocket() as connection:
            tab.ws_frames(connection, lambda fs: any(f["type"] == "open" for f in fs))
            script = f"import thywill\nthywill.disconnect({tab.client_id!r})\n"
            worker(b, script)
            with pytest.raises(ConnectionClosed) as closed:
                tab.ws_frames(connection, lambda fs: False)
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 4410
        for answer in (lambda: tab.longpoll(wait=False), lambda: tab.send("more")):
            with pytest.raises(ThywillHttpError) as refused:
                answer()
            assert (refused.value.status, refused.value.code) == (410, "disconnected")
    finally:
        tab.close()
