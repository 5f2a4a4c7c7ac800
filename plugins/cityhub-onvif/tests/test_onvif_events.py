"""Topic rules: exact and leading-part matches, states read from Data items, vendor tables."""

from __future__ import annotations

import pytest

from cityhub_onvif.events import (
    DEFAULT_TOPICS,
    OnvifMessage,
    TopicRule,
    event_from_rule,
    match_topic,
    parse_bool,
)


def test_topics_match_exactly_or_by_their_longest_leading_part() -> None:
    assert match_topic(DEFAULT_TOPICS, "tns1:VideoSource/MotionAlarm") == TopicRule(
        "camera.motion", "State"
    )
    scene = match_topic(DEFAULT_TOPICS, "tns1:VideoSource/GlobalSceneChange/ImagingService")
    assert scene == TopicRule("camera.tampering", "State")
    blur = match_topic(DEFAULT_TOPICS, " tns1:VideoSource/ImageTooBlurry/AnalyticsService ")
    assert blur == TopicRule("camera.tampering", "State")
    assert match_topic(DEFAULT_TOPICS, "tns1:Device/Trigger/DigitalInput") == TopicRule(
        "camera.input", "LogicalState"
    )
    # A leading part must end at a "/": MotionAlarmX is another topic.
    assert match_topic(DEFAULT_TOPICS, "tns1:VideoSource/MotionAlarmX") is None
    assert match_topic(DEFAULT_TOPICS, "tns1:Monitoring/ProcessorUsage") is None
    assert match_topic(DEFAULT_TOPICS, "") is None


def test_a_longer_rule_wins_over_a_shorter_one() -> None:
    rules = {
        **DEFAULT_TOPICS,
        "tns1:VideoSource/GlobalSceneChange/AnalyticsService": TopicRule("acme.scene"),
    }
    assert match_topic(rules, "tns1:VideoSource/GlobalSceneChange/AnalyticsService") == (
        TopicRule("acme.scene")
    )
    assert match_topic(rules, "tns1:VideoSource/GlobalSceneChange/ImagingService") == (
        TopicRule("camera.tampering", "State")
    )


@pytest.mark.parametrize(
    ("text", "value"),
    [("true", True), ("1", True), (" False ", False), ("0", False), ("yes", None), (None, None)],
)
def test_xml_booleans(text: str | None, value: bool | None) -> None:
    assert parse_bool(text) is value


def test_events_carry_state_items_source_and_topic() -> None:
    message = OnvifMessage(
        "tns1:Device/Trigger/DigitalInput",
        source={"InputToken": "input_1"},
        data={"LogicalState": "true"},
        operation="Changed",
    )
    event = event_from_rule(TopicRule("camera.input", "LogicalState"), message)
    assert event.event_type == "camera.input"
    assert event.raw == "tns1:Device/Trigger/DigitalInput"
    assert event.data == {
        "active": True,
        "source": {"InputToken": "input_1"},
        "items": {"LogicalState": "true"},
        "initial": False,
    }
    initial = OnvifMessage(
        "tns1:VideoSource/MotionAlarm", data={"State": "0"}, operation="Initialized"
    )
    event = event_from_rule(TopicRule("camera.motion", "State"), initial)
    assert event.data["active"] is False
    assert event.data["initial"] is True


def test_a_state_that_is_not_a_boolean_leaves_active_out() -> None:
    message = OnvifMessage("tns1:VideoSource/MotionAlarm", data={"State": "maybe"})
    event = event_from_rule(TopicRule("camera.motion", "State"), message)
    assert "active" not in event.data
    stateless = event_from_rule(TopicRule("camera.line_crossing"), message)
    assert "active" not in stateless.data
