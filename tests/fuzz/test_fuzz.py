"""Fuzzing every endpoint and every WebSocket frame of a live server (hypothesis).

Each test throws generated input at one endpoint of a real server process (Daphne, then
uvicorn) and checks what protocol.md promises for any input:

- every answer is a documented one: 200, or the JSON error whose code the protocol's
  table lists for that status (a WebSocket refusal: an ``error`` frame, then the close
  code 4000 + that status);
- no 5xx, and no traceback in the server's log;
- nothing one client sends breaks another's feed: a bystander tab in the group
  ``lobby`` of the ``rooms`` application, which the fuzzing tab has joined too, is
  polled after every input and answers 200 each time, and it receives every message a
  well-behaved sender says in the room between the inputs, exactly once and in order.

The budget is fixed: ``THYWILL_FUZZ_EXAMPLES`` examples per test (default below), drawn
derandomized, so every run tries the same inputs and takes about the same time. Raise it
locally to fuzz harder (``THYWILL_FUZZ_EXAMPLES=2000 pytest tests/fuzz``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from django.core import signing
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidHandshake
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as websocket_connect

from tests.live import LiveServer
from tests.support.http_client import TOKEN_HEADER, ThywillHttpClient, parse_config
from thywill.identity.tokens import TOKEN_SALT

pytestmark = pytest.mark.live

EXAMPLES = int(os.environ.get("THYWILL_FUZZ_EXAMPLES", "200"))
FUZZ = settings(
    max_examples=EXAMPLES,
    derandomize=True,  # the same inputs on every run: a CI budget, not a lottery
    database=None,  # nothing written to .hypothesis/
    deadline=None,  # a live server's timing is not the property under test
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
LONGPOLL_TIMEOUT = "0.5"  # a long-poll that waits (a fuzzed ``wait``) costs half a second

# The protocol's error table (documentation/protocol.md, "Errors"): code -> status.
ERROR_STATUS = {
    "bad_json": 400,
    "bad_message": 400,
    "bad_cursor": 400,
    "bad_transport": 400,
    "bad_frame": 400,
    "bad_request": 400,
    "bad_host": 400,
    "bad_token": 403,
    "token_expired": 403,
    "session_mismatch": 403,
    "bad_origin": 403,
    "csrf_failed": 403,
    "refused": 403,
    "unknown_application": 404,
    "not_found": 404,
    "method_not_allowed": 405,
    "disconnected": 410,
    "too_large": 413,
    "upgrade_required": 426,
}
TOKEN_CODES = {"bad_token", "token_expired", "session_mismatch"}
SEND_CODES = {
    *TOKEN_CODES,
    *("bad_json", "bad_message", "bad_request", "bad_host", "csrf_failed", "too_large"),
}
FEED_CODES = {*TOKEN_CODES, "bad_cursor", "bad_request", "bad_host"}
PAGE_CODES = {"bad_transport", "unknown_application", "not_found", "bad_request"}
SESSION_CODES = {*PAGE_CODES, "csrf_failed"}
RESULT_STATUSES = {"ok", "duplicate", "out_of_order", "failed"}  # "error": a handler bug
FIVE_HUNDRED = re.compile(r'" 5\d\d\b')

# --- strategies -----------------------------------------------------------------------

# Any text a client can put in JSON or a URL (hypothesis leaves out lone surrogates: they
# come in as JSON escapes below, the only way a client can send one).
texts = st.text(max_size=40)
keys = st.text(max_size=8).filter(lambda key: key != "type")  # "type" is chosen below
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**80), max_value=2**80)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)
# What a handled message says: untyped data (on_message echoes it), a word in the room,
# messages the application's schema or fail() refuses, and types it has no handler for.
# None of them makes the rooms application's own code raise: a handler's bug is not the
# framework's, and its traceback in the log would hide the framework's.
message_data = st.one_of(
    json_values,
    st.builds(
        lambda text: {"type": "room.say", "room": "lobby", "text": text}, json_values
    ),
    st.fixed_dictionaries(
        {"type": st.just("room.say")},
        optional={"room": st.just("lobby"), "text": json_values, "x": json_values},
    ),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(
                ["refuse", "ask", "nosuch", "thywill.join", "Room.Say", "message", ""]
            )
        },
        optional={"answer": json_values},
    ),
    st.builds(lambda kind: {"type": kind}, json_values),
)
seqs = st.one_of(
    st.integers(min_value=1, max_value=2**53 - 1),
    st.sampled_from([0, -1, 2**53 - 1, 2**53, 2**64, 10**30]),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.none(),
    texts,
    json_values,
)
fresh = st.just("fresh")  # the next seq the fuzzing tab has not used
messages = st.one_of(
    st.fixed_dictionaries(
        {"seq": fresh | seqs, "data": message_data}, optional={"extra": json_values}
    ),
    st.fixed_dictionaries({}, optional={"seq": fresh | seqs, "data": message_data}),
    json_values,
)
message_lists = st.one_of(
    st.lists(messages, min_size=1, max_size=4),
    st.just([]),
    st.builds(lambda m: [m] * 101, messages),  # over maxBatch
    json_values,
)
TOKENS = ["valid", "other", "tampered", "expired", "garbage", "missing"]
token_plans = st.sampled_from(TOKENS) | st.builds(lambda v: ("json", v), json_values)
# Raw JSON text for a message's data: what json.dumps cannot write, as a client might.
POISON = [
    '"\\ud800"',
    '"\\udfff"',
    '"a\\udc00b"',
    '"\\ud83d\\ude00"',  # a surrogate pair: one character, which passes
    '"\\ud83d"',
    "1e99999",
    "-1e99999",
    "NaN",
    "Infinity",
    "-Infinity",
    "9" * 5000,  # beyond Python's default limit on integer digits
    "[" * 100_000 + "]" * 100_000,
    "[" * 3000 + "]" * 3000,
    '{"a":' * 2000 + "1" + "}" * 2000,
    "1.5e308",
    "-0",
    '"\\u0000"',
]


@dataclass(frozen=True)
class Headers:
    """The request's headers and cookies, as choices resolved against the tabs."""

    content_type: str | None
    csrf: str
    origin: str
    cookies: str
    host: str


