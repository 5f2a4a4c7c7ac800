"""The cameras as the panel shows them: ``GET /api/cameras``, the tree in the user's scope."""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from cityhub.api import Snapshot, capabilities_of
from cityhub.auth.roles import Permission
from cityhub.media.live import LiveUnavailableError
from cityhub.web.auth import BUS_KEY, context_of, current_user, require
from cityhub.web.errors import ApiError
from cityhub.web.request import hub_of
from cityhub.web.routes import Route

if TYPE_CHECKING:
    pass

__all__ = ["EVENT_SNAPSHOT", "camera_routes"]

EVENT_SNAPSHOT: Final = "live.snapshot"
"""A user took a camera's picture; data: camera_id, profile, captured (ISO time)."""

DRIVER_SNAPSHOT_TIMEOUT_S: Final = 10.0
"""How long the camera's own snapshot may take before the request gives up."""

_LOGGER = logging.getLogger(__name__)

_CAMERAS = {
    "type": "object",
    "properties": {
        "zones": {"type": "array", "items": {"type": "object"}},
        "emplacements": {"type": "array", "items": {"type": "object"}},
        "cameras": {"type": "array", "items": {"type": "object"}},
    },
}


async def handle_cameras(request: web.Request) -> web.Response:
    """GET /api/cameras: zones, emplacements and cameras in scope, with state and streams."""
    hub = hub_of(request)
    user = current_user(request)
    config = hub.config
    zones = [z for z in config.zones if user.sees_zone(z.id)]
    cameras: list[dict[str, Any]] = []
    for camera in config.cameras:
        if not user.sees_zone(camera.zone):
            continue
        status = hub.states.get(camera.id)
        runtime = hub.cameras.get(camera.id)
        driver_type = hub.plugins.camera_drivers.get(camera.driver)
        profiles = runtime.profiles if runtime is not None else []
        live = runtime.live if runtime is not None else {}
        streams = [
            {"name": p.name, "codec": p.codec, "width": p.width, "height": p.height,
             "fps": p.fps, "live": p.codec == "h264", "running": p.name in live}
            for p in profiles
        ]  # fmt: skip
        cameras.append(
            {
                "id": camera.id,
                "name": camera.name,
                "zone": camera.zone,
                "emplacement": camera.emplacement,
                "kind": camera.kind.value,
                "enabled": camera.enabled,
                "state": status.state.value if status else "disabled",
                "reason": status.reason if status else None,
                "since": status.last_changed.isoformat(timespec="seconds") if status else None,
                "recording": status.recording if status else False,
                "capabilities": capabilities_of(driver_type) if driver_type else [],
                "streams": streams,
            }
        )
    emplacements = [
        {"id": e.id, "name": e.name, "zone": e.zone, "kind": e.kind, "address": e.address,
         "latitude": e.latitude, "longitude": e.longitude}
        for e in config.emplacements
        if user.sees_zone(e.zone)
    ]  # fmt: skip
    return web.json_response(
        {
            "zones": [{"id": z.id, "name": z.name} for z in zones],
            "emplacements": emplacements,
            "cameras": cameras,
        }
    )


def camera_routes() -> list[Route]:
    """Routes about cameras."""
    return [
        Route(
            "GET",
            "/api/cameras",
            handle_cameras,
            "Zones, emplacements and cameras in the user's scope, with state and streams",
            response=_CAMERAS,
            tag="cameras",
        ),
        Route(
            "GET",
            "/api/cameras/{camera_id}/snapshot",
            handle_snapshot,
            "A JPEG of the camera's last keyframe (?profile=); X-Captured-At gives its time",
            permission=Permission.LIVE,
            tag="cameras",
        ),
    ]


async def handle_snapshot(request: web.Request) -> web.Response:
    """GET /api/cameras/{camera_id}/snapshot: a JPEG of the camera's last keyframe."""
    hub = hub_of(request)
    camera_id = request.match_info["camera_id"]
    camera = next((c for c in hub.config.cameras if c.id == camera_id), None)
    if camera is None:
        raise ApiError(404, "unknown_camera", f"no camera {camera_id!r}")
    require(request, Permission.LIVE, camera.zone)
    runtime = hub.cameras.get(camera_id)
    channels = runtime.live if runtime is not None else {}
    name = request.query.get("profile") or next(iter(channels), None)
    if request.query.get("profile") and name not in channels:
        raise ApiError(404, "unknown_profile", f"camera {camera_id} has no stream {name!r}")
    channel = channels.get(name) if name else None
    refusal, code = f"camera {camera_id} has no stream now", "camera_unavailable"
    if channel is not None:
        try:
            jpeg, captured = await channel.snapshot()
        except LiveUnavailableError as err:
            refusal, code = str(err), "no_picture"
        else:
            return _snapshot_response(request, camera_id, name, jpeg, captured)
    # No keyframe to decode (the stream is down or not started): the camera's own still, when
    # its driver can take one, is the next best picture.
    driver = runtime.driver if runtime is not None else None
    if not isinstance(driver, Snapshot):
        raise ApiError(409, code, refusal)
    try:
        async with asyncio.timeout(DRIVER_SNAPSHOT_TIMEOUT_S):
            jpeg = await driver.async_snapshot()
    except Exception as err:  # a driver's failure of any kind is the camera's, not ours
        _LOGGER.warning("Camera %s: its own snapshot failed: %s", camera_id, type(err).__name__)
        raise ApiError(409, code, f"{refusal}; the camera's own snapshot failed") from err
    return _snapshot_response(request, camera_id, "camera", jpeg, time.time())


def _snapshot_response(
    request: web.Request, camera_id: str, profile: str | None, jpeg: bytes, captured: float
) -> web.Response:
    """The JPEG with its capture instant, after recording who took it."""
    moment = datetime.fromtimestamp(captured, UTC)
    request.app[BUS_KEY].async_fire(
        EVENT_SNAPSHOT,
        {"camera_id": camera_id, "profile": profile, "captured": moment.isoformat()},
        context_of(request),
    )
    return web.Response(
        body=jpeg,
        content_type="image/jpeg",
        headers={"X-Captured-At": moment.isoformat(timespec="milliseconds")},
    )
