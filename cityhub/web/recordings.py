"""Recorded footage on the web: timelines, playback streams, holds and evidence exports.

Each handler checks the permission on the zone of every camera it names, then goes through
the hub's services with the user's Context (so the audit trail, written from
``service.called``, sees who did it), except the playback stream, which is not a service
call and fires ``playback.started`` / ``playback.stopped`` itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import io
import json
import logging
import queue
import secrets
import threading
import time
import zipfile
from collections.abc import Callable
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import attrs
from aiohttp import web

from cityhub.auth.roles import Permission, Role
from cityhub.media.export import MANIFEST_FILE
from cityhub.media.index import to_ms
from cityhub.media.playback import DEFAULT_STREAM, NoFootageError, PlaybackError
from cityhub.media.recording_services import EXPORT_PROGRESS
from cityhub.services import ServiceError, ServiceValidationError
from cityhub.web.auth import BUS_KEY, context_of, current_user, require
from cityhub.web.errors import ApiError, read_json
from cityhub.web.request import hub_of, required_time
from cityhub.web.routes import Route

if TYPE_CHECKING:
    from cityhub.hub import Hub
    from cityhub.model import CameraConfig

__all__ = [
    "EVENT_EXPORT_DOWNLOADED",
    "EVENT_PLAYBACK_STARTED",
    "EVENT_PLAYBACK_STOPPED",
    "EXPORT_JOBS_KEY",
    "FIRST_FRAME_HEADER",
    "ExportJob",
    "recording_routes",
]

_LOGGER = logging.getLogger(__name__)

EVENT_PLAYBACK_STARTED: Final = "playback.started"
EVENT_PLAYBACK_STOPPED: Final = "playback.stopped"
EVENT_EXPORT_DOWNLOADED: Final = "export.downloaded"
FIRST_FRAME_HEADER: Final = "X-First-Frame-Ms"
"""Header of a playback stream: the UTC instant of its first frame (media time 0), in ms since
the POSIX epoch with up to three decimals: the instant of media time ``t`` is this plus ``t``."""
MAX_PLAYBACK_S: Final = 24 * 3600
"""Longest range one playback request streams (seconds): a day; the panel asks piece by piece."""
MAX_EXPORT_S: Final = 24 * 3600
"""Longest range one export covers (seconds): a day; a longer case is several exports under one
reference, so no single job holds the hub's disk and the operator's browser for hours."""


def _camera(hub: Hub, camera_id: str) -> CameraConfig:
    camera = next((c for c in hub.config.cameras if c.id == camera_id), None)
    if camera is None:
        raise ApiError(404, "unknown_camera", f"no camera {camera_id!r}")
    return camera


def _range(request: web.Request) -> tuple[datetime, datetime]:
    start = required_time(request, "from")
    end = required_time(request, "to")
    if end <= start:
        raise ApiError(400, "bad_request", "'to' must come after 'from'")
    return start, end


async def _call(request: web.Request, service: str, data: dict[str, Any]) -> Any:
    hub = hub_of(request)
    try:
        return await hub.services.async_call("recording", service, data, context_of(request))
    except ServiceValidationError as err:
        raise ApiError(400, "invalid", str(err)) from err
    except ServiceError as err:
        raise ApiError(409, "refused", str(err)) from err
    except PlaybackError as err:
        raise ApiError(409, "no_footage", str(err)) from err


def _check_cameras(request: web.Request, camera_ids: Any, permission: Permission) -> None:
    hub = hub_of(request)
    if not isinstance(camera_ids, list) or not all(isinstance(c, str) for c in camera_ids):
        raise ApiError(400, "bad_request", "give 'cameras' as a list of camera ids")
    for camera_id in camera_ids:
        require(request, permission, _camera(hub, camera_id).zone)


async def handle_timeline(request: web.Request) -> web.Response:
    """Recordings, gaps and active holds of a camera over a range."""
    hub = hub_of(request)
    camera = _camera(hub, request.match_info["camera_id"])
    require(request, Permission.PLAYBACK, camera.zone)
    start, end = _range(request)
    stream = request.query.get("stream", DEFAULT_STREAM)
    found = await _call(
        request,
        "timeline",
        {"camera_id": camera.id, "start": start.isoformat(), "end": end.isoformat(),
         "stream": stream},
    )  # fmt: skip
    holds = await hub.holds.active(camera.id) if hub.holds is not None else []
    start_ms, end_ms = to_ms(start), to_ms(end)
    found["holds"] = [h.as_dict() for h in holds if h.start_ms < end_ms and h.end_ms > start_ms]
    return web.json_response(found)


async def handle_playback(request: web.Request) -> web.StreamResponse:
    """Footage of a camera over a range as fragmented MP4, from the keyframe at or before it."""
    hub = hub_of(request)
    camera = _camera(hub, request.match_info["camera_id"])
    require(request, Permission.PLAYBACK, camera.zone)
    start, end = _range(request)
    if (end - start).total_seconds() > MAX_PLAYBACK_S:
        raise ApiError(400, "bad_request", f"ask for at most {MAX_PLAYBACK_S // 3600} h at once")
    stream = request.query.get("stream", DEFAULT_STREAM)
    if hub.playback is None:
        raise ApiError(409, "no_recording", "recording is not running on this hub")
    origins: list[Fraction] = []
    chunks = hub.playback.stream(camera.id, stream, start, end, on_first=origins.append)
    try:
        first = await anext(chunks)
    except (StopAsyncIteration, NoFootageError) as err:
        await chunks.aclose()
        raise ApiError(404, "no_footage", str(err) or "no footage in this range") from err
    except PlaybackError as err:
        await chunks.aclose()
        raise ApiError(409, "playback_failed", str(err)) from err
    context = context_of(request)
    bus = request.app[BUS_KEY]
    data = {"camera_id": camera.id, "stream": stream, "start": start.isoformat(),
            "end": end.isoformat(), "client_address": request.remote}  # fmt: skip
    bus.async_fire(EVENT_PLAYBACK_STARTED, data, context)
    began, sent = time.monotonic(), 0
    headers = {"Content-Type": "video/mp4", "Cache-Control": "no-store"}
    if origins:
        headers[FIRST_FRAME_HEADER] = f"{float(origins[0]):.3f}".rstrip("0").rstrip(".")
    response = web.StreamResponse(headers=headers)
    try:
        await response.prepare(request)
        await response.write(first)
        sent += len(first)
        async for chunk in chunks:
            await response.write(chunk)
            sent += len(chunk)
        await response.write_eof()
    finally:
        await chunks.aclose()
        bus.async_fire(
            EVENT_PLAYBACK_STOPPED,
            {**data, "bytes": sent, "seconds": round(time.monotonic() - began, 1)},
            context,
        )
    return response


_HELD: Final = (
    "SELECT hc.hold_id AS hold_id, s.id AS segment_id, s.bytes AS bytes"
    " FROM holds h JOIN hold_cameras hc ON hc.hold_id = h.id"
    " JOIN segments s ON s.camera_id = hc.camera_id"
    " AND s.start_ms <= h.end_ms AND s.end_ms >= h.start_ms"
    " WHERE h.released_at IS NULL"
)
"""Every (active hold, segment it covers) pair: the condition of ``SEGMENT_IS_HELD``, walked
from the few holds to their cameras' segments rather than from every segment."""
# Composed only from the constant above, never from values: hence the ``noqa: S608``.
_HELD_BY_HOLD: Final = (
    "SELECT hold_id, count(*) AS segments, coalesce(sum(bytes), 0) AS bytes"  # noqa: S608
    f" FROM ({_HELD}) GROUP BY hold_id"
)
"""Segments and bytes each active hold covers (a segment under two holds counts in both)."""
_HELD_TOTAL: Final = (
    "SELECT count(*) AS segments, coalesce(sum(bytes), 0) AS bytes FROM segments"  # noqa: S608
    f" WHERE id IN (SELECT segment_id FROM ({_HELD}))"
)
"""Segments and bytes all active holds together keep from purge, each segment once (found
from the holds through the camera index, not by testing every segment)."""


