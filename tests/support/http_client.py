"""A test client that speaks thywill's HTTP protocol (documentation/protocol.md).

``ThywillHttpClient`` models one browser tab: its own ``httpx.Client`` (so its own cookie
jar, hence its own Django session), the configuration its bootstrap page handed out, the
next ``seq`` it will send, and the cursor it has reached on any transport. It talks to
real server processes only; every wait is bounded by an httpx timeout and an overall
deadline.

Typical use::

    with ThywillHttpClient(live.url) as tab:
        tab.bootstrap()
        tab.send({"text": "hello"})
        assert data_of(tab.receive(1)) == [{"text": "hello"}]
"""

from __future__ import annotations

import codecs
import contextlib
import dataclasses
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from html.parser import HTMLParser
from typing import Any, Literal, NamedTuple, TypeAlias, TypeVar

import httpx
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as websocket_connect

JSONValue: TypeAlias = Any
Message: TypeAlias = dict[str, Any]
"""A delivered message: ``{"channel": ..., "id": ..., "data": ...}``."""

Transport: TypeAlias = Literal["longpoll", "sse"]
T = TypeVar("T")

DEFAULT_ENDPOINTS = {
    "send": "/thywill/send/",
    "sse": "/thywill/sse/",
    "longpoll": "/thywill/longpoll/",
    "websocket": "/thywill/websocket/",
    "bye": "/thywill/bye/",
}
CONNECT_TIMEOUT = 5.0
REQUEST_TIMEOUT = 10.0
"""The timeout of requests that should answer at once (bootstrap, send, ``wait=0``)."""
LONGPOLL_MARGIN = 5.0
"""Extra time a waiting long-poll gets beyond the server's own ``longpollTimeout``."""
SSE_TIMEOUT = 5.0
TOKEN_HEADER = "X-Thywill-Token"
"""The header that carries the token of long-polls and SSE streams (never the URL)."""


