"""The core's side of camera set-up: refused credentials wait long, clocks are watched.

These drive a real hub with small drivers written for the test (the core must behave the same
whatever the driver); the ONVIF plugin's tests check the same paths against the ONVIF
simulator.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, ClassVar

import pytest

from cityhub import cameras
from cityhub.api import AuthenticationError, CameraDriver, CameraState, hookimpl
from cityhub.bus import Event
from cityhub.const import ATTR_CLOCK_DRIFT_S, EVENT_CAMERA_CLOCK_DRIFT
from cityhub.hub import Hub
from cityhub.plugins import Plugins
from cityhub.testing.hub import HubFactory, wait_for_state


class LockedCamera(CameraDriver):
    """A device that refuses the credentials on every attempt."""

    NAME = "locked"
    attempts: ClassVar[int] = 0

    async def async_setup(self) -> None:
        LockedCamera.attempts += 1
        raise AuthenticationError("10.0.0.9 refused user 'cityhub'")


class DriftingCamera(CameraDriver):
    """A device whose clock runs ``offset`` seconds ahead of the hub's."""

    NAME = "drifting"
    offset: ClassVar[float] = 0.0
    reads: ClassVar[int] = 0

    async def async_camera_time(self) -> datetime:
        DriftingCamera.reads += 1
        return datetime.now(UTC) + timedelta(seconds=DriftingCamera.offset)


@hookimpl
def cityhub_camera_drivers() -> list[type[CameraDriver]]:
    return [LockedCamera, DriftingCamera]


PLUGIN = types.ModuleType("test_cameras_plugin")
PLUGIN.cityhub_camera_drivers = cityhub_camera_drivers  # type: ignore[attr-defined]


def config(driver: str) -> dict[str, Any]:
    return {
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": [{"id": "cam", "name": "Cam", "driver": driver, "zone": "centre"}],
    }


async def wait_until(check: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise TimeoutError("condition not met in time")
        await asyncio.sleep(0.02)


def drift_of(hub: Hub) -> float | None:
    status = hub.states.get("cam")
    return None if status is None else status.attributes.get(ATTR_CLOCK_DRIFT_S)


async def test_refused_credentials_show_authentication_failed_and_are_not_retried_soon(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> None:
    LockedCamera.attempts = 0
    hub = await cityhub_hub(cityhub_config(config("locked")), Plugins.load(extra=[PLUGIN]))
    await wait_for_state(hub, "cam", CameraState.ERROR, timeout=10)
    status = hub.states.get("cam")
    assert status is not None
    assert status.reason is not None
    assert status.reason.startswith("authentication failed: 10.0.0.9 refused user")
    assert "(retry in 300 s)" in status.reason
    # The normal backoff would have retried at 1 s and 2 s: over 3.5 s there is one attempt.
    await asyncio.sleep(3.5)
    assert LockedCamera.attempts == 1
    assert hub.states.get("cam") == status


async def test_clock_drift_is_published_and_alarmed_once_while_it_lasts(
    cityhub_config: Callable[..., Path],
    cityhub_hub: HubFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cameras, "CLOCK_CHECK_INTERVAL_S", 0.2)
    DriftingCamera.offset, DriftingCamera.reads = 0.0, 0
    hub = await cityhub_hub(cityhub_config(config("drifting")), Plugins.load(extra=[PLUGIN]))
    alarms: list[Event] = []
    hub.bus.subscribe(EVENT_CAMERA_CLOCK_DRIFT, alarms.append)
    await wait_until(lambda: drift_of(hub) is not None)
    drift = drift_of(hub)
    assert drift is not None
    assert abs(drift) < 0.5

    DriftingCamera.offset = 120.0
    await wait_until(lambda: (drift_of(hub) or 0.0) > 100)
    assert drift_of(hub) == pytest.approx(120.0, abs=0.5)
    reads = DriftingCamera.reads
    await wait_until(lambda: DriftingCamera.reads >= reads + 3)
    assert len(alarms) == 1, "one alarm while the drift lasts, not one per check"
    assert alarms[0].data["camera_id"] == "cam"
    assert alarms[0].data["drift_s"] == pytest.approx(120.0, abs=0.5)
    assert alarms[0].data["threshold_s"] == 5.0

    DriftingCamera.offset = -30.0
    await wait_until(lambda: (drift_of(hub) or 0.0) < -25)
    DriftingCamera.offset = 0.0
    await wait_until(lambda: drift_of(hub) is not None and abs(drift_of(hub) or 0.0) < 0.5)
    DriftingCamera.offset = -60.0
    await wait_until(lambda: len(alarms) == 2)
    assert alarms[1].data["drift_s"] == pytest.approx(-60.0, abs=0.5)
