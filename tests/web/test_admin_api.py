"""Administration through the API: accounts (admins) and the audit log (supervisors, admins)."""

from __future__ import annotations

import csv
import io
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
    config: dict[str, Any] = {
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": [],
    }
    hub = await cityhub_hub(cityhub_config(config))
    await add_account(hub, "chef.admin", Role.ADMIN)
    await add_account(hub, "chef.dupont", Role.SUPERVISOR)
    await add_account(hub, "j.martin", Role.OPERATOR)
    return hub


async def test_an_admin_manages_accounts_and_their_sessions_follow(hub: Hub) -> None:
    assert hub.http_url is not None
    async with ApiClient(hub.http_url) as admin, ApiClient(hub.http_url) as agent:
        await admin.login("chef.admin")
        created = await admin.post_json(
            "/api/users",
            {"name": "n.petit", "role": "operator", "zones": ["centre"],
             "display_name": "Nadia Petit",
             "habilitation": {"reference": "Arrêté 2026-201", "granted": "2026-01-01",
                              "expires": "2027-12-31"}},
        )  # fmt: skip
        one_time = created["one_time_password"]
        assert created["habilitation"]["reference"] == "Arrêté 2026-201"
        me = await agent.login("n.petit", one_time)
        assert me["must_change_password"]
        names = [u["name"] for u in await admin.get_json("/api/users")]
        assert "n.petit" in names
        assert "password_hash" not in str(await admin.get_json("/api/users"))

        with pytest.raises(ApiResponseError) as bad_role:
            await admin.post_json("/api/users", {"name": "x.y", "role": "chief"})
        assert bad_role.value.status == 400
        with pytest.raises(ApiResponseError) as twice:
            await admin.post_json("/api/users", {"name": "n.petit", "role": "viewer"})
        assert twice.value.status == 409

        reset = await admin.request("PATCH", "/api/users/n.petit", {"reset_password": True})
        assert reset["one_time_password"] not in (None, one_time)
        assert reset["sessions_ended"] == 1
        with pytest.raises(ApiResponseError) as ended:
            await agent.get_json("/api/auth/me")
        assert ended.value.status == 401
        await agent.login("n.petit", reset["one_time_password"])
        disabled = await admin.request("PATCH", "/api/users/n.petit", {"disabled": True})
        assert disabled["disabled"] is True
        with pytest.raises(ApiResponseError):
            await agent.get_json("/api/auth/me")
        with pytest.raises(ApiResponseError) as unknown:
            await admin.request("PATCH", "/api/users/nobody", {"role": "viewer"})
        assert unknown.value.status == 404


async def test_the_audit_log_is_for_supervisors_and_admins_and_its_reading_is_audited(
    hub: Hub,
) -> None:
    assert hub.http_url is not None
    async with ApiClient(hub.http_url) as operator:
        await operator.login("j.martin")
        for path in ("/api/audit", "/api/users", "/api/audit/verify"):
            with pytest.raises(ApiResponseError) as refused:
                await operator.get_json(path)
            assert refused.value.status == 403, path
    async with ApiClient(hub.http_url) as supervisor:
        await supervisor.login("chef.dupont")
        with pytest.raises(ApiResponseError):
            await supervisor.get_json("/api/users")  # accounts are for admins
        assert hub.audit is not None
        await hub.audit.async_flush()
        logins = await supervisor.get_json("/api/audit?action=auth.login")
        assert [e["actor"] for e in logins] == ["user:j.martin", "user:chef.dupont"]
        assert logins[0]["client"] == "127.0.0.1"
        verified = await supervisor.get_json("/api/audit/verify")
        assert verified["ok"] is True
        assert verified["checked"] >= 5
        async with supervisor.session.get(f"{hub.http_url}/api/audit/export.csv") as response:
            rows = list(csv.DictReader(io.StringIO(await response.text())))
        assert {"seq", "actor", "action", "hash", "prev_hash"} <= set(rows[0])
        assert rows[0]["prev_hash"] == "0" * 64
    await hub.audit.async_flush()
    reads = [e.actor for e in await hub.audit.log.entries(action="audit.*")]
    assert reads == ["user:chef.dupont", "user:chef.dupont"]  # one read, one export


async def test_discovered_devices_are_for_admins(hub: Hub) -> None:
    """The list only: a scan multicasts, so it is tested inside namespaces (tests/discovery)."""
    assert hub.http_url is not None
    async with ApiClient(hub.http_url) as admin, ApiClient(hub.http_url) as supervisor:
        await admin.login("chef.admin")
        await supervisor.login("chef.dupont")
        assert await admin.get_json("/api/discovery") == {"scanned_at": None, "devices": []}
        with pytest.raises(ApiResponseError) as refused:
            await supervisor.post_json("/api/discovery/scan", {"timeout": 1})
        assert refused.value.status == 403
        with pytest.raises(ApiResponseError) as invalid:
            await admin.post_json("/api/discovery/scan", {"timeout": "soon"})
        assert invalid.value.status == 400
