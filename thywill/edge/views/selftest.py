"""The deployment self-test: a staff-only page that checks, from a browser, the way to
thywill through the project's proxies (documentation/deployment.md, "Self-test").

The page (``thywill:selftest``) runs its checks in the browser (``thywill/selftest.js``)
against endpoints that exist for it alone. Each lies under the path of the transport it
stands for (``<prefix>/sse/selftest/``, ``<prefix>/longpoll/selftest/``,
``<prefix>/websocket/selftest/``), so that a proxy's rules for a transport's location
apply to its self-test too. They are not transports: no client token, no feed, no
effect on any client. Every one of them

- answers 404 unless THYWILL_SELFTEST is on, and 403 but to a staff user's session;
- takes GET only and changes nothing (so it needs no CSRF token);
- holds its connection at most ``conf.SELFTEST_MAX_HOLD`` seconds, whatever it is asked,
  writes a few hundred bytes (the event stream also its 2 KiB of padding), and ends at
  once when the process drains for a restart.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator

from django.conf import settings
from django.contrib.auth import REDIRECT_FIELD_NAME
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
    QueryDict,
    StreamingHttpResponse,
)
from django.shortcuts import render, resolve_url
from django.urls import NoReverseMatch, reverse
from django.views.decorators.clickjacking import xframe_options_deny

from thywill import conf
from thywill.edge.csp import content_security_policy, request_nonce
from thywill.edge.errors import json_errors
from thywill.edge.shutdown import drain
from thywill.edge.staff import is_staff
from thywill.exceptions import ErrorCode, RejectedError
from thywill.wire.sse import PADDING, sse_event

SSE_EVENTS = 5
"""How many events the event-stream check sends by default ..."""
SSE_INTERVAL = 0.2
"""... and how far apart, in seconds."""
SSE_MAX_EVENTS = 10
SSE_MAX_INTERVAL = 1.0
LONGPOLL_HOLD = 2.0
"""How long the long-poll check's request is held before its answer, in seconds."""
IDLE_MARGIN = 5.0
"""How much longer than thywill's own silences the idle check holds a connection."""
CLOCK_WARNING = 30.0
"""The clock difference (seconds) above which the clock check warns."""


def now_ms() -> float:
    """This server's clock in milliseconds since the epoch, as the browser's Date.now()."""
    return round(time.time() * 1000, 1)


def seconds(query: QueryDict, name: str, default: float, *, cap: float) -> float:
    """A query parameter in seconds (``default`` when absent), at most ``cap``.

    Raises:
        RejectedError: ``bad_request`` for a value that is not a number of zero or more.
    """
    raw = query.get(name)
    if raw is None or raw == "":
        return min(default, cap)
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0:
        raise RejectedError(
            ErrorCode.BAD_REQUEST,
            f"{name} must be a number of seconds, 0 or more, not {raw[:20]!r}.",
        )
    return min(value, cap)


async def require_staff(request: HttpRequest) -> None:
    """Let a staff user's request through, while THYWILL_SELFTEST is on.

    Raises:
        RejectedError: ``not_found`` while the self-test is off, ``refused`` (403) when
            the request is not a staff user's.
    """
    if not conf.get_selftest():
        raise RejectedError(ErrorCode.NOT_FOUND, f"Nothing is at {request.path}.")
    if not await is_staff(request):
        raise RejectedError(
            ErrorCode.REFUSED, "The self-test is for staff users: log in as one."
        )


def to_login(request: HttpRequest) -> HttpResponseRedirect:
    """Send an anonymous visitor of the page to log in, and back: to the admin's login,
    as Django's ``staff_member_required`` does, or to LOGIN_URL without the admin.

    (``django.contrib.auth.views.redirect_to_login`` does the same, but importing it
    loads the auth models, and this module is imported before Django is set up.)"""
    try:
        url = reverse("admin:login")
    except NoReverseMatch:
        url = resolve_url(settings.LOGIN_URL)
    query = QueryDict(mutable=True)
    query[REDIRECT_FIELD_NAME] = request.get_full_path()
    return HttpResponseRedirect(f"{url}?{query.urlencode(safe='/')}")