def header_plans(hosts: list[str]) -> st.SearchStrategy[Headers]:
    """Headers with a Host from ``hosts`` (``"own"``: the server's)."""
    return st.builds(
        Headers,
        content_type=st.sampled_from(
            [
                "application/json",
                "application/json; charset=utf-8",
                "text/plain",
                "multipart/form-data; boundary=x",
                "application/x-www-form-urlencoded",
                "application/json; charset=latin-1",
                None,
            ]
        )
        # (stripped: HTTP trims a header value's edges, and httpx refuses to send them)
        | st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40).map(
            str.strip
        ),
        csrf=st.sampled_from(["valid", "valid", "missing", "forged", "empty"]),
        origin=st.sampled_from(["own", "own", "missing", "null", "foreign", "other-port"]),
        cookies=st.sampled_from(["all", "all", "no-csrf", "no-session", "none", "garbage"]),
        host=st.sampled_from(hosts),
    )


# A Host outside ALLOWED_HOSTS is bad_host on the endpoints thywill serves itself (send,
# long-poll, SSE). On those Django serves (the bootstrap page, the session endpoint) its
# own middleware refuses it first, with its 400 page and a logged traceback under DEBUG:
# the project's Django, not thywill, answers there, so the fuzz leaves that alone.
headers = header_plans(["own", "own", "own", "evil.example"])
django_headers = header_plans(["own"])


@dataclass(frozen=True)
class Envelope:
    """A send body: its token, its messages, and how it is written out."""

    token: Any
    messages: Any
    extra: dict[str, Any] | None
    poison: str | None


envelopes = st.builds(
    Envelope,
    token=token_plans,
    messages=message_lists,
    extra=st.none() | st.dictionaries(texts, json_values, max_size=2),
    poison=st.none() | st.sampled_from(POISON),
)
send_bodies = st.one_of(
    st.binary(max_size=300),
    json_values.map(lambda v: json.dumps(v).encode()),
    envelopes,
    envelopes,
    st.integers(min_value=60_000, max_value=70_000).map(lambda n: ("huge", n)),
)

