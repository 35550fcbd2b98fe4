"""thywill's ASGI application: Django's own, plus thywill's WebSocket transport, its
transport endpoints and the lifespan protocol.

In the project's ``asgi.py``::

    import os

    from thywill.asgi import get_asgi_application

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")
    application = get_asgi_application()

Serve it with any ASGI server: uvicorn, Daphne or granian.
"""

from __future__ import annotations

from channels.routing import ProtocolTypeRouter
from django.core.asgi import get_asgi_application as get_django_application

from thywill import conf
from thywill.edge.direct import DirectEndpoints
from thywill.edge.lifespan import lifespan
from thywill.edge.selftest import SelfTestSockets
from thywill.edge.static import StaticFiles
from thywill.edge.websocket import WebsocketRouter
from thywill.types import ASGIApp
from thywill.wiring.runtime import serve_clients

__all__ = ["get_asgi_application"]


def get_asgi_application(*, websocket: ASGIApp | None = None) -> ASGIApp:
    """Set Django up and return the site's ASGI application with thywill in it.

    HTTP requests for thywill's transport endpoints are served directly
    (``thywill.edge.direct``); every other HTTP request goes to Django's application, which
    also serves ``/static/`` when THYWILL_SERVE_STATIC is on. WebSocket connections to
    thywill's URL reach its transport; the lifespan protocol starts and stops thywill's
    background work.

    Args:
        websocket: the ASGI application of the project's own WebSocket paths (a
            Channels ``URLRouter``, say). Without one, any other WebSocket path is refused
            with 4404 ``not_found``.
    """
    django_application = get_django_application()
    serve_clients()  # the in-memory backend's server sends reach this process's clients
    http: ASGIApp = (
        StaticFiles(django_application) if conf.serve_static() else django_application
    )
    return ProtocolTypeRouter(  # type: ignore[no-any-return]
        {
            "http": DirectEndpoints(http),
            # The self-test's echo, then thywill's transport or the project's own.
            "websocket": SelfTestSockets(WebsocketRouter(websocket)),
            "lifespan": lifespan,
        }
    )
