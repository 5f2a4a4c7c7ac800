"""Services over the recordings: ``recording.timeline`` and ``recording.export``.

Both run with the caller's Context, so the panel, automations and the audit trail (which reads
``service.called``) see the same thing. Holds have their own services in :mod:`holds`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import voluptuous as vol

from cityhub.api import Context
from cityhub.media.export import Exporter, ExportProgress, ExportRequest, PlaceHold
from cityhub.media.holds import Holds, aware_datetime, end_after_start, non_empty_text
from cityhub.media.index import from_ms
from cityhub.media.playback import DEFAULT_STREAM, Playback
from cityhub.model import HubConfig
from cityhub.services import ServiceCall, ServiceRegistry, ServiceValidationError

EXPORTS_DIR = "exports"
"""Folder of the data folder where ``recording.export`` writes its packages."""

TIMELINE_SCHEMA = vol.Schema(
    vol.All(
        {
            vol.Required("camera_id"): non_empty_text("camera id"),
            vol.Required("start"): aware_datetime,
            vol.Required("end"): aware_datetime,
            vol.Optional("stream", default=DEFAULT_STREAM): non_empty_text("stream name"),
        },
        end_after_start,
    )
)
"""Data of ``recording.timeline``: a camera, a zoned ISO-8601 range, and the stream."""

EXPORT_SCHEMA = vol.Schema(
    vol.All(
        {
            vol.Required("cameras"): vol.All(
                [non_empty_text("camera id")], vol.Length(min=1, msg="name at least one camera")
            ),
            vol.Required("start"): aware_datetime,
            vol.Required("end"): aware_datetime,
            vol.Required("reference"): non_empty_text("requisition or case number"),
            vol.Required("legal_basis"): non_empty_text("legal basis of the export"),
            vol.Required("reason"): non_empty_text("reason for the export"),
            vol.Optional("stream", default=DEFAULT_STREAM): non_empty_text("stream name"),
        },
        end_after_start,
    )
)
"""Data of ``recording.export``: cameras, a zoned range, reference, legal basis and reason."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


EXPORT_PROGRESS: ContextVar[ExportProgress | None] = ContextVar("export_progress", default=None)
"""Where ``recording.export`` reports its progress: a caller that wants it (the web API's export
jobs) sets it in the task that calls the service; the call itself stays a plain, audited
service call."""


def export_folder(root: Path, reference: str, now: datetime) -> Path:
    """A new folder under ``root`` named after the time and the reference (file-name safe)."""
    name = f"{now.strftime('%Y%m%dT%H%M%SZ')}-{_UNSAFE.sub('-', reference).strip('-')[:60]}"
    return root / name


def register_recording_services(
    services: ServiceRegistry,
    config: HubConfig,
    playback: Playback,
    exporter: Callable[[], Exporter],
) -> Callable[[], None]:
    """Register ``recording.timeline`` and ``recording.export``; returns their remover."""
    known = {camera.id for camera in config.cameras}

    def check_cameras(cameras: Sequence[str]) -> None:
        unknown = sorted(set(cameras) - known)
        if unknown:
            raise ServiceValidationError(f"unknown camera(s): {', '.join(unknown)}")

    async def timeline(call: ServiceCall) -> dict[str, Any]:
        data = call.data
        check_cameras([data["camera_id"]])
        found = await playback.timeline(
            data["camera_id"], data["stream"], data["start"], data["end"]
        )

        def spans(items: Sequence[Any]) -> list[dict[str, str]]:
            return [
                {
                    "start": from_ms(i.start_ms).isoformat(timespec="milliseconds"),
                    "end": from_ms(i.end_ms).isoformat(timespec="milliseconds"),
                }
                for i in items
            ]

        return {
            "camera_id": found.camera_id,
            "stream": found.stream,
            "recordings": spans(found.recordings),
            "gaps": spans(found.gaps),
        }

    async def export(call: ServiceCall) -> dict[str, Any]:
        data = call.data
        check_cameras(data["cameras"])
        request = ExportRequest(
            cameras=tuple(data["cameras"]),
            start=data["start"],
            end=data["end"],
            reference=data["reference"],
            legal_basis=data["legal_basis"],
            reason=data["reason"],
            stream=data["stream"],
        )
        out = export_folder(config.hub.data_dir / EXPORTS_DIR, request.reference, datetime.now(UTC))
        result = await exporter().export(request, out, call.context, EXPORT_PROGRESS.get())
        return {
            "export_id": result.export_id,
            "path": str(result.path),
            "manifest_sha256": result.manifest_sha256,
            "hold_id": result.hold_id,
        }

    removers = [
        services.register(
            "recording", "timeline", timeline, TIMELINE_SCHEMA, "Recordings and gaps of a camera."
        ),
        services.register(
            "recording",
            "export",
            export,
            EXPORT_SCHEMA,
            "Write a signed evidence package of a range and hold its footage.",
        ),
    ]

    def unregister() -> None:
        for remove in removers:
            remove()

    return unregister


def hold_placer(holds: Holds) -> PlaceHold:
    """``Holds.create`` as the exporter calls it: returns the new hold's id."""

    async def place(
        cameras: Sequence[str],
        start: datetime,
        end: datetime,
        reference: str,
        reason: str,
        context: Context,
    ) -> int:
        hold = await holds.create(cameras, start, end, reference, reason, context)
        return hold.id

    return place
