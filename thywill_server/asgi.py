"""The ASGI entry point: ``thywill_server.asgi:application``.

Serve it with Daphne (``daphne thywill_server.asgi:application``), uvicorn or granian.
"""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thywill_server.settings")
django_application = get_asgi_application()

# Imported after Django is set up, as Channels requires.
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler  # noqa: E402

from thywill_server import conf  # noqa: E402
from thywill_server.direct import DirectEndpoints  # noqa: E402
from thywill_server.lifespan import lifespan  # noqa: E402
from thywill_server.routes import websocket_urlpatterns  # noqa: E402

# The transport endpoints skip Django's handler and middleware (thywill_server/direct.py).
http_application = DirectEndpoints(
    ASGIStaticFilesHandler(django_application)
    if conf.serve_static()
    else django_application
)

application = ProtocolTypeRouter(
    {
        "http": http_application,
        "websocket": URLRouter(websocket_urlpatterns),
        "lifespan": lifespan,
    }
)
