"""Discovered devices for the admin's "add a camera" page: ``GET /api/discovery`` (the last
list) and ``POST /api/discovery/scan`` (scan now, through the audited ``discovery.scan``
service). Both need the ``config`` permission: a scan sends multicast on the hub's network.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from cityhub.auth.roles import Permission
from cityhub.services import ServiceValidationError
from cityhub.web.auth import context_of
from cityhub.web.errors import ApiError, read_json
from cityhub.web.request import hub_of
from cityhub.web.routes import Route

if TYPE_CHECKING:
    pass

__all__ = ["discovery_routes"]


async def handle_devices(request: web.Request) -> web.Response:
    """The devices found by the last scan (and announced since), adopted or not."""
    return web.json_response(hub_of(request).discovery.as_dict())


async def handle_scan(request: web.Request) -> web.Response:
    """Scan the network now (a few seconds) and return the devices."""
    body = await read_json(request)
    data: dict[str, Any] = {"timeout": body["timeout"]} if "timeout" in body else {}
    try:
        found = await hub_of(request).services.async_call(
            "discovery", "scan", data, context_of(request)
        )
    except ServiceValidationError as err:
        raise ApiError(400, "invalid", str(err)) from err
    return web.json_response(found)


def discovery_routes() -> list[Route]:
    """The discovery routes."""
    return [
        Route("GET", "/api/discovery", handle_devices,
              "Devices found on the network, the driver that can drive each, adopted or not",
              permission=Permission.CONFIG, tag="admin"),
        Route("POST", "/api/discovery/scan", handle_scan,
              "Scan the network now (WS-Discovery and zeroconf) and return the devices",
              permission=Permission.CONFIG, tag="admin",
              request_body={"type": "object", "properties": {"timeout": {"type": "number"}}}),
    ]  # fmt: skip
