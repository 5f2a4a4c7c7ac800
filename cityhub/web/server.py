"""The aiohttp server the hub runs on its configured host and port: the API and the panel.

Every route is declared in a :class:`~cityhub.web.routes.RouteTable` with who may call it;
the middlewares turn errors into JSON (:mod:`cityhub.web.errors`) and enforce sessions,
CSRF and permissions (:mod:`cityhub.web.auth`) before any handler runs.
"""

from __future__ import annotations

import errno
import logging
import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Final

from aiohttp import web

from cityhub.health import HealthReporter
from cityhub.web.admin import admin_routes
from cityhub.web.auth import (
    BUS_KEY,
    ROUTES_KEY,
    SESSIONS_KEY,
    TLS_KEY,
    USERS_KEY,
    auth_middleware,
    auth_routes,
    current_user,
)
from cityhub.web.bookmarks import bookmark_routes
from cityhub.web.cameras import camera_routes
from cityhub.web.discovery import discovery_routes
from cityhub.web.errors import error_middleware
from cityhub.web.layouts import layout_routes
from cityhub.web.live import live_routes
from cityhub.web.logbook import logbook_routes
from cityhub.web.openapi import build_openapi
from cityhub.web.ptz import ptz_routes
from cityhub.web.recordings import EXPORT_JOBS_KEY, recording_routes
from cityhub.web.request import HUB_KEY
from cityhub.web.routes import Access, Route, RouteTable
from cityhub.web.wall import wall_routes

if TYPE_CHECKING:
    from cityhub.hub import Hub

_LOGGER = logging.getLogger(__name__)


STATIC_DIR: Final = Path(__file__).parent / "static"
"""The panel: ``index.html`` served at ``/``, its scripts and styles under ``/static/``."""


HEALTH_KEY: web.AppKey[HealthReporter] = web.AppKey("health", HealthReporter)
"""The app's health reporter: the index walks of the health report, shared between screens."""


async def handle_index(_request: web.Request) -> web.FileResponse:
    """GET /: the operator panel's page (it logs in through the API)."""
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def handle_health(request: web.Request) -> web.Response:
    """GET /api/health: the hub's version, uptime and the cameras in the user's scope."""
    health = request.app[HUB_KEY].health()
    user = current_user(request)
    health["cameras"] = [c for c in health["cameras"] if user.sees_zone(c["zone"])]
    return web.json_response(health)


async def handle_health_report(request: web.Request) -> web.Response:
    """GET /api/health/report: cameras in scope with today's gaps and drift; storage forecast."""
    user = current_user(request)
    zones = None if "*" in user.zones else user.zones
    return web.json_response(await request.app[HEALTH_KEY].report(zones))


async def handle_openapi(request: web.Request) -> web.Response:
    """GET /api/openapi.json: the API's OpenAPI description."""
    hub = request.app[HUB_KEY]
    return web.json_response(build_openapi(request.app[ROUTES_KEY], hub.config.hub.name))


def hub_routes() -> list[Route]:
    """Routes about the hub itself, and the panel's page."""
    return [
        Route(
            "GET",
            "/",
            handle_index,
            "The operator panel (HTML; its files are under /static/)",
            Access.PUBLIC,
            tag="panel",
        ),
        Route(
            "GET",
            "/api/health",
            handle_health,
            "Hub version and uptime; state and counters of every camera in scope",
            response={"type": "object"},
        ),
        Route(
            "GET",
            "/api/health/report",
            handle_health_report,
            "Cameras in scope (state, fps, bitrate, last frame, today's gaps, clock drift), "
            "storage use with the retention forecast, unacknowledged alarms",
            response={"type": "object"},
        ),
        Route(
            "GET",
            "/api/openapi.json",
            handle_openapi,
            "This description of the API",
            response={"type": "object"},
        ),
    ]


def create_app(hub: Hub) -> web.Application:
    """The aiohttp application serving the hub (its accounts must be set up)."""
    if hub.users is None or hub.sessions is None:
        raise RuntimeError("the hub's accounts stage must run before the HTTP server")
    app = web.Application(middlewares=[error_middleware, auth_middleware])
    routes = RouteTable()
    routes.extend(auth_routes())
    routes.extend(hub_routes())
    routes.extend(camera_routes())
    routes.extend(live_routes())
    routes.extend(recording_routes())
    routes.extend(ptz_routes())
    routes.extend(logbook_routes())
    routes.extend(bookmark_routes())
    routes.extend(admin_routes())
    routes.extend(layout_routes())
    routes.extend(discovery_routes())
    routes.extend(wall_routes())
    app[HUB_KEY] = hub
    app[HEALTH_KEY] = HealthReporter(hub)
    app[ROUTES_KEY] = routes
    app[USERS_KEY] = hub.users
    app[SESSIONS_KEY] = hub.sessions
    app[BUS_KEY] = hub.bus
    app[TLS_KEY] = hub.config.http.tls
    app[EXPORT_JOBS_KEY] = {}
    routes.install(app)
    # Public like the page: scripts and styles hold no data; every call they make to the API
    # needs the session. Nothing else is served without a declared route (see auth).
    app.router.add_static("/static/", STATIC_DIR, follow_symlinks=False, append_version=False)
    app.on_response_prepare.append(_revalidate_static)
    return app


async def _revalidate_static(request: web.Request, response: web.StreamResponse) -> None:
    """Have the browser check the panel's files on every load: no old script after an upgrade."""
    if request.path.startswith("/static/"):
        response.headers["Cache-Control"] = "no-cache"


class HttpServer:
    """Starts and stops the application on one address."""

    def __init__(self, hub: Hub) -> None:
        app = create_app(hub)
        self._http = hub.config.http
        self._runner = web.AppRunner(app, access_log=None)

    def _ssl_context(self) -> ssl.SSLContext | None:
        http = self._http
        if http.tls_certificate is None or http.tls_key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(http.tls_certificate, http.tls_key)
        except (OSError, ssl.SSLError) as err:
            raise OSError(
                f"cannot use the TLS certificate {http.tls_certificate} with the key "
                f"{http.tls_key} (http.tls_certificate, http.tls_key): {err}"
            ) from err
        return context

    async def async_start(self, host: str, port: int) -> str:
        """Listen on ``host:port`` (HTTPS when TLS is configured); returns the URL.

        A busy port or an unusable certificate is a clear error.
        """
        context = self._ssl_context()
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port, ssl_context=context)
        try:
            await site.start()
        except OSError as err:
            await self._runner.cleanup()
            if err.errno == errno.EADDRINUSE:
                raise OSError(
                    err.errno,
                    f"port {port} on {host} is already in use "
                    "(another cityhub running? set http.port in cityhub.yaml)",
                ) from err
            raise
        sockets = [s for s in (self._runner.addresses or [])]
        bound_port = sockets[0][1] if sockets else port
        shown_host = f"[{host}]" if ":" in host else host
        scheme = "https" if context is not None else "http"
        return f"{scheme}://{shown_host}:{bound_port}"

    async def async_stop(self) -> None:
        """Stop listening and close open connections."""
        await self._runner.cleanup()
