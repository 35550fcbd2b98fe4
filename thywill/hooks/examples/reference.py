"""A reference hook script: every event, every model field, the whole script API.

Copy it into your THYWILL_HOOKS folder and delete what you do not need. Every function
is optional; a script may define any of them, sync (``def``, may use the Django ORM) or
async (``async def``). Functions of the same name in several scripts run in file-name
order (post functions in reverse).

The script API, imported from ``thywill``:

    fail(reason, *, code="failed", **details)  stop the flow; the client is told reason
    shared                                     state shared by every server process:
        shared.get(key, default=None)   shared.set(key, value, timeout=None)
        shared.add(key, value, timeout=None) -> bool   shared.incr(key, delta=1) -> int
        shared.delete(key)   and aget / aset / aadd / aincr / adelete for async functions
    Model                                      the type of ``model``
    StaleModelError                            raised when a kept model is used later

Every model has: event, application, client_id, user_id, session_hash (the same for
every tab and reload of one browser), trace_id; and model.fields() returns a copy of all
of them as a dict. Only ``data`` may be assigned, and only in a pre_ function. A model
is valid during its call only: keep copies of fields, never the model itself.
"""

from thywill import Model, fail, shared

# Module state persists between calls in this process (and is reset when the file is
# reloaded in development). Use ``shared`` for state every process must see.
seen_clients: set[str] = set()


# --- connect: a page loaded <prefix>/<app>/init/ ---------------------------------------
def pre_connect(model: Model) -> None:
    """fail() here refuses the page: it answers 403 ``refused`` with the reason."""
    if model.user_id is None and model.application == "members-only":
        fail("Log in first.")


def post_connect(model: Model, succeeded: bool) -> None:
    seen_clients.add(model.client_id)


# --- message: every message; fields data (writable), type, seq --------------------------
def pre_message(model: Model) -> None:
    if isinstance(model.data, dict) and "text" in model.data:
        model.data = {**model.data, "text": model.data["text"].strip()}


def post_message(model: Model, succeeded: bool) -> None:
    if succeeded:
        shared.incr(f"messages:{model.application}")


# --- <type>: messages with {"type": "chat.say"} also run pre_chat_say / post_chat_say ---
def pre_chat_say(model: Model) -> None:
    if not model.data.get("text"):
        fail("Say something.", code="empty")


def post_chat_say(model: Model, succeeded: bool) -> None:
    pass


# --- join / leave: fields group, member (the client joining or leaving) -----------------
def pre_join(model: Model) -> None:
    if shared.get(f"closed:{model.group}"):
        fail("That room is closed.")


def post_join(model: Model, succeeded: bool) -> None:
    pass


def pre_leave(model: Model) -> None:
    pass


def post_leave(model: Model, succeeded: bool) -> None:
    pass


# --- group_message: a handler's ctx.send_to_group(); fields group, data (writable) ------
def pre_group_message(model: Model) -> None:
    pass


def post_group_message(model: Model, succeeded: bool) -> None:
    pass


# --- disconnect: the client is gone (its presence lease lapsed) -------------------------
def pre_disconnect(model: Model) -> None:
    pass


def post_disconnect(model: Model, succeeded: bool) -> None:
    seen_clients.discard(model.client_id)
