"""Hook scripts: pre/post around events, fail() at each stage, models, state, reload."""

from __future__ import annotations

import json
import logging
import os
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.cache import caches
from django.core.checks import Error
from django.test import AsyncClient

import thywill
from tests.support.members import TRACE_ID, Member, channel_data, data_read
from thywill import shared
from thywill.hooks.pipe import HookPipe
from thywill.identity.tokens import ClientIdentity, new_client_id
from thywill.wiring.checks import check_hooks
from thywill.wiring.runtime import get_runtime

pytestmark = pytest.mark.django_db(transaction=True)

TRACE_SCRIPT = """
from thywill import fail

calls = []


def pre_message(model):
    calls.append(("pre_message", model.type, model.data))
    if model.data == {"type": "shout", "text": "pre-fail"}:
        fail("Refused before the handler.")
    if model.type == "shout":
        model.data = {**model.data, "text": model.data["text"] + "!"}


def pre_shout(model):
    calls.append(("pre_shout", model.data["text"]))


def post_shout(model, succeeded):
    calls.append(("post_shout", succeeded))


def post_message(model, succeeded):
    calls.append(("post_message", succeeded))
    if model.data == {"type": "shout", "text": "post-fail!"}:
        fail("Refused after the handler.", code="late")
    if model.type == "refuse" and not succeeded:
        calls.append(("saw the core fail",))


def pre_join(model):
    calls.append(("pre_join", model.group, model.member == model.client_id))
    if model.group == "closed":
        fail("That room is closed.")


def post_leave(model, succeeded):
    calls.append(("post_leave", model.group, succeeded))


def pre_group_message(model):
    model.data = {**model.data, "stamped": True}


def pre_connect(model):
    calls.append(("pre_connect", model.application))


def post_disconnect(model, succeeded):
    calls.append(("post_disconnect", succeeded))
"""


@pytest.fixture
def hooks_dir(tmp_path, settings):
    """A hook folder with trace.py, configured with reloading on."""
    folder = tmp_path / "hooks"
    folder.mkdir()
    (folder / "trace.py").write_text(TRACE_SCRIPT)
    settings.THYWILL_HOOKS = {"PATH": str(folder), "RELOAD": True}
    return folder


def hook_pipe(app_name: str = "rooms") -> HookPipe:
    pipe = get_runtime().flows.pipes_for(get_runtime().application(app_name), None)[-1]
    assert isinstance(pipe, HookPipe)
    return pipe


def module(name: str = "trace"):
    [script] = [s for s in hook_pipe().scripts.scripts if s.path.stem == name]
    return script.module


def write(path: Path, text: str) -> None:
    """Rewrite a script so that a reload notices it, even within one mtime tick."""
    path.write_text(textwrap.dedent(text))
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


async def test_pre_changes_the_data_and_post_sees_success(hooks_dir):
    """pre_message then pre_<type> run before the handler, posts after it, in reverse."""
    alice = Member()
    feed = alice.feed()
    assert (await alice.sent_one({"type": "shout", "text": "hi"}))["status"] == "ok"
    assert await data_read(feed) == ["HI!"]
    assert module().calls == [
        ("pre_message", "shout", {"type": "shout", "text": "hi"}),
        ("pre_shout", "hi!"),
        ("post_shout", True),
        ("post_message", True),
    ]


async def test_fail_in_pre_stops_before_the_handler(hooks_dir):
    """fail() in a pre function: no handler, no post, the reason to the client."""
    alice = Member()
    feed = alice.feed()
    result = await alice.sent_one({"type": "shout", "text": "pre-fail"})
    assert TRACE_ID.fullmatch(result.pop("traceId"))
    assert result == {
        "seq": 1,
        "status": "failed",
        "code": "failed",
        "reason": "Refused before the handler.",
    }
    assert await data_read(feed) == []
    assert [call[0] for call in module().calls] == ["pre_message"]


async def test_fail_in_the_core_runs_post_with_false(hooks_dir):
    """A handler's fail() reaches the client; post functions see succeeded=False."""
    alice = Member()
    result = await alice.sent_one({"type": "refuse"})
    assert result["reason"] == "The core says no."
    assert module().calls[-2:] == [("post_message", False), ("saw the core fail",)]


async def test_fail_in_post_withholds_what_the_handler_sent(hooks_dir):
    """fail() in a post function fails the flow after a successful handler: nothing sent."""
    alice = Member()
    feed = alice.feed()
    result = await alice.sent_one({"type": "shout", "text": "post-fail"})
    assert TRACE_ID.fullmatch(result.pop("traceId"))
    assert result == {
        "seq": 1,
        "status": "failed",
        "code": "late",
        "reason": "Refused after the handler.",
    }
    assert await data_read(feed) == []