CURSORS = ["current", "empty", "other", "garbage", "long", "bad-chars"]
cursor_plans = st.sampled_from(CURSORS) | texts.map(lambda t: ("text", t))


@dataclass(frozen=True)
class Query:
    """A long-poll or SSE query string."""

    token: Any
    cursor: Any
    wait: str | None
    extra: dict[str, str]
    raw: bytes | None
    last_event_id: Any


queries = st.builds(
    Query,
    token=st.sampled_from(["valid", "valid", *TOKENS]),
    cursor=cursor_plans | st.none(),
    wait=st.sampled_from(["0", "0", "0", None, "1", "", "yes"]),
    extra=st.dictionaries(texts, texts, max_size=3),
    raw=st.none() | st.binary(max_size=60),
    last_event_id=st.none() | cursor_plans,
)

# --- the scene: a bystander, a fuzzing tab and a well-behaved sender ----------------------


@dataclass
class Scene:
    """Three tabs of ``rooms`` on one server; ``lobby`` is watched throughout."""

    server: LiveServer
    bystander: ThywillHttpClient
    fuzzer: ThywillHttpClient
    sender: ThywillHttpClient
    raw: httpx.Client
    said: list[str] = field(default_factory=list)
    heard: list[Any] = field(default_factory=list)
    used_seq: int = 0

    # -- the invariants

    def say(self) -> None:
        """The well-behaved sender says the next line in the lobby."""
        text = f"line {len(self.said) + 1}"
        [result] = self.sender.send({"type": "room.say", "room": "lobby", "text": text})
        assert result["status"] == "ok", result
        self.said.append(text)

    def poll(self) -> None:
        """The bystander's feed and the fuzzing tab's own answer 200, at once."""
        self.heard.extend(m["data"] for m in self.bystander.longpoll(wait=False).messages)
        self.fuzzer.longpoll(wait=False)

    def between(self) -> None:
        """What runs after every fuzzed input."""
        self.say()
        self.poll()

    def lines(self) -> list[str]:
        """What the bystander heard the sender say, in order."""
        return [
            d["text"]
            for d in self.heard
            if isinstance(d, dict) and d.get("from") == self.sender.client_id
        ]

    def check(self, log_start: int) -> None:
        """Every line said reached the bystander once, in order; the log is clean."""
        deadline = time.monotonic() + 10
        while self.lines() != self.said and time.monotonic() < deadline:
            if len(self.lines()) > len(self.said):
                break
            self.poll()
        assert self.lines() == self.said
        log = self.server.log()[log_start:]
        lines = log.splitlines()
        tracebacks = [n for n, line in enumerate(lines) if "Traceback" in line]
        assert not tracebacks, "\n".join(lines[tracebacks[0] - 3 : tracebacks[0] + 40])
        assert not FIVE_HUNDRED.search(log), FIVE_HUNDRED.findall(log)

    # -- choices, resolved

    def token(self, plan: Any) -> Any:
        if isinstance(plan, tuple):
            return plan[1]
        return {
            "valid": self.fuzzer.token,
            "other": self.bystander.token,  # the wrong session for the fuzzer's cookies
            "tampered": tamper(self.fuzzer.token),
            "expired": expired(self.fuzzer.token),
            "garbage": "garbage:" + "x" * 20,
            "missing": None,
        }[plan]

    def cursor(self, plan: Any) -> str | None:
        if plan is None:
            return None
        if isinstance(plan, tuple):
            return str(plan[1])
        return {
            "current": self.fuzzer.cursor,
            "empty": "",
            "other": self.bystander.cursor,  # names channels that are not the fuzzer's
            "garbage": "garbage!!",
            "long": "A" * 5000,
            "bad-chars": self.fuzzer.cursor + "/+=",
        }[plan]

    def next_seq(self) -> int:
        self.used_seq = max(self.used_seq, self.fuzzer.last_seq) + 1
        self.fuzzer.last_seq = self.used_seq
        return self.used_seq

    def learn(self, results: list[dict[str, Any]]) -> None:
        """Follow the server's count: seqs must be contiguous, and refused bodies used
        up seqs the server never saw, so a fresh seq is the one it expects next."""
        for result in results:
            if result.get("status") == "out_of_order":
                self.used_seq = self.fuzzer.last_seq = int(result["expected"]) - 1
                return

    def cookie_header(self, plan: str) -> str | None:
        cookies = dict(self.fuzzer.http.cookies.items())
        if plan == "no-csrf":
            cookies.pop("csrftoken", None)
        elif plan == "no-session":
            cookies.pop("sessionid", None)
        elif plan == "none":
            return None
        elif plan == "garbage":
            return 'sessionid=no-such-session; csrftoken=;;=; a="b'
        return "; ".join(f"{k}={v}" for k, v in cookies.items()) or None

    def headers(self, plan: Headers) -> dict[str, str]:
        own = self.server.url
        values = {
            "Content-Type": plan.content_type,
            "X-CSRFToken": {
                "valid": self.fuzzer.csrf_token,
                "missing": None,
                "forged": "f" * 32,
                "empty": "",
            }[plan.csrf],
            "Origin": {
                "own": own,
                "missing": None,
                "null": "null",
                "foreign": "http://evil.example",
                "other-port": own.rsplit(":", 1)[0] + ":1",
            }[plan.origin],
            "Cookie": self.cookie_header(plan.cookies),
            "Host": None if plan.host == "own" else plan.host,
        }
        return {name: value for name, value in values.items() if value is not None}

    def envelope(self, envelope: Envelope) -> bytes:
        body: dict[str, Any] = dict(envelope.extra or {})
        token = self.token(envelope.token)
        if token is not None:
            body["token"] = token
        body["messages"] = self.numbered(envelope.messages)
        text = json.dumps(body)
        if envelope.poison is not None:
            # The poison as the data of a fresh, otherwise valid message.
            seq = self.next_seq()
            tail = f'{{"seq": {seq}, "data": {envelope.poison}}}'
            text = json.dumps({**body, "messages": ["@@"]}).replace('"@@"', tail)
        return text.encode()

    def numbered(self, value: Any) -> Any:
        """``value`` with every ``"seq": "fresh"`` given the next unused seq."""
        if isinstance(value, list):
            return [self.numbered(v) for v in value]
        if isinstance(value, dict):
            return {
                k: self.next_seq() if k == "seq" and v == "fresh" else v
                for k, v in value.items()
            }
        return value


