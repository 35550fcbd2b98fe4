"""thywill's URLs, for the project's URLconf: ``path("thywill/", include("thywill.urls"))``.

Any prefix works: the client is given every URL by ``reverse()``, and the WebSocket
transport listens wherever ``thywill:websocket`` resolves (``thywill.asgi``).
"""

from __future__ import annotations

from django.urls import path, re_path

from thywill.edge.errors import not_found, upgrade_required
from thywill.edge.views.bootstrap import init
from thywill.edge.views.bye import bye
from thywill.edge.views.health import health
from thywill.edge.views.longpoll import longpoll
from thywill.edge.views.metrics import metrics
from thywill.edge.views.selftest import clock, longpoll_probe, selftest, sse_probe
from thywill.edge.views.send import send
from thywill.edge.views.session import session
from thywill.edge.views.sse import sse

app_name = "thywill"

urlpatterns = [
    path("init/", init, name="init"),
    path("<str:app_name>/init/", init, name="app-init"),
    path("<str:app_name>/session/", session, name="app-session"),
    path("send/", send, name="send"),
    path("bye/", bye, name="bye"),
    path("longpoll/", longpoll, name="longpoll"),
    path("sse/", sse, name="sse"),
    # WebSocket connections to this path reach the transport (thywill.asgi); a plain
    # HTTP request is told to upgrade.
    path("websocket/", upgrade_required, name="websocket"),
    path("health/", health, name="health"),
    path("metrics/", metrics, name="metrics"),  # 404 unless THYWILL_METRICS enables it
    # The deployment self-test, for staff users: 404 unless THYWILL_SELFTEST is on. Its
    # probes lie under the transports' paths, where a proxy's rules for them apply.
    path("selftest/", selftest, name="selftest"),
    path("selftest/clock/", clock, name="selftest-clock"),
    path("sse/selftest/", sse_probe, name="selftest-sse"),
    path("longpoll/selftest/", longpoll_probe, name="selftest-longpoll"),
    # WebSocket connections reach the self-test's echo (thywill.edge.selftest).
    path("websocket/selftest/", upgrade_required, name="selftest-websocket"),
    re_path(r"^(?P<path>.*)$", not_found),
]