async def test_join_hooks_can_refuse_the_join(hooks_dir):
    """pre_join sees the group and member; its fail() fails the message that joined."""
    alice = Member()
    result = await alice.sent_one({"type": "room.join", "room": "closed"})
    assert result["reason"] == "That room is closed."
    assert await get_runtime().push.members("group:rooms:closed") == []
    assert ("pre_join", "closed", True) in module().calls


async def test_group_message_hooks_change_the_data(hooks_dir):
    """pre_group_message may change what every member gets."""
    alice = Member()
    await alice.send({"type": "room.join", "room": "r"})
    await alice.send({"type": "room.say", "room": "r", "text": "hi"})
    assert (await channel_data("group:rooms:r"))[-1] == {
        "from": alice.id,
        "text": "hi",
        "stamped": True,
    }


async def test_connect_disconnect_and_leave_hooks_run(hooks_dir):
    """pre_connect, post_leave (for each group left) and post_disconnect run."""
    app = get_runtime().application("rooms")
    identity = ClientIdentity(new_client_id(), "rooms", "h" * 32)
    await get_runtime().events.handle_connect(app, identity)
    alice = Member()
    alice.identity = identity
    await alice.send({"type": "room.join", "room": "r"})
    await get_runtime().events.handle_disconnect(app, identity)
    calls = module().calls
    assert ("pre_connect", "rooms") in calls
    assert ("post_leave", "r", True) in calls
    assert ("post_disconnect", True) in calls


async def test_a_kept_model_is_a_clear_error_and_the_next_message_works(hooks_dir, caplog):
    """Touching a model from an earlier call names script and line; the server goes on."""
    write(
        hooks_dir / "keeper.py",
        """
        kept = []

        def pre_message(model):
            if kept:
                kept[0].data
            kept.append(model)
        """,
    )
    alice = Member()
    feed = alice.feed()
    caplog.set_level(logging.ERROR, logger="thywill")
    logging.getLogger("thywill").addHandler(caplog.handler)
    try:
        assert (await alice.sent_one({"type": "shout", "text": "a"}))["status"] == "ok"
        assert (await alice.sent_one({"type": "shout", "text": "b"}))["status"] == "error"
    finally:
        logging.getLogger("thywill").removeHandler(caplog.handler)
    [record] = [r for r in caplog.records if r.exc_info]
    message = str(record.exc_info[1])
    script = os.path.relpath(hooks_dir / "keeper.py")  # noqa: ASYNC240
    assert "keeper.py line 6 used a message model after the hook call" in message
    assert message.startswith(script)
    module("keeper").kept.clear()
    assert (await alice.sent_one({"type": "shout", "text": "c"}))["status"] == "ok"
    assert await data_read(feed) == ["A!", "C!"]


async def test_model_fields_are_read_only_except_data(hooks_dir):
    """Assigning a field other than data in a pre function is an error naming it."""
    write(hooks_dir / "bad.py", "def pre_message(model):\n    model.client_id = 'x'\n")
    alice = Member()
    assert (await alice.sent_one("x"))["status"] == "error"


async def test_module_state_persists_and_reload_starts_it_anew(hooks_dir):
    """A script's globals persist between calls; a changed file is reloaded, fresh."""
    counter = """
    count = 0

    def pre_message(model):
        global count
        count += 1
    """
    write(hooks_dir / "counter.py", counter)
    alice = Member()
    await alice.send("a", "b")
    assert module("counter").count == 2
    write(hooks_dir / "counter.py", counter.replace("+= 1", "+= 10"))
    await alice.send("c")
    assert module("counter").count == 10


async def test_a_broken_reload_keeps_the_old_version(hooks_dir, caplog):
    """A script that stops loading is reported once and its previous version stays."""
    write(hooks_dir / "counter.py", "count = 0\ndef pre_message(model):\n    pass\n")
    alice = Member()
    await alice.send("a")
    write(hooks_dir / "counter.py", "def pre_message(model:\n")
    with caplog.at_level(logging.ERROR, logger="thywill.hooks.scripts"):
        await alice.send("b", "c")
    assert len([r for r in caplog.records if "failed to load" in r.message]) == 1
    assert module("counter").count == 0


