"""Live video over one WebSocket per page, multiplexed: ``GET /api/live``.

A page opens one WebSocket and asks for streams on numbered channels (one per tile), so a
wall of 25 tiles never meets a browser's connection limits:

- client -> server, text: ``{"op": "watch", "channel": 3, "camera": "mairie",
  "profile": "sub"}`` (``profile`` optional: the camera's first stream) and
  ``{"op": "unwatch", "channel": 3}``. Watching on a busy channel replaces its stream.
- server -> client, text: ``{"type": "init", "channel": 3, "camera": ..., "profile": ...,
  "mime": ..., "cached": N}`` then, on that channel, binary messages;
  ``{"type": "error", "channel": 3, "error": code, "message": ...}`` when a watch is refused
  (unknown camera, out of scope, no habilitation, no video); ``{"type": "ended", "channel": 3,
  "reason": ...}`` when the stream restarted or stopped (watch again after a pause).
- server -> client, binary: two bytes (the channel, big-endian) then an fMP4 chunk: the init
  segment, the N fragments of the cached GOP, then one fragment per frame as it arrives.

Each watch is checked like a request (``live`` permission on the camera's zone, with the
account as it is now) and fired as ``live.view_started``, its end as ``live.view_stopped``
with the duration, for the audit trail. A channel whose browser falls behind skips to the
next keyframe (see :mod:`cityhub.media.live`); it never delays the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import attrs
from aiohttp import WSMsgType, web

from cityhub.auth.roles import Permission
from cityhub.auth.users import User, UserNotFoundError
from cityhub.media.live import LiveUnavailableError, Viewer
from cityhub.web.auth import BUS_KEY, USERS_KEY, context_of, current_user
from cityhub.web.request import hub_of
from cityhub.web.routes import Route

if TYPE_CHECKING:
    from cityhub.hub import Hub

__all__ = ["EVENT_VIEW_STARTED", "EVENT_VIEW_STOPPED", "MAX_CHANNELS", "live_routes"]

_LOGGER = logging.getLogger(__name__)

EVENT_VIEW_STARTED: Final = "live.view_started"
EVENT_VIEW_STOPPED: Final = "live.view_stopped"
HEARTBEAT_S: Final = 20.0
"""WebSocket ping interval (seconds): a vanished browser is noticed and its viewers freed."""
LIVE_START_TIMEOUT_S: Final = 8.0
"""How long a watch waits for a stream just started (a sub-stream) to give its parameters."""
MAX_CHANNELS: Final = 64
"""Streams one page may watch at once: a 49-tile wall plus a few previews."""
_CHANNEL = struct.Struct(">H")


class _Refused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@attrs.define(eq=False)
class _Watch:
    camera_id: str
    profile: str
    viewer: Viewer
    task: asyncio.Task[None]
    started: float


class _Page:
    """One browser page's WebSocket and the streams it watches."""

    def __init__(self, request: web.Request, ws: web.WebSocketResponse, hub: Hub) -> None:
        self.request = request
        self.ws = ws
        self.hub = hub
        self.user: User = current_user(request)
        self.context = context_of(request)
        self.watches: dict[int, _Watch] = {}
        self._send_lock = asyncio.Lock()

    async def send_json(self, message: dict[str, Any]) -> None:
        async with self._send_lock:
            if not self.ws.closed:
                await self.ws.send_str(json.dumps(message))

    async def handle(self, text: str) -> None:
        try:
            message = json.loads(text)
            op, channel = message["op"], message["channel"]
            if not isinstance(channel, int) or not 0 <= channel < MAX_CHANNELS:
                raise ValueError(f"channel must be an integer 0..{MAX_CHANNELS - 1}")
        except (ValueError, KeyError, TypeError) as err:
            await self.send_json({"type": "error", "error": "bad_message", "message": str(err)})
            return
        if op == "unwatch":
            await self.unwatch(channel, "unwatched")
        elif op == "watch":
            await self.watch(channel, message.get("camera"), message.get("profile"))
        else:
            await self.send_json(
                {"type": "error", "channel": channel, "error": "bad_message",
                 "message": f"unknown op {op!r} (watch, unwatch)"}
            )  # fmt: skip

    async def watch(self, channel: int, camera_id: Any, profile: Any) -> None:
        await self.unwatch(channel, "replaced")
        try:
            camera_id, name, viewer = await self._join(camera_id, profile)
        except _Refused as refused:
            await self.send_json(
                {"type": "error", "channel": channel, "error": refused.code,
                 "message": refused.message}
            )  # fmt: skip
            return
        await self.send_json(
            {"type": "init", "channel": channel, "camera": camera_id, "profile": name,
             "mime": viewer.mime, "cached": viewer.cached}
        )  # fmt: skip
        task = asyncio.create_task(self._pump(channel, viewer), name=f"live:{camera_id}")
        self.watches[channel] = _Watch(camera_id, name, viewer, task, time.monotonic())
        self.request.app[BUS_KEY].async_fire(
            EVENT_VIEW_STARTED,
            {"camera_id": camera_id, "profile": name, "client_address": self.request.remote},
            self.context,
        )

    async def _join(self, camera_id: Any, profile: Any) -> tuple[str, str, Viewer]:
        if not isinstance(camera_id, str):
            raise _Refused("bad_message", "give the camera's id as 'camera'")
        camera = next((c for c in self.hub.config.cameras if c.id == camera_id), None)
        if camera is None:
            raise _Refused("unknown_camera", f"no camera {camera_id!r}")
        try:  # the account as it is now: a habilitation may have expired since login
            self.user = await self.request.app[USERS_KEY].get(self.user.name)
        except UserNotFoundError:
            raise _Refused("forbidden", "this account no longer exists") from None
        if not self.user.can(Permission.LIVE, _now(), camera.zone):
            raise _Refused(
                "forbidden", f"you may not watch {camera_id} (role, zone or habilitation)"
            )
        runtime = self.hub.cameras.get(camera_id)
        if runtime is None or runtime.driver is None:
            raise _Refused("camera_unavailable", f"camera {camera_id} is not streaming")
        try:
            live = runtime.live_channel(profile if isinstance(profile, str) and profile else None)
        except KeyError as err:
            raise _Refused("unknown_profile", f"camera {camera_id}: {err.args[0]}") from None
        await live.async_wait_ready(LIVE_START_TIMEOUT_S)
        try:
            return camera_id, live.name.rpartition("/")[2], live.join()
        except LiveUnavailableError as err:
            raise _Refused("live_unavailable", str(err)) from err

    async def _pump(self, channel: int, viewer: Viewer) -> None:
        prefix = _CHANNEL.pack(channel)
        while True:
            chunk = await viewer.next()
            if chunk is None:
                watch = self.watches.pop(channel, None)
                if watch is not None:
                    self._stopped(watch, "ended")
                await self.send_json(
                    {"type": "ended", "channel": channel, "reason": "the stream restarted"}
                )
                return
            async with self._send_lock:
                if self.ws.closed:
                    return
                try:
                    await self.ws.send_bytes(prefix + chunk)
                except ConnectionResetError:  # the page went away mid-send (reload, close)
                    return

    async def unwatch(self, channel: int, reason: str) -> None:
        watch = self.watches.pop(channel, None)
        if watch is None:
            return
        watch.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watch.task
        self._stopped(watch, reason)

    def _stopped(self, watch: _Watch, reason: str) -> None:
        watch.viewer.close()
        self.request.app[BUS_KEY].async_fire(
            EVENT_VIEW_STOPPED,
            {"camera_id": watch.camera_id, "profile": watch.profile, "reason": reason,
             "seconds": round(time.monotonic() - watch.started, 1),
             "dropped": watch.viewer.dropped},
            self.context,
        )  # fmt: skip

    async def close(self) -> None:
        for channel in list(self.watches):
            await self.unwatch(channel, "closed")


def _now() -> datetime:
    return datetime.now(UTC)


async def handle_live(request: web.Request) -> web.StreamResponse:
    """The page's live WebSocket: watch and unwatch streams on numbered channels."""
    ws = web.WebSocketResponse(heartbeat=HEARTBEAT_S, max_msg_size=4096)
    await ws.prepare(request)
    page = _Page(request, ws, hub_of(request))
    try:
        async for message in ws:
            if message.type is WSMsgType.TEXT:
                await page.handle(message.data)
            elif message.type is WSMsgType.ERROR:
                break
    finally:
        await page.close()
    return ws


def live_routes() -> list[Route]:
    """The live video route."""
    return [
        Route(
            "GET",
            "/api/live",
            handle_live,
            "Live video of any number of cameras over one WebSocket, multiplexed by channel",
            permission=Permission.LIVE,
            tag="live",
            websocket=True,
        )
    ]
