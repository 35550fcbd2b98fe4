"""The pipeline's semantics, traced: every pipe method's order compared as whole lists."""

from __future__ import annotations

import asyncio

import pytest

from thywill.exceptions import FlowFailedError
from thywill.handlers.context import Context
from thywill.identity.tokens import ClientIdentity, new_client_id
from thywill.pipeline import EVENT_KINDS, Event, Flow, Pipe, fail, use_pipes
from thywill.push.locmem import LocMemPushBackend


def new_event(kind: str = "message", data=None) -> Event:
    identity = ClientIdentity(new_client_id(), "echo", "h" * 32)
    return Event(kind, Context(identity, push=LocMemPushBackend()), data=data)


class Trace(Pipe):
    """Appends "name.method" to a shared list for every method it runs."""

    def __init__(self, name: str, trace: list[str], *, stop: bool = False, boom: str = ""):
        self.name, self.trace, self.stop, self.boom = name, trace, stop, boom

    def note(self, method: str) -> None:
        self.trace.append(f"{self.name}.{method}")
        if self.boom == method:
            raise RuntimeError(f"{self.name}.{method} failed")

    async def open(self, event):
        self.note("open")

    async def close(self, event):
        self.note("close")

    async def pipe(self, next_pipe, event, **kwargs):
        self.note("pipe")
        if self.stop:
            return f"stopped by {self.name}"
        return await next_pipe(**kwargs)

    async def on_pipe_success(self, event):
        self.note("success")

    async def on_pipe_failure(self, event, exc):
        self.trace.append(f"{self.name}.failure({exc})")


def core_of(trace: list[str], *, boom: bool = False, result: str = "core result"):
    async def core(event, **kwargs):
        trace.append("core")
        if boom:
            raise RuntimeError("core failed")
        return result

    return core


def three(trace, **options) -> list[Trace]:
    return [Trace(name, trace, **options.get(name, {})) for name in ("P1", "P2", "P3")]


OPEN = ["P1.open", "P2.open", "P3.open"]
PIPE = ["P1.pipe", "P2.pipe", "P3.pipe"]
CLOSE = ["P3.close", "P2.close", "P1.close"]


async def test_success_flow_order():
    """Opens in order, pipes outer to inner, successes inner to outer, closes reversed."""
    trace: list[str] = []
    flow = Flow(three(trace), "message", core_of(trace))
    assert await flow(new_event()) == "core result"
    assert trace == [
        *OPEN,
        *PIPE,
        "core",
        "P3.success",
        "P2.success",
        "P1.success",
        *CLOSE,
    ]


async def test_core_failure_flow_order():
    """A core exception runs every failure hook inner to outer, re-raised, then closes."""
    trace: list[str] = []
    flow = Flow(three(trace), "message", core_of(trace, boom=True))
    with pytest.raises(RuntimeError, match="core failed"):
        await flow(new_event())
    assert trace == [
        *OPEN,
        *PIPE,
        "core",
        "P3.failure(core failed)",
        "P2.failure(core failed)",
        "P1.failure(core failed)",
        *CLOSE,
    ]


@pytest.mark.parametrize("position", ["P1", "P2", "P3"])
async def test_pipe_failure_in_each_position(position):
    """A pipe raising in pipe() fails itself and the pipes outside it, not inner ones."""
    trace: list[str] = []
    flow = Flow(three(trace, **{position: {"boom": "pipe"}}), "message", core_of(trace))
    with pytest.raises(RuntimeError, match=f"{position}.pipe failed"):
        await flow(new_event())
    depth = int(position[1])
    failures = [f"P{i}.failure({position}.pipe failed)" for i in range(depth, 0, -1)]
    assert trace == [*OPEN, *PIPE[:depth], *failures, *CLOSE]