def tamper(token: str) -> str:
    """The token with one character of its signature changed."""
    head, _, signature = token.rpartition(":")
    swapped = "B" if signature[-2] == "A" else "A"
    return f"{head}:{signature[:-2]}{swapped}{signature[-1]}"


class _Past(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(int(time.time()) - 30 * 24 * 3600)


def expired(token: str) -> str:
    """The same identity, signed a month ago (the live server shares our SECRET_KEY)."""
    payload = signing.loads(token, salt=TOKEN_SALT)
    return _Past(salt=TOKEN_SALT).sign_object(payload, compress=False)


@pytest.fixture(scope="module")
def scene(live_factory: Callable[..., LiveServer]) -> Iterator[Scene]:
    """A server of our own (long-polls wait half a second), and the three tabs."""
    server = live_factory(THYWILL_TEST_LONGPOLL_TIMEOUT=LONGPOLL_TIMEOUT)
    with (
        ThywillHttpClient(server.url, app="rooms") as bystander,
        ThywillHttpClient(server.url, app="rooms") as fuzzer,
        ThywillHttpClient(server.url, app="rooms") as sender,
        httpx.Client(base_url=server.url, timeout=10.0) as raw,
    ):
        for tab in (bystander, fuzzer, sender):
            tab.bootstrap(transport="longpoll")
        for tab in (bystander, fuzzer):
            [joined] = tab.send({"type": "room.join", "room": "lobby"})
            assert joined["status"] == "ok"
        bystander.longpoll(wait=False)
        fuzzer.longpoll(wait=False)
        yield Scene(server, bystander, fuzzer, sender, raw)


def request(scene: Scene, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """One request on the client without a cookie jar (cookies are set per request)."""
    try:
        return scene.raw.request(method, url, **kwargs)
    finally:
        scene.raw.cookies.clear()


def twisted_refusal(response: httpx.Response) -> bool:
    """Whether this is Twisted's own bare 400 for a ``multipart/form-data`` body it cannot
    parse: Daphne's HTTP layer parses such bodies and answers that before any
    application (thywill included) sees the request. Left alone: not thywill's."""
    return (
        response.status_code == 400
        and response.request.headers.get("content-type", "").startswith(
            "multipart/form-data"
        )
        and "content-type" not in response.headers
        and not response.content
    )


def documented(response: httpx.Response, codes: set[str]) -> dict[str, Any] | None:
    """Assert the answer is 200 or one of ``codes`` at its documented status; return
    the JSON error's body (``None`` for a 200)."""
    status = response.status_code
    assert status < 500, (status, response.text[:500])
    if status == 200 or twisted_refusal(response):
        return None
    assert response.headers.get("content-type") == "application/json", response.text[:300]
    error = response.json()["error"]
    assert sorted(error) == ["code", "message"]
    assert error["code"] in codes, (status, error)
    assert ERROR_STATUS[error["code"]] == status, (status, error)
    return error


def fuzzes(**strategies: st.SearchStrategy[Any]) -> Callable[[Callable[..., None]], Any]:
    """Make ``body(scene, **drawn)`` a test that runs it for ``EXAMPLES`` drawn inputs,
    the sender saying a line and both tabs polling after each, then checks the scene."""

    def decorate(body: Callable[..., None]) -> Callable[[Scene], None]:
        def test(scene: Scene) -> None:
            log_start = len(scene.server.log())

            @FUZZ
            @given(drawn=st.fixed_dictionaries(strategies))
            def run(drawn: dict[str, Any]) -> None:
                body(scene, **drawn)
                scene.between()

            run()
            scene.check(log_start)

        # Not functools.wraps: pytest would read the fixtures from body's signature.
        test.__name__ = test.__qualname__ = body.__name__
        test.__doc__ = body.__doc__
        return test

    return decorate


# --- the endpoints --------------------------------------------------------------------


@fuzzes(body=send_bodies, plan=headers)
def test_send_answers_any_body_and_headers_as_documented(
    scene: Scene, body: Any, plan: Headers
) -> None:
    """POST /thywill/send/ with any body, content type, CSRF token, cookies, Origin and
    Host answers 200 with a result per message, or a documented 4xx."""
    if isinstance(body, Envelope):
        content = scene.envelope(body)
    elif isinstance(body, tuple):
        seq = scene.next_seq()
        content = json.dumps(
            {"token": scene.fuzzer.token, "messages": [{"seq": seq, "data": "x" * body[1]}]}
        ).encode()
    else:
        content = body
    response = request(
        scene,
        "POST",
        scene.fuzzer.endpoint("send"),
        content=content,
        headers=scene.headers(plan),
    )
    if documented(response, SEND_CODES) is None and response.status_code == 200:
        results = response.json()["results"]
        assert results and all(r["status"] in RESULT_STATUSES for r in results), results
        scene.learn(results)


COOKIES = st.sampled_from(["all", "all", "no-session", "none", "garbage"])
HOSTS = st.sampled_from([None, None, None, "evil.example", "127.0.0.1:1"])


def feed_query(scene: Scene, query: Query) -> str:
    """The query string of a long-poll or SSE request (the token goes in a header:
    ``token_header``)."""
    params = dict(query.extra)
    cursor = scene.cursor(query.cursor)
    if cursor is not None:
        params["cursor"] = cursor
    if query.wait is not None:
        params["wait"] = query.wait
    encoded = urllib.parse.urlencode(params)
    if query.raw is not None:
        encoded += "&" + urllib.parse.quote_from_bytes(query.raw, safe="=&")
    return encoded


def token_header(scene: Scene, query: Query) -> dict[str, str]:
    """The X-Thywill-Token header of a long-poll or SSE request, when it has a token."""
    token = scene.token(query.token)
    if token is None:
        return {}
    # A header is printable ASCII (httpx refuses the rest), without surrounding spaces.
    return {TOKEN_HEADER: "".join(c for c in str(token) if " " <= c <= "~").strip()}


@fuzzes(query=queries, cookies=COOKIES, host=HOSTS)
def test_longpoll_answers_any_query_as_documented(
    scene: Scene, query: Query, cookies: str, host: str | None
) -> None:
    """GET /thywill/longpoll/ with any query string, token, cursor and cookies."""
    encoded = feed_query(scene, query)
    headers = {
        "Cookie": scene.cookie_header(cookies) or "",
        "Host": host or "",
        **token_header(scene, query),
    }
    response = request(
        scene,
        "GET",
        f"{scene.fuzzer.endpoint('longpoll')}?{encoded}",
        headers={k: v for k, v in headers.items() if v},
    )
    if documented(response, FEED_CODES) is None:
        answer = response.json()
        assert sorted(answer) == ["cursor", "messages", "reset"]


@fuzzes(query=queries, cookies=COOKIES, host=HOSTS)
def test_sse_answers_any_query_and_last_event_id_as_documented(
    scene: Scene, query: Query, cookies: str, host: str | None
) -> None:
    """GET /thywill/sse/ with any query string, Last-Event-ID, token, cursor and cookies:
    a documented refusal, or a stream that opens with its ``open`` event."""
    encoded = feed_query(scene, query)
    headers = {
        "Cookie": scene.cookie_header(cookies) or "",
        "Host": host or "",
        "Accept": "text/event-stream",
        **token_header(scene, query),
    }
    last_event_id = scene.cursor(query.last_event_id)
    if last_event_id is not None:
        # A header is printable ASCII (httpx refuses the rest), without surrounding spaces.
        headers["Last-Event-ID"] = "".join(
            c for c in last_event_id if " " <= c <= "~"
        ).strip()
    url = f"{scene.fuzzer.endpoint('sse')}?{encoded}"
    with scene.raw.stream(
        "GET", url, headers={k: v for k, v in headers.items() if v}, timeout=5.0
    ) as response:
        if response.status_code != 200:
            response.read()
        if documented(response, FEED_CODES) is None:
            assert response.headers["content-type"].startswith("text/event-stream")
            received = b""
            for chunk in response.iter_bytes():
                received += chunk
                if b"event: open" in received:
                    break
            assert b"event: open" in received
    scene.raw.cookies.clear()


APP_NAMES = st.sampled_from(["rooms", "echo", "chat", "nosuch", "Rooms", "a" * 60]) | texts
TRANSPORT_PARAMS = st.none() | st.sampled_from(["websocket", "sse", "longpoll", ""]) | texts


@fuzzes(
    app=APP_NAMES,
    transport=TRANSPORT_PARAMS,
    method=st.sampled_from(["GET", "GET", "GET", "POST", "HEAD", "PUT", "DELETE"]),
    cookies=st.sampled_from(["all", "none", "garbage"]),
)
def test_bootstrap_page_answers_any_application_and_transport_as_documented(
    scene: Scene, app: str, transport: str | None, method: str, cookies: str
) -> None:
    """GET /thywill/<app>/init/?transport=... for any name and value (and any method)."""
    path = f"/thywill/{urllib.parse.quote(app, safe='')}/init/"
    params = {} if transport is None else {"transport": transport}
    cookie = scene.cookie_header(cookies)
    response = request(
        scene, method, path, params=params, headers={"Cookie": cookie} if cookie else {}
    )
    if method == "HEAD":
        assert response.status_code in (200, 400, 404, 405)
    elif documented(response, {*PAGE_CODES, "method_not_allowed"}) is None:
        assert method == "GET"
        assert response.headers["content-type"].startswith("text/html")
        config = parse_config(response.text)
        assert config["application"] == app


@fuzzes(
    app=APP_NAMES,
    transport=TRANSPORT_PARAMS,
    plan=django_headers,
    method=st.sampled_from(["POST", "POST", "POST", "GET", "PUT"]),
    body=st.binary(max_size=100),
)
def test_session_endpoint_answers_as_documented(
    scene: Scene,
    app: str,
    transport: str | None,
    plan: Headers,
    method: str,
    body: bytes,
) -> None:
    """POST /thywill/<app>/session/ with any name, transport, CSRF token, Origin and
    cookies: a new client's configuration, or a documented 4xx."""
    path = f"/thywill/{urllib.parse.quote(app, safe='')}/session/"
    params = {} if transport is None else {"transport": transport}
    response = request(
        scene, method, path, params=params, content=body, headers=scene.headers(plan)
    )
    error = documented(response, {*SESSION_CODES, "method_not_allowed"})
    if error is None and response.status_code == 200:
        assert method == "POST"
        assert response.json()["application"] == app


PATH_TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="?#"), max_size=30
)


