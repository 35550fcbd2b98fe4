"""The framework's URLs: HTTP ones included under ``/thywill/`` by the project's urls.py,
WebSocket ones routed by ``asgi.py``."""

from __future__ import annotations

from django.urls import path, re_path

from thywill_server.transports.longpoll import longpoll
from thywill_server.transports.sse import sse
from thywill_server.transports.websocket import (
    WEBSOCKET_PATH,
    WebsocketNotFound,
    WebsocketTransport,
)
from thywill_server.views.bootstrap import init
from thywill_server.views.errors import not_found
from thywill_server.views.health import health
from thywill_server.views.send import send

app_name = "thywill"

urlpatterns = [
    path("init/", init, name="init"),
    path("<str:app_name>/init/", init, name="app-init"),
    path("send/", send, name="send"),
    path("longpoll/", longpoll, name="longpoll"),
    path("sse/", sse, name="sse"),
    path("health/", health, name="health"),
    re_path(r"^(?P<path>.*)$", not_found),
]

websocket_urlpatterns = [
    path(WEBSOCKET_PATH.lstrip("/"), WebsocketTransport.as_asgi(), name="websocket"),
    re_path(r"", WebsocketNotFound.as_asgi()),
]