async def handle_holds(request: web.Request) -> web.Response:
    """Active holds on the cameras in the user's scope, with the storage each keeps from purge."""
    hub = hub_of(request)
    user = current_user(request)
    zones = {c.id: c.zone for c in hub.config.cameras}
    holds = await hub.holds.active() if hub.holds is not None else []
    held: dict[int, tuple[int, int]] = {}
    if hub.db is not None and holds:
        rows = await hub.db.fetchall(_HELD_BY_HOLD)
        held = {int(r["hold_id"]): (int(r["segments"]), int(r["bytes"])) for r in rows}
    return web.json_response(
        [
            {**h.as_dict(), "held_segments": held.get(h.id, (0, 0))[0],
             "held_bytes": held.get(h.id, (0, 0))[1]}
            for h in holds
            if any(user.sees_zone(zones.get(c, "")) for c in h.cameras)
        ]
    )  # fmt: skip


async def handle_held_storage(request: web.Request) -> web.Response:
    """Storage all active holds together keep from purge (each segment counted once)."""
    hub = hub_of(request)
    if hub.db is None:
        return web.json_response({"segments": 0, "bytes": 0})
    row = await hub.db.fetchone(_HELD_TOTAL)
    assert row is not None
    return web.json_response({"segments": int(row["segments"]), "bytes": int(row["bytes"])})


