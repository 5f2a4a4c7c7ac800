"""Live video over WebSocket: ``GET /api/live/{camera_id}?profile=main``.

The server sends one JSON text message ``{"type": "init", "mime": ..., "cached": N, ...}``,
then binary messages: the init segment, the N fragments of the cached GOP, then one fragment
per frame as frames arrive. A text message ``{"type": "rejoin", ...}`` means the stream
restarted or stopped: the client opens a new WebSocket (after a pause). Viewing needs the
``live`` permission on the camera's zone; its start and end are fired as ``live.view_started``
and ``live.view_stopped`` (with the duration) for the audit trail.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Final

from aiohttp import WSMsgType, web

from cityhub.auth.roles import Permission
from cityhub.media.live import LiveUnavailableError
from cityhub.web.auth import BUS_KEY, context_of, require
from cityhub.web.errors import ApiError
from cityhub.web.routes import Route

if TYPE_CHECKING:
    from cityhub.hub import Hub

__all__ = ["EVENT_VIEW_STARTED", "EVENT_VIEW_STOPPED", "live_routes"]

EVENT_VIEW_STARTED: Final = "live.view_started"
EVENT_VIEW_STOPPED: Final = "live.view_stopped"
HEARTBEAT_S: Final = 20.0
"""WebSocket ping interval (seconds): a vanished browser is noticed and its viewer freed."""


def _hub(request: web.Request) -> Hub:
    from cityhub.web.server import HUB_KEY

    return request.app[HUB_KEY]


async def handle_live(request: web.Request) -> web.StreamResponse:
    """Stream a camera's live video as fMP4 fragments over a WebSocket."""
    hub = _hub(request)
    camera_id = request.match_info["camera_id"]
    profile = request.query.get("profile")
    camera = next((c for c in hub.config.cameras if c.id == camera_id), None)
    if camera is None:
        raise ApiError(404, "unknown_camera", f"no camera {camera_id!r}")
    user = require(request, Permission.LIVE, camera.zone)
    runtime = hub.cameras.get(camera_id)
    channels = runtime.live if runtime is not None else {}
    if not channels:
        raise ApiError(409, "camera_unavailable", f"camera {camera_id} is not streaming")
    name = profile or next(iter(channels))
    channel = channels.get(name)
    if channel is None:
        raise ApiError(404, "unknown_profile", f"camera {camera_id} has no live {name!r}")
    try:
        viewer = channel.join()
    except LiveUnavailableError as err:
        raise ApiError(409, "live_unavailable", str(err)) from err
    context = context_of(request)
    bus = request.app[BUS_KEY]
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=4096)
    started = time.monotonic()
    try:
        await ws.prepare(request)
        bus.async_fire(
            EVENT_VIEW_STARTED,
            {"camera_id": camera_id, "profile": name, "client_address": request.remote},
            context,
        )
        await ws.send_json(
            {"type": "init", "camera": camera_id, "profile": name, "mime": viewer.mime,
             "cached": viewer.cached, "user": user.name}
        )  # fmt: skip
        reader = asyncio.ensure_future(_drain_client(ws))
        try:
            while not ws.closed:
                chunk_task = asyncio.ensure_future(viewer.next())
                done, _ = await asyncio.wait(
                    {chunk_task, reader}, return_when=asyncio.FIRST_COMPLETED
                )
                if reader in done:
                    chunk_task.cancel()
                    break
                chunk = chunk_task.result()
                if chunk is None:
                    await ws.send_json({"type": "rejoin", "reason": "the stream restarted"})
                    break
                await ws.send_bytes(chunk)
        finally:
            reader.cancel()
    finally:
        viewer.close()
        await ws.close()
        bus.async_fire(
            EVENT_VIEW_STOPPED,
            {"camera_id": camera_id, "profile": name,
             "seconds": round(time.monotonic() - started, 1), "dropped": viewer.dropped},
            context,
        )  # fmt: skip
    return ws


async def _drain_client(ws: web.WebSocketResponse) -> None:
    """Read (and ignore) what the client sends, until it closes."""
    async for message in ws:
        if message.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
            return


def live_routes() -> list[Route]:
    """The live video route."""
    return [
        Route(
            "GET",
            "/api/live/{camera_id}",
            handle_live,
            "Live video of a camera as fragmented MP4 over a WebSocket (?profile=main|sub)",
            tag="live",
            websocket=True,
        )
    ]
