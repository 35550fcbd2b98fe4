"""The event runner: the only way thywill calls application code.

Each event (connect, message, disconnect) runs through the flow built for its
application and handler (``thywill.events.flows``); the joins, leaves and group messages
its handler asks for run through flows of their own. What the flow sent is released only
when all of it succeeded: membership changes first (with the join and leave events), then
the messages, for a message event atomically with its sequence record.
"""

from __future__ import annotations

from collections.abc import Sequence

from thywill import metrics
from thywill.application.spec import ApplicationSpec
from thywill.events.flows import FlowRegistry
from thywill.events.release import release
from thywill.events.routing import message_type_of
from thywill.exceptions import (
    ErrorCode,
    FlowFailedError,
    PushUnavailableError,
    RateLimitedError,
    RejectedError,
    SessionRevokedError,
)
from thywill.feed.channels import group_name, is_group, is_shared, user_channel
from thywill.feed.control import end
from thywill.feed.feed import DISCONNECTED_REASON
from thywill.feed.sessions import session_ended
from thywill.handlers.context import Context
from thywill.handlers.outbox import Change, Outbox, encode
from thywill.identity.tokens import ClientIdentity
from thywill.log.base import BaseLog
from thywill.metrics import counters
from thywill.pipeline import Event
from thywill.pipeline.event import new_trace_id
from thywill.push.base import BasePushBackend
from thywill.types import JSON
from thywill.wire.inbound import InboundMessage
from thywill.wire.results import Outcome, Result

ENDED = 2**62
"""The send sequence recorded for a client the server disconnected: any send of it is
then at or below the record, and is refused."""