@pytest.mark.parametrize("position", ["P1", "P2", "P3"])
async def test_short_circuit_in_each_position(position):
    """A pipe that does not call next_pipe stops the flow; outer pipes see a success."""
    trace: list[str] = []
    flow = Flow(three(trace, **{position: {"stop": True}}), "message", core_of(trace))
    assert await flow(new_event()) == f"stopped by {position}"
    depth = int(position[1])
    successes = [f"P{i}.success" for i in range(depth, 0, -1)]
    assert trace == [*OPEN, *PIPE[:depth], *successes, *CLOSE]


async def test_failing_success_hook_fails_the_outer_pipes():
    """An on_pipe_success that raises is a failure for the pipes outside it."""
    trace: list[str] = []
    flow = Flow(three(trace, P2={"boom": "success"}), "message", core_of(trace))
    with pytest.raises(RuntimeError, match=r"P2\.success failed"):
        await flow(new_event())
    assert trace == [
        *OPEN,
        *PIPE,
        "core",
        "P3.success",
        "P2.success",
        "P1.failure(P2.success failed)",
        *CLOSE,
    ]


@pytest.mark.parametrize("position", ["P1", "P2", "P3"])
async def test_open_failure_closes_only_what_opened(position):
    """When an open raises, nothing flows and only the pipes opened before it close."""
    trace: list[str] = []
    flow = Flow(three(trace, **{position: {"boom": "open"}}), "message", core_of(trace))
    with pytest.raises(RuntimeError, match=f"{position}.open failed"):
        await flow(new_event())
    depth = int(position[1])
    assert trace == [*OPEN[:depth], *CLOSE[3 - depth + 1 :]]


async def test_close_failure_still_closes_the_others_and_raises():
    """A close that raises does not keep the others from closing; the flow raises it."""
    trace: list[str] = []
    flow = Flow(three(trace, P2={"boom": "close"}), "message", core_of(trace))
    with pytest.raises(RuntimeError, match=r"P2\.close failed"):
        await flow(new_event())
    assert trace[-3:] == CLOSE


async def test_close_failure_does_not_hide_the_flows_own_error():
    """When the core failed, a failing close is logged and the core's error goes on."""
    trace: list[str] = []
    flow = Flow(three(trace, P2={"boom": "close"}), "message", core_of(trace, boom=True))
    with pytest.raises(RuntimeError, match="core failed"):
        await flow(new_event())
    assert trace[-3:] == CLOSE


async def test_close_runs_when_the_flow_is_cancelled():
    """A cancelled flow (the client went away) still closes every pipe."""
    trace: list[str] = []
    started, closed = asyncio.Event(), asyncio.Event()

    async def slow_core(event):
        started.set()
        await asyncio.sleep(60)

    class LastToClose(Pipe):
        async def close(self, event):
            closed.set()

    flow = Flow([LastToClose(), *three(trace)], "message", slow_core)
    task = asyncio.create_task(flow(new_event()))
    async with asyncio.timeout(2):
        await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    async with asyncio.timeout(2):
        await closed.wait()
    assert trace[-3:] == CLOSE


async def test_kwargs_flow_to_the_core():
    """Keyword arguments a pipe passes to next_pipe reach the next pipe and the core."""

    class Inject(Pipe):
        async def pipe(self, next_pipe, event, **kwargs):
            return await next_pipe(**kwargs, injected=event.data * 2)

    seen = {}

    async def core(event, **kwargs):
        seen.update(kwargs)

    await Flow([Inject()], "message", core)(new_event(data=21))
    assert seen == {"injected": 42}


async def test_variants_apply_to_their_kind_only():
    """pipe_message runs for message events; for other kinds the pipe passes through."""
    trace: list[str] = []

    class OnlyMessages(Pipe):
        async def open_message(self, event):
            trace.append("open_message")

        async def pipe_message(self, next_pipe, event, **kwargs):
            trace.append("pipe_message")
            return await next_pipe(**kwargs)

    pipe = OnlyMessages()
    await Flow([pipe], "message", core_of(trace))(new_event())
    await Flow([pipe], "connect", core_of(trace))(new_event("connect"))
    assert trace == ["open_message", "pipe_message", "core", "core"]