@fuzzes(
    prefix=st.sampled_from(["/thywill/", "/static/", "/static/thywill/"]),
    tail=PATH_TEXT
    | st.sampled_from(
        [
            "send/",
            "longpoll/",
            "sse/",
            "websocket/",
            "health/",
            "init/",
            "thywill.js",
            "../../../etc/passwd",
            "..%2f..%2fsettings.py",
            "%00",
            "rooms/session/",
        ]
    ),
    method=st.sampled_from(["GET", "GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"]),
)
def test_any_path_under_the_prefix_and_static_answers_as_documented(
    scene: Scene, prefix: str, tail: str, method: str
) -> None:
    """Any method on any path under /thywill/ (a documented JSON answer) or /static/
    (a file, 404 or 400: Django's static files handler)."""
    # Dots escaped: the client would resolve "." and ".." segments, and leave the prefix.
    path = prefix + urllib.parse.quote(tail, safe="/%").replace(".", "%2E")
    response = request(scene, method, path, headers={"Origin": scene.server.url})
    if prefix == "/thywill/":
        codes = {
            *SEND_CODES,
            *FEED_CODES,
            *SESSION_CODES,
            "method_not_allowed",
            "upgrade_required",
        }
        documented(response, codes)
    else:
        assert response.status_code in (200, 304, 400, 404), response.status_code


