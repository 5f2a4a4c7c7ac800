"""The hub end to end: staged start, cameras online, a crashing driver isolated, clean stop."""

from __future__ import annotations

import asyncio
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import voluptuous as vol

from cityhub.api import (
    CameraDriver,
    CameraState,
    MediaPacket,
    Notification,
    Notifier,
    StreamError,
    StreamInfo,
    StreamProfile,
    hookimpl,
)
from cityhub.auth.roles import Role
from cityhub.const import EVENT_CAMERA_STATE_CHANGED
from cityhub.db import Database
from cityhub.hub import Hub
from cityhub.plugins import Plugins
from cityhub.testing.api import ApiClient, add_account
from cityhub.testing.hub import HubFactory, wait_for_state

INFO = StreamInfo(codec="h264", width=64, height=64, fps=25.0, time_base=(1, 25))


class CrashingReader:
    """Yields a few packets then raises a plain bug (not a StreamError), like a broken driver."""

    opened = 0

    def __init__(self) -> None:
        CrashingReader.opened += 1
        self._dts = 0
        self._closed = threading.Event()

    @property
    def info(self) -> StreamInfo:
        return INFO

    def read(self) -> MediaPacket:
        if self._closed.wait(0.04):
            raise StreamError("closed")
        self._dts += 1
        if self._dts > 3:
            raise KeyError("driver bug in stream loop")
        return MediaPacket(b"\x00", self._dts, self._dts, self._dts == 1, time.time())

    def close(self) -> None:
        self._closed.set()


class CrashingCamera(CameraDriver):
    """A driver whose stream loop raises after three packets, every time."""

    NAME = "crashing"

    def stream_profiles(self) -> list[StreamProfile]:
        return [StreamProfile("main")]

    def open_stream(self, profile: str) -> CrashingReader:
        return CrashingReader()


class Recorder(Notifier):
    """A notifier that keeps what it was asked to send (stand-in for a mail gateway)."""

    NAME = "memory"
    CONFIG_SCHEMA = vol.Schema({vol.Required("box"): str})
    sent: list[Notification] = []

    async def async_send(self, notification: Notification) -> None:
        Recorder.sent.append(notification)


@hookimpl
def cityhub_camera_drivers() -> list[type[CameraDriver]]:
    return [CrashingCamera]


@hookimpl
def cityhub_notifiers() -> list[type[Notifier]]:
    return [Recorder]


TEST_PLUGIN = types.ModuleType("test_hub_plugin")
for _name in ("cityhub_camera_drivers", "cityhub_notifiers"):
    setattr(TEST_PLUGIN, _name, globals()[_name])


def demo_like_config(extra_cameras: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    cameras: list[dict[str, Any]] = [
        {
            "id": f"virt-{i}",
            "name": f"Virtual {i}",
            "driver": "virtual",
            "zone": "centre" if i < 2 else "gare",
            "options": {"mode": "loop", "width": 160, "height": 96, "fps": 10},
        }
        for i in range(4)
    ]
    return {
        "hub": {"name": "Test town", "data_dir": "data"},
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}, {"id": "gare", "name": "Gare"}],
        "cameras": cameras + (extra_cameras or []),
        "notifiers": [{"id": "ops", "type": "memory", "options": {"box": "ops"}}],
    }


@pytest.fixture
def plugins() -> Plugins:
    return Plugins.load(extra=[TEST_PLUGIN])


async def get_health(hub: Hub) -> dict[str, Any]:
    assert hub.http_url is not None
    if hub.users is not None and "watch" not in {u.name for u in await hub.users.all()}:
        await add_account(hub, "watch", Role.VIEWER)
    async with ApiClient(hub.http_url) as api:
        await api.login("watch")
        return dict(await api.get_json("/api/health"))


