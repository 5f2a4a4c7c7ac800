"""The logbook on the web: events in scope, acknowledgements, notes, CSV, and a live list.

``GET /api/logbook/events`` (``from``, ``to``, ``camera``, ``zone``, ``type`` repeatable,
``unacknowledged``, ``before``), ``POST /api/logbook/events/{id}/ack``, ``GET/POST
/api/logbook/notes``, ``GET /api/logbook/export.csv`` and the WebSocket
``GET /api/logbook/live``, which sends each new logbook event in the user's zones as JSON the
moment it is written (with its id, so it can be acknowledged at once). All need the
``logbook`` permission; cameras outside the user's zones are never shown.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final

from aiohttp import WSMsgType, web

from cityhub.auth.roles import Permission
from cityhub.db import format_utc
from cityhub.logbook import Logbook, LogbookEntry, LogbookError
from cityhub.web.auth import context_of, current_user
from cityhub.web.errors import ApiError, read_json
from cityhub.web.request import hub_of, query_time
from cityhub.web.routes import Route

if TYPE_CHECKING:
    pass

__all__ = ["logbook_routes"]

LIVE_QUEUE: Final = 200
"""Entries a slow live list may fall behind before it is told to reload."""
DEFAULT_STATISTICS_SPAN: Final = timedelta(days=30)
MAX_STATISTICS_SPAN: Final = timedelta(days=366)


def _logbook(request: web.Request) -> Logbook:
    logbook = hub_of(request).logbook
    if logbook is None:
        raise ApiError(409, "no_logbook", "the logbook is not running")
    return logbook


def _zones(request: web.Request) -> set[str] | None:
    """The zones the user sees, or None for all."""
    user = current_user(request)
    if "*" in user.zones:
        return None
    return set(user.zones)


def _int(request: web.Request, name: str) -> int | None:
    text = request.query.get(name)
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        raise ApiError(400, "bad_request", f"'{name}' must be a whole number") from None


def _filters(request: web.Request) -> dict[str, Any]:
    zones = _zones(request)
    wanted_zone = request.query.get("zone")
    if wanted_zone is not None:
        if zones is not None and wanted_zone not in zones:
            raise ApiError(403, "out_of_scope", f"the zone {wanted_zone!r} is not in your scope")
        zones = {wanted_zone}
    cameras = request.query.getall("camera", []) or None
    types = request.query.getall("type", []) or None
    return {
        "start": query_time(request, "from"),
        "end": query_time(request, "to"),
        "zones": zones,
        "cameras": cameras,
        "event_types": types,
    }


async def handle_events(request: web.Request) -> web.Response:
    """Logbook events in scope, newest first."""
    filters = _filters(request)
    entries = await _logbook(request).entries(
        **filters,
        unacknowledged=request.query.get("unacknowledged") in ("1", "true", "yes"),
        before_id=_int(request, "before"),
        limit=_int(request, "limit") or 200,
    )
    return web.json_response([e.as_dict() for e in entries])


async def handle_waiting(request: web.Request) -> web.Response:
    """How many events in scope wait for an acknowledgement (the alarm badge)."""
    return web.json_response({"count": await _logbook(request).waiting(_zones(request))})


async def handle_ack(request: web.Request) -> web.Response:
    """Acknowledge an event with a comment (once)."""
    logbook = _logbook(request)
    try:
        event_id = int(request.match_info["event_id"])
    except ValueError:
        raise ApiError(400, "bad_request", "the event id is a number") from None
    body = await read_json(request)
    comment, false_alarm = body.get("comment"), body.get("false_alarm", False)
    if not isinstance(comment, str) or not isinstance(false_alarm, bool):
        raise ApiError(400, "bad_request", "give 'comment' (text) and 'false_alarm' (boolean)")
    try:
        entry = await logbook.entry(event_id)
        if not logbook.in_scope(entry.camera_id, _zones(request)):
            raise ApiError(404, "unknown_event", f"no logbook event {event_id}")
        acked = await logbook.acknowledge(
            event_id, comment, context_of(request), false_alarm=false_alarm
        )
    except LogbookError as err:
        raise ApiError(409, "refused", str(err)) from err
    return web.json_response(acked.as_dict())


async def handle_notes(request: web.Request) -> web.Response:
    """Notes in scope, newest first."""
    notes = await _logbook(request).notes(
        start=query_time(request, "from"), end=query_time(request, "to"), zones=_zones(request)
    )
    return web.json_response([n.as_dict() for n in notes])


async def handle_add_note(request: web.Request) -> web.Response:
    """Add a note (optionally about a camera, an event, or correcting an earlier note)."""
    logbook = _logbook(request)
    body = await read_json(request)
    text = body.get("text")
    camera_id = body.get("camera_id")
    if not isinstance(text, str):
        raise ApiError(400, "bad_request", "give the note's 'text'")
    if camera_id is not None and not logbook.in_scope(camera_id, _zones(request)):
        raise ApiError(403, "out_of_scope", f"camera {camera_id} is not in your scope")
    try:
        note = await logbook.add_note(
            text,
            context_of(request),
            camera_id=camera_id,
            event_id=body.get("event_id"),
            corrects=body.get("corrects"),
        )
    except LogbookError as err:
        raise ApiError(409, "refused", str(err)) from err
    return web.json_response(note.as_dict())


async def handle_export(request: web.Request) -> web.Response:
    """Events and notes of a range as CSV."""
    logbook = _logbook(request)
    filters = _filters(request)
    entries = await logbook.entries(**filters)
    notes = await logbook.notes(start=filters["start"], end=filters["end"], zones=filters["zones"])
    return web.Response(
        text=Logbook.to_csv(entries, notes),
        content_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="logbook.csv"'},
    )


def _statistics_range(request: web.Request) -> tuple[datetime, datetime]:
    end = query_time(request, "to") or datetime.now(UTC)
    start = query_time(request, "from") or end - DEFAULT_STATISTICS_SPAN
    if end <= start:
        raise ApiError(400, "bad_request", "'to' must come after 'from'")
    if end - start > MAX_STATISTICS_SPAN:
        raise ApiError(400, "bad_request", "ask for at most 366 days of statistics at once")
    return start, end


async def _statistics(request: web.Request) -> tuple[datetime, datetime, list[Any]]:
    logbook = _logbook(request)
    start, end = _statistics_range(request)
    zones = _filters(request)["zones"]
    return start, end, await logbook.statistics(start, end, zones)


async def handle_statistics(request: web.Request) -> web.Response:
    """Per zone: events by type, acknowledgements, false alarms, notes, bookmarks."""
    start, end, found = await _statistics(request)
    return web.json_response(
        {"from": format_utc(start), "to": format_utc(end), "zones": [s.as_dict() for s in found]}
    )


async def handle_statistics_csv(request: web.Request) -> web.Response:
    """The same statistics as CSV, for the local security council's report."""
    start, end, found = await _statistics(request)
    names = {zone.id: zone.name for zone in hub_of(request).config.zones}
    name = f"statistics-{start:%Y%m%d}-{end:%Y%m%d}.csv"
    return web.Response(
        text=Logbook.statistics_csv(found, names),
        content_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def handle_live(request: web.Request) -> web.StreamResponse:
    """New logbook events in scope, pushed as JSON as they are written."""
    logbook = _logbook(request)
    zones = _zones(request)
    queue: asyncio.Queue[LogbookEntry | None] = asyncio.Queue(LIVE_QUEUE)

    def push(entry: LogbookEntry) -> None:
        if not logbook.in_scope(entry.camera_id, zones):
            return
        try:
            queue.put_nowait(entry)
        except asyncio.QueueFull:
            with contextlib.suppress(asyncio.QueueEmpty):
                while True:
                    queue.get_nowait()
            queue.put_nowait(None)  # fell behind: the list reloads

    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=1024)
    await ws.prepare(request)
    remove = logbook.listen(push)

    async def drain_client() -> None:
        async for message in ws:
            if message.type is WSMsgType.ERROR:
                return

    reader = asyncio.ensure_future(drain_client())
    try:
        while not ws.closed:
            getter = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
            if reader in done:
                getter.cancel()
                break
            entry = getter.result()
            if entry is None:
                await ws.send_json({"type": "reload"})
            else:
                await ws.send_json({"type": "event", "event": entry.as_dict()})
    finally:
        remove()
        reader.cancel()
        await ws.close()
    return ws