# --- WebSocket ------------------------------------------------------------------------

frame_payloads = st.one_of(
    texts.map(lambda t: ("text", t)),
    st.binary(max_size=200).map(lambda b: ("binary", b)),
    json_values.map(lambda v: ("text", json.dumps(v))),
    st.builds(
        lambda msgs, extra: ("send", msgs, extra),
        message_lists,
        st.none() | st.dictionaries(texts, json_values, max_size=2),
    ),
    st.builds(
        lambda kind: ("text", json.dumps({"type": kind, "messages": []})),
        json_values | st.sampled_from(["sent", "batch", "open", "SEND"]),
    ),
    st.sampled_from(POISON).map(lambda p: ("poison", p)),
    st.integers(min_value=60_000, max_value=70_000).map(lambda n: ("huge", n)),
)
WS_CONNECT_CODES = {*TOKEN_CODES, "bad_cursor", "bad_origin", "bad_request"}
WS_FRAME_CODES = {"bad_json", "bad_frame", "too_large"}


@dataclass(frozen=True)
class Socket:
    """How the fuzzing tab connects: token, cursor, Origin and cookies."""

    token: Any
    cursor: Any
    origin: str
    cookies: str


sockets = st.one_of(
    st.just(Socket("valid", "current", "own", "all")),
    st.builds(
        Socket,
        token=st.sampled_from(["valid", "valid", "other", "tampered", "expired", "missing"])
        | st.builds(lambda v: ("json", v), texts),
        cursor=cursor_plans | st.none(),
        origin=st.sampled_from(["own", "own", "missing", "null", "foreign", "other-port"]),
        cookies=st.sampled_from(["all", "all", "no-session", "none", "garbage"]),
    ),
)


