"""thywill: realtime push for Django.

What applications, pipes and hook scripts use is importable from here, and only this is
the public API (documentation/server-api.md): everything under ``thywill.*`` that is not
re-exported here may change between releases.
"""

from thywill.api import (
    adisconnect,
    amembers,
    asend_to_client,
    asend_to_group,
    asend_to_user,
    auser_counts,
    content_security_policy,
    disconnect,
    get_applications,
    get_transports,
    issue_client,
    members,
    send_to_client,
    send_to_group,
    send_to_user,
    user_counts,
)
from thywill.application.base import Application, BaseApplication
from thywill.application.spec import ApplicationSpec
from thywill.exceptions import (
    FlowFailedError,
    HandlerOutputError,
    PushNotSharedError,
    PushUnavailableError,
    RateLimitedError,
    StaleModelError,
    ThywillError,
    UnknownApplicationError,
    UnknownClientError,
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
    "HandlerOutputError",
    "MessageSizePipe",
    "Model",
    "NextPipe",
    "Pipe",
    "PushNotSharedError",
    "PushUnavailableError",
    "RateLimitPipe",
    "RateLimitedError",
    "SchemaPipe",
    "SharedState",
    "StaleModelError",
    "ThywillError",
    "TracePipe",
    "UnknownApplicationError",
    "UnknownClientError",
    "__version__",
    "adisconnect",
    "amembers",
    "asend_to_client",
    "asend_to_group",
    "asend_to_user",
    "auser_counts",
    "content_security_policy",
    "disconnect",
    "fail",
    "get_applications",
    "get_transports",
    "issue_client",
    "members",
    "send_to_client",
    "send_to_group",
    "send_to_user",
    "shared",
    "use_pipes",
    "user_counts",
]
