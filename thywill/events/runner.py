"""Running every client event through its pipeline, and releasing what it sent.

Each event (connect, message, disconnect) runs through the flow built for its
application and handler; the joins, leaves and group messages its handler asks for run
through flows of their own. What the flow sent is released only when all of it
succeeded: membership changes first (with the join and leave events), then the messages,
for a message event atomically with its sequence record.
"""

from __future__ import annotations

import dataclasses
import enum
import inspect
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from django.db import transaction

from thywill.application.base import Application
from thywill.events.flows import flows
from thywill.exceptions import (
    FlowFailedError,
    PushUnavailableError,
    TransactionRolledBackError,
)
from thywill.feed.channels import (
    announces,
    group_channel,
    group_name,
    presence_payload,
    subscribe,
    unsubscribe,
)
from thywill.handlers.calling import call, run_sync
from thywill.handlers.context import Change, Context, Outbox
from thywill.identity.tokens import ClientIdentity, private_channel
from thywill.pipeline import EVENT_KINDS, Event, Flow
from thywill.push.base import BasePushBackend
from thywill.types import JSON
from thywill.wire.envelope import InboundMessage
from thywill.wiring.components import components

MESSAGE_TYPE = re.compile(r"[a-z][a-z0-9_]{0,49}(\.[a-z][a-z0-9_]{0,49}){0,3}")
# A type that would name an event's own handler or hooks is not routed by type.
RESERVED_TYPES = frozenset(EVENT_KINDS)
GENERIC_ERROR = "The application failed to handle this message."


class Outcome(enum.StrEnum):
    """What became of one event, as reported to the client."""

    OK = "ok"
    DUPLICATE = "duplicate"
    ERROR = "error"
    FAILED = "failed"


@dataclasses.dataclass(frozen=True, slots=True)
class Result:
    """One event's outcome, with the failure when a flow called ``fail()``."""

    outcome: Outcome
    failure: FlowFailedError | None = None

    def as_json(self, seq: int) -> dict[str, JSON]:
        """The result entry of a send answer (documentation/protocol.md)."""
        result: dict[str, JSON] = {"seq": seq, "status": self.outcome.value}
        if self.outcome is Outcome.ERROR:
            result["reason"] = GENERIC_ERROR
        elif self.failure is not None:
            result.update(self.failure.details)
            result["code"] = self.failure.code
            result["reason"] = self.failure.reason
        return result


def send_results(
    messages: Sequence[InboundMessage], results: Sequence[Result]
) -> list[dict[str, JSON]]:
    """The answer's result entry of each message of a send (HTTP and WebSocket alike)."""
    pairs = zip(messages, results, strict=True)
    return [result.as_json(message.seq) for message, result in pairs]


def message_type_of(data: JSON) -> str | None:
    """A message's ``type``, when its data is an object with a valid, unreserved one."""
    if not isinstance(data, Mapping):
        return None
    kind = data.get("type")
    if (
        isinstance(kind, str)
        and MESSAGE_TYPE.fullmatch(kind)
        and kind.replace(".", "_") not in RESERVED_TYPES
    ):
        return kind
    return None


def message_handler(app: Application, message_type: str | None) -> tuple[str, Any]:
    """The handler of a message: ``on_<type>`` when the application has it, else
    ``on_message``; with its name."""
    if message_type is not None:
        name = "on_" + message_type.replace(".", "_")
        handler = getattr(app, name, None)
        if callable(handler):
            return name, handler
    return "on_message", app.on_message


async def run_handler(
    app: Application, handler: Callable[..., Any], *args: Any, **kwargs: Any
) -> None:
    """Call a handler; a sync one runs inside a database transaction.

    Raises:
        TransactionRolledBackError: the handler marked its transaction for rollback.
    """
    alias = getattr(app, "transaction_alias", "default")
    if alias is None or inspect.iscoroutinefunction(handler):
        await call(handler, *args, **kwargs)
        return

    def atomically() -> object:
        with transaction.atomic(using=alias):
            result = handler(*args, **kwargs)
            rolled_back = transaction.get_rollback(using=alias)
        if rolled_back:
            raise TransactionRolledBackError(
                f"the transaction of {getattr(handler, '__qualname__', handler)} was "
                "rolled back"
            )
        return result

    result = await run_sync(atomically)
    if inspect.isawaitable(result):
        await result


def flow_for(app: Application, kind: str, message_type: str | None = None) -> Flow:
    """The flow of one kind of event of an application (built once, then reused)."""
    handler: Callable[..., Any] | None
    if kind == "message":
        name, handler = message_handler(app, message_type)
    elif kind in ("connect", "disconnect"):
        name = f"on_{kind}"
        handler = getattr(app, name)
    else:
        name, handler = "", None

    def build() -> Flow:
        return Flow(flows.pipes_for(app, handler), kind, _core(app, kind, handler))

    return flows.get((app.name, kind, name), build)


def _core(app: Application, kind: str, handler: Callable[..., Any] | None) -> Any:
    if handler is None:
        return _staging_core(app, kind)

    async def core(event: Event, **kwargs: Any) -> None:
        args = (event.data,) if kind == "message" else ()
        await run_handler(app, handler, event.ctx, *args, **kwargs)
        await _run_queued(app, event)

    return core


def _staging_core(app: Application, kind: str) -> Any:
    async def core(event: Event, **kwargs: Any) -> None:
        assert event.group is not None
        if kind == "group_message":
            channel = group_channel(event.application, event.group)
            event.ctx.stage_message(channel, event.data)
        else:
            assert event.member is not None
            announce = announces(app, event.group)
            event.ctx.stage_change(kind, event.group, event.member, announce=announce)

    return core


