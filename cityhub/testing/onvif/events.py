"""The simulator's Events service: PullPoint subscriptions that long-poll for messages."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import secrets
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from cityhub.testing.onvif.soap import (
    SoapFault,
    SoapRequest,
    attr,
    child,
    esc,
    format_time,
    parse_duration,
    parse_termination,
    qattr,
    text,
)

if TYPE_CHECKING:
    from cityhub.testing.onvif.simulator import OnvifSimulator

__all__ = ["TOPICS", "EventMessage", "EventsService", "Subscription"]

MOTION_ALARM = "tns1:VideoSource/MotionAlarm"
CELL_MOTION = "tns1:RuleEngine/CellMotionDetector/Motion"
TAMPERING = "tns1:VideoSource/GlobalSceneChange/ImagingService"
DIGITAL_INPUT = "tns1:Device/Trigger/DigitalInput"
TOPICS: dict[str, tuple[tuple[str, str], tuple[str, str]]] = {
    MOTION_ALARM: (("Source", "tt:ReferenceToken"), ("State", "xs:boolean")),
    CELL_MOTION: (
        ("VideoSourceConfigurationToken", "tt:ReferenceToken"),
        ("IsMotion", "xs:boolean"),
    ),
    TAMPERING: (("Source", "tt:ReferenceToken"), ("State", "xs:boolean")),
    DIGITAL_INPUT: (("InputToken", "tt:ReferenceToken"), ("LogicalState", "xs:boolean")),
}
"""Each supported topic with its source item and its data item (name, type)."""
CONCRETE_SET = "http://www.onvif.org/ver10/tev/topicExpression/ConcreteSet"
CONCRETE = "http://docs.oasis-open.org/wsn/t-1/TopicExpression/Concrete"
DEFAULT_TERMINATION_S = 60.0
MAX_QUEUE = 1000
"""Messages a subscription keeps unread; older ones are dropped past that, as on a camera."""
MAX_PULL_TIMEOUT_S = 60.0


@attrs.frozen
class EventMessage:
    """One notification: topic, UTC time, property operation, source and data items."""

    topic: str
    utc_time: dt.datetime
    source: tuple[tuple[str, str], ...]
    data: tuple[tuple[str, str], ...]
    operation: str = "Changed"

    def xml(self, subscription_url: str) -> str:
        """The wsnt:NotificationMessage of this message."""
        source = "".join(
            f"<tt:SimpleItem Name={qattr(k)} Value={qattr(v)}/>" for k, v in self.source
        )
        data = "".join(f"<tt:SimpleItem Name={qattr(k)} Value={qattr(v)}/>" for k, v in self.data)
        return (
            "<wsnt:NotificationMessage>"
            f"<wsnt:SubscriptionReference><wsa:Address>{esc(subscription_url)}</wsa:Address>"
            "</wsnt:SubscriptionReference>"
            f'<wsnt:Topic Dialect="{CONCRETE_SET}">{esc(self.topic)}</wsnt:Topic>'
            f'<wsnt:Message><tt:Message UtcTime="{format_time(self.utc_time)}"'
            f' PropertyOperation="{self.operation}"><tt:Source>{source}</tt:Source>'
            f"<tt:Data>{data}</tt:Data></tt:Message></wsnt:Message></wsnt:NotificationMessage>"
        )


class Subscription:
    """A PullPoint subscription: a queue, a termination time and a wake-up for long polls."""

    def __init__(
        self, sid: str, termination: dt.datetime, topics: tuple[tuple[str, bool], ...] = ()
    ) -> None:
        self.id = sid
        self.termination = termination
        self.topics = topics
        """The filter: (topic path without prefix, whether its subtopics match too); empty
        for every topic."""
        self.queue: list[EventMessage] = []
        self.wakeup = asyncio.Event()
        self.pulls = 0

    def wants(self, topic: str) -> bool:
        """Whether the subscription's topic filter lets ``topic`` through."""
        if not self.topics:
            return True
        path = _topic_path(topic)
        return any(
            path == wanted or (subtopics and path.startswith(wanted + "/"))
            for wanted, subtopics in self.topics
        )

    def push(self, message: EventMessage) -> None:
        """Queue ``message`` (when the filter lets it through) and wake a waiting poll."""
        if not self.wants(message.topic):
            return
        self.queue.append(message)
        del self.queue[:-MAX_QUEUE]
        self.wakeup.set()