async def handle_hold(request: web.Request) -> web.Response:
    """Place a hold (a freeze or a requisition) on cameras over a range."""
    body = await read_json(request)
    _check_cameras(request, body.get("cameras"), Permission.HOLD)
    hold = await _call(request, "hold", body)
    return web.json_response(hold.as_dict())


async def handle_release(request: web.Request) -> web.Response:
    """Release a hold (supervisors and admins: a freeze is lifted by the one in charge)."""
    body = await read_json(request)
    try:
        hold_id = int(request.match_info["hold_id"])
    except ValueError:
        raise ApiError(400, "bad_request", "the hold id is a number") from None
    hub = hub_of(request)
    if hub.holds is not None:
        try:
            hold = await hub.holds.get(hold_id)
        except ServiceError as err:
            raise ApiError(404, "unknown_hold", str(err)) from err
        _check_cameras(request, list(hold.cameras), Permission.EXPORT)
    released = await _call(request, "release", {"hold_id": hold_id, "reason": body.get("reason")})
    return web.json_response(released.as_dict())


@attrs.define(eq=False)
class ExportJob:
    """An export running in the background for the panel's dialog: its progress and outcome."""

    id: str
    requested_by: str
    request: dict[str, Any]
    started: float = attrs.field(factory=time.monotonic)
    progress: dict[str, list[int]] = attrs.field(factory=dict)  # camera -> [done_ms, total_ms]
    camera: str | None = None  # the camera being written now
    state: str = "running"  # running, done, failed
    result: dict[str, Any] | None = None
    error: dict[str, str] | None = None
    task: asyncio.Task[None] | None = None

    def report(self, camera_id: str, done: int, total: int) -> None:
        """The exporter's progress callback (called from its worker thread)."""
        self.progress[camera_id] = [done, total]
        self.camera = camera_id

    def as_dict(self) -> dict[str, Any]:
        """What the dialog shows."""
        done = sum(p[0] for p in self.progress.values())
        total = sum(p[1] for p in self.progress.values())
        # Cameras not reached yet have no total: count each as one whole share.
        cameras = self.request.get("cameras")
        count = len(cameras) if isinstance(cameras, list) and cameras else 1
        shares = [p[0] / p[1] for p in self.progress.values() if p[1]]
        fraction = sum(shares) / max(count, len(shares)) if shares else 0.0
        if self.state == "done":
            fraction = 1.0
        return {
            "id": self.id,
            "state": self.state,
            "requested_by": self.requested_by,
            "reference": self.request.get("reference"),
            "cameras": cameras,
            "start": self.request.get("start"),
            "end": self.request.get("end"),
            "camera": self.camera if self.state == "running" else None,
            "fraction": round(min(fraction, 1.0), 3),
            "done_ms": done,
            "total_ms": total,
            "seconds": round(time.monotonic() - self.started, 1),
            "result": self.result,
            "error": self.error,
        }


