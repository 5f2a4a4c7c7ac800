"""The API's routes as data: handler, who may call it, and what it takes and returns.

Every route is declared once, here or in the module that serves it, with the permission it
needs; the auth middleware enforces it and :mod:`cityhub.web.openapi` documents it from the
same declaration, so the documentation cannot drift from what the server checks.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
from aiohttp import web

from cityhub.auth.roles import Permission

__all__ = ["Access", "Handler", "Route", "RouteTable"]

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Access(enum.Enum):
    """Who may reach a route before its permission is checked."""

    PUBLIC = "public"  # login and static files only
    SESSION = "session"  # any logged-in account, even one that must change its password
    ACCOUNT = "account"  # a logged-in account whose password is not a one-time one


@attrs.frozen
class Route:
    """One method and path of the API."""

    method: str
    path: str
    handler: Handler
    summary: str
    access: Access = Access.ACCOUNT
    permission: Permission | None = None
    request_body: Mapping[str, Any] | None = None  # JSON Schema of the body
    response: Mapping[str, Any] | None = None  # JSON Schema of a 200 answer
    tag: str = "hub"
    websocket: bool = False


class RouteTable:
    """Routes in declaration order, and where each handler's access rule is found."""

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self._by_handler: dict[Handler, Route] = {}

    def add(self, route: Route) -> None:
        """Declare ``route``; one handler serves one route."""
        if route.handler in self._by_handler:
            raise ValueError(f"handler {route.handler.__name__} already serves a route")
        self.routes.append(route)
        self._by_handler[route.handler] = route

    def extend(self, routes: list[Route]) -> None:
        """Declare several routes."""
        for route in routes:
            self.add(route)

    def route_of(self, handler: Handler) -> Route | None:
        """The route ``handler`` serves, or ``None`` (a static file or aiohttp's own)."""
        return self._by_handler.get(handler)

    def install(self, app: web.Application) -> None:
        """Add every route to ``app``'s router."""
        for route in self.routes:
            app.router.add_route(route.method, route.path, route.handler)
