"""The demo site's ASGI entry point: ``thywill_server.asgi:application``.

Serve it with Daphne (``daphne thywill_server.asgi:application``), uvicorn or granian.
"""

from __future__ import annotations

import os

from thywill.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "thywill_server.settings")
application = get_asgi_application()
