"""The wall through a real hub: monitor windows on real WebSockets, pushes, alarms, scope, audit."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cityhub.api import Context
from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.services import ServiceValidationError
from cityhub.testing.api import ApiClient, ApiResponseError, add_account
from cityhub.testing.hub import HubFactory
from cityhub.wall import WallRefusedError


def config() -> dict[str, Any]:
    cameras: list[dict[str, Any]] = [
        {"id": cid, "name": cid, "driver": "virtual", "zone": zone, "recording": False,
         "enabled": False}
        for cid, zone in (("mairie", "centre"), ("parvis", "centre"), ("quai-1", "gare"))
    ]  # fmt: skip
    return {
        "hub": {"name": "Test town", "data_dir": "data"},
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}, {"id": "gare", "name": "Gare"}],
        "cameras": cameras,
    }


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    hub = await cityhub_hub(cityhub_config(config()))
    await add_account(hub, "j.martin", Role.OPERATOR, zones=["centre"])
    await add_account(hub, "chef.dupont", Role.SUPERVISOR)
    return hub


class Window:
    """A wall WebSocket as a panel window holds it, with what it received by type."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.messages: list[dict[str, Any]] = []

    async def next(self, kind: str, timeout: float = 10) -> dict[str, Any]:
        """The next message of type ``kind`` (others are kept in ``messages``)."""
        async with asyncio.timeout(timeout):
            while True:
                message = await self.ws.receive()
                assert message.type is aiohttp.WSMsgType.TEXT, message
                data: dict[str, Any] = json.loads(message.data)
                self.messages.append(data)
                if data["type"] == kind:
                    return data

    async def nothing(self, seconds: float = 0.3) -> None:
        """Nothing arrives for ``seconds``."""
        try:
            message = await self.ws.receive(timeout=seconds)
        except TimeoutError:
            return
        pytest.fail(f"unexpected {message.data}")


@asynccontextmanager
async def window(api: ApiClient, monitor: str | None = None) -> AsyncIterator[Window]:
    url = api.base_url.replace("http", "ws", 1) + "/api/wall"
    if monitor:
        url += f"?monitor={monitor}"
    async with api.session.ws_connect(url) as ws:
        yield Window(ws)


async def test_a_camera_and_a_layout_reach_the_users_own_monitor_and_nothing_out_of_scope(
    hub: Hub,
) -> None:
    assert hub.http_url is not None
    async with ApiClient(hub.http_url) as api, ApiClient(hub.http_url) as chef:
        await api.login("j.martin")
        await chef.login("chef.dupont")
        async with window(api) as console, window(api, "mur-1") as monitor:
            # The console learns which monitor windows its account has open.
            while (await console.next("monitors"))["open"] != ["mur-1"]:
                pass
            async with window(chef, "mur-1") as other_users_monitor:
                await other_users_monitor.next("monitors")
                answer = await api.post_json(
                    "/api/wall/show", {"monitor": "mur-1", "camera_id": "mairie", "tile": 2}
                )
                assert answer == {"monitor": "mur-1", "windows": 1}
                shown = await monitor.next("show")
                assert (shown["camera_id"], shown["tile"], shown["by"]) == (
                    "mairie", 2, "user:j.martin"
                )  # fmt: skip
                # Another account's window of the same name gets nothing from j.martin.
                await other_users_monitor.nothing()
            # Out of the operator's zones: refused, and nothing is pushed.
            with pytest.raises(ApiResponseError) as refused:
                await api.post_json("/api/wall/show", {"monitor": "mur-1", "camera_id": "quai-1"})
            assert (refused.value.status, refused.value.code) == (403, "forbidden")
            with pytest.raises(ApiResponseError) as refused:
                await api.post_json("/api/wall/show", {"monitor": "mur-2", "camera_id": "mairie"})
            assert refused.value.code == "no_monitor"
            assert "open it first" in refused.value.message
            with pytest.raises(ApiResponseError) as refused:
                await api.post_json("/api/wall/show", {"monitor": "mur-1", "camera_id": "nope"})
            assert refused.value.status == 400
            with pytest.raises(ApiResponseError) as refused:
                await api.post_json("/api/wall/show", {"monitor": "mur 1", "camera_id": "mairie"})
            assert "monitor name" in refused.value.message
            await monitor.nothing()
            # A saved layout travels whole.
            layout = {"grid": 4, "tiles": ["mairie", None, "parvis", None]}
            await api.request("PUT", "/api/layouts/Nuit", {"layout": layout})
            await api.post_json("/api/wall/show", {"monitor": "mur-1", "layout": "Nuit"})
            shown = await monitor.next("show")
            assert (shown["layout"], shown["layout_name"]) == (layout, "Nuit")
            with pytest.raises(ApiResponseError) as refused:
                await api.post_json("/api/wall/show", {"monitor": "mur-1", "layout": "Jour"})
            assert refused.value.code == "unknown_layout"
        # Closing the monitor window tells the account's other windows.
        async with window(api) as console:
            assert (await console.next("monitors"))["open"] == []
        # Every push is in the audit log with who made it, refused attempts too (those the
        # schema turned away never reached the service).
        assert hub.audit is not None
        await hub.audit.async_flush()
        entries = await chef.get_json("/api/audit?action=wall.show")
        assert [(e["actor"], e["camera_id"]) for e in entries] == [
            ("user:j.martin", "mairie"),
            ("user:j.martin", "quai-1"),
            ("user:j.martin", "mairie"),
            ("user:j.martin", None),
            ("user:j.martin", None),
        ]