class EventsService:
    """The event service (``events``) and the subscription managers (``subscription/<id>``)."""

    def __init__(self, sim: OnvifSimulator) -> None:
        self.sim = sim
        self.subscriptions: dict[str, Subscription] = {}
        self.state: dict[tuple[str, tuple[tuple[str, str], ...]], EventMessage] = {}
        """The last message per topic and source: what a synchronization point repeats."""
        self._polls: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = 0

    def cut_polls(self) -> None:
        """Cancel the waiting PullMessages requests: their connections drop unanswered, as
        when the device loses power."""
        for task in self._polls:
            task.cancel()

    # Firing ---------------------------------------------------------------------------

    def fire(
        self,
        topic: str,
        source: Mapping[str, str],
        data: Mapping[str, str],
        operation: str = "Changed",
    ) -> EventMessage:
        """Send a message to every live subscription (from any thread: the delivery then
        happens in the event loop)."""
        message = EventMessage(
            topic, self.sim.device_time(), tuple(source.items()), tuple(data.items()), operation
        )
        loop = self._loop
        if loop is not None and not loop.is_closed() and threading.get_ident() != self._thread:
            loop.call_soon_threadsafe(self._deliver, message)
        else:
            self._deliver(message)
        return message

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Deliver messages fired from other threads in ``loop`` (the one serving)."""
        self._loop, self._thread = loop, threading.get_ident()

    def _deliver(self, message: EventMessage) -> None:
        self.state[(message.topic, message.source)] = message
        now = self.sim.device_time()
        for sid, subscription in list(self.subscriptions.items()):
            if subscription.termination > now:
                subscription.push(message)
            else:
                del self.subscriptions[sid]  # expired: forgotten, as a camera does

    def drop_all(self) -> None:
        """Forget every subscription (a reboot), waking their pollers."""
        for subscription in self.subscriptions.values():
            subscription.termination = dt.datetime.min.replace(tzinfo=dt.UTC)
            subscription.wakeup.set()
        self.subscriptions.clear()
        self.state.clear()

    # Event service --------------------------------------------------------------------

    def GetServiceCapabilities(self, request: SoapRequest) -> str:
        """PullPoint supported; no base-notification push, no pausing."""
        return (
            "<tev:GetServiceCapabilitiesResponse>"
            '<tev:Capabilities WSSubscriptionPolicySupport="false"'
            ' WSPullPointSupport="true" WSPausableSubscriptionManagerInterfaceSupport="false"'
            f' MaxNotificationProducers="0" MaxPullPoints="{MAX_QUEUE}"'
            ' PersistentNotificationStorage="false"/></tev:GetServiceCapabilitiesResponse>'
        )

    def GetEventProperties(self, request: SoapRequest) -> str:
        """The topic set: the four topics the simulator raises."""
        tree: dict[str, object] = {}
        for topic in TOPICS:
            node = tree
            for part in topic.removeprefix("tns1:").split("/"):
                node = node.setdefault(part, {})  # type: ignore[assignment]

        def render(node: Mapping[str, object], path: str) -> str:
            out = ""
            for name, sub in node.items():
                full = f"{path}/{name}" if path else f"tns1:{name}"
                assert isinstance(sub, dict)
                if full in TOPICS:
                    (src_name, src_type), (data_name, data_type) = TOPICS[full]
                    out += (
                        f'<tns1:{name} wstop:topic="true"><tt:MessageDescription IsProperty="true">'
                        f'<tt:Source><tt:SimpleItemDescription Name="{src_name}"'
                        f' Type="{src_type}"/>'
                        f'</tt:Source><tt:Data><tt:SimpleItemDescription Name="{data_name}"'
                        f' Type="{data_type}"/></tt:Data></tt:MessageDescription>'
                        f"{render(sub, full)}</tns1:{name}>"
                    )
                else:
                    out += f"<tns1:{name}>{render(sub, full)}</tns1:{name}>"
            return out

        return (
            "<tev:GetEventPropertiesResponse>"
            "<tev:TopicNamespaceLocation>http://www.onvif.org/onvif/ver10/topics/topicns.xml"
            "</tev:TopicNamespaceLocation><wsnt:FixedTopicSet>true</wsnt:FixedTopicSet>"
            f"<wstop:TopicSet>{render(tree, '')}</wstop:TopicSet>"
            f"<wsnt:TopicExpressionDialect>{CONCRETE_SET}</wsnt:TopicExpressionDialect>"
            f"<wsnt:TopicExpressionDialect>{CONCRETE}</wsnt:TopicExpressionDialect>"
            "<tev:MessageContentFilterDialect>http://www.onvif.org/ver10/tev/messageContentFilter/"
            "ItemFilter</tev:MessageContentFilterDialect>"
            "<tev:MessageContentSchemaLocation>http://www.onvif.org/onvif/ver10/schema/onvif.xsd"
            "</tev:MessageContentSchemaLocation></tev:GetEventPropertiesResponse>"
        )

    def CreatePullPointSubscription(self, request: SoapRequest) -> str:
        """A new subscription; its address is served by the simulator."""
        now = self.sim.device_time()
        termination = parse_termination(
            text(request.body, "InitialTerminationTime"), now, DEFAULT_TERMINATION_S
        )
        if termination <= now:
            raise SoapFault(
                "InitialTerminationTime is in the past",
                "wsntw:UnacceptableInitialTerminationTimeFault",
            )
        sid = secrets.token_hex(6)
        subscription = Subscription(sid, termination, _topic_filter(request))
        self.subscriptions[sid] = subscription
        for message in self.state.values():
            subscription.push(attrs.evolve(message, operation="Initialized"))
        return (
            "<tev:CreatePullPointSubscriptionResponse><tev:SubscriptionReference>"
            f"<wsa:Address>{esc(self.sim.subscription_url(sid))}</wsa:Address>"
            f"</tev:SubscriptionReference><wsnt:CurrentTime>{format_time(now)}</wsnt:CurrentTime>"
            f"<wsnt:TerminationTime>{format_time(termination)}</wsnt:TerminationTime>"
            "</tev:CreatePullPointSubscriptionResponse>"
        )

    # Subscription manager (path subscription/<id>) ------------------------------------

    def subscription(self, sid: str) -> Subscription:
        """The live subscription ``sid``; a fault when unknown or expired (and forgets it)."""
        subscription = self.subscriptions.get(sid)
        if subscription is not None and subscription.termination <= self.sim.device_time():
            del self.subscriptions[sid]
            subscription = None
        if subscription is None:
            raise SoapFault(
                f"subscription {sid} does not exist or has expired",
                "wsrf-rw:ResourceUnknownFault",
            )
        return subscription

    async def async_pull_messages(self, sid: str, request: SoapRequest) -> str:
        """Answer at once when messages wait, else when one comes or at the Timeout."""
        subscription = self.subscription(sid)
        subscription.pulls += 1
        timeout = parse_duration(text(request.body, "Timeout") or "PT10S")
        timeout = min(max(timeout, 0.0), MAX_PULL_TIMEOUT_S)
        try:
            limit = int(text(request.body, "MessageLimit") or "100")
        except ValueError:
            raise SoapFault("MessageLimit is not an integer", "InvalidArgVal") from None
        if limit < 1:
            raise SoapFault("MessageLimit must be at least 1", "InvalidArgVal")
        if not subscription.queue:
            subscription.wakeup.clear()
            task = asyncio.current_task()
            assert task is not None
            self._polls.add(task)
            try:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(subscription.wakeup.wait(), timeout)
            finally:
                self._polls.discard(task)
            subscription = self.subscription(sid)
        messages, subscription.queue = subscription.queue[:limit], subscription.queue[limit:]
        if not subscription.queue:
            subscription.wakeup.clear()
        url = self.sim.subscription_url(sid)
        body = "".join(message.xml(url) for message in messages)
        now = self.sim.device_time()
        return (
            f"<tev:PullMessagesResponse><tev:CurrentTime>{format_time(now)}</tev:CurrentTime>"
            f"<tev:TerminationTime>{format_time(subscription.termination)}</tev:TerminationTime>"
            f"{body}</tev:PullMessagesResponse>"
        )

    def Renew(self, sid: str, request: SoapRequest) -> str:
        """Push the termination time back."""
        subscription = self.subscription(sid)
        now = self.sim.device_time()
        subscription.termination = parse_termination(
            text(request.body, "TerminationTime"), now, DEFAULT_TERMINATION_S
        )
        return (
            f"<wsnt:RenewResponse><wsnt:TerminationTime>{format_time(subscription.termination)}"
            f"</wsnt:TerminationTime><wsnt:CurrentTime>{format_time(now)}</wsnt:CurrentTime>"
            "</wsnt:RenewResponse>"
        )

    def Unsubscribe(self, sid: str, request: SoapRequest) -> str:
        """End the subscription."""
        subscription = self.subscription(sid)
        del self.subscriptions[sid]
        subscription.termination = dt.datetime.min.replace(tzinfo=dt.UTC)
        subscription.wakeup.set()
        return "<wsnt:UnsubscribeResponse/>"

    def SetSynchronizationPoint(self, sid: str, request: SoapRequest) -> str:
        """Queue the current state of every property again."""
        subscription = self.subscription(sid)
        for message in self.state.values():
            subscription.push(attrs.evolve(message, operation="Initialized"))
        return "<tev:SetSynchronizationPointResponse/>"


def _topic_path(topic: str) -> str:
    """``VideoSource/MotionAlarm`` of ``tns1:VideoSource/MotionAlarm`` (any prefix)."""
    return "/".join(part.split(":", 1)[-1] for part in topic.strip().split("/"))


def _topic_filter(request: SoapRequest) -> tuple[tuple[str, bool], ...]:
    """The topics a CreatePullPointSubscription's Filter/TopicExpression asks for.

    Concrete or ConcreteSet expressions: alternatives joined by ``|``, a trailing ``//.``
    taking the subtopics too; other dialects are refused with InvalidFilterFault.
    """
    expression = child(child(request.body, "Filter"), "TopicExpression")
    if expression is None or not (expression.text or "").strip():
        return ()
    dialect = attr(expression, "Dialect") or CONCRETE_SET
    if dialect not in (CONCRETE_SET, CONCRETE):
        raise SoapFault(
            f"topic expression dialect {dialect} is not supported", "wsntw:InvalidFilterFault"
        )
    topics = []
    for alternative in (expression.text or "").split("|"):
        subtopics = alternative.strip().endswith("//.")
        path = _topic_path(alternative.strip().removesuffix("//."))
        if path:
            topics.append((path, subtopics))
    return tuple(topics)