def page_config(request: HttpRequest) -> dict[str, object]:
    """What the page's script needs: the endpoints, thywill's timings and the holds."""
    limits = conf.get_limits()
    cap = conf.SELFTEST_MAX_HOLD
    # ?idle=N shortens (or lengthens, up to the cap) the idle check, for a quick run.
    requested = None
    if "idle" in request.GET:
        requested = seconds(request.GET, "idle", 0.0, cap=cap)
    return {
        "endpoints": {
            "websocket": reverse("thywill:selftest-websocket"),
            "sse": reverse("thywill:selftest-sse"),
            "longpoll": reverse("thywill:selftest-longpoll"),
            "clock": reverse("thywill:selftest-clock"),
        },
        "transports": list(conf.get_transports()),
        "limits": {
            "longpollTimeout": limits.longpoll_timeout,
            "sseKeepalive": limits.sse_keepalive,
            "maxHold": cap,
        },
        "sse": {"events": SSE_EVENTS, "interval": SSE_INTERVAL},
        "longpollHold": LONGPOLL_HOLD,
        "idle": {
            "longpoll": min(limits.longpoll_timeout + IDLE_MARGIN, cap),
            "stream": min(limits.sse_keepalive + IDLE_MARGIN, cap),
            "requested": requested,
        },
        "clockWarning": CLOCK_WARNING,
    }


@json_errors(methods=("GET",))
@content_security_policy  # THYWILL_CSP: the page's script carries the nonce
@xframe_options_deny
async def selftest(request: HttpRequest) -> HttpResponseBase:
    """The self-test page, for staff users (an anonymous visitor is sent to log in)."""
    auser = getattr(request, "auser", None)
    if conf.get_selftest() and auser is not None:
        user = await auser()
        if not user.is_authenticated:
            return to_login(request)
    await require_staff(request)  # 404 while off, 403 for a user who is not staff
    response = render(
        request,
        "thywill/selftest.html",
        {"config": page_config(request), "nonce": request_nonce(request)},
    )
    response["Cache-Control"] = "no-store"
    return response


@json_errors(methods=("GET",))
async def clock(request: HttpRequest) -> HttpResponse:
    """This server's time, for the clock check."""
    await require_staff(request)
    response = JsonResponse({"now": now_ms()})
    response["Cache-Control"] = "no-store"
    return response


@json_errors(methods=("GET",))
async def longpoll_probe(request: HttpRequest) -> HttpResponse:
    """Answer after ``hold`` seconds (default 2, at most SELFTEST_MAX_HOLD): a proxy
    that cuts or answers it earlier would cut thywill's long-polls too."""
    await require_staff(request)
    hold = seconds(request.GET, "hold", LONGPOLL_HOLD, cap=conf.SELFTEST_MAX_HOLD)
    started = time.monotonic()
    drained = await drain.unless_draining(asyncio.sleep(hold, result=True)) is None
    response = JsonResponse(
        {"held": round(time.monotonic() - started, 3), "drained": drained, "now": now_ms()}
    )
    response["Cache-Control"] = "no-store"
    return response


@json_errors(methods=("GET",))
async def sse_probe(request: HttpRequest) -> HttpResponseBase:
    """An event stream: ``open``, ``idle`` seconds of silence (default 0), ``events``
    ``tick`` events ``interval`` seconds apart (default 5 and 0.2 s), then ``done``.

    It is framed and padded as the SSE transport's streams are, with the same headers
    (``X-Accel-Buffering: no`` among them), so a proxy treats it as it treats them.
    """
    await require_staff(request)
    query = request.GET
    count = int(seconds(query, "events", SSE_EVENTS, cap=SSE_MAX_EVENTS)) or 1
    interval = seconds(query, "interval", SSE_INTERVAL, cap=SSE_MAX_INTERVAL)
    # With its events, the stream's whole length stays within SELFTEST_MAX_HOLD.
    idle = seconds(
        query, "idle", 0.0, cap=conf.SELFTEST_MAX_HOLD - SSE_MAX_EVENTS * SSE_MAX_INTERVAL
    )
    response = StreamingHttpResponse(
        _probe_stream(count, interval, idle), content_type="text/event-stream"
    )
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response


async def _probe_stream(count: int, interval: float, idle: float) -> AsyncIterator[str]:
    yield PADDING + sse_event("open", f'{{"now":{now_ms()}}}')
    if idle and await drain.unless_draining(asyncio.sleep(idle, result=True)) is None:
        return  # the process is stopping
    for number in range(count):
        if await drain.unless_draining(asyncio.sleep(interval, result=True)) is None:
            return
        yield sse_event("tick", f'{{"n":{number},"now":{now_ms()}}}')
    yield sse_event("done", f'{{"now":{now_ms()}}}')