async def test_hub_runs_cameras_and_isolates_a_crashing_driver(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory, plugins: Plugins
) -> None:
    crashing = {"id": "bad-1", "name": "Broken", "driver": "crashing", "zone": "gare"}
    config_dir = cityhub_config(demo_like_config([crashing]))
    CrashingReader.opened = 0
    hub = await cityhub_hub(config_dir, plugins)
    transitions: list[tuple[str, str, str | None]] = []
    hub.bus.subscribe(
        EVENT_CAMERA_STATE_CHANGED,
        lambda e: transitions.append(
            (e.data["camera_id"], e.data["new_state"].state.value, e.data["new_state"].reason)
        ),
    )

    for i in range(4):
        await wait_for_state(hub, f"virt-{i}", CameraState.ONLINE, timeout=10)

    # The crashing driver is reopened with growing delays (1 s, then about 2 s) ...
    deadline = asyncio.get_running_loop().time() + 8
    while CrashingReader.opened < 3 and asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(0.1)
    assert CrashingReader.opened >= 3
    bad = [(state, reason) for cam, state, reason in transitions if cam == "bad-1"]
    assert ("online", None) in bad
    assert ("error", "KeyError: 'driver bug in stream loop'") in bad

    # ... while the others keep streaming and the health endpoint keeps answering.
    health = await get_health(hub)
    states = {c["id"]: c for c in health["cameras"]}
    assert [states[f"virt-{i}"]["state"] for i in range(4)] == ["online"] * 4
    assert states["virt-0"]["streams"]["main"]["packets"] > 0
    assert states["bad-1"]["streams"]["main"]["reconnects"] >= 2
    assert health["hub"] == "Test town"


async def test_services_notify_and_camera_restart(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory, plugins: Plugins
) -> None:
    hub = await cityhub_hub(cityhub_config(demo_like_config()), plugins)
    Recorder.sent.clear()
    await hub.services.async_call("notify", "ops", {"title": "Test", "message": "hello"})
    assert [n.title for n in Recorder.sent] == ["Test"]

    await wait_for_state(hub, "virt-0", CameraState.ONLINE)
    await hub.services.async_call("camera", "restart", {"camera_id": "virt-0"})
    await wait_for_state(hub, "virt-0", CameraState.ONLINE)


async def test_events_are_written_to_the_database(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory, plugins: Plugins
) -> None:
    config_dir = cityhub_config(demo_like_config())
    hub = await cityhub_hub(config_dir, plugins)
    await wait_for_state(hub, "virt-1", CameraState.ONLINE)
    await cityhub_hub.async_stop_all()

    db = await Database.open(config_dir / "data" / "cityhub.db")
    try:
        rows = await db.fetchall(
            "SELECT event_type, camera_id FROM event_log WHERE camera_id = ? ORDER BY id",
            ("virt-1",),
        )
        cameras = await db.fetchall("SELECT id FROM cameras ORDER BY id")
    finally:
        await db.close()
    types_seen = [r[0] for r in rows]
    assert "camera.state_changed" in types_seen
    assert "camera.online" in types_seen
    assert [r[0] for r in cameras] == ["virt-0", "virt-1", "virt-2", "virt-3"]


async def test_busy_port_is_a_clear_start_error(
    cityhub_config: Callable[..., Path], plugins: Plugins
) -> None:
    from cityhub.hub import HubStartError

    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    config = demo_like_config()
    config["http"]["port"] = port
    hub = Hub.from_config_dir(cityhub_config(config), plugins)
    try:
        with pytest.raises(HubStartError, match=f"port {port} on 127.0.0.1 is already in use"):
            await hub.async_start()
        # every stage that had started was undone: cameras stopped, database closed
        assert hub.cameras
        for camera_id in hub.cameras:
            status = hub.states.get(camera_id)
            assert status is not None
            assert (status.state, status.reason) == (CameraState.OFFLINE, "stopped")
        assert hub.db is not None
        with pytest.raises(ValueError, match="no active connection"):
            await hub.db.fetchall("SELECT 1")
    finally:
        server.close()
        await server.wait_closed()
