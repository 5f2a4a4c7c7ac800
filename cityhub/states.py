"""The state store: where each camera stands, and an event for every change."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import attrs

from cityhub.api import CameraState, Context
from cityhub.bus import EventBus
from cityhub.const import EVENT_CAMERA_STATE_CHANGED


@attrs.frozen
class CameraStatus:
    """A camera's state at one moment: connection, recording flag, attributes, since when."""

    camera_id: str
    state: CameraState
    recording: bool = False
    reason: str | None = None
    attributes: Mapping[str, Any] = attrs.field(factory=dict)
    last_changed: datetime = attrs.field(factory=lambda: datetime.now(UTC))

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly rendering."""
        return {
            "camera_id": self.camera_id,
            "state": self.state.value,
            "recording": self.recording,
            "reason": self.reason,
            "attributes": dict(self.attributes),
            "last_changed": self.last_changed.isoformat(timespec="milliseconds"),
        }


class StateStore:
    """Current status of every camera; a change fires ``camera.state_changed`` (old and new)."""

    def __init__(self, bus: EventBus) -> None:
        self._bus = bus
        self._states: dict[str, CameraStatus] = {}

    def get(self, camera_id: str) -> CameraStatus | None:
        """The camera's status, or None for an unknown camera."""
        return self._states.get(camera_id)

    def all(self) -> list[CameraStatus]:
        """Every camera's status, in the order cameras were added."""
        return list(self._states.values())

    def async_set(
        self,
        camera_id: str,
        state: CameraState | None = None,
        *,
        recording: bool | None = None,
        reason: str | None = None,
        attributes: Mapping[str, Any] | None = None,
        context: Context | None = None,
    ) -> CameraStatus:
        """Update a camera's status (loop only); fires an event when anything changed."""
        old = self._states.get(camera_id)
        new_state = state if state is not None else (old.state if old else CameraState.CONNECTING)
        new_recording = recording if recording is not None else (old.recording if old else False)
        merged = dict(old.attributes) if old else {}
        if attributes:
            merged.update(attributes)
        if new_state is CameraState.ONLINE:
            reason = None
        elif reason is None and old is not None and old.state is new_state:
            reason = old.reason
        if (
            old is not None
            and old.state is new_state
            and old.recording == new_recording
            and old.reason == reason
            and dict(old.attributes) == merged
        ):
            return old
        changed_state = old is None or old.state is not new_state
        new = CameraStatus(
            camera_id=camera_id,
            state=new_state,
            recording=new_recording,
            reason=reason,
            attributes=merged,
            last_changed=datetime.now(UTC) if changed_state or old is None else old.last_changed,
        )
        self._states[camera_id] = new
        self._bus.async_fire(
            EVENT_CAMERA_STATE_CHANGED,
            {"camera_id": camera_id, "old_state": old, "new_state": new},
            context,
        )
        return new

    def async_remove(self, camera_id: str) -> None:
        """Forget a camera (it was removed from the configuration)."""
        self._states.pop(camera_id, None)