EXPORT_JOBS_KEY: web.AppKey[dict[str, ExportJob]] = web.AppKey("export_jobs", dict)
MAX_FINISHED_JOBS: Final = 50
"""Finished export jobs remembered for the dialog (the register keeps every export)."""


async def _run_export(request: web.Request, job: ExportJob) -> None:
    EXPORT_PROGRESS.set(job.report)
    try:
        result = await _call(request, "export", job.request)
        job.result = {**result, **await asyncio.to_thread(_integrity, Path(result["path"]))}
        hub = hub_of(request)
        if hub.holds is not None:
            job.result["hold"] = (await hub.holds.get(result["hold_id"])).as_dict()
        job.state = "done"
    except ApiError as err:
        job.state, job.error = "failed", {"error": err.code, "message": err.message}
    except Exception:
        _LOGGER.exception("Export %s failed", job.id)
        job.state = "failed"
        job.error = {"error": "internal", "message": "the export failed; see the hub's log"}


async def handle_export(request: web.Request) -> web.Response:
    """Start writing a signed evidence package of cameras over a range (its footage is held).

    Answers 202 with the job at once; ``GET /api/exports/{id}`` follows its progress and
    ``GET /api/exports/{id}/package.zip`` downloads the package once done.
    """
    body = await read_json(request)
    _check_cameras(request, body.get("cameras"), Permission.EXPORT)
    _check_length(body)
    jobs = request.app[EXPORT_JOBS_KEY]
    finished = [j for j in jobs.values() if j.state != "running"]
    for old in finished[: max(0, len(finished) - MAX_FINISHED_JOBS)]:
        jobs.pop(old.id, None)
    job = ExportJob(secrets.token_hex(8), current_user(request).name, body)
    jobs[job.id] = job
    job.task = asyncio.create_task(_run_export(request, job), name=f"export:{job.id}")
    return web.json_response(job.as_dict(), status=202)


def _integrity(folder: Path) -> dict[str, Any]:
    """What the operator checks a package by: the ZIP's SHA-256, its size, the signing key."""
    manifest = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    digest = hashlib.sha256()
    size = 0

    def put(piece: bytes) -> None:
        nonlocal size
        digest.update(piece)
        size += len(piece)

    _write_zip(folder, put)
    return {
        "package_sha256": digest.hexdigest(),
        "package_bytes": size,
        "public_key_sha256": manifest["signature"]["public_key_sha256"],
        "files": manifest["files"],
    }


def _check_length(body: dict[str, Any]) -> None:
    """Refuse a range longer than :data:`MAX_EXPORT_S` (other checks are the service's)."""
    try:
        start = datetime.fromisoformat(str(body.get("start")))
        end = datetime.fromisoformat(str(body.get("end")))
        seconds = (end - start).total_seconds()
    except (TypeError, ValueError):
        return  # the service names what is wrong with the times
    if seconds > MAX_EXPORT_S:
        raise ApiError(
            400, "too_long",
            f"an export covers at most {MAX_EXPORT_S // 3600} h ({seconds / 3600:.1f} h asked): "
            "split the range into several exports under the same reference",
        )  # fmt: skip