def logbook_routes() -> list[Route]:
    """The logbook's routes."""
    logbook = Permission.LOGBOOK
    return [
        Route("GET", "/api/logbook/events", handle_events,
              "Logbook events in scope, newest first (?from=&to=&camera=&zone=&type="
              "&unacknowledged=&before=)", permission=logbook, tag="logbook"),
        Route("GET", "/api/logbook/waiting", handle_waiting,
              "How many events in scope wait for an acknowledgement", permission=logbook,
              tag="logbook"),
        Route("POST", "/api/logbook/events/{event_id}/ack", handle_ack,
              "Acknowledge an event with a comment (and whether it was a false alarm)",
              permission=logbook, tag="logbook",
              request_body={"type": "object", "required": ["comment"],
                            "properties": {"comment": {"type": "string"},
                                           "false_alarm": {"type": "boolean"}}}),
        Route("GET", "/api/logbook/notes", handle_notes, "Operators' notes in scope",
              permission=logbook, tag="logbook"),
        Route("POST", "/api/logbook/notes", handle_add_note,
              "Add a note (about a camera, an event; or correcting a note)",
              permission=logbook, tag="logbook",
              request_body={"type": "object", "required": ["text"],
                            "properties": {"text": {"type": "string"},
                                           "camera_id": {"type": "string"},
                                           "event_id": {"type": "integer"},
                                           "corrects": {"type": "integer"}}}),
        Route("GET", "/api/logbook/export.csv", handle_export,
              "Events and notes of a range as CSV", permission=logbook, tag="logbook"),
        Route("GET", "/api/logbook/statistics", handle_statistics,
              "Per zone over a range (default the last 30 days): events by type, "
              "acknowledgements, false alarms, mean time to acknowledge, notes, bookmarks "
              "(?from=&to=&zone=)", permission=logbook, tag="logbook"),
        Route("GET", "/api/logbook/statistics.csv", handle_statistics_csv,
              "The statistics per zone as CSV", permission=logbook, tag="logbook"),
        Route("GET", "/api/logbook/live", handle_live,
              "New logbook events in scope, pushed over a WebSocket", permission=logbook,
              tag="logbook", websocket=True),
    ]  # fmt: skip
