"""Saved wall layouts: ``GET /api/layouts``, ``PUT`` and ``DELETE /api/layouts/{name}``.

A layout is the panel's own JSON (grid, tiles and their cameras, sequences), at most 64 KB.
Each user keeps named layouts of their own; supervisors and admins may also save shared ones
(``"shared": true``) that everyone sees. Cameras a user may not see are never revealed: the
list gives each layout as stored, and the panel leaves a tile empty for a camera that is not
in ``/api/cameras``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

import voluptuous as vol
from aiohttp import web

from cityhub.auth.roles import Permission, Role
from cityhub.db import format_utc
from cityhub.services import humanize_invalid
from cityhub.web.auth import context_of, current_user
from cityhub.web.errors import ApiError, read_json
from cityhub.web.request import hub_of
from cityhub.web.routes import Route

if TYPE_CHECKING:
    from cityhub.db import Database

__all__ = ["MAX_LAYOUT_BYTES", "layout_routes"]

MAX_LAYOUT_BYTES: Final = 64 * 1024
"""The largest layout stored (bytes of JSON): a 49-tile wall with sequences fits many times."""
SHARING_ROLES: Final = frozenset({Role.ADMIN, Role.SUPERVISOR})
MAX_TILES: Final = 49
DWELL_S: Final = (2, 3600)
"""Seconds a camera sequence shows each camera: the shortest and the longest."""

_CAMERA_ID = vol.All(str, vol.Length(1, 80))
_SEQUENCE = vol.Schema(
    {
        vol.Required("cameras"): vol.All([_CAMERA_ID], vol.Length(1, 100)),
        vol.Required("dwell"): vol.All(
            vol.Coerce(float),
            vol.Range(*DWELL_S, msg=f"a sequence shows each camera {DWELL_S[0]} to {DWELL_S[1]} s"),
        ),
    }
)
_TILE_OBJECT = vol.Schema(
    {
        vol.Optional("camera"): vol.Any(None, _CAMERA_ID),
        vol.Optional("stream"): vol.Any(None, vol.All(str, vol.Length(1, 40))),
        vol.Optional("sequence"): _SEQUENCE,
        vol.Optional("alarm"): bool,
    },
    extra=vol.ALLOW_EXTRA,
)


def _tile(value: Any) -> Any:
    """A tile: null, a camera id, or {camera, stream, sequence: {cameras, dwell}, alarm}."""
    if isinstance(value, dict):
        return _TILE_OBJECT(value)
    if value is None or (isinstance(value, str) and 0 < len(value) <= 80):
        return value
    raise vol.Invalid("a tile is null, a camera id, or {camera, stream, sequence, alarm}")


LAYOUT_SCHEMA: Final = vol.Schema(
    {
        vol.Optional("grid"): vol.All(int, vol.Range(1, MAX_TILES)),
        vol.Optional("tiles"): vol.All([_tile], vol.Length(max=MAX_TILES)),
    },
    extra=vol.ALLOW_EXTRA,
)
"""What the hub checks of a layout: its grid, and each tile's camera, sequence and alarm flag."""


def _db(request: web.Request) -> Database:
    db = hub_of(request).db
    if db is None:
        raise ApiError(409, "no_database", "the hub has no database")
    return db


async def handle_layouts(request: web.Request) -> web.Response:
    """The user's layouts and the shared ones."""
    user = current_user(request)
    rows = await _db(request).fetchall(
        "SELECT owner, name, data, updated_at, updated_by FROM layouts"
        " WHERE owner = ? OR owner IS NULL ORDER BY owner IS NULL, name",
        (user.name,),
    )
    return web.json_response(
        [{"name": r["name"], "shared": r["owner"] is None, "layout": json.loads(r["data"]),
          "updated_at": r["updated_at"], "updated_by": r["updated_by"]} for r in rows]
    )  # fmt: skip


def _target(request: web.Request, shared: Any) -> str | None:
    user = current_user(request)
    if not shared:
        return user.name
    if user.role not in SHARING_ROLES:
        raise ApiError(403, "forbidden", "only supervisors and admins share layouts")
    return None


async def handle_save(request: web.Request) -> web.Response:
    """Save (create or replace) a layout under its name."""
    name = request.match_info["name"].strip()
    body = await read_json(request)
    layout = body.get("layout")
    if not name or len(name) > 80:
        raise ApiError(400, "bad_request", "a layout name has 1 to 80 characters")
    if not isinstance(layout, dict):
        raise ApiError(400, "bad_request", "give the layout as a JSON object in 'layout'")
    try:
        LAYOUT_SCHEMA(layout)
    except vol.Invalid as err:
        raise ApiError(400, "bad_request", f"layout: {humanize_invalid(err)}") from None
    data = json.dumps(layout, ensure_ascii=False, separators=(",", ":"))
    if len(data.encode()) > MAX_LAYOUT_BYTES:
        raise ApiError(413, "too_large", f"a layout is at most {MAX_LAYOUT_BYTES} bytes")
    owner = _target(request, body.get("shared"))
    db = _db(request)
    origin = context_of(request).origin
    async with db.transaction():
        await db.execute(
            "DELETE FROM layouts WHERE coalesce(owner, '') = coalesce(?, '') AND name = ?",
            (owner, name),
        )
        await db.execute(
            "INSERT INTO layouts (owner, name, data, updated_at, updated_by)"
            " VALUES (?, ?, ?, ?, ?)",
            (owner, name, data, format_utc(datetime.now(UTC)), origin),
        )
    return web.json_response({"name": name, "shared": owner is None})


async def handle_delete(request: web.Request) -> web.Response:
    """Delete one of the user's layouts (or a shared one, for those who may share)."""
    name = request.match_info["name"]
    owner = _target(request, request.query.get("shared") in ("1", "true"))
    removed = await _db(request).execute(
        "DELETE FROM layouts WHERE coalesce(owner, '') = coalesce(?, '') AND name = ?",
        (owner, name),
    )
    if not removed:
        raise ApiError(404, "unknown_layout", f"no layout {name!r}")
    return web.json_response({"deleted": name})


def layout_routes() -> list[Route]:
    """The layout routes."""
    return [
        Route("GET", "/api/layouts", handle_layouts, "The user's saved layouts and the shared ones",
              permission=Permission.LIVE, tag="wall"),
        Route("PUT", "/api/layouts/{name}", handle_save,
              "Save a layout ({'layout': {...}, 'shared': false})", permission=Permission.LIVE,
              tag="wall", request_body={"type": "object", "required": ["layout"],
                                        "properties": {"layout": {"type": "object"},
                                                       "shared": {"type": "boolean"}}}),
        Route("DELETE", "/api/layouts/{name}", handle_delete,
              "Delete a saved layout (?shared=1 for a shared one)", permission=Permission.LIVE,
              tag="wall"),
    ]  # fmt: skip