@pytest.mark.parametrize("base", ["open", "close", "pipe"])
def test_general_and_variant_together_is_a_type_error(base):
    """Defining pipe() and pipe_<kind>() in one class is refused when the class is made."""

    async def method(self, *args, **kwargs):
        return None

    with pytest.raises(TypeError, match=f"both {base}\\(\\) and {base}_join"):
        type("Both", (Pipe,), {base: method, f"{base}_join": method})


def test_declared_methods_are_recorded():
    """A pipe class knows which hook methods it defines, including inherited ones."""

    class Base(Pipe):
        def on_send(self, data):
            return data

    class Child(Base):
        async def open(self, event):
            return None

    assert Child.declared == {"on_send", "open"}
    assert Pipe.declared == frozenset()


async def test_transforms_receive_in_order_send_in_reverse():
    """on_receive runs outer to inner; on_send inner to outer."""

    class Tag(Pipe):
        def __init__(self, tag):
            self.tag = tag

        def on_receive(self, data):
            return [*data, f"in:{self.tag}"]

        def on_send(self, data):
            return [*data, f"out:{self.tag}"]

    flow = Flow([Tag("A"), Tag("B")], "message", core_of([]))
    assert flow.receive([]) == ["in:A", "in:B"]
    assert flow.send([]) == ["out:B", "out:A"]


async def test_flows_compose_and_are_built_once():
    """Pipes of several levels compose into one flow; running it builds nothing new."""
    trace: list[str] = []
    built = []

    class Counting(Trace):
        def method(self, base, kind):
            built.append(base)
            return super().method(base, kind)

    global_pipes = [Counting("G", trace)]
    app_pipes = [Counting("A", trace)]
    handler_pipes = [Counting("H", trace)]
    flow = Flow([*global_pipes, *app_pipes, *handler_pipes], "message", core_of(trace))
    calls = len(built)
    for _ in range(3):
        trace.clear()
        await flow(new_event())
    assert len(built) == calls
    assert trace == [
        "G.open",
        "A.open",
        "H.open",
        "G.pipe",
        "A.pipe",
        "H.pipe",
        "core",
        "H.success",
        "A.success",
        "G.success",
        "H.close",
        "A.close",
        "G.close",
    ]


async def test_timings_are_recorded_per_pipe():
    """Each pipe's pipe stage is timed, in milliseconds; pipes of one class apart."""
    event = new_event()
    await Flow(three([]), "message", core_of([]))(event)
    assert set(event.timings) == {"Trace", "Trace#2", "Trace#3"}
    assert all(ms >= 0 for ms in event.timings.values())


def test_fail_raises_with_reason_code_and_details():
    """fail() raises FlowFailedError carrying what the client is told."""
    with pytest.raises(FlowFailedError) as caught:
        fail("The room is full.", code="room_full", limit=4)
    assert (caught.value.reason, caught.value.code, caught.value.details) == (
        "The room is full.",
        "room_full",
        {"limit": 4},
    )


@pytest.mark.parametrize("reason", ["", None, 3])
def test_fail_needs_a_reason(reason):
    """fail() without a non-empty reason string is a programming error."""
    with pytest.raises(TypeError):
        fail(reason)


def test_unknown_kind_and_non_pipes_are_refused():
    """A flow needs a known event kind and Pipe instances."""
    with pytest.raises(ValueError, match="unknown event kind"):
        Flow([], "typing", core_of([]))
    with pytest.raises(TypeError, match=r"not a thywill\.pipeline\.Pipe"):
        Flow([object()], "message", core_of([]))
    assert "message" in EVENT_KINDS


def test_use_pipes_records_a_handlers_pipes():
    """use_pipes() stacks pipes on the handler, the topmost decorator's outermost."""
    first, second = Pipe(), Pipe()

    @use_pipes(first)
    @use_pipes(second)
    def handler(ctx, data):
        return None

    assert handler.thywill_pipes == (first, second)
    with pytest.raises(TypeError):
        use_pipes("not a pipe")
