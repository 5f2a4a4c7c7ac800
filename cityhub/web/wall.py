"""The video wall on the web: ``GET /api/wall`` (WebSocket), ``POST /api/wall/show`` and
``POST /api/wall/alarms/{id}/dismiss``.

Each panel window opens the wall WebSocket, as a console (``/api/wall``) or as a named monitor
(``/api/wall?monitor=NAME``), and only listens on it:

- ``{"type": "alarms", "alarms": [...]}``: the pending alarms in the account's scope, highest
  priority first, sent at connection and whenever one is raised or dismissed;
- ``{"type": "monitors", "open": [...], "declared": [...]}``: the monitor windows the account
  has open, and the monitors declared in the configuration;
- ``{"type": "show", "monitor": NAME, "camera_id": ..., "tile": N}`` or ``{"type": "show",
  "monitor": NAME, "layout": {...}, "layout_name": ...}``: a push to a monitor window.

Pushes and dismissals go through the services ``wall.show`` and ``wall.dismiss`` with the
user's Context (see :mod:`cityhub.wall`), so the audit log records them.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Final

from aiohttp import WSMsgType, web

from cityhub.auth.roles import Permission
from cityhub.services import ServiceError, ServiceValidationError
from cityhub.wall import MONITOR_NAME, WallRefusedError, WallService
from cityhub.web.auth import context_of, current_user
from cityhub.web.errors import ApiError, read_json
from cityhub.web.request import hub_of
from cityhub.web.routes import Route

__all__ = ["wall_routes"]

HEARTBEAT_S: Final = 20.0
_REFUSAL_STATUS: Final = {"forbidden": 403, "unknown_camera": 404, "unknown_layout": 404,
                          "unknown_alarm": 404, "bad_request": 400}  # fmt: skip


class _Window:
    """One panel window on the wall socket."""

    def __init__(self, ws: web.WebSocketResponse, user_name: str, monitor: str | None) -> None:
        self.ws = ws
        self._user_name = user_name
        self._monitor = monitor
        self._lock = asyncio.Lock()

    @property
    def user_name(self) -> str:
        """The window's account."""
        return self._user_name

    @property
    def monitor(self) -> str | None:
        """The monitor name the window was opened as, if any."""
        return self._monitor

    async def async_send(self, message: dict[str, Any]) -> None:
        """Send ``message`` as JSON unless the socket has closed."""
        async with self._lock:
            if not self.ws.closed:
                await self.ws.send_str(json.dumps(message))


def _wall(request: web.Request) -> WallService:
    wall = hub_of(request).wall
    if wall is None:
        raise ApiError(409, "no_wall", "the hub's wall service is not running")
    return wall


async def handle_wall_socket(request: web.Request) -> web.StreamResponse:
    """The window's wall WebSocket: alarms, open monitors and pushes to this monitor."""
    wall = _wall(request)
    monitor = request.query.get("monitor") or None
    if monitor is not None and not re.match(MONITOR_NAME, monitor):
        raise ApiError(400, "bad_request", "a monitor name has letters, digits, _ . - (max 40)")
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=1024)
    await ws.prepare(request)
    disconnect = await wall.async_connect(_Window(ws, current_user(request).name, monitor))
    try:
        async for message in ws:  # the window only listens; anything it sends is ignored
            if message.type is WSMsgType.ERROR:
                break
    finally:
        await disconnect()
    return ws


async def _call(request: web.Request, service: str, data: dict[str, Any]) -> Any:
    try:
        return await hub_of(request).services.async_call("wall", service, data, context_of(request))
    except ServiceValidationError as err:
        raise ApiError(400, "invalid", str(err)) from err
    except WallRefusedError as err:
        raise ApiError(_REFUSAL_STATUS.get(err.code, 409), err.code, str(err)) from err
    except ServiceError as err:
        raise ApiError(409, "refused", str(err)) from err


async def handle_show(request: web.Request) -> web.Response:
    """Push a camera or a saved layout to one of the user's monitor windows."""
    body = await read_json(request)
    data: dict[str, Any] = {
        k: body[k] for k in ("monitor", "camera_id", "layout", "tile") if k in body
    }
    return web.json_response(await _call(request, "show", data))


async def handle_dismiss(request: web.Request) -> web.Response:
    """Dismiss a pending alarm."""
    try:
        alarm_id = int(request.match_info["alarm_id"])
    except ValueError:
        raise ApiError(400, "bad_request", "the alarm id is a number") from None
    return web.json_response(await _call(request, "dismiss", {"alarm_id": alarm_id}))


def wall_routes() -> list[Route]:
    """The wall routes."""
    return [
        Route("GET", "/api/wall", handle_wall_socket,
              "Wall WebSocket of a window (?monitor=NAME for a monitor): alarms and pushes",
              permission=Permission.LIVE, tag="wall", websocket=True),
        Route("POST", "/api/wall/show", handle_show,
              "Push a camera or a saved layout to a monitor ({'monitor', 'camera_id'|'layout'})",
              permission=Permission.LIVE, tag="wall",
              request_body={"type": "object", "required": ["monitor"],
                            "properties": {"monitor": {"type": "string"},
                                           "camera_id": {"type": "string"},
                                           "layout": {"type": "string"},
                                           "tile": {"type": "integer"}}}),
        Route("POST", "/api/wall/alarms/{alarm_id}/dismiss", handle_dismiss,
              "Dismiss a pending wall alarm", permission=Permission.LIVE, tag="wall"),
    ]  # fmt: skip
