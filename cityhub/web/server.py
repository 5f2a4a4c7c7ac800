"""The aiohttp server the hub runs on its configured host and port."""

from __future__ import annotations

import errno
import logging
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from cityhub.hub import Hub

_LOGGER = logging.getLogger(__name__)

HUB_KEY: web.AppKey[Hub] = web.AppKey("hub")


async def handle_health(request: web.Request) -> web.Response:
    """GET /api/health: the hub's version, uptime and every camera with its state."""
    return web.json_response(request.app[HUB_KEY].health())


def create_app(hub: Hub) -> web.Application:
    """The aiohttp application serving the hub."""
    app = web.Application()
    app[HUB_KEY] = hub
    app.router.add_get("/api/health", handle_health)
    return app


class HttpServer:
    """Starts and stops the application on one address."""

    def __init__(self, hub: Hub) -> None:
        self._runner = web.AppRunner(create_app(hub), access_log=None)

    async def async_start(self, host: str, port: int) -> str:
        """Listen on ``host:port``; returns the URL. A busy port is a clear error."""
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
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
        return f"http://{shown_host}:{bound_port}"

    async def async_stop(self) -> None:
        """Stop listening and close open connections."""
        await self._runner.cleanup()
