"""The audit log read newest first, a page at a time, as the admin mode browses it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cityhub.auth.roles import Role
from cityhub.hub import Hub
from cityhub.testing.api import ApiClient, ApiResponseError, add_account
from cityhub.testing.hub import HubFactory


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> Hub:
    config: dict[str, Any] = {"http": {"host": "127.0.0.1", "port": 0}, "cameras": []}
    hub = await cityhub_hub(cityhub_config(config))
    await add_account(hub, "chef.dupont", Role.SUPERVISOR)
    await add_account(hub, "j.martin", Role.OPERATOR)
    return hub


async def test_pages_newest_first_follow_the_filters(hub: Hub) -> None:
    assert hub.http_url is not None
    assert hub.audit is not None
    for _ in range(3):
        async with ApiClient(hub.http_url) as agent:
            await agent.login("j.martin")
    async with ApiClient(hub.http_url) as supervisor:
        await supervisor.login("chef.dupont")
        await hub.audit.async_flush()
        everything = await supervisor.get_json("/api/audit")
        seqs = [e["seq"] for e in everything]
        assert seqs == sorted(seqs)

        logins = "/api/audit?order=newest&action=auth.login&actor=user:j.martin&limit=2"
        first = await supervisor.get_json(logins)
        assert len(first) == 2
        assert first[0]["seq"] > first[1]["seq"]
        assert {e["actor"] for e in first} == {"user:j.martin"}
        second = await supervisor.get_json(f"{logins}&before={first[-1]['seq']}")
        assert len(second) == 1
        assert second[0]["seq"] < first[-1]["seq"]
        assert await supervisor.get_json(f"{logins}&before={second[0]['seq']}") == []
        # Empty filters (as a form sends them) filter nothing.
        newest = [
            e["seq"]
            for e in await supervisor.get_json("/api/audit?order=newest&actor=&camera=&action=")
        ]
        assert newest == sorted(newest, reverse=True)
        assert set(seqs) <= set(newest)  # and the reads audited since
        for query, wrong in (("order=sideways", "order"), ("limit=0", "limit"),
                             ("limit=5000", "limit"), ("before=last", "before")):  # fmt: skip
            with pytest.raises(ApiResponseError) as refused:
                await supervisor.get_json(f"/api/audit?{query}")
            assert refused.value.status == 400
            assert wrong in refused.value.message