async def handle_exports(request: web.Request) -> web.Response:
    """The longest range an export may cover, the hub's time zone and the user's export jobs."""
    user = current_user(request)
    jobs = [j for j in request.app[EXPORT_JOBS_KEY].values() if j.requested_by == user.name]
    return web.json_response(
        {
            "max_seconds": MAX_EXPORT_S,
            "time_zone": hub_of(request).config.hub.time_zone,
            "jobs": [j.as_dict() for j in reversed(jobs)],
        }
    )


def _job(request: web.Request) -> ExportJob:
    job = request.app[EXPORT_JOBS_KEY].get(request.match_info["job_id"])
    user = current_user(request)
    if job is None or (job.requested_by != user.name and user.role is not Role.ADMIN):
        raise ApiError(404, "unknown_export", "no such export of yours")
    return job


async def handle_export_status(request: web.Request) -> web.Response:
    """Progress and outcome of an export job."""
    return web.json_response(_job(request).as_dict())


async def handle_export_download(request: web.Request) -> web.StreamResponse:
    """The finished package as one ZIP file (the folder as written: MP4s, manifest, sums).

    Streamed as it is written, a few pieces ahead of the client: a long export never sits in
    memory; the bytes are the same every time, so the SHA-256 the job shows is the file's.
    """
    job = _job(request)
    if job.state != "done" or job.result is None:
        raise ApiError(409, "not_ready", f"the export is {job.state}")
    folder = Path(job.result["path"])
    if not await asyncio.to_thread(folder.is_dir):
        raise ApiError(410, "gone", f"the package folder {folder} is no longer on the hub")
    request.app[BUS_KEY].async_fire(
        EVENT_EXPORT_DOWNLOADED,
        {"export_id": job.result.get("export_id"), "reference": job.request.get("reference"),
         "client_address": request.remote},
        context_of(request),
    )  # fmt: skip
    pieces: queue.Queue[bytes | BaseException | None] = queue.Queue(ZIP_QUEUE_PIECES)
    stop = threading.Event()

    def put(piece: bytes) -> None:
        while not stop.is_set():
            try:
                pieces.put(piece, timeout=0.5)
                return
            except queue.Full:
                continue
        raise _DownloadAbandonedError

    def produce() -> None:
        last: BaseException | None = None  # the end, or why the ZIP could not be written
        try:
            _write_zip(folder, put)
        except _DownloadAbandonedError:
            return
        except Exception as err:  # handed to the loop, which raises it there
            last = err
        with contextlib.suppress(queue.Full):
            pieces.put(last, timeout=5)

    producer = asyncio.create_task(asyncio.to_thread(produce), name=f"export-zip:{job.id}")
    response = web.StreamResponse(
        headers={"Content-Type": "application/zip",
                 "Content-Disposition": f'attachment; filename="{folder.name}.zip"'}
    )  # fmt: skip
    try:
        await response.prepare(request)
        while (piece := await asyncio.to_thread(pieces.get)) is not None:
            if isinstance(piece, BaseException):
                # Raised once the headers are sent: the transfer is cut, so the client never
                # takes a short file for a complete one.
                raise piece
            await response.write(piece)
        await response.write_eof()
    finally:
        stop.set()
        await producer
    return response


ZIP_PIECE_BYTES: Final = 1 << 20
"""Size of the pieces a package ZIP is written in (bytes)."""
ZIP_QUEUE_PIECES: Final = 8
"""Pieces written ahead of a downloading client: what one download holds in memory (8 MiB)."""


class _DownloadAbandonedError(Exception):
    """The client went away: the ZIP writer stops."""


class _ZipSink(io.RawIOBase):
    """An unseekable file handing what is written to ``put``, in pieces of ZIP_PIECE_BYTES."""

    def __init__(self, put: Callable[[bytes], None]) -> None:
        super().__init__()
        self._put = put
        self._buffer = bytearray()

    def writable(self) -> bool:
        """A sink is written, never read."""
        return True

    def write(self, data: Any, /) -> int:
        """Take ``data``; hand on a piece once enough has come."""
        size = memoryview(data).nbytes
        self._buffer += data
        if len(self._buffer) >= ZIP_PIECE_BYTES:
            self.flush()
        return size

    def flush(self) -> None:
        """Hand on what is buffered."""
        if self._buffer:
            self._put(bytes(self._buffer))
            self._buffer.clear()


