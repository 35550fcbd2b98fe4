"""Hook scripts: what a script in the THYWILL_HOOKS folder can use.

A script is a plain Python file. Its module-level functions ``pre_<event>(model)`` and
``post_<event>(model, succeeded)`` run around every event of that kind; its globals keep
their values between calls (per process). Import what it needs from here::

    from thywill.hooks import fail, shared

documentation/hooks.md lists every event and its model's fields.
"""

from __future__ import annotations

from thywill.exceptions import FlowFailedError, StaleModelError
from thywill.hooks.model import Model
from thywill.hooks.shared import SharedState, shared
from thywill.pipeline.event import fail

__all__ = ["FlowFailedError", "Model", "SharedState", "StaleModelError", "fail", "shared"]