class ThywillHttpError(Exception):
    """The server rejected a request: a non-2xx answer, with its JSON error if any."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.status = response.status_code
        self.code: str | None = None
        self.message: str | None = None
        with contextlib.suppress(ValueError, AttributeError, TypeError, KeyError):
            error = response.json()["error"]
            self.code = error["code"]
            self.message = error["message"]
        super().__init__(
            f"{response.request.method} {response.request.url.path} answered "
            f"{self.status} {self.code}: {self.message or response.text[:200]!r}"
        )


class PollResult(NamedTuple):
    """One long-poll answer."""

    messages: list[Message]
    cursor: str
    reset: dict[str, Any] | None


@dataclasses.dataclass(frozen=True, slots=True)
class SseEvent:
    """One dispatched Server-Sent Event.

    ``id`` is the ``id:`` field of this event's own block (``None`` when it had none);
    the stream's last event id, as a browser keeps it, is ``SseParser.last_event_id``.
    """

    event: str
    data: str
    id: str | None = None

    def json(self) -> JSONValue:
        """The data, parsed as JSON."""
        return json.loads(self.data)


@dataclasses.dataclass(frozen=True, slots=True)
class SseComment:
    """A comment line of the stream (``:`` and what follows it)."""

    text: str


_LINE_END = re.compile(r"\r\n|\r|\n")


class SseParser:
    """An incremental ``text/event-stream`` parser, as the HTML standard describes it.

    Feed it bytes as they arrive; it returns the events (and comments) that are complete.
    Lines end in CRLF, LF or CR; a leading BOM is dropped; ``retry`` and unknown fields
    are ignored; a block without ``data`` is not dispatched.
    """

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buffer = ""
        self._started = False
        self._event = ""
        self._data: list[str] = []
        self._id: str | None = None
        self.last_event_id = ""

    def feed(self, chunk: bytes) -> list[SseEvent | SseComment]:
        """Parse a chunk; return what it completed, in order."""
        self._buffer += self._decoder.decode(chunk)
        if not self._started and self._buffer:
            self._started = True
            self._buffer = self._buffer.removeprefix("\ufeff")
        items: list[SseEvent | SseComment] = []
        position = 0
        while match := _LINE_END.search(self._buffer, position):
            # A CR at the very end may be the first half of a CRLF still in flight.
            if match.group() == "\r" and match.end() == len(self._buffer):
                break
            item = self._line(self._buffer[position : match.start()])
            if item is not None:
                items.append(item)
            position = match.end()
        self._buffer = self._buffer[position:]
        return items

    def _line(self, line: str) -> SseEvent | SseComment | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            return SseComment(line[1:])
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = value
            self.last_event_id = value
        return None

    def _dispatch(self) -> SseEvent | None:
        event, data, event_id = self._event, self._data, self._id
        self._event, self._data, self._id = "", [], None
        if not data:
            return None
        return SseEvent(event or "message", "\n".join(data), event_id)


class SseStream:
    """An open ``GET /thywill/sse/`` response, read until a deadline.

    ``ended_by`` says why reading stopped: ``"server"`` (the stream ended) or
    ``"deadline"`` (the deadline passed, or one read outlasted the read timeout).
    """

    def __init__(self, response: httpx.Response, deadline: float) -> None:
        self.response = response
        self.deadline = deadline
        self.parser = SseParser()
        self.ended_by: Literal["server", "deadline"] | None = None
        self._chunks = response.iter_bytes()

    @property
    def headers(self) -> httpx.Headers:
        return self.response.headers

    def items(self) -> Iterator[SseEvent | SseComment]:
        """Events and comments as they arrive, until the stream or the deadline ends."""
        while True:
            if time.monotonic() >= self.deadline:
                self.ended_by = "deadline"
                return
            try:
                chunk = next(self._chunks)
            except StopIteration:
                self.ended_by = "server"
                return
            except httpx.ReadTimeout:
                self.ended_by = "deadline"
                return
            yield from self.parser.feed(chunk)

    def events(self) -> Iterator[SseEvent]:
        """The events as they arrive (comments skipped)."""
        for item in self.items():
            if isinstance(item, SseEvent):
                yield item


class _ConfigScraper(HTMLParser):
    """Finds the text of ``<script id="thywill-config" type="application/json">``."""

    def __init__(self) -> None:
        super().__init__()
        self._inside = False
        self.text: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script" and ("id", "thywill-config") in attrs:
            self._inside = True
            self.text = ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._inside = False

    def handle_data(self, data: str) -> None:
        if self._inside and self.text is not None:
            self.text += data


def parse_config(html: str) -> dict[str, Any]:
    """The JSON configuration of a bootstrap page."""
    scraper = _ConfigScraper()
    scraper.feed(html)
    scraper.close()
    if scraper.text is None:
        raise AssertionError("the bootstrap page has no thywill-config script")
    config: dict[str, Any] = json.loads(scraper.text)
    return config


def data_of(messages: Sequence[Message]) -> list[JSONValue]:
    """The ``data`` of each delivered message, in order."""
    return [message["data"] for message in messages]


def delivered(frames: Sequence[dict[str, Any]]) -> list[JSONValue]:
    """The data of every message in WebSocket ``batch`` frames, in order."""
    return [m["data"] for f in frames if f["type"] == "batch" for m in f["messages"]]


def message_data(events: Sequence[SseEvent]) -> list[JSONValue]:
    """The ``data`` of the delivered message in each ``message`` event, in order."""
    return [event.json()["data"] for event in events if event.event == "message"]


def count_events(kind: str, count: int) -> Callable[[Sequence[SseEvent]], bool]:
    """An ``until`` condition: at least ``count`` events of type ``kind`` arrived."""
    return lambda events: sum(e.event == kind for e in events) >= count


class ThywillHttpClient:
    """One browser tab talking to a thywill server over HTTP.

    Args:
        base_url: the server, e.g. ``http://127.0.0.1:8123``.
        app: the application to load (``None``: the default one at ``/thywill/init/``).
    """

    def __init__(self, base_url: str, app: str | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.app = app
        self.http = httpx.Client(
            base_url=self.base_url,
            timeout=httpx.Timeout(REQUEST_TIMEOUT, connect=CONNECT_TIMEOUT),
            follow_redirects=False,
        )
        self.config: dict[str, Any] = {}
        self.cursor = ""
        self.last_seq = 0
        self.resets: list[dict[str, Any]] = []
        """Every reset this tab was given, on any transport, in order."""

    def __enter__(self) -> ThywillHttpClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every connection of this tab."""
        self.http.close()

    def another_connection(self, base_url: str | None = None) -> ThywillHttpClient:
        """The same tab's second connection (same cookies, identity, cursor and seq).

        Useful to read on one thread while this one sends, as a page does; the two
        follow their cursors and seqs separately from then on.
        """
        other = ThywillHttpClient(base_url or self.base_url, self.app)
        other.http.cookies = httpx.Cookies(self.http.cookies)
        other.config = self.config
        other.cursor = self.cursor
        other.last_seq = self.last_seq
        return other

    def use_server(self, base_url: str) -> None:
        """Talk to another server process from now on, as a round-robin balancer would.

        The tab keeps its cookies (they belong to the host, whatever the port), its
        identity and its cursor.
        """
        self.base_url = base_url.rstrip("/")
        self.http.base_url = httpx.URL(self.base_url)

    # --- identity -------------------------------------------------------------------

    @property
    def init_path(self) -> str:
        return "/thywill/init/" if self.app is None else f"/thywill/{self.app}/init/"

    @property
    def client_id(self) -> str:
        return str(self._configured("clientId"))

    @property
    def token(self) -> str:
        return str(self._configured("token"))

    @property
    def csrf_token(self) -> str:
        return str(self._configured("csrfToken"))

    @property
    def channel(self) -> str:
        """The tab's private channel."""
        return f"client:{self.client_id}"

    def _configured(self, key: str) -> JSONValue:
        if not self.config:
            raise RuntimeError("call bootstrap() first")
        return self.config[key]

    def endpoint(self, name: str) -> str:
        """The path of an endpoint, as the bootstrap page announced it."""
        endpoints = self.config.get("endpoints") or DEFAULT_ENDPOINTS
        return str(endpoints[name])

    def bootstrap(self, transport: str | None = None) -> dict[str, Any]:
        """Load the bootstrap page: a new client id, token, CSRF token and cursor.

        Raises:
            ThywillHttpError: the page was refused.
        """
        params = {} if transport is None else {"transport": transport}
        response = self.http.get(self.init_path, params=params)
        _raise_for_error(response)
        self.config = parse_config(response.text)
        self.cursor = str(self.config["cursor"])
        self.last_seq = 0
        self.resets = []
        return self.config

    # --- sending --------------------------------------------------------------------

    def send_headers(self) -> dict[str, str]:
        """The headers a well-behaved page sends with a POST."""
        return {
            "Content-Type": "application/json",
            "X-CSRFToken": self.csrf_token,
            "Origin": self.base_url,
        }

    def post_send(
        self, body: bytes | Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        """POST a raw body to the send endpoint; ``headers`` replace the usual ones.

        A header whose value is ``""`` is left out. Nothing is checked: the answer is
        returned as it is.
        """
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        merged = {**self.send_headers(), **(headers or {})}
        return self.http.post(
            self.endpoint("send"),
            content=content,
            headers={name: value for name, value in merged.items() if value},
        )

    def send(
        self, *datas: JSONValue, seqs: Sequence[int] | None = None
    ) -> list[dict[str, Any]]:
        """Send messages in one batch; return the server's result for each.

        Without ``seqs`` they are numbered on from the highest ``seq`` sent so far, and
        renumbered and sent again, as thywill.js does, when the server answers
        ``out_of_order`` with a ``seq`` expected below them (it forgot the client's record:
        a restarted in-memory backend).

        Raises:
            ThywillHttpError: the batch was refused.
        """
        if seqs is None:
            results = self.send(
                *datas, seqs=range(self.last_seq + 1, self.last_seq + 1 + len(datas))
            )
            first = results[0] if results else {}
            forgotten = first.get("expected", 0) <= self.last_seq - len(datas)
            if first.get("status") == "out_of_order" and forgotten:
                self.last_seq = first["expected"] - 1
                return self.send(*datas)
            return results
        if len(seqs) != len(datas):
            raise ValueError(f"{len(datas)} messages but {len(seqs)} seqs")
        body = {
            "token": self.token,
            "messages": [
                {"seq": seq, "data": data} for seq, data in zip(seqs, datas, strict=True)
            ],
        }
        response = self.post_send(body)
        _raise_for_error(response)
        if seqs:
            self.last_seq = max(self.last_seq, *seqs)
        results: list[dict[str, Any]] = response.json()["results"]
        return results

    # --- long-poll ------------------------------------------------------------------

    def longpoll(
        self,
        cursor: str | None = None,
        *,
        wait: bool = True,
        timeout: float | None = None,
        token: str | None = None,
    ) -> PollResult:
        """One long-poll from ``cursor`` (default: this tab's); remember the new cursor.

        Args:
            timeout: the read timeout; by default the server's ``longpollTimeout`` plus
                a margin when waiting, a short one with ``wait=False``.
            token: send this token instead of the tab's own.

        Raises:
            ThywillHttpError: the poll was refused.
            httpx.ReadTimeout: no answer within ``timeout`` (the request is abandoned).
        """
        params = {"cursor": self.cursor if cursor is None else cursor}
        if not wait:
            params["wait"] = "0"
        if timeout is None:
            server_wait = float(self.config.get("limits", {}).get("longpollTimeout", 25.0))
            timeout = server_wait + LONGPOLL_MARGIN if wait else REQUEST_TIMEOUT
        response = self.http.get(
            self.endpoint("longpoll"),
            params=params,
            headers={TOKEN_HEADER: self.token if token is None else token},
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
        )
        _raise_for_error(response)
        answer = response.json()
        result = PollResult(answer["messages"], answer["cursor"], answer["reset"])
        self.cursor = result.cursor
        if result.reset is not None:
            self.resets.append(result.reset)
        return result

    # --- Server-Sent Events ---------------------------------------------------------

    @contextlib.contextmanager
    def sse_stream(
        self,
        cursor: str | None = None,
        *,
        last_event_id: str | None = None,
        timeout: float = SSE_TIMEOUT,
        token: str | None = None,
    ) -> Iterator[SseStream]:
        """Open ``GET /thywill/sse/``; the connection is closed on leaving the block.

        The ``cursor`` parameter is sent when given, or when no ``last_event_id`` is
        (then it is this tab's cursor). The stream is read until ``timeout`` seconds
        from now; one read waits at most ``timeout`` too, so a read already under way
        at the deadline can overrun it by that much, never more.

        Raises:
            ThywillHttpError: the stream was refused.
        """
        params = {}
        if cursor is not None:
            params["cursor"] = cursor
        elif last_event_id is None:
            params["cursor"] = self.cursor
        headers = {
            "Accept": "text/event-stream",
            TOKEN_HEADER: self.token if token is None else token,
        }
        if last_event_id is not None:
            headers["Last-Event-ID"] = last_event_id
        deadline = time.monotonic() + timeout
        with self.http.stream(
            "GET",
            self.endpoint("sse"),
            params=params,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=CONNECT_TIMEOUT),
        ) as response:
            if response.is_error:
                response.read()
                _raise_for_error(response)
            yield SseStream(response, deadline)

    def sse_events(
        self,
        cursor: str | None = None,
        *,
        last_event_id: str | None = None,
        until: int | Callable[[Sequence[SseEvent]], bool] | None = None,
        timeout: float = SSE_TIMEOUT,
    ) -> list[SseEvent]:
        """Stream events until ``until`` holds, then close the connection.

        The tab's cursor follows the id of every event read, as a browser's
        ``EventSource`` keeps its last event id.

        Args:
            until: a number of events (of any type, ``open`` included), or a condition
                on the events so far; ``None`` reads until the deadline.
            timeout: the overall deadline, in seconds.

        Raises:
            ThywillHttpError: the stream was refused.
            TimeoutError: ``until`` did not hold by the deadline or the end of stream.
        """
        condition = None if until is None else _condition(until)
        events: list[SseEvent] = []
        with self.sse_stream(
            cursor, last_event_id=last_event_id, timeout=timeout
        ) as stream:
            for event in stream.events():
                events.append(event)
                self._saw_event(event)
                if condition is not None and condition(events):
                    return events
            if condition is None:
                return events
            raise TimeoutError(
                f"SSE stream ended ({stream.ended_by}) before the condition held; "
                f"got {events!r}"
            )

    def _saw_event(self, event: SseEvent) -> None:
        if event.id is not None:
            self.cursor = event.id
        if event.event == "reset":
            self.resets.append(event.json())

    # --- WebSocket ----------------------------------------------------------------

    @contextlib.contextmanager
    def websocket(
        self,
        cursor: str | None = None,
        *,
        token: str | None = None,
        origin: str | None = "",
        cookie: str | None = None,
        auth: bool = True,
        query: Mapping[str, str] | None = None,
        sent_in_batch: bool = False,
    ) -> Iterator[ClientConnection]:
        """Open the WebSocket transport as this tab's page would, its first frame the
        ``auth`` frame with the token; closed on leaving.

        Args:
            cursor: resume from here (default: this tab's cursor).
            token: send this token instead of the tab's own.
            origin: the Origin header; ``""`` means the server's own, ``None`` none.
            cookie: the Cookie header instead of the tab's session cookie.
            auth: send the auth frame; without it, the test sends the first frame.
            query: more query parameters.
            sent_in_batch: ask for send answers inside batch frames, as thywill.js does.
        """
        params = {"cursor": self.cursor if cursor is None else cursor, **(query or {})}
        url = httpx.URL(self.base_url.replace("http", "ws", 1) + self.endpoint("websocket"))
        if cookie is None:
            cookie = "; ".join(
                f"{name}={value}" for name, value in self.http.cookies.items()
            )
        with websocket_connect(
            str(url.copy_merge_params(params)),
            origin=self.base_url if origin == "" else origin,  # type: ignore[arg-type]
            additional_headers={"Cookie": cookie} if cookie else None,
            open_timeout=CONNECT_TIMEOUT,
            close_timeout=CONNECT_TIMEOUT,
            max_size=None,
        ) as connection:
            if auth:
                # A socket the server refused at once (its Origin, say) may be closed
                # already: the refusal is still there to read.
                with contextlib.suppress(ConnectionClosed):
                    auth_frame = {
                        "type": "auth",
                        "token": self.token if token is None else token,
                    }
                    if sent_in_batch:
                        auth_frame["sentInBatch"] = True
                    connection.send(json.dumps(auth_frame))
            yield connection

    def ws_send(self, connection: ClientConnection, *datas: JSONValue) -> None:
        """Send messages in one ``send`` frame, numbered on from the highest ``seq``."""
        messages = [
            {"seq": self.last_seq + n, "data": data} for n, data in enumerate(datas, 1)
        ]
        self.last_seq += len(datas)
        connection.send(json.dumps({"type": "send", "messages": messages}))

    def ws_frames(
        self,
        connection: ClientConnection,
        until: Callable[[Sequence[dict[str, Any]]], bool],
        *,
        timeout: float = 5.0,
    ) -> list[dict[str, Any]]:
        """Read frames until ``until`` holds; the tab's cursor follows every batch.

        Raises:
            TimeoutError: ``until`` did not hold within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        frames: list[dict[str, Any]] = []
        while not until(frames):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"not within {timeout}s; got {frames!r}")
            frame = json.loads(connection.recv(timeout=remaining))
            frames.append(frame)
            if frame["type"] in ("open", "batch"):
                self.cursor = frame["cursor"]
            if frame["type"] == "batch" and frame["reset"] is not None:
                self.resets.append(frame["reset"])
        return frames

    # --- either transport -----------------------------------------------------------

    def receive(
        self,
        until: int | Callable[[Sequence[Message]], bool],
        *,
        transport: Transport = "longpoll",
        timeout: float = 5.0,
    ) -> list[Message]:
        """Read delivered messages from this tab's cursor until ``until`` holds.

        Args:
            until: a number of messages, or a condition on the messages so far.
            transport: read by long-poll (whole batches, so possibly more than asked
                for) or by SSE (stops right after the message that satisfies it).
            timeout: the overall deadline; what arrived by then is returned.

        Resets met on the way are appended to ``self.resets``.
        """
        condition = _condition(until)
        deadline = time.monotonic() + timeout
        messages: list[Message] = []
        if transport == "longpoll":
            while not condition(messages):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    messages.extend(self.longpoll(timeout=remaining).messages)
                except httpx.ReadTimeout:
                    break
            return messages

        with self.sse_stream(timeout=timeout) as stream:
            for event in stream.events():
                self._saw_event(event)
                if event.event == "message":
                    messages.append(event.json())
                    if condition(messages):
                        break
        return messages


def _condition(until: int | Callable[[Sequence[T]], bool]) -> Callable[[Sequence[T]], bool]:
    """``until`` as a condition: a number means "at least that many items"."""
    if not isinstance(until, int):
        return until
    wanted = until

    def enough(items: Sequence[T]) -> bool:
        return len(items) >= wanted

    return enough


def _raise_for_error(response: httpx.Response) -> None:
    if response.is_error:
        raise ThywillHttpError(response)
