"""Talking to a running hub's API as a logged-in person: accounts for tests and a client.

    user = await add_account(hub, "j.martin", Role.OPERATOR)
    async with ApiClient(hub.http_url) as api:
        await api.login("j.martin", TEST_PASSWORD)
        health = await api.get_json("/api/health")

The client keeps the session cookie and sends the CSRF token on every state-changing
request, as the panel does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import aiohttp

from cityhub.api import Context
from cityhub.auth.roles import Role
from cityhub.auth.users import ALL_ZONES, Habilitation, User

if TYPE_CHECKING:
    from cityhub.hub import Hub

__all__ = ["TEST_PASSWORD", "ApiClient", "ApiResponseError", "add_account"]

TEST_PASSWORD = "Test-password-2026"  # noqa: S105 - a test account's, by design
"""The password :func:`add_account` gives unless told otherwise (it follows the rules)."""


async def add_account(
    hub: Hub,
    name: str,
    role: Role = Role.OPERATOR,
    *,
    password: str = TEST_PASSWORD,
    zones: Sequence[str] = (ALL_ZONES,),
    habilitated: bool = True,
) -> User:
    """Create an account in a started hub, habilitated from yesterday for a year by default."""
    if hub.users is None:
        raise RuntimeError("start the hub before adding accounts")
    today = date.today()
    habilitation = (
        Habilitation("TEST-HABILITATION", today - timedelta(days=1), today + timedelta(days=365))
        if habilitated
        else None
    )
    user, _ = await hub.users.create(
        name, role, Context(), password=password, zones=zones, habilitation=habilitation
    )
    return user


class ApiResponseError(Exception):
    """The API refused a request: ``status``, ``code`` and ``message`` from its JSON answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message


class ApiClient:
    """An aiohttp client session on a hub's API that logs in and carries the CSRF token."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")
        self.session = aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))
        self.csrf_token: str | None = None
        self.me: dict[str, Any] = {}

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.session.close()

    async def login(
        self, user: str, password: str = TEST_PASSWORD, code: str | None = None
    ) -> dict[str, Any]:
        """Log in; keep the session cookie and the CSRF token; return the account's view."""
        body: dict[str, Any] = {"user": user, "password": password}
        if code is not None:
            body["code"] = code
        self.me = await self.request("POST", "/api/auth/login", body)
        self.csrf_token = self.me["csrf_token"]
        return self.me

    async def request(self, method: str, path: str, body: Any = None) -> Any:
        """Send a request (JSON body, CSRF header); return the JSON answer or raise."""
        headers = {"X-CSRF-Token": self.csrf_token} if self.csrf_token else {}
        async with self.session.request(
            method, self.base_url + path, json=body, headers=headers
        ) as response:
            answer = await response.json(content_type=None)
            if response.status >= 400:
                raise ApiResponseError(
                    response.status, answer.get("error", "?"), answer.get("message", "")
                )
            return answer

    async def get_json(self, path: str) -> Any:
        """GET ``path``; the JSON answer."""
        return await self.request("GET", path)

    async def post_json(self, path: str, body: Any = None) -> Any:
        """POST ``body`` to ``path``; the JSON answer."""
        return await self.request("POST", path, {} if body is None else body)