async def test_alarms_reach_the_windows_in_scope_by_priority_and_can_be_dismissed(
    hub: Hub,
) -> None:
    assert hub.http_url is not None
    automation = Context(automation="mouvement-gare")
    async with ApiClient(hub.http_url) as api, ApiClient(hub.http_url) as chef:
        await api.login("j.martin")
        await chef.login("chef.dupont")
        async with window(api) as operator, window(chef) as supervisor:
            assert (await operator.next("alarms"))["alarms"] == []
            await supervisor.next("alarms")
            await hub.services.async_call(
                "wall", "alarm", {"camera_id": "quai-1", "priority": 5, "reason": "intrusion"},
                automation,
            )  # fmt: skip
            await hub.services.async_call(
                "wall", "alarm", {"camera_id": "mairie", "priority": 2, "reason": "motion"},
                automation,
            )  # fmt: skip
            # The operator of the centre never hears of the station's alarm.
            assert (await operator.next("alarms"))["alarms"] == []
            seen = (await operator.next("alarms"))["alarms"]
            assert [(a["camera_id"], a["reason"], a["raised_by"]) for a in seen] == [
                ("mairie", "motion", "automation:mouvement-gare")
            ]
            await supervisor.next("alarms")
            everything = (await supervisor.next("alarms"))["alarms"]
            assert [(a["camera_id"], a["priority"]) for a in everything] == [
                ("quai-1", 5), ("mairie", 2)
            ]  # fmt: skip
            station = everything[0]["id"]
            with pytest.raises(ApiResponseError) as refused:
                await api.post_json(f"/api/wall/alarms/{station}/dismiss")
            assert refused.value.status == 403
            await api.post_json(f"/api/wall/alarms/{seen[0]['id']}/dismiss")
            assert (await operator.next("alarms"))["alarms"] == []
            left = (await supervisor.next("alarms"))["alarms"]
            assert [a["camera_id"] for a in left] == ["quai-1"]
            with pytest.raises(ApiResponseError) as refused:
                await api.post_json(f"/api/wall/alarms/{seen[0]['id']}/dismiss")
            assert refused.value.status == 404
    with pytest.raises(ServiceValidationError, match="priority"):
        await hub.services.async_call("wall", "alarm", {"camera_id": "mairie", "priority": 0})
    # An automation reaches only monitors declared in the configuration (none here).
    with pytest.raises(WallRefusedError, match=r"wall\.monitors"):
        await hub.services.async_call(
            "wall", "show", {"monitor": "mur-1", "camera_id": "mairie"}, automation
        )
    assert hub.audit is not None
    await hub.audit.async_flush()
    async with ApiClient(hub.http_url) as chef:
        await chef.login("chef.dupont")
        raised = await chef.get_json("/api/audit?action=wall.alarm")
        assert [(e["actor"], e["camera_id"]) for e in raised] == [
            ("automation:mouvement-gare", "quai-1"),
            ("automation:mouvement-gare", "mairie"),
        ]
        dismissed = await chef.get_json("/api/audit?action=wall.dismiss")
        assert [e["actor"] for e in dismissed] == ["user:j.martin"] * 3


async def test_a_layout_s_tiles_are_checked_sequences_and_alarm_tiles_included(hub: Hub) -> None:
    assert hub.http_url is not None
    good = {"grid": 4, "tiles": [
        {"camera": "mairie", "sequence": {"cameras": ["mairie", "parvis"], "dwell": 5},
         "alarm": True},
        "parvis", None, {"camera": None, "alarm": True, "stream": "sub"},
    ]}  # fmt: skip
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        await api.request("PUT", "/api/layouts/Ronde", {"layout": good})
        assert (await api.get_json("/api/layouts"))[0]["layout"] == good
        for tiles, message in (
            ([{"sequence": {"cameras": ["mairie"], "dwell": 1}}],
             "tiles.0.sequence.dwell: a sequence shows each camera 2 to 3600 s"),
            ([{"sequence": {"cameras": [], "dwell": 5}}], "tiles.0.sequence.cameras"),
            ([{"sequence": {"dwell": 5}}], "tiles.0.sequence.cameras: required key not provided"),
            ([{"alarm": "yes"}], "tiles.0.alarm"),
            ([None, 3], "tiles.1: a tile is null, a camera id, or {camera, stream, sequence,"),
            ([None] * 50, "tiles"),
        ):  # fmt: skip
            with pytest.raises(ApiResponseError) as refused:
                await api.request("PUT", "/api/layouts/Mauvaise", {"layout": {"tiles": tiles}})
            assert refused.value.status == 400
            assert refused.value.message.startswith(f"layout: {message}"), refused.value.message
        assert [x["name"] for x in await api.get_json("/api/layouts")] == ["Ronde"]
