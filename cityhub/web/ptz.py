"""PTZ on the web: ``GET/POST /api/cameras/{camera_id}/ptz``, through the ``ptz.*`` services.

The panel's joystick posts ``{"command": "move", "pan": .., "tilt": .., "zoom": ..}`` every
100-200 ms while the stick is off centre and ``{"command": "stop"}`` when it returns; the
server's dead-man timer stops the camera if the page dies. Every command runs as the user
with the PTZ priority of the user's role (an admin above a supervisor above an operator), so
arbitration and the audit trail see who moved what; a camera held by someone of equal or
higher priority answers 409 ``locked`` with the holder.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any, Final

from aiohttp import web

from cityhub.api import Context, PTZPositioning
from cityhub.auth.roles import Permission, Role
from cityhub.ptz import LockedError, PtzError, PtzPriority
from cityhub.services import ServiceError, ServiceValidationError
from cityhub.web.auth import current_user, require
from cityhub.web.errors import ApiError, read_json
from cityhub.web.request import hub_of
from cityhub.web.routes import Route

if TYPE_CHECKING:
    from cityhub.hub import Hub

__all__ = ["ROLE_PRIORITY", "ptz_routes"]

ROLE_PRIORITY: Final = {
    Role.ADMIN: PtzPriority.ADMIN,
    Role.SUPERVISOR: PtzPriority.SUPERVISOR,
    Role.OPERATOR: PtzPriority.OPERATOR,
    Role.VIEWER: PtzPriority.OPERATOR,  # viewers have no PTZ permission anyway
}
"""The PTZ rank of each role: a supervisor takes a camera over from an operator."""

POSITION_TIMEOUT_S: Final = 2.0
"""How long the status waits for the head's position (seconds) before leaving it out."""

COMMANDS: Final = frozenset(
    {"move", "stop", "goto_preset", "set_preset", "remove_preset", "home", "absolute_move",
     "relative_move", "take", "release", "tour_start", "tour_stop"}
)  # fmt: skip
"""What the panel may ask; ``presets`` and ``status`` are read with GET."""


def _context(request: web.Request) -> Context:
    user = current_user(request)
    return Context(user=user.name, priority=ROLE_PRIORITY[user.role])


def _camera_zone(hub: Hub, camera_id: str) -> str:
    camera = next((c for c in hub.config.cameras if c.id == camera_id), None)
    if camera is None:
        raise ApiError(404, "unknown_camera", f"no camera {camera_id!r}")
    return camera.zone


async def _call(request: web.Request, service: str, data: dict[str, Any]) -> Any:
    try:
        return await hub_of(request).services.async_call("ptz", service, data, _context(request))
    except LockedError as err:
        raise ApiError(409, "locked", str(err)) from err
    except ServiceValidationError as err:
        raise ApiError(400, "invalid", str(err)) from err
    except (PtzError, ServiceError) as err:
        raise ApiError(409, "refused", str(err)) from err


async def handle_ptz_status(request: web.Request) -> web.Response:
    """The camera's PTZ state (holder, tour, last command) and its presets."""
    camera_id = request.match_info["camera_id"]
    require(request, Permission.PTZ, _camera_zone(hub_of(request), camera_id))
    hub = hub_of(request)
    status = await _call(request, "status", {"camera_id": camera_id})
    presets = await _call(request, "presets", {"camera_id": camera_id})
    camera = next(c for c in hub.config.cameras if c.id == camera_id)
    status = {**status, "tours": [tour.name for tour in camera.ptz.tours]}
    runtime = hub.cameras.get(camera_id)
    driver = runtime.driver if runtime is not None else None
    if isinstance(driver, PTZPositioning):
        with contextlib.suppress(Exception):  # a head that cannot say gives no position
            where = await asyncio.wait_for(driver.async_ptz_position(), POSITION_TIMEOUT_S)
            status["position"] = {"pan": where.pan, "tilt": where.tilt, "zoom": where.zoom}
    return web.json_response({"status": status, "presets": presets})


async def handle_ptz_command(request: web.Request) -> web.Response:
    """Run one PTZ command on the camera as the user, with the user's role's priority."""
    camera_id = request.match_info["camera_id"]
    require(request, Permission.PTZ, _camera_zone(hub_of(request), camera_id))
    body = await read_json(request)
    command = body.pop("command", None)
    if command not in COMMANDS:
        raise ApiError(
            400, "bad_request", f"'command' must be one of {', '.join(sorted(COMMANDS))}"
        )
    result = await _call(request, command, {**body, "camera_id": camera_id})
    return web.json_response({"ok": True, "result": result})


def ptz_routes() -> list[Route]:
    """The PTZ routes."""
    return [
        Route(
            "GET", "/api/cameras/{camera_id}/ptz", handle_ptz_status,
            "PTZ state of a camera (lock holder, tour) and its presets",
            permission=Permission.PTZ, tag="ptz",
        ),
        Route(
            "POST", "/api/cameras/{camera_id}/ptz", handle_ptz_command,
            "A PTZ command: move (velocities, kept alive by repeats), stop, goto_preset, "
            "set_preset, remove_preset, home, absolute_move, relative_move, take, release, "
            "tour_start, tour_stop",
            permission=Permission.PTZ, tag="ptz",
            request_body={
                "type": "object", "required": ["command"],
                "properties": {"command": {"type": "string", "enum": sorted(COMMANDS)},
                               "pan": {"type": "number"}, "tilt": {"type": "number"},
                               "zoom": {"type": "number"}, "preset": {"type": "string"},
                               "name": {"type": "string"}, "tour": {"type": "string"}},
            },
        ),
    ]  # fmt: skip
