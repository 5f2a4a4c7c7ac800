"""Bookmarks on the web: ``GET/POST /api/bookmarks``, ``POST /api/bookmarks/{id}/remove``.

Bookmarks are logbook material: they need the ``logbook`` permission, and only those of
cameras in the user's zones are listed or made. A bookmark is removed by its author, or by a
supervisor or an administrator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from cityhub.auth.roles import Permission, Role
from cityhub.bookmarks import BookmarkError, Bookmarks
from cityhub.web.auth import context_of, current_user, require
from cityhub.web.errors import ApiError, read_json
from cityhub.web.request import hub_of, query_time
from cityhub.web.routes import Route

__all__ = ["bookmark_routes"]

_REMOVERS = frozenset({Role.ADMIN, Role.SUPERVISOR})
"""Roles that may remove anyone's bookmark (others remove only their own)."""


def _bookmarks(request: web.Request) -> Bookmarks:
    bookmarks = hub_of(request).bookmarks
    if bookmarks is None:
        raise ApiError(409, "no_logbook", "the logbook is not running")
    return bookmarks


def _zone_of(bookmarks: Bookmarks, camera_id: Any) -> str:
    if not isinstance(camera_id, str) or camera_id not in bookmarks.camera_zones:
        raise ApiError(404, "unknown_camera", f"no camera {camera_id!r}")
    return bookmarks.camera_zones[camera_id]


def _time(body: dict[str, Any], name: str, *, required: bool) -> datetime | None:
    value = body.get(name)
    if value is None:
        if required:
            raise ApiError(400, "bad_request", f"give '{name}' as an ISO-8601 time with its offset")
        return None
    try:
        moment = datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise ApiError(
            400, "bad_request", f"'{name}' must be an ISO-8601 time with its offset: {value!r}"
        )
    return moment


async def handle_list(request: web.Request) -> web.Response:
    """Bookmarks in scope overlapping ?from=&to=, newest first (?camera= repeatable, ?tag=)."""
    bookmarks = _bookmarks(request)
    user = current_user(request)
    cameras = request.query.getall("camera", []) or None
    for camera_id in cameras or ():
        require(request, Permission.LOGBOOK, _zone_of(bookmarks, camera_id))
    zones = None if "*" in user.zones else set(user.zones)
    found = await bookmarks.list(
        start=query_time(request, "from"),
        end=query_time(request, "to"),
        cameras=cameras,
        zones=zones,
        tag=request.query.get("tag") or None,
        removed=request.query.get("removed") in ("1", "true"),
    )
    return web.json_response({"bookmarks": [b.as_dict() for b in found]})


async def handle_add(request: web.Request) -> web.Response:
    """Bookmark a camera at an instant (``time``) or over a range (``start``, ``end``)."""
    bookmarks = _bookmarks(request)
    body = await read_json(request)
    camera_id = body.get("camera_id")
    require(request, Permission.LOGBOOK, _zone_of(bookmarks, camera_id))
    assert isinstance(camera_id, str)  # _zone_of refused anything else
    name, note, tags = body.get("name"), body.get("note", ""), body.get("tags", [])
    if not isinstance(name, str):
        raise ApiError(400, "bad_request", "give the bookmark's 'name'")
    if not isinstance(note, str):
        raise ApiError(400, "bad_request", "'note' must be a text")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ApiError(400, "bad_request", "'tags' must be a list of texts")
    if "time" in body:
        start = _time(body, "time", required=True)
        end = None
    else:
        start = _time(body, "start", required=True)
        end = _time(body, "end", required=False)
    assert start is not None
    try:
        bookmark = await bookmarks.add(
            camera_id, start, context_of(request), name=name, end=end, note=note, tags=tags
        )
    except BookmarkError as err:
        raise ApiError(400, "bad_request", str(err)) from err
    return web.json_response(bookmark.as_dict(), status=201)


async def handle_remove(request: web.Request) -> web.Response:
    """Remove a bookmark (its author, a supervisor or an administrator)."""
    bookmarks = _bookmarks(request)
    try:
        bookmark_id = int(request.match_info["bookmark_id"])
        bookmark = await bookmarks.get(bookmark_id)
    except (ValueError, BookmarkError):
        raise ApiError(404, "not_found", "no such bookmark") from None
    user = require(request, Permission.LOGBOOK, bookmark.zone)
    if bookmark.author != f"user:{user.name}" and user.role not in _REMOVERS:
        raise ApiError(
            403, "forbidden", f"only its author ({bookmark.author}) or a supervisor removes it"
        )
    try:
        removed = await bookmarks.remove(bookmark_id, context_of(request))
    except BookmarkError as err:
        raise ApiError(409, "refused", str(err)) from err
    return web.json_response(removed.as_dict())


def bookmark_routes() -> list[Route]:
    """The bookmarks' routes."""
    logbook = Permission.LOGBOOK
    return [
        Route("GET", "/api/bookmarks", handle_list,
              "Bookmarks in scope overlapping a range, newest first (?from=&to=&camera=&tag="
              "&removed=)", permission=logbook, tag="logbook"),
        Route("POST", "/api/bookmarks", handle_add,
              "Bookmark a camera at an instant or over a range (at most 24 h)",
              permission=logbook, tag="logbook",
              request_body={"type": "object", "required": ["camera_id", "name"],
                            "properties": {"camera_id": {"type": "string"},
                                           "time": {"type": "string", "format": "date-time"},
                                           "start": {"type": "string", "format": "date-time"},
                                           "end": {"type": "string", "format": "date-time"},
                                           "name": {"type": "string"},
                                           "note": {"type": "string"},
                                           "tags": {"type": "array",
                                                    "items": {"type": "string"}}}}),
        Route("POST", "/api/bookmarks/{bookmark_id}/remove", handle_remove,
              "Remove a bookmark (its author, a supervisor or an administrator)",
              permission=logbook, tag="logbook"),
    ]  # fmt: skip