async def test_a_removed_script_is_forgotten(hooks_dir):
    """Deleting a script stops its functions from running."""
    alice = Member()
    await alice.send("a")
    (hooks_dir / "trace.py").unlink()
    await alice.send({"type": "shout", "text": "pre-fail"})
    assert hook_pipe().scripts.scripts == []


async def test_shared_state_counts_across_calls(hooks_dir):
    """shared.incr() keeps a count in the cache every process shares."""
    write(
        hooks_dir / "count.py",
        """
        from thywill import shared

        def post_message(model, succeeded):
            shared.incr("messages")
        """,
    )
    shared.delete("messages")
    alice = Member()
    await alice.send("a", "b", "c")
    assert shared.get("messages") == 3
    shared.set("k", {"v": 1})
    assert await shared.aget("k") == {"v": 1}
    assert await shared.aincr("n", 2) == 2
    await shared.aset("k", 2)
    await shared.adelete("k")
    assert shared.add("k", 5) is True
    assert json.dumps(shared.get("k")) == "5"


def test_a_script_that_cannot_load_is_e010(tmp_path, settings):
    """A script with a syntax error is reported by the check, with its file."""
    (tmp_path / "broken.py").write_text("def pre_message(:\n")
    settings.THYWILL_HOOKS = {"PATH": str(tmp_path)}
    [error] = check_hooks()
    assert error.id == "thywill.E010"
    assert "broken.py cannot be loaded: SyntaxError" in error.msg


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ([], "THYWILL_HOOKS must be a dict."),
        ({"DIR": "x"}, "THYWILL_HOOKS has unknown keys ['DIR']"),
        ({"PATH": "/no/such/folder"}, "must name a folder of hook scripts"),
        ({"RELOAD": "yes"}, "THYWILL_HOOKS['RELOAD'] must be True or False"),
        ({"CACHE": "nope"}, "THYWILL_HOOKS['CACHE'] must be a key of CACHES"),
    ],
)
def test_bad_hooks_settings_are_e010(settings, value, message):
    """Each malformed THYWILL_HOOKS is one E010 naming what is wrong."""
    settings.THYWILL_HOOKS = value
    [error] = check_hooks()
    assert error.id == "thywill.E010"
    assert message in error.msg


def test_per_process_cache_with_debug_off_is_w003(tmp_path, settings):
    """Hook scripts whose CACHE is a LocMemCache, with DEBUG off, get the W003 warning;
    without CACHE the store follows the push backend, and nothing is warned about."""
    settings.THYWILL_HOOKS = {"PATH": str(tmp_path), "CACHE": "default"}
    settings.DEBUG = False
    [warning] = check_hooks()
    assert warning.id == "thywill.W003"
    assert not isinstance(warning, Error)
    settings.DEBUG = True
    assert check_hooks() == []
    settings.DEBUG = False
    settings.THYWILL_HOOKS = {"PATH": str(tmp_path)}
    assert check_hooks() == []


def test_shared_state_is_in_the_default_cache_with_an_in_memory_push_backend():
    """The in-memory push backend offers no store of its own: ``shared`` uses Django's
    ``"default"`` cache."""
    assert get_runtime().push.shared_cache() is None
    assert shared.cache is caches["default"]


async def test_fail_in_pre_connect_refuses_the_page(hooks_dir):
    """fail() in pre_connect answers the bootstrap page 403 refused, with the reason."""
    write(
        hooks_dir / "gate.py",
        """
        from thywill import fail

        def pre_connect(model):
            fail("No new players: the game is full.")
        """,
    )
    response = await AsyncClient().get("/thywill/rooms/init/")
    assert response.status_code == 403
    assert response.json() == {
        "error": {"code": "refused", "message": "No new players: the game is full."}
    }


# --- an application's own hook folder ---------------------------------------------------

ORDER_SCRIPT = """
from thywill import fail, shared


def _note(what):
    shared.set("order", [*shared.get("order", []), what])


def pre_message(model):
    _note("{where} pre " + model.application)
    if model.data == "{where} says no":
        fail("Refused by the {where} hooks.")


def post_message(model, succeeded):
    _note("{where} post " + model.application)
"""


@pytest.fixture
def app_hooks_dir(tmp_path, settings):
    """A site folder and an application folder, each with a script called rules.py;
    the application "hooked" (rooms with the second folder as its hooks)."""
    site, own = tmp_path / "site", tmp_path / "own"
    for folder, where in ((site, "site"), (own, "app")):
        folder.mkdir()
        (folder / "rules.py").write_text(ORDER_SCRIPT.replace("{where}", where))
    settings.THYWILL_HOOKS = {"PATH": str(site), "RELOAD": True}
    settings.THYWILL_APPLICATIONS = {
        **settings.THYWILL_APPLICATIONS,
        "hooked": {
            "BACKEND": "tests.apps.rooms.HookedRoomsApplication",
            "OPTIONS": {"hooks": str(own)},
        },
    }
    shared.delete("order")
    return own