def _write_zip(folder: Path, put: Callable[[bytes], None]) -> None:
    """Write the package folder as a ZIP to ``put`` (stored: MP4 does not shrink).

    The writer cannot seek back, so each entry ends with a data descriptor; the bytes depend
    only on the files (names, contents, times), so every download is the same file.
    """
    sink = _ZipSink(put)
    with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED) as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, f"{folder.name}/{path.relative_to(folder)}")
    sink.flush()


_RANGE_BODY: dict[str, Any] = {
    "type": "object",
    "required": ["cameras", "start", "end", "reference", "reason"],
    "properties": {
        "cameras": {"type": "array", "items": {"type": "string"}},
        "start": {"type": "string", "format": "date-time"},
        "end": {"type": "string", "format": "date-time"},
        "reference": {"type": "string"},
        "reason": {"type": "string"},
    },
}


def recording_routes() -> list[Route]:
    """Timelines, playback, holds and exports."""
    export_body = {
        **_RANGE_BODY,
        "required": [*_RANGE_BODY["required"], "legal_basis"],
        "properties": {**_RANGE_BODY["properties"], "legal_basis": {"type": "string"}},
    }
    return [
        Route(
            "GET", "/api/cameras/{camera_id}/timeline", handle_timeline,
            "Recordings, gaps and active holds of a camera (?from=&to=&stream=)",
            permission=Permission.PLAYBACK, tag="recordings",
        ),
        Route(
            "GET", "/api/cameras/{camera_id}/recording", handle_playback,
            "Footage of a camera as fragmented MP4 (?from=&to=&stream=), remuxed, never "
            "transcoded, from the keyframe at or before 'from'; the X-First-Frame-Ms header "
            "gives the UTC instant (ms since the epoch) of media time 0",
            permission=Permission.PLAYBACK, tag="recordings",
        ),
        Route("GET", "/api/holds", handle_holds,
              "Active holds in the user's scope, with the segments and bytes each keeps from "
              "purge (a hold lasts until released)", tag="recordings"),
        Route("GET", "/api/holds/storage", handle_held_storage,
              "Segments and bytes all active holds keep from purge, each segment once",
              tag="recordings"),
        Route(
            "POST", "/api/holds", handle_hold, "Hold cameras' footage over a range (freeze)",
            permission=Permission.HOLD, request_body=_RANGE_BODY, tag="recordings",
        ),
        Route(
            "POST", "/api/holds/{hold_id}/release", handle_release, "Release a hold",
            permission=Permission.EXPORT, tag="recordings",
            request_body={"type": "object", "required": ["reason"],
                          "properties": {"reason": {"type": "string"}}},
        ),
        Route(
            "GET", "/api/exports", handle_exports,
            "The longest range an export may cover (max_seconds), the hub's time zone and "
            "the user's export jobs, newest first",
            permission=Permission.EXPORT, tag="recordings",
        ),
        Route(
            "POST", "/api/exports", handle_export,
            "Start writing a signed evidence package (MP4 per camera, manifest, signature) "
            "and hold its footage; answers 202 with the job (at most max_seconds of range)",
            permission=Permission.EXPORT,
            request_body=export_body, tag="recordings",
        ),
        Route(
            "GET", "/api/exports/{job_id}", handle_export_status,
            "Progress (fraction, camera) and outcome of an export: the package's SHA-256, "
            "the signing key's fingerprint and the hold it placed",
            permission=Permission.EXPORT, tag="recordings",
        ),
        Route(
            "GET", "/api/exports/{job_id}/package.zip", handle_export_download,
            "The finished evidence package as a ZIP", permission=Permission.EXPORT,
            tag="recordings",
        ),
    ]  # fmt: skip