async def _run_queued(app: Application, parent: Event) -> None:
    """Run the joins, leaves and group messages the handler asked for, in order."""
    while queued := parent.ctx.take_queued():
        for item in queued:
            event = Event(
                item.kind,
                parent.ctx,
                data=item.data,
                group=item.group,
                member=item.member,
                trace_id=parent.trace_id,
            )
            await flow_for(app, item.kind)(event)


async def run_event(
    app: Application,
    identity: ClientIdentity,
    kind: str,
    *,
    data: JSON = None,
    seq: int | None = None,
    group: str | None = None,
    member: str | None = None,
) -> tuple[Result, Outbox]:
    """Run one event through its flow; return its result and what it sent (none on
    failure). Only ``PushUnavailableError`` escapes."""
    message_type = message_type_of(data) if kind == "message" else None
    try:
        flow = flow_for(app, kind, message_type)
    except Exception:  # noqa: BLE001  (a pipe or hook script that cannot be built)
        # Flows are built on first use, in the server, where system checks may not
        # have run: a broken pipe or script fails its events, not the server.
        components.log.handler_failed(
            application=app.name, client_id=identity.client_id, event=kind, trace_id="-"
        )
        return Result(Outcome.ERROR), Outbox()
    ctx = Context(identity, on_send=flow.send)
    event = Event(kind, ctx, message_type=message_type, seq=seq, group=group, member=member)
    try:
        event.data = flow.receive(data) if kind == "message" else data
        await flow(event)
    except PushUnavailableError:
        raise
    except FlowFailedError as failure:
        components.log.flow_failed(
            application=app.name,
            client_id=identity.client_id,
            event=kind,
            reason=failure.reason,
            code=failure.code,
            trace_id=event.trace_id,
        )
        return Result(Outcome.FAILED, failure), Outbox()
    except Exception:  # noqa: BLE001  (a handler's bug must not take the request down)
        components.log.handler_failed(
            application=app.name,
            client_id=identity.client_id,
            event=kind,
            trace_id=event.trace_id,
        )
        return Result(Outcome.ERROR), Outbox()
    return Result(Outcome.OK), ctx.take_outbox()


async def release(push: BasePushBackend, outbox: Outbox) -> list[tuple[str, str]]:
    """Apply a flow's membership changes; return every message left to publish.

    A join that is new publishes the join event to the group channel, then a control
    entry on the member's private channel subscribes its feed from that position on.
    A quiet join (a group in the application's ``quiet_groups``) publishes nothing to
    the group and subscribes from its newest message; a quiet leave publishes nothing
    either. A join of a member already in the group (a retried send whose first attempt
    joined, then failed to publish) subscribes it from the group's newest message:
    the feed ignores a subscription it already follows, and one it lost is restored.
    """
    entries: list[tuple[str, str]] = []
    for change in outbox.changes:
        name, member = group_name(change.channel), change.client_id
        if change.action == "join":
            if await push.add_member(change.channel, member) and change.announce:
                position: str | None = await push.publish(
                    change.channel, presence_payload("join", name, member)
                )
            else:
                position = await push.newest_position(change.channel)
            control = subscribe(change.channel, position)
            entries.append((private_channel(member), control.encode()))
        elif await push.remove_member(change.channel, member):
            if change.announce:
                await push.publish(change.channel, presence_payload("leave", name, member))
            entries.append((private_channel(member), unsubscribe(change.channel).encode()))
    return [*entries, *outbox.messages]


async def handle_connect(app: Application, identity: ClientIdentity) -> Result:
    """Run the connect event of a newly issued client; release what it sent."""
    result, outbox = await run_event(app, identity, "connect")
    entries = await release(components.push, outbox)
    if entries:
        await components.push.publish_many(entries)
    return result


async def handle_disconnect(app: Application, identity: ClientIdentity) -> Outcome:
    """Run the disconnect event of a client that is gone, then make it leave its groups.

    The leaves happen whatever the disconnect flow did (the client is gone); each runs
    through the ``leave`` flow first, so pipes and hooks see it, and members get the
    leave event. Called once per lapsed presence lease.
    """
    push = components.push
    result, outbox = await run_event(app, identity, "disconnect")
    for channel in await push.memberships(identity.client_id):
        announce = announces(app, group_name(channel))
        outbox.changes.append(Change("leave", channel, identity.client_id, announce))
        # The leave flow runs for pipes and hooks to see; the client leaves whatever it
        # did, and what it sent goes out with the disconnect's own sends.
        _, left = await run_event(
            app, identity, "leave", group=group_name(channel), member=identity.client_id
        )
        outbox.messages.extend(left.messages)
    entries = await release(push, outbox)
    if entries:
        await push.publish_many(entries)
    return result.outcome


async def handle_messages(
    app: Application, identity: ClientIdentity, messages: Sequence[InboundMessage]
) -> list[Result]:
    """Handle a client's messages in order, each at most once.

    The client's lock is held throughout, so an overlapping retry of the same request
    waits for this one and then finds duplicates. A message's sequence number is
    recorded together with what its flow sent: when the push backend fails before
    that, the message was not handled as far as the client can tell, and its retry is
    handled again.
    """
    push = components.push
    results = []
    async with push.client_lock(identity.client_id):
        last = await push.last_sequence(identity.client_id)
        for message in messages:
            if message.seq <= last:
                results.append(Result(Outcome.DUPLICATE))
                continue
            result, outbox = await run_event(
                app, identity, "message", data=message.data, seq=message.seq
            )
            entries = await release(push, outbox)
            recorded = await push.publish_sequenced(
                identity.client_id, message.seq, entries
            )
            if recorded is None:  # recorded by a process that ignored the lock
                result = Result(Outcome.DUPLICATE)
            results.append(result)
            last = message.seq
    return results
