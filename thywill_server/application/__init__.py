"""The application interface: what an application package provides to thywill."""

from thywill_server.application.base import Application, BaseApplication
from thywill_server.application.context import Context

__all__ = ["Application", "BaseApplication", "Context"]
