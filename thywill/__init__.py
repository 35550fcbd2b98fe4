"""thywill: realtime push for Django.

What applications, pipes and hook scripts use is importable from here, and only this is
the public API (documentation/server-api.md): everything under ``thywill.*`` that is not
re-exported here may change between releases.
"""

from thywill.api import get_applications, get_transports, issue_client
from thywill.application.base import Application, BaseApplication
from thywill.application.spec import ApplicationSpec
from thywill.exceptions import (
    FlowFailedError,
    RateLimitedError,
    StaleModelError,
    ThywillError,
)
from thywill.handlers.context import Context
from thywill.hooks.model import Model
from thywill.hooks.shared import SharedState, shared
from thywill.pipeline import EVENT_KINDS, Event, NextPipe, Pipe, fail, use_pipes
from thywill.pipeline.pipes import MessageSizePipe, RateLimitPipe, SchemaPipe, TracePipe
from thywill.types import JSON

__version__ = "0.1.0"

__all__ = [
    "EVENT_KINDS",
    "JSON",
    "Application",
    "ApplicationSpec",
    "BaseApplication",
    "Context",
    "Event",
    "FlowFailedError",
    "MessageSizePipe",
    "Model",
    "NextPipe",
    "Pipe",
    "RateLimitPipe",
    "RateLimitedError",
    "SchemaPipe",
    "SharedState",
    "StaleModelError",
    "ThywillError",
    "TracePipe",
    "__version__",
    "fail",
    "get_applications",
    "get_transports",
    "issue_client",
    "shared",
    "use_pipes",
]