async def test_an_applications_hooks_run_for_its_events_inside_the_sites(app_hooks_dir):
    """The site's pre functions run before the application's, its post functions after;
    another application's events run the site's scripts only. Both folders hold a
    rules.py: neither replaces the other."""
    assert (await Member("hooked").sent_one("hi"))["status"] == "ok"
    assert (await Member("rooms").sent_one("hi"))["status"] == "ok"
    assert shared.get("order") == [
        "site pre hooked",
        "app pre hooked",
        "app post hooked",
        "site post hooked",
        "site pre rooms",
        "site post rooms",
    ]
    # Each script is its own module, under a name of its own (pickling and dataclasses
    # look a module up by its name).
    pipes = get_runtime().flows.pipes_for(get_runtime().application("hooked"), None)[-2:]
    modules = [script.module for pipe in pipes for script in pipe.scripts.scripts]
    assert [m.__name__ for m in modules] == [
        "thywill_hooks.rules",
        "thywill_hooks.hooked.rules",
    ]
    assert all(sys.modules[m.__name__] is m for m in modules)


async def test_an_applications_hook_refuses_and_reloads(app_hooks_dir):
    """fail() in an application's script reaches its client; a changed script reloads
    (RELOAD of THYWILL_HOOKS); another application never runs it."""
    hooked = Member("hooked")
    assert (await hooked.sent_one("app says no"))["reason"] == "Refused by the app hooks."
    assert (await Member("rooms").sent_one("app says no"))["status"] == "ok"
    write(app_hooks_dir / "rules.py", ORDER_SCRIPT.replace("{where}", "own"))
    assert (await hooked.sent_one("app says no"))["status"] == "ok"
    assert (await hooked.sent_one("own says no"))["reason"] == "Refused by the own hooks."


def test_an_applications_broken_script_or_missing_folder_is_e010(app_hooks_dir, settings):
    """The check loads every application's hook folder, naming the file or folder."""
    settings.DEBUG = True  # no W003 (the site's scripts with a per-process cache)
    assert check_hooks() == []
    (app_hooks_dir / "broken.py").write_text("def pre_message(:\n")
    [error] = check_hooks()
    assert error.id == "thywill.E010"
    assert "broken.py cannot be loaded: SyntaxError" in error.msg
    settings.THYWILL_APPLICATIONS = {
        **settings.THYWILL_APPLICATIONS,
        "hooked": {
            "BACKEND": "tests.apps.rooms.HookedRoomsApplication",
            "OPTIONS": {"hooks": str(app_hooks_dir / "missing")},
        },
    }
    [error] = check_hooks()
    assert error.id == "thywill.E010"
    assert "The hooks of application 'hooked' must name a folder" in error.msg


async def test_models_carry_the_session_hash_shared_by_a_browsers_tabs(hooks_dir):
    """Two clients of one session (two tabs, or a reload) show the same session_hash;
    a client of another session another one."""
    write(
        hooks_dir / "sessions.py",
        """
        seen = []

        def pre_message(model):
            seen.append((model.client_id, model.fields()["session_hash"]))
        """,
    )
    tab, reloaded, other = Member(), Member(), Member(session_hash="o" * 32)
    for member in (tab, reloaded, other):
        await member.send("hi")
    assert module("sessions").seen == [
        (tab.id, "h" * 32),
        (reloaded.id, "h" * 32),
        (other.id, "o" * 32),
    ]


async def test_the_reference_script_shipped_with_thywill_runs(settings):
    """The reference script in the wheel loads cleanly and does what its comments say:
    pre_message trims the text, post_message counts the message in shared state."""
    examples = Path(thywill.__file__).parent / "hooks" / "examples"
    settings.DEBUG = True  # a per-process cache for shared state is fine here (W003)
    settings.THYWILL_HOOKS = {"PATH": str(examples), "RELOAD": False}
    assert check_hooks() == []
    alice = Member()
    feed = alice.feed()
    assert (await alice.sent_one({"type": "shout", "text": "  hi  "}))["status"] == "ok"
    assert await data_read(feed) == ["HI"]
    assert await shared.aget("messages:rooms") == 1
