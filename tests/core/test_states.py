"""The state store fires one event per real change, with old and new state."""

from __future__ import annotations

from cityhub.api import CameraState
from cityhub.bus import Event, EventBus
from cityhub.const import EVENT_CAMERA_STATE_CHANGED
from cityhub.states import StateStore


async def test_changes_fire_events_with_old_and_new() -> None:
    bus = EventBus()
    store = StateStore(bus)
    events: list[Event] = []
    bus.subscribe(EVENT_CAMERA_STATE_CHANGED, events.append)

    store.async_set("c1", CameraState.CONNECTING)
    store.async_set("c1", CameraState.CONNECTING)  # no change, no event
    store.async_set("c1", CameraState.ONLINE)
    store.async_set("c1", recording=True)

    assert len(events) == 3
    first, second, third = (e.data for e in events)
    assert first["old_state"] is None
    assert second["old_state"].state is CameraState.CONNECTING
    assert second["new_state"].state is CameraState.ONLINE
    assert third["new_state"].recording is True
    assert third["new_state"].state is CameraState.ONLINE
    assert third["new_state"].last_changed == second["new_state"].last_changed


async def test_reason_kept_while_state_holds_and_cleared_online() -> None:
    store = StateStore(EventBus())
    store.async_set("c1", CameraState.OFFLINE, reason="connection refused")
    assert store.async_set("c1", attributes={"fw": "1.2"}).reason == "connection refused"
    status = store.async_set("c1", CameraState.ONLINE)
    assert status.reason is None
    assert status.attributes == {"fw": "1.2"}
    assert [s.camera_id for s in store.all()] == ["c1"]
    assert store.get("nope") is None