def ws_frame(scene: Scene, payload: tuple[Any, ...]) -> str | bytes:
    kind = payload[0]
    if kind == "binary":
        return bytes(payload[1])
    if kind == "text":
        return str(payload[1])
    if kind == "send":
        frame = {
            **(payload[2] or {}),
            "type": "send",
            "messages": scene.numbered(payload[1]),
        }
        return json.dumps(frame)
    if kind == "poison":
        seq = scene.next_seq()
        return f'{{"type": "send", "messages": [{{"seq": {seq}, "data": {payload[1]}}}]}}'
    seq = scene.next_seq()  # huge
    return json.dumps(
        {"type": "send", "messages": [{"seq": seq, "data": "x" * payload[1]}]}
    )


@contextlib.contextmanager
def open_socket(scene: Scene, plan: Socket) -> Iterator[ClientConnection]:
    params: dict[str, str] = {}
    token = scene.token(plan.token)
    cursor = scene.cursor(plan.cursor)
    if cursor is not None:
        params["cursor"] = cursor
    url = scene.server.url.replace("http", "ws", 1) + scene.fuzzer.endpoint("websocket")
    origin = scene.headers(Headers(None, "missing", plan.origin, "none", "own")).get(
        "Origin"
    )
    cookie = scene.cookie_header(plan.cookies)
    with websocket_connect(
        f"{url}?{urllib.parse.urlencode(params)}",
        origin=origin,  # type: ignore[arg-type]
        additional_headers={"Cookie": cookie} if cookie else None,
        open_timeout=5,
        close_timeout=5,
        max_size=None,
    ) as connection:
        # The first frame: a missing token is a null one (bad_request), rather than no
        # frame at all (closed after AUTH_TIMEOUT).
        auth = {"type": "auth", "token": None if token is None else str(token)}
        with contextlib.suppress(ConnectionClosed):  # refused already (Origin)
            connection.send(json.dumps(auth))
        yield connection


