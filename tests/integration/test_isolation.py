"""Isolation and bad input on a real server: clients stay apart, rejections stay local."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.live import LiveServer
from tests.support.http_client import (
    TOKEN_HEADER,
    ThywillHttpClient,
    ThywillHttpError,
    Transport,
    count_events,
    data_of,
)

pytestmark = pytest.mark.live

REJECTED = re.compile(r"Rejected (\S+): (\w+)")


@pytest.fixture(params=["longpoll", "sse"])
def transport(request: pytest.FixtureRequest) -> Transport:
    """The transport that reads what was delivered."""
    value: Transport = request.param
    return value


@pytest.fixture
def alice(live_url: str) -> Iterator[ThywillHttpClient]:
    """A bootstrapped echo tab with a session of its own."""
    with ThywillHttpClient(live_url) as client:
        client.bootstrap()
        yield client


@pytest.fixture
def bob(live_url: str) -> Iterator[ThywillHttpClient]:
    """Another bootstrapped echo tab, in another browser (another session)."""
    with ThywillHttpClient(live_url) as client:
        client.bootstrap()
        yield client


def error_of(response: httpx.Response) -> tuple[int, str]:
    """The status and JSON error code of a rejected request, checking the body's shape."""
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert list(body) == ["error"]
    assert sorted(body["error"]) == ["code", "message"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return response.status_code, body["error"]["code"]


def refusal(call: Callable[[], object]) -> tuple[int, str | None]:
    """The status and code of the ThywillHttpError that ``call`` raises."""
    with pytest.raises(ThywillHttpError) as caught:
        call()
    return caught.value.status, caught.value.code


def sse_refusal(tab: ThywillHttpClient, token: str) -> tuple[int, str | None]:
    """The status and code with which the server refuses an SSE stream with ``token``."""
    with pytest.raises(ThywillHttpError) as caught, tab.sse_stream(token=token):
        pass
    return caught.value.status, caught.value.code


def tamper(token: str) -> str:
    """The token with one character of its signature changed."""
    head, _, signature = token.rpartition(":")
    middle = len(signature) // 2
    swapped = "B" if signature[middle] == "A" else "A"
    return f"{head}:{signature[:middle]}{swapped}{signature[middle + 1 :]}"


def forge(token: str, **changes: object) -> str:
    """A token whose signed payload was edited, keeping the original signature."""
    payload, _, signature = token.partition(":")
    raw = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw.update(changes)
    encoded = base64.urlsafe_b64encode(json.dumps(raw, separators=(",", ":")).encode())
    return encoded.rstrip(b"=").decode() + ":" + signature


def test_each_client_reads_only_its_own_messages(
    alice: ThywillHttpClient, bob: ThywillHttpClient, transport: Transport
) -> None:
    """Two browsers echoing at once each get their own messages and nothing else."""
    for n in range(3):
        alice.send(f"alice {n}")
        bob.send(f"bob {n}")

    alice_got = alice.receive(3, transport=transport)
    bob_got = bob.receive(3, transport=transport)

    assert data_of(alice_got) == ["alice 0", "alice 1", "alice 2"]
    assert data_of(bob_got) == ["bob 0", "bob 1", "bob 2"]
    assert {m["channel"] for m in alice_got} == {alice.channel}
    assert {m["channel"] for m in bob_got} == {bob.channel}
    for tab in (alice, bob):
        poll = tab.longpoll(wait=False)
        assert (poll.messages, poll.reset) == ([], None)


def test_another_clients_cursor_reads_none_of_its_messages(
    alice: ThywillHttpClient, bob: ThywillHttpClient, transport: Transport
) -> None:
    """A cursor copied from another client only ever reads the reader's own channel."""
    bob.send("bob's secret")
    assert data_of(bob.receive(1)) == ["bob's secret"]
    alice.send("alice's own")

    alice.cursor = bob.cursor  # names bob's channel
    got = alice.receive(1, transport=transport)

    assert data_of(got) == ["alice's own"]
    assert alice.resets == []
    poll = alice.longpoll(wait=False)
    assert (poll.messages, poll.reset) == ([], None)


def test_token_of_another_session_is_refused(
    alice: ThywillHttpClient, bob: ThywillHttpClient
) -> None:
    """Bob's token with Alice's session cookie is refused everywhere: session_mismatch."""
    bob.send("for bob only")
    send = alice.post_send({"token": bob.token, "messages": [{"seq": 1, "data": "x"}]})

    assert error_of(send) == (403, "session_mismatch")
    assert refusal(lambda: alice.longpoll(wait=False, token=bob.token)) == (
        403,
        "session_mismatch",
    )
    assert sse_refusal(alice, bob.token) == (403, "session_mismatch")
    # Bob's messages are untouched: only "for bob only", handled once.
    assert data_of(bob.receive(1)) == ["for bob only"]


def test_token_without_a_session_cookie_is_refused(alice: ThywillHttpClient) -> None:
    """A valid token from a browser with no session cookie is refused: session_mismatch."""
    with ThywillHttpClient(alice.base_url) as stranger:
        stranger.config = alice.config
        assert refusal(lambda: stranger.longpoll(wait=False)) == (403, "session_mismatch")


@pytest.mark.parametrize(
    "make_token",
    [
        pytest.param(lambda tab, other: tamper(tab.token), id="tampered-signature"),
        pytest.param(lambda tab, other: forge(tab.token, c=other.client_id), id="other-id"),
        pytest.param(lambda tab, other: forge(tab.token, a="testkit"), id="other-app"),
        pytest.param(lambda tab, other: "not-a-token", id="garbage"),
        pytest.param(lambda tab, other: "", id="empty"),
    ],
)
def test_forged_token_is_refused(
    alice: ThywillHttpClient,
    bob: ThywillHttpClient,
    make_token: Callable[[ThywillHttpClient, ThywillHttpClient], str],
) -> None:
    """A token that is tampered with, forged or missing is refused: bad_token."""
    token = make_token(alice, bob)

    send = alice.post_send({"token": token, "messages": [{"seq": 1, "data": "x"}]})

    assert error_of(send) == (403, "bad_token")
    assert refusal(lambda: alice.longpoll(wait=False, token=token)) == (403, "bad_token")
    assert sse_refusal(alice, token) == (403, "bad_token")


# --- bad input: each rejection is answered, logged once, and disturbs nobody --------------


def _oversize(tab: ThywillHttpClient) -> httpx.Response:
    body = {"token": tab.token, "messages": [{"seq": 1, "data": "x" * (64 * 1024)}]}
    return tab.post_send(body)


def _oversize_chunked(tab: ThywillHttpClient) -> httpx.Response:
    # No Content-Length: the server must measure the body itself.
    body = json.dumps({"token": tab.token, "messages": [{"seq": 1, "data": "x" * 70000}]})
    chunks = [body[i : i + 8192].encode() for i in range(0, len(body), 8192)]
    return tab.http.post(
        tab.endpoint("send"), content=iter(chunks), headers=tab.send_headers()
    )


def _good_body(tab: ThywillHttpClient) -> dict[str, object]:
    return {"token": tab.token, "messages": [{"seq": 1, "data": "never handled"}]}


BAD_REQUESTS: list[
    tuple[str, Callable[[ThywillHttpClient], httpx.Response], str, int, str]
] = [
    (
        "malformed-json",
        lambda t: t.post_send(b'{"token": '),
        "/thywill/send/",
        400,
        "bad_json",
    ),
    (
        "no-messages",
        lambda t: t.post_send({"token": t.token, "messages": []}),
        "/thywill/send/",
        400,
        "bad_message",
    ),
    (
        "seq-not-a-number",
        lambda t: t.post_send({"token": t.token, "messages": [{"seq": "1", "data": 1}]}),
        "/thywill/send/",
        400,
        "bad_message",
    ),
    (
        "missing-csrf",
        lambda t: t.post_send(_good_body(t), headers={"X-CSRFToken": ""}),
        "/thywill/send/",
        403,
        "csrf_failed",
    ),
    (
        "wrong-csrf",
        lambda t: t.post_send(_good_body(t), headers={"X-CSRFToken": "x" * 64}),
        "/thywill/send/",
        403,
        "csrf_failed",
    ),
    (
        "wrong-origin",
        lambda t: t.post_send(_good_body(t), headers={"Origin": "http://evil.example"}),
        "/thywill/send/",
        403,
        "csrf_failed",
    ),
    (
        "longpoll-too-many-fields",
        lambda t: t.http.get(
            t.endpoint("longpoll"),
            params=[("f", str(i)) for i in range(1200)],
            headers={TOKEN_HEADER: t.token},
        ),
        "/thywill/longpoll/",
        400,
        "bad_request",
    ),
    (
        "send-form-with-too-many-fields",
        lambda t: t.http.post(
            t.endpoint("send"),
            content="&".join(f"f{i}=x" for i in range(1200)).encode(),
            headers={
                **t.send_headers(),
                "Content-Type": "application/x-www-form-urlencoded",
            },
        ),
        "/thywill/send/",
        400,
        "bad_request",
    ),
    ("oversize", _oversize, "/thywill/send/", 413, "too_large"),
    (
        "send-to-a-host-not-served",
        lambda t: t.post_send(_good_body(t), headers={"Host": "evil.example"}),
        "/thywill/send/",
        400,
        "bad_host",
    ),
    (
        "sse-to-a-host-not-served",
        lambda t: t.http.get(
            t.endpoint("sse"), headers={TOKEN_HEADER: t.token, "Host": "evil.example"}
        ),
        "/thywill/sse/",
        400,
        "bad_host",
    ),
    ("oversize-chunked", _oversize_chunked, "/thywill/send/", 413, "too_large"),
    (
        "send-by-get",
        lambda t: t.http.get(t.endpoint("send")),
        "/thywill/send/",
        405,
        "method_not_allowed",
    ),
    (
        "longpoll-garbage-cursor",
        lambda t: t.http.get(
            t.endpoint("longpoll"),
            params={"cursor": "garbage!!"},
            headers={TOKEN_HEADER: t.token},
        ),
        "/thywill/longpoll/",
        400,
        "bad_cursor",
    ),
    (
        "longpoll-cursor-not-a-mapping",
        lambda t: t.http.get(
            t.endpoint("longpoll"),
            params={"cursor": base64.urlsafe_b64encode(b"[1]").decode()},
            headers={TOKEN_HEADER: t.token},
        ),
        "/thywill/longpoll/",
        400,
        "bad_cursor",
    ),
    (
        "longpoll-token-in-the-query",
        lambda t: t.http.get(t.endpoint("longpoll"), params={"token": t.token}),
        "/thywill/longpoll/",
        400,
        "bad_request",
    ),
    (
        "sse-token-in-the-query",
        lambda t: t.http.get(
            t.endpoint("sse"), params={"token": t.token}, headers={TOKEN_HEADER: t.token}
        ),
        "/thywill/sse/",
        400,
        "bad_request",
    ),
    (
        "longpoll-no-token",
        lambda t: t.http.get(t.endpoint("longpoll"), params={"cursor": ""}),
        "/thywill/longpoll/",
        403,
        "bad_token",
    ),
    (
        "sse-garbage-cursor",
        lambda t: t.http.get(
            t.endpoint("sse"), params={"cursor": "%%%"}, headers={TOKEN_HEADER: t.token}
        ),
        "/thywill/sse/",
        400,
        "bad_cursor",
    ),
    (
        "sse-garbage-last-event-id",
        lambda t: t.http.get(
            t.endpoint("sse"),
            headers={TOKEN_HEADER: t.token, "Last-Event-ID": "x" * 5000},
        ),
        "/thywill/sse/",
        400,
        "bad_cursor",
    ),
    (
        "unknown-application",
        lambda t: t.http.get("/thywill/nosuchapp/init/"),
        "/thywill/nosuchapp/init/",
        404,
        "unknown_application",
    ),
    (
        "unknown-transport",
        lambda t: t.http.get("/thywill/init/", params={"transport": "pigeon"}),
        "/thywill/init/",
        400,
        "bad_transport",
    ),
]


@pytest.mark.parametrize(
    ("make_request", "path", "status", "code"),
    [pytest.param(*case[1:], id=case[0]) for case in BAD_REQUESTS],
)
def test_bad_request_is_answered_logged_once_and_disturbs_nobody(
    live: LiveServer,
    alice: ThywillHttpClient,
    bob: ThywillHttpClient,
    make_request: Callable[[ThywillHttpClient], httpx.Response],
    path: str,
    status: int,
    code: str,
) -> None:
    """A bad request gets its 4xx JSON error and one log line; other clients carry on."""
    with bob.sse_stream(timeout=10) as bystander:
        events = bystander.events()
        opened = next(events, None)
        assert opened is not None and opened.event == "open"
        log_start = len(live.log())

        response = make_request(alice)

        assert error_of(response) == (status, code)
        log = live.log()[log_start:]
        assert REJECTED.findall(log) == [(path, code)]
        assert "Traceback" not in log
        assert '" 500 ' not in log
        # The stream Bob held open through it still delivers.
        bob.send("still here")
        pushed = next(events, None)
        assert pushed is not None and pushed.json()["data"] == "still here"

    # The offender is not locked out, and nothing it sent was handled (seq 1 is free).
    assert alice.send("me too") == [{"seq": 1, "status": "ok"}]
    assert data_of(alice.receive(1)) == ["me too"]
    assert alice.longpoll(wait=False).messages == []


def test_sse_refusal_is_a_json_error_not_a_stream(alice: ThywillHttpClient) -> None:
    """An SSE request with a bad cursor is refused before any stream starts."""
    with pytest.raises(ThywillHttpError) as caught:
        alice.sse_events(cursor="garbage!!", until=count_events("open", 1))

    assert error_of(caught.value.response) == (400, "bad_cursor")


def test_direct_answers_carry_the_sites_security_headers(alice: ThywillHttpClient) -> None:
    """Send, long-poll and SSE skip Django's middleware, not its security headers."""
    response = alice.http.get(
        alice.endpoint("longpoll"),
        params={"wait": "0"},
        headers={TOKEN_HEADER: alice.token},
    )
    assert response.status_code == 200
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
