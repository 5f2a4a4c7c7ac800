"""The wall's configuration (``wall: {monitors: [...]}``) and the pushes of automations to the
declared monitors, through a real hub and real wall WebSockets."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cityhub.api import Context
from cityhub.auth.roles import Role
from cityhub.config import ConfigError, load_config
from cityhub.hub import Hub
from cityhub.model import WallSettings
from cityhub.plugins import Plugins
from cityhub.testing.api import ApiClient, add_account
from cityhub.testing.hub import HubFactory
from cityhub.wall import MAX_ALARMS, WallRefusedError


def load(tmp_path: Path, text: str) -> Any:
    (tmp_path / "cityhub.yaml").write_text(text, encoding="utf-8")
    plugins = Plugins.load()  # the built-in storage backend is a plugin too
    return load_config(
        tmp_path,
        camera_drivers=plugins.camera_drivers,
        storage_backends=plugins.storage_backends,
        notifiers=plugins.notifiers,
    )


def issues(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return [issue.format(tmp_path) for issue in caught.value.issues]


def test_the_wall_section_declares_monitors_and_names_its_mistakes(tmp_path: Path) -> None:
    assert load(tmp_path, "hub: {name: Ville}\n").wall == WallSettings()
    config = load(tmp_path, "wall:\n  monitors: [mur-1, salle.2]\n")
    assert config.wall == WallSettings(monitors=("mur-1", "salle.2"))
    assert issues(tmp_path, "wall:\n  monitors: [mur-1, 'mur 2']\n") == [
        "cityhub.yaml:2: wall.monitors: 'mur 2' is not a valid monitor name (letters, digits, "
        "'_', '.', '-', at most 40, starting with a letter or digit: it goes in the window's "
        "address)"
    ]
    assert issues(tmp_path, "wall:\n  monitors: [mur-1, mur-1]\n") == [
        "cityhub.yaml:2: wall.monitors: monitor 'mur-1' is declared twice"
    ]
    assert issues(tmp_path, "wall:\n  screens: [mur-1]\n")[0].startswith(
        "cityhub.yaml:2: wall.screens: unknown key 'screens'"
    )


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    config = {
        "hub": {"name": "Test town", "data_dir": "data"},
        "http": {"host": "127.0.0.1", "port": 0},
        "wall": {"monitors": ["mur-1"]},
        "zones": [{"id": "centre", "name": "Centre"}, {"id": "gare", "name": "Gare"}],
        "cameras": [
            {"id": "mairie", "name": "Mairie", "driver": "virtual", "zone": "centre",
             "enabled": False},
            {"id": "quai-1", "name": "Quai 1", "driver": "virtual", "zone": "gare",
             "enabled": False},
        ],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    await add_account(hub, "agent.gare", Role.OPERATOR, zones=["gare"])
    await add_account(hub, "chef.dupont", Role.SUPERVISOR)
    return hub


async def shows(ws: aiohttp.ClientWebSocketResponse, seconds: float = 0.5) -> list[Any]:
    """The pushes a window receives within ``seconds`` (other messages left out)."""
    found: list[Any] = []
    loop = asyncio.get_running_loop()
    until = loop.time() + seconds
    while (left := until - loop.time()) > 0:
        try:
            message = await ws.receive(timeout=left)
        except TimeoutError:
            break
        data = json.loads(message.data)
        if data["type"] == "show":
            found.append(data.get("camera_id") or data.get("layout_name"))
    return found


async def test_an_automation_pushes_to_every_declared_monitor_window_within_its_scope(
    hub: Hub,
) -> None:
    assert hub.http_url is not None
    assert hub.wall is not None
    automation = Context(automation="ronde-nuit")
    url = hub.http_url.replace("http", "ws", 1) + "/api/wall?monitor=mur-1"
    async with ApiClient(hub.http_url) as gare, ApiClient(hub.http_url) as chef:
        await gare.login("agent.gare")
        await chef.login("chef.dupont")
        # A shared layout (supervisors share) is what an automation may push.
        await chef.request("PUT", "/api/layouts/Nuit", {"layout": {"grid": 1, "tiles": ["quai-1"]},
                                                         "shared": True})  # fmt: skip
        await chef.request("PUT", "/api/layouts/Perso", {"layout": {"grid": 1, "tiles": []}})
        async with gare.session.ws_connect(url) as gare_ws, chef.session.ws_connect(url) as chef_ws:
            while (
                len(hub.wall.open_monitors("chef.dupont"))
                + len(hub.wall.open_monitors("agent.gare"))
                < 2
            ):
                await asyncio.sleep(0.02)
            centre = await hub.services.async_call(
                "wall", "show", {"monitor": "mur-1", "camera_id": "mairie"}, automation
            )
            assert centre == {"monitor": "mur-1", "windows": 1}  # the station's agent: not his
            station = await hub.services.async_call(
                "wall", "show", {"monitor": "mur-1", "camera_id": "quai-1"}, automation
            )
            assert station == {"monitor": "mur-1", "windows": 2}
            await hub.services.async_call(
                "wall", "show", {"monitor": "mur-1", "layout": "Nuit"}, automation
            )
            assert await shows(chef_ws) == ["mairie", "quai-1", "Nuit"]
            assert await shows(gare_ws) == ["quai-1", "Nuit"]
            with pytest.raises(WallRefusedError, match="no saved layout 'Perso'"):
                await hub.services.async_call(
                    "wall", "show", {"monitor": "mur-1", "layout": "Perso"}, automation
                )


async def test_pending_alarms_are_ranked_and_bounded(hub: Hub) -> None:
    assert hub.wall is not None
    context = Context(automation="test")
    for n in range(MAX_ALARMS + 5):
        await hub.wall.async_alarm("mairie", 1 + n % 3, f"alarm {n}", context)
    top = await hub.wall.async_alarm("quai-1", 50, "top", context)
    alarms = hub.wall.alarms()
    assert len(alarms) == MAX_ALARMS
    assert alarms[0] == top
    priorities = [a.priority for a in alarms]
    assert priorities == sorted(priorities, reverse=True)
    # Among equals, the newest first; the lowest, oldest ones were dropped.
    threes = [a.id for a in alarms if a.priority == 3]
    assert threes == sorted(threes, reverse=True)
    assert min(a.priority for a in alarms) == 1
    assert all(a.id > 3 for a in alarms if a.priority == 1)
    with pytest.raises(WallRefusedError, match="no camera 'nulle-part'"):
        await hub.wall.async_alarm("nulle-part", 1, "", context)
