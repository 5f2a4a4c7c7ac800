"""Saved layouts through the API: one's own, shared ones for supervisors, limits."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.testing.api import ApiClient, ApiResponseError, add_account
from cityhub.testing.hub import HubFactory

WALL = {"grid": 4, "tiles": [{"camera": "mairie", "stream": "sub"}, None, None, None]}


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    config: dict[str, Any] = {"http": {"host": "127.0.0.1", "port": 0}, "cameras": []}
    hub = await cityhub_hub(cityhub_config(config))
    await add_account(hub, "j.martin", Role.OPERATOR)
    await add_account(hub, "p.leroy", Role.OPERATOR)
    await add_account(hub, "chef.dupont", Role.SUPERVISOR)
    return hub


async def test_own_and_shared_layouts(hub: Hub) -> None:
    assert hub.http_url is not None
    async with (
        ApiClient(hub.http_url) as julie,
        ApiClient(hub.http_url) as paul,
        ApiClient(hub.http_url) as chef,
    ):
        await julie.login("j.martin")
        await paul.login("p.leroy")
        await chef.login("chef.dupont")
        await julie.request("PUT", "/api/layouts/Nuit", {"layout": WALL})
        await julie.request("PUT", "/api/layouts/Nuit", {"layout": {**WALL, "grid": 9}})
        mine = await julie.get_json("/api/layouts")
        assert [(x["name"], x["shared"], x["layout"]["grid"]) for x in mine] == [("Nuit", False, 9)]
        assert await paul.get_json("/api/layouts") == []  # another operator's are private
        with pytest.raises(ApiResponseError) as no_share:
            await julie.request("PUT", "/api/layouts/Marché", {"layout": WALL, "shared": True})
        assert no_share.value.status == 403
        await chef.request("PUT", "/api/layouts/Marché", {"layout": WALL, "shared": True})
        names = [(x["name"], x["shared"]) for x in await paul.get_json("/api/layouts")]
        assert names == [("Marché", True)]
        big = {"grid": 1, "notes": "x" * 70_000}
        with pytest.raises(ApiResponseError) as too_big:
            await julie.request("PUT", "/api/layouts/Gros", {"layout": big})
        assert too_big.value.status == 413
        with pytest.raises(ApiResponseError) as not_object:
            await julie.request("PUT", "/api/layouts/Vide", {"layout": [1, 2]})
        assert not_object.value.status == 400
        await julie.request("DELETE", "/api/layouts/Nuit")
        with pytest.raises(ApiResponseError) as gone:
            await julie.request("DELETE", "/api/layouts/Nuit")
        assert gone.value.status == 404
        assert [x["name"] for x in await julie.get_json("/api/layouts")] == ["Marché"]
