"""The application interface: what an application package provides to thywill."""

from thywill.application.base import Application, BaseApplication
from thywill.handlers.context import Context

__all__ = ["Application", "BaseApplication", "Context"]
