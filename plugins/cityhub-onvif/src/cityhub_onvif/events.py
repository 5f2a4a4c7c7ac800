"""ONVIF events: PullPoint messages read into values, and topics mapped to hub events.

A driver holds a table of :class:`TopicRule` by ONVIF topic (``OnvifCamera.TOPICS``). A topic
matches the rule of its longest leading part in the table, at a ``/`` boundary, so one rule
for ``tns1:VideoSource/GlobalSceneChange`` covers its ``/ImagingService`` and
``/AnalyticsService`` variants. A vendor plugin adds its own topics by extending the table in
a subclass of the driver (see the plugin guide's worked example).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
from lxml import etree

from cityhub.api import CameraEvent
from cityhub_onvif.const import NS_SCHEMA

EVENT_MOTION = "camera.motion"
EVENT_TAMPERING = "camera.tampering"
EVENT_INPUT = "camera.input"
EVENT_OTHER = "camera.event"
"""The hub event for a topic no rule maps, when the driver forwards unknown topics."""


@attrs.frozen
class TopicRule:
    """How one ONVIF topic becomes a hub event.

    ``state_item`` names the ``Data`` item holding the boolean state of a stateful topic
    (``State``, ``IsMotion``, ``LogicalState``): the hub event then carries ``active``.
    """

    event_type: str
    state_item: str | None = None


DEFAULT_TOPICS: Mapping[str, TopicRule] = {
    "tns1:VideoSource/MotionAlarm": TopicRule(EVENT_MOTION, "State"),
    "tns1:RuleEngine/CellMotionDetector/Motion": TopicRule(EVENT_MOTION, "IsMotion"),
    "tns1:RuleEngine/MotionRegionDetector/Motion": TopicRule(EVENT_MOTION, "State"),
    "tns1:VideoSource/GlobalSceneChange": TopicRule(EVENT_TAMPERING, "State"),
    "tns1:VideoSource/ImageTooBlurry": TopicRule(EVENT_TAMPERING, "State"),
    "tns1:RuleEngine/TamperDetector/Tamper": TopicRule(EVENT_TAMPERING, "IsTamper"),
    "tns1:Device/Trigger/DigitalInput": TopicRule(EVENT_INPUT, "LogicalState"),
}
"""The ONVIF topics every ONVIF camera may send, as the core's event types."""


@attrs.frozen
class OnvifMessage:
    """One notification a device sent: its topic and its ``Source`` and ``Data`` items."""

    topic: str
    source: Mapping[str, str] = attrs.field(factory=dict)
    data: Mapping[str, str] = attrs.field(factory=dict)
    operation: str | None = None
    utc_time: str | None = None

    @property
    def initial(self) -> bool:
        """Whether this is the state the device reports when a subscription starts."""
        return self.operation == "Initialized"


def match_topic(rules: Mapping[str, TopicRule], topic: str) -> TopicRule | None:
    """The rule of ``topic`` itself or of its longest leading part, ``None`` when none."""
    candidate = topic.strip()
    while candidate:
        rule = rules.get(candidate)
        if rule is not None:
            return rule
        candidate = candidate.rpartition("/")[0]
    return None


def parse_bool(value: str | None) -> bool | None:
    """An XML Schema boolean (``true``/``false``/``1``/``0``), ``None`` when it is not one."""
    if value is None:
        return None
    text = value.strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    return None


def event_from_rule(rule: TopicRule, message: OnvifMessage) -> CameraEvent:
    """The hub event ``rule`` makes of ``message``: ``active`` (stateful topics), ``source``,
    ``items`` (the Data items), ``initial`` (the subscription's first report of a state)."""
    data: dict[str, Any] = {
        "source": dict(message.source),
        "items": dict(message.data),
        "initial": message.initial,
    }
    if rule.state_item is not None:
        active = parse_bool(message.data.get(rule.state_item))
        if active is not None:
            data["active"] = active
    return CameraEvent(rule.event_type, data, raw=message.topic)


def _items_from_element(message: Any, part: str) -> dict[str, str]:
    items = message.findall(f"{{{NS_SCHEMA}}}{part}/{{{NS_SCHEMA}}}SimpleItem")
    return {str(i.get("Name")): str(i.get("Value")) for i in items if i.get("Name")}


def _items_from_object(message: Any, part: str) -> dict[str, str]:
    section = getattr(message, part, None)
    items = getattr(section, "SimpleItem", None) or []
    return {str(i.Name): str(i.Value) for i in items if getattr(i, "Name", None)}


def parse_notification(holder: Any) -> OnvifMessage | None:
    """Read one ``wsnt:NotificationMessage`` as zeep gives it; ``None`` when it has no topic."""
    topic_node = getattr(holder, "Topic", None)
    topic = getattr(topic_node, "_value_1", None)
    if not isinstance(topic, str) or not topic.strip():
        return None
    wrapper = getattr(holder, "Message", None)
    message = getattr(wrapper, "_value_1", None)
    if message is None:
        return OnvifMessage(topic.strip())
    if isinstance(message, etree._Element):
        return OnvifMessage(
            topic.strip(),
            _items_from_element(message, "Source"),
            _items_from_element(message, "Data"),
            message.get("PropertyOperation"),
            message.get("UtcTime"),
        )
    utc_time = getattr(message, "UtcTime", None)
    operation = getattr(message, "PropertyOperation", None)
    return OnvifMessage(
        topic.strip(),
        _items_from_object(message, "Source"),
        _items_from_object(message, "Data"),
        str(operation) if operation is not None else None,
        utc_time.isoformat() if isinstance(utc_time, datetime) else None,
    )
