"""The API's access rules on a real hub over real HTTP: sessions, CSRF, scope, refusals."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from cityhub.api import Context
from cityhub.auth.roles import Role
from cityhub.auth.totp import totp
from cityhub.auth.users import LOCKOUT_AFTER
from cityhub.hub import Hub
from cityhub.testing.api import TEST_PASSWORD, ApiClient, ApiResponseError, add_account
from cityhub.testing.hub import HubFactory


def config() -> dict[str, Any]:
    cameras = [
        {"id": cid, "name": cid, "driver": "virtual", "zone": zone, "enabled": False}
        for cid, zone in (("mairie", "centre"), ("parvis", "centre"), ("quai-1", "gare"))
    ]
    return {
        "hub": {"name": "Test town", "data_dir": "data"},
        "http": {"host": "127.0.0.1", "port": 0},
        "zones": [{"id": "centre", "name": "Centre"}, {"id": "gare", "name": "Gare"}],
        "cameras": cameras,
    }


@pytest.fixture
async def hub(cityhub_config: Callable[..., Path], cityhub_hub: HubFactory) -> AsyncIterator[Hub]:
    hub = await cityhub_hub(cityhub_config(config()))
    await add_account(hub, "j.martin", Role.OPERATOR, zones=["centre"])
    return hub


@pytest.fixture
async def raw(hub: Hub) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as session:
        yield session


async def test_every_api_route_but_login_needs_a_session(
    hub: Hub, raw: aiohttp.ClientSession
) -> None:
    for path in ("/api/health", "/api/openapi.json", "/api/auth/me"):
        async with raw.get(f"{hub.http_url}{path}") as r:
            assert r.status == 401
            assert (await r.json())["error"] == "login_required"
            assert r.headers["X-Frame-Options"] == "DENY"
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
            assert r.headers["Cache-Control"] == "no-store"
    async with raw.post(f"{hub.http_url}/api/auth/logout") as r:
        assert r.status == 401
    async with raw.get(f"{hub.http_url}/api/nothing-here") as r:
        assert r.status == 404
        assert (await r.json())["error"] == "not_found"


async def test_login_sets_a_strict_http_only_cookie_and_scopes_the_answers(hub: Hub) -> None:
    assert hub.http_url is not None
    async with ApiClient(hub.http_url) as api:
        with pytest.raises(ApiResponseError) as wrong:
            await api.login("j.martin", "not the password")
        assert (wrong.value.status, wrong.value.code) == (401, "login_failed")
        me = await api.login("j.martin")
        cookie = next(iter(api.session.cookie_jar))
        assert cookie.key == "cityhub_session"
        assert cookie["httponly"]
        assert cookie["samesite"] == "Strict"
        assert me["role"] == "operator"
        assert me["habilitated"]
        assert me["permissions"] == ["hold", "live", "logbook", "playback", "ptz"]
        health = await api.get_json("/api/health")
        # an operator of the centre sees the centre's cameras only
        assert [c["id"] for c in health["cameras"]] == ["mairie", "parvis"]


async def test_state_changes_need_the_csrf_token_and_the_same_origin(hub: Hub) -> None:
    assert hub.http_url is not None
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        token, api.csrf_token = api.csrf_token, None
        with pytest.raises(ApiResponseError) as missing:
            await api.post_json("/api/auth/logout")
        assert (missing.value.status, missing.value.code) == (403, "csrf")
        api.csrf_token = "forged"
        with pytest.raises(ApiResponseError):
            await api.post_json("/api/auth/logout")
        api.csrf_token = token
        headers = {"X-CSRF-Token": token or "", "Origin": "http://evil.example"}
        async with api.session.post(f"{hub.http_url}/api/auth/logout", headers=headers) as r:
            assert r.status == 403
            assert (await r.json())["error"] == "cross_origin"
        assert await api.post_json("/api/auth/logout") == {"ok": True}
        with pytest.raises(ApiResponseError) as ended:
            await api.get_json("/api/auth/me")
        assert ended.value.status == 401


async def test_bad_bodies_get_clear_errors(hub: Hub, raw: aiohttp.ClientSession) -> None:
    url = f"{hub.http_url}/api/auth/login"
    cases: list[tuple[bytes, int, str]] = [
        (b"{not json", 400, "bad_json"),
        (b"[1, 2]", 400, "bad_json"),
        (b'{"user": 3, "password": "x"}', 400, "bad_request"),
        (b" " * (1 << 20) + b"{}", 413, "too_large"),
    ]
    for body, status, code in cases:
        async with raw.post(url, data=body, headers={"Content-Type": "application/json"}) as r:
            assert r.status == status, await r.text()
            assert (await r.json())["error"] == code


async def test_a_disabled_account_loses_its_session_at_once(hub: Hub) -> None:
    assert hub.http_url is not None
    assert hub.users is not None
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        await hub.users.set_disabled("j.martin", True, Context(user="chef"))
        with pytest.raises(ApiResponseError) as refused:
            await api.get_json("/api/health")
        assert refused.value.status == 401
    assert hub.sessions is not None
    assert await hub.sessions.live("j.martin") == []


async def test_lockout_second_factor_and_an_expired_habilitation(hub: Hub) -> None:
    assert hub.http_url is not None
    assert hub.users is not None
    await add_account(hub, "p.leroy", Role.SUPERVISOR, habilitated=False)
    async with ApiClient(hub.http_url) as api:
        me = await api.login("p.leroy")
        assert not me["habilitated"]
        assert "live" not in me["permissions"]
        assert "audit" in me["permissions"]  # not video: no habilitation needed
    secret = await hub.users.enable_second_factor("p.leroy", Context(user="chef"))
    async with ApiClient(hub.http_url) as api:
        with pytest.raises(ApiResponseError) as second:
            await api.login("p.leroy")
        assert second.value.code == "second_factor_required"
        await api.login("p.leroy", TEST_PASSWORD, totp(secret))
    async with ApiClient(hub.http_url) as api:
        for _ in range(LOCKOUT_AFTER):
            with pytest.raises(ApiResponseError):
                await api.login("j.martin", "wrong password")
        with pytest.raises(ApiResponseError) as locked:
            await api.login("j.martin")
        assert locked.value.code == "locked"
        # One time zone in the message, said once.
        assert re.search(r"locked until \d{4}-\d\d-\d\d \d\d:\d\d UTC$", locked.value.message)
        assert "+00:00" not in locked.value.message


async def test_the_openapi_document_lists_every_route_with_its_rules(hub: Hub) -> None:
    assert hub.http_url is not None
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin")
        spec = await api.get_json("/api/openapi.json")
    assert spec["openapi"] == "3.1.0"
    assert spec["paths"]["/api/auth/login"]["post"]["security"] == []
    assert "security" not in spec["paths"]["/api/health"]["get"]  # the session, by default
    assert spec["components"]["securitySchemes"]["session"]["in"] == "cookie"
    assert {"/api/health", "/api/auth/me", "/api/auth/password"} <= set(spec["paths"])


async def test_a_handler_added_without_a_route_declaration_is_refused(
    cityhub_config: Callable[..., Path],
) -> None:
    from aiohttp import web

    from cityhub.web.server import create_app

    hub = Hub.from_config_dir(cityhub_config(config()))
    await hub._start_database()
    await hub._start_accounts()
    try:
        app = create_app(hub)

        async def sneaky(_request: web.Request) -> web.Response:
            return web.json_response({"secret": True})

        app.router.add_get("/api/sneaky", sneaky)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            url = f"http://127.0.0.1:{port}/api/sneaky"
            async with aiohttp.ClientSession() as session, session.get(url) as r:
                assert r.status == 403
                assert (await r.json())["error"] == "undeclared_route"
        finally:
            await runner.cleanup()
    finally:
        await hub.async_stop()