class EventRunner:
    """Runs clients' events through their flows and releases what they sent.

    Args:
        push: where what the events send is published.
        log: where failed events are reported.
        flows: the flows to run the events through.
    """

    def __init__(self, *, push: BasePushBackend, log: BaseLog, flows: FlowRegistry) -> None:
        self.push = push
        self.log = log
        self.flows = flows

    async def run(
        self,
        app: ApplicationSpec,
        identity: ClientIdentity,
        kind: str,
        *,
        data: JSON = None,
        seq: int | None = None,
        group: str | None = None,
        member: str | None = None,
    ) -> tuple[Result, Outbox]:
        """Run one event through its flow; return its result and what it sent (nothing on
        failure). Only ``PushUnavailableError`` escapes."""
        message_type = message_type_of(data) if kind == "message" else None
        try:
            flow = self.flows.flow(app, kind, message_type)
        except Exception:  # noqa: BLE001  (a pipe or hook script that cannot be built)
            # Flows are built on first use, in the server, where system checks may not
            # have run: a broken pipe or script fails its events, not the server.
            trace_id = new_trace_id()
            self.log.handler_failed(
                application=app.name,
                client_id=identity.client_id,
                event=kind,
                trace_id=trace_id,
            )
            return Result(Outcome.ERROR, trace_id=trace_id), Outbox()
        ctx = Context(identity, push=self.push, outbox=Outbox(on_send=flow.send))
        event = Event(
            kind, ctx, message_type=message_type, seq=seq, group=group, member=member
        )
        started = metrics.clock()
        try:
            event.data = flow.receive(data) if kind == "message" else data
            await flow(event)
            reply = None if event.reply is None else flow.send(event.reply)
            if reply is not None:
                encode(reply)  # a value the client cannot be sent fails the event
        except PushUnavailableError:
            raise
        except FlowFailedError as failure:
            self.log.flow_failed(
                application=app.name,
                client_id=identity.client_id,
                event=kind,
                reason=failure.reason,
                code=failure.code,
                trace_id=event.trace_id,
            )
            return Result(Outcome.FAILED, failure, trace_id=event.trace_id), Outbox()
        except Exception:  # noqa: BLE001  (a handler's bug must not take the request down)
            self.log.handler_failed(
                application=app.name,
                client_id=identity.client_id,
                event=kind,
                trace_id=event.trace_id,
            )
            return Result(Outcome.ERROR, trace_id=event.trace_id), Outbox()
        finally:
            metrics.flowed(app.name, kind, started)
        return Result(Outcome.OK, value=reply), ctx.outbox

    async def handle_connect(
        self, app: ApplicationSpec, identity: ClientIdentity
    ) -> Result:
        """Run the connect event of a newly issued client; release what it sent.

        A logged-in user's client follows the user's channel (``send_to_user``) from
        now on, whatever the connect event did.
        """
        result, outbox = await self.run(app, identity, "connect")
        if identity.user_id is not None:
            channel = user_channel(app.name, identity.user_id)
            outbox.changes.insert(0, Change("join", channel, identity.client_id, False))
        entries = await release(self.push, outbox)
        if entries:
            await self.push.publish_many(entries)
        return result

    async def handle_disconnect(
        self, app: ApplicationSpec, identity: ClientIdentity
    ) -> Outcome:
        """Run the disconnect event of a client that is gone, then make it leave its
        groups.

        The leaves happen whatever the disconnect flow did (the client is gone); each
        runs through the ``leave`` flow first, so pipes and hooks see it, and members get
        the leave event. Called once per lapsed presence lease.
        """
        result, outbox = await self.run(app, identity, "disconnect")
        # Its user's channel is left last, without an event: per-user presence finds
        # the client's user by it while the group leaves are announced.
        last: list[Change] = []
        for channel in await self.push.memberships(identity.client_id):
            if not is_shared(channel):
                continue  # a set of per-user presence: the group's leave cleans it up
            if not is_group(channel):
                last.append(Change("leave", channel, identity.client_id, False))
                continue
            name = group_name(channel)
            outbox.changes.append(
                Change(
                    "leave",
                    channel,
                    identity.client_id,
                    app.announces(name),
                    app.per_user_presence,
                )
            )
            # The leave flow runs for pipes and hooks to see; the client leaves whatever
            # it did, and what it sent goes out with the disconnect's own sends.
            _, left = await self.run(
                app, identity, "leave", group=name, member=identity.client_id
            )
            outbox.messages.extend(left.messages)
        outbox.changes.extend(last)
        entries = await release(self.push, outbox)
        if entries:
            await self.push.publish_many(entries)
        return result.outcome

    async def handle_messages(
        self,
        app: ApplicationSpec,
        identity: ClientIdentity,
        messages: Sequence[InboundMessage],
    ) -> list[Result]:
        """Handle a client's messages in order, each at most once, none skipped.

        Sequence numbers must be contiguous: a message is handled only when its ``seq`` is
        the one after the highest recorded (1 for a client with no record); one above that
        is ``out_of_order``, with the ``seq`` expected, and is not recorded, so the client
        resends it once the gap is filled (documentation/protocol.md). The client's lock
        is held throughout, so an overlapping retry of the same request waits for this one
        and then finds duplicates. A message's sequence number is
        recorded together with what its flow sent: when the push backend fails before
        that, the message was not handled as far as the client can tell, and its retry
        is handled again.

        Raises:
            RejectedError: ``session_ended``, when the client's browser session ended
                (checked as the lock is taken); ``disconnected``, for a client the
                server ended.
            PushUnavailableError: the push backend cannot be reached.
        """
        try:
            async with self.push.client_lock(
                identity.client_id, session=identity.session_hash
            ):
                results = await self._handle_in_order(app, identity, messages)
        except SessionRevokedError:  # taking the lock checked the session
            raise session_ended() from None
        counters.received(len(results))
        if metrics.on():
            for result in results:
                metrics.sent(_metric_outcome(result))
        return results

    async def _handle_in_order(
        self,
        app: ApplicationSpec,
        identity: ClientIdentity,
        messages: Sequence[InboundMessage],
    ) -> list[Result]:
        """``handle_messages`` under the client's lock: each message's result."""
        push = self.push
        results = []
        last = await push.last_sequence(identity.client_id)
        if last >= ENDED:
            raise RejectedError(ErrorCode.DISCONNECTED, DISCONNECTED_REASON)
        for number, message in enumerate(messages, 1):
            if message.seq <= last:
                results.append(Result(Outcome.DUPLICATE))
                continue
            if message.seq > last + 1:
                results.append(Result(Outcome.OUT_OF_ORDER, expected=last + 1))
                continue
            result, outbox = await self.run(
                app, identity, "message", data=message.data, seq=message.seq
            )
            entries = await release(push, outbox)
            recorded = await push.publish_sequenced(
                identity.client_id, message.seq, entries, final=number == len(messages)
            )
            if recorded is None:  # recorded by a process that ignored the lock
                result = Result(Outcome.DUPLICATE)
            results.append(result)
            last = message.seq
        return results

    async def end_client(self, identity: ClientIdentity) -> None:
        """Disconnect a client for good: its open streams end with ``disconnected``,
        and so do its later reads and sends.

        Its disconnect event then runs as for any client that left, once its presence
        lease lapses (its streams no longer renew it).
        """
        async with self.push.client_lock(identity.client_id):
            await self.push.publish_sequenced(
                identity.client_id,
                ENDED,
                [(identity.channel, end(identity.channel).encode())],
                final=True,
            )

    async def is_ended(self, client_id: str) -> bool:
        """Whether the server disconnected this client (``end_client``)."""
        return await self.push.last_sequence(client_id) >= ENDED

    def outbound(self, app: ApplicationSpec, data: JSON) -> str:
        """Data the server sends to an application's clients, through the
        application's ``on_send`` transforms (pipes and hook scripts), encoded.

        Raises:
            HandlerOutputError: the data cannot be sent as JSON.
            FlowFailedError: an ``on_send`` transform refused it.
        """
        return encode(self.flows.outbound(app)(data))


def _metric_outcome(result: Result) -> str:
    """The outcome label of a send in the metrics: a rate limit's refusal apart from
    other failures."""
    if isinstance(result.failure, RateLimitedError):
        return "rate_limited"
    return result.outcome.value