def read_frame(connection: ClientConnection) -> dict[str, Any] | None:
    """The next frame that is not a batch or a keepalive; ``None`` once closed."""
    while True:
        try:
            frame = json.loads(connection.recv(timeout=5))
        except ConnectionClosed:
            return None
        if frame["type"] not in ("batch", "keepalive"):
            return frame


def assert_refusal(
    connection: ClientConnection, frame: dict[str, Any] | None, codes: set[str]
):
    """An ``error`` frame with a documented code, then the close 4000 + its status."""
    closed = (connection.close_code, connection.close_reason)
    assert frame is not None and frame["type"] == "error", (frame, closed)
    code = frame["error"]["code"]
    assert code in codes, frame
    assert read_frame(connection) is None
    assert connection.close_code == 4000 + ERROR_STATUS[code], (connection.close_code, code)


@fuzzes(plan=sockets, payloads=st.lists(frame_payloads, min_size=1, max_size=3))
def test_websocket_answers_any_connection_and_frame_as_documented(
    scene: Scene, plan: Socket, payloads: list[tuple[Any, ...]]
) -> None:
    """The WebSocket with any token, cursor, Origin and cookies, then any text and binary
    frames: ``open`` or a documented refusal; a ``sent`` frame for each send frame, or a
    documented refusal that closes the socket."""
    try:
        with open_socket(scene, plan) as connection:
            first = read_frame(connection)
            if first is None or first["type"] != "open":
                assert_refusal(connection, first, WS_CONNECT_CODES)
            else:
                for payload in payloads:
                    connection.send(ws_frame(scene, payload))
                    answer = read_frame(connection)
                    if answer is not None and answer["type"] == "sent":
                        if "results" in answer:
                            statuses = {r["status"] for r in answer["results"]}
                            assert statuses <= RESULT_STATUSES, answer
                            scene.learn(answer["results"])
                        else:
                            assert answer["error"]["code"] in SEND_CODES, answer
                            assert ERROR_STATUS[answer["error"]["code"]] == answer["status"]
                        continue
                    assert_refusal(connection, answer, WS_FRAME_CODES)
                    break
    except InvalidHandshake as exc:  # the server refused the handshake itself
        pytest.fail(f"handshake refused: {exc!r}")


def test_fuzz_left_every_feed_whole(scene: Scene) -> None:
    """After every fuzz test: the bystander heard every line once, in order, its feed
    answered 200 throughout, and the server logged no traceback and no 5xx."""
    scene.between()
    scene.check(0)
