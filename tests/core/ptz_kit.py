"""A PTZ dome for the PTZ and audit tests, and helpers to start a hub around it.

``DomeDriver`` is a test double of a PTZ camera: it records every call the core makes and
keeps a position, in memory. It stands in for the device because no PTZ camera can run here;
the ONVIF simulator of ``cityhub.testing`` (built separately) will let an end-to-end test
drive the ONVIF plugin through these same services.
"""

from __future__ import annotations

import asyncio
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

import voluptuous as vol

from cityhub.api import CameraDriver, NotReadyError, Preset, PTZPosition, hookimpl
from cityhub.bus import Event
from cityhub.hub import Hub
from cityhub.plugins import Plugins
from cityhub.testing.hub import HubFactory

PRESETS = {
    "1": (Preset("1", "parvis"), PTZPosition(0.1, 0.0, 0.0)),
    "2": (Preset("2", "rue"), PTZPosition(0.5, -0.2, 0.3)),
    "3": (Preset("3", "gare"), PTZPosition(-0.6, 0.1, 0.0)),
}


class DomeDriver(CameraDriver):
    """Test double of a PTZ dome (see the module docstring): records calls, keeps a position."""

    NAME = "dome"
    CONFIG_SCHEMA = vol.Schema(
        {
            vol.Optional("offline", default=False): bool,
            vol.Optional("fail_stops", default=0): int,
            vol.Optional("hang_goto", default=False): bool,
        }
    )
    instances: ClassVar[dict[str, DomeDriver]] = {}

    def __init__(self, host: Any, options: Any) -> None:
        super().__init__(host, options)
        self.calls: list[tuple[Any, ...]] = []
        self.presets = {token: preset for token, (preset, _) in PRESETS.items()}
        self.positions = {token: position for token, (_, position) in PRESETS.items()}
        self.position = PTZPosition(0.0, 0.0, 0.0)
        self.velocity: tuple[float, float, float] | None = None

    async def async_setup(self) -> None:
        if self.options["offline"]:
            raise NotReadyError("no route to host")
        DomeDriver.instances[self.host.camera.id] = self

    def commands(self, *names: str) -> list[tuple[Any, ...]]:
        """The calls named ``names`` (all calls when none), in order."""
        return [c for c in self.calls if not names or c[0] in names]

    async def async_ptz_move(self, pan: float, tilt: float, zoom: float) -> None:
        self.calls.append(("move", pan, tilt, zoom))
        self.velocity = (pan, tilt, zoom)

    async def async_ptz_stop(self) -> None:
        self.calls.append(("stop",))
        if len(self.commands("stop")) <= self.options["fail_stops"]:
            raise OSError("connection reset by peer")
        self.velocity = None

    async def async_ptz_presets(self) -> list[Preset]:
        return list(self.presets.values())

    async def async_ptz_goto_preset(self, token: str) -> None:
        self.calls.append(("goto", token))
        if self.options["hang_goto"]:
            await asyncio.Event().wait()  # a device that never answers
        self.position = self.positions[token]

    async def async_ptz_set_preset(self, name: str, token: str | None = None) -> Preset:
        token = token or str(len(self.presets) + 1)
        self.calls.append(("set_preset", name, token))
        self.presets[token] = Preset(token, name)
        self.positions[token] = self.position
        return self.presets[token]

    async def async_ptz_remove_preset(self, token: str) -> None:
        self.calls.append(("remove_preset", token))
        del self.presets[token]

    async def async_ptz_home(self) -> None:
        self.calls.append(("home",))
        self.position = PTZPosition(0.0, 0.0, 0.0)

    async def async_ptz_position(self) -> PTZPosition:
        return self.position

    async def async_ptz_absolute_move(self, pan: float, tilt: float, zoom: float) -> None:
        self.calls.append(("absolute", pan, tilt, zoom))
        self.position = PTZPosition(pan, tilt, zoom)

    async def async_ptz_relative_move(self, pan: float, tilt: float, zoom: float) -> None:
        self.calls.append(("relative", pan, tilt, zoom))
        p = self.position
        self.position = PTZPosition(p.pan + pan, p.tilt + tilt, p.zoom + zoom)


class FixedDriver(CameraDriver):
    """A camera without PTZ (no capability at all: enough to be refused)."""

    NAME = "fixedcam"


@hookimpl
def cityhub_camera_drivers() -> list[type[CameraDriver]]:
    return [DomeDriver, FixedDriver]


PLUGIN = types.ModuleType("ptz_test_plugin")
PLUGIN.cityhub_camera_drivers = cityhub_camera_drivers  # type: ignore[attr-defined]


def dome(camera_id: str = "dome", **ptz: Any) -> dict[str, Any]:
    """A dome camera's configuration, with ``ptz:`` keys."""
    camera: dict[str, Any] = {
        "id": camera_id,
        "name": f"Dome {camera_id}",
        "kind": "ptz",
        "driver": "dome",
        "zone": "centre",
        "recording": False,
    }
    if ptz:
        camera["ptz"] = ptz
    return camera


def hub_config(*cameras: dict[str, Any], **ptz: Any) -> dict[str, Any]:
    """A hub configuration holding ``cameras`` (and a top-level ``ptz:`` section)."""
    config: dict[str, Any] = {
        "hub": {"name": "Test town", "data_dir": "data"},
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": list(cameras),
    }
    if ptz:
        config["ptz"] = ptz
    return config


async def wait_until(
    condition: Callable[[], Any], timeout: float = 10.0, what: str = "condition"
) -> Any:
    """Poll ``condition`` until it is truthy; returns its value or raises ``TimeoutError``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = condition()
        if value:
            return value
        if loop.time() >= deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def start_hub(
    cityhub_hub: HubFactory, config_dir: Path, *ready: str
) -> tuple[Hub, list[Event]]:
    """Start a hub with the dome plugin; wait for the ``ready`` cameras' drivers.

    Returns the hub and a list collecting every ``ptz.*`` event.
    """
    for camera_id in ready:
        DomeDriver.instances.pop(camera_id, None)
    hub = await cityhub_hub(config_dir, Plugins.load(extra=[PLUGIN]))
    events: list[Event] = []
    hub.bus.subscribe("ptz.*", events.append)
    for camera_id in ready:
        await wait_until(
            lambda c=camera_id: hub.cameras[c].driver is not None, what=f"{camera_id} set up"
        )
    return hub, events


def driver(camera_id: str = "dome") -> DomeDriver:
    """The dome driver the hub set up for ``camera_id``."""
    return DomeDriver.instances[camera_id]
