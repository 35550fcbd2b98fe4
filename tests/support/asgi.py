"""ASGI scopes for tests that call an ASGI application directly."""

from __future__ import annotations


def http_scope(path: str) -> dict:
    """The scope of a GET of ``path`` on testserver, as an ASGI server would give it."""
    return {
        "type": "http",
        "method": "GET",
        "path": path,
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"testserver")],
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 5000),
    }
