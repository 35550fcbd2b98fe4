"""What several unit test modules expect, written once: check messages, a client's
configuration."""

from typing import Any

from django.core import checks

W001 = checks.Warning(
    "The in-memory push backend serves one process only and loses every message on "
    "restart.",
    hint="Run one server process, or a push backend shared by all of them.",
    id="thywill.W001",
)


def client_config(config: dict[str, Any], application: str) -> dict[str, Any]:
    """The configuration a new client of ``application`` gets with the test settings;
    its random parts (id, token, CSRF token) taken from ``config``."""
    return {
        "clientId": config["clientId"],
        "token": config["token"],
        "application": application,
        "cursor": "",
        "resume": False,
        "share": True,
        "transports": ["websocket", "sse", "longpoll"],
        "forcedTransport": None,
        "csrfToken": config["csrfToken"],
        "endpoints": {
            "send": "/thywill/send/",
            "sse": "/thywill/sse/",
            "longpoll": "/thywill/longpoll/",
            "websocket": "/thywill/websocket/",
            "bye": "/thywill/bye/",
        },
        "limits": {
            "maxMessageBytes": 65536,
            "maxBatch": 100,
            "longpollTimeout": 25.0,
            "sseKeepalive": 15.0,
            "reconnectMaxDelay": 30.0,
            "maxClientsPerConnection": 16,
        },
        "app": {},
    }
