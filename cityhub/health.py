"""The health of the installation as the supervisor's screen shows it, computed on request.

Per camera: connection state and since when, stream counters (fps, bitrate, last frame),
recording, today's gaps in the recording (local day of the hub), clock drift. For storage:
use, the storage level of the retention manager, what was recorded over the last 24 hours and
the **retention forecast**: how many days of footage the medium holds at that rate, against the
longest retention configured (when it is shorter, the disk, not the law, decides what is kept,
and early purges will come). Alarm badges: unacknowledged logbook events.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final
from zoneinfo import ZoneInfo

from cityhub import __version__
from cityhub.media.index import to_ms

if TYPE_CHECKING:
    from cityhub.hub import Hub

__all__ = ["FORECAST_WINDOW", "health_report"]

FORECAST_WINDOW: Final = timedelta(hours=24)
"""The recording rate of the forecast is that of the last 24 hours (a whole day and night)."""


async def health_report(hub: Hub, zones: Collection[str] | None = None) -> dict[str, Any]:
    """The health of the hub's cameras in ``zones`` (None: every zone) and of its storage."""
    now = datetime.now(UTC)
    local = ZoneInfo(hub.config.hub.time_zone)
    midnight = now.astimezone(local).replace(hour=0, minute=0, second=0, microsecond=0)
    cameras = []
    for camera in hub.config.cameras:
        if zones is not None and camera.zone not in zones:
            continue
        status = hub.states.get(camera.id)
        runtime = hub.cameras.get(camera.id)
        streams: dict[str, Any] = {}
        if runtime is not None:
            for name, source in runtime.sources.items():
                stats = source.stats()
                last = stats.last_packet
                streams[name] = {
                    "fps": round(stats.fps, 2),
                    "bitrate": round(stats.bitrate),
                    "last_frame": None
                    if last is None
                    else datetime.fromtimestamp(last, UTC).isoformat(timespec="seconds"),
                    "reconnects": stats.reconnects,
                    "dropped": stats.dropped,
                }
        gaps: list[dict[str, str]] = []
        if hub.recording is not None and camera.enabled and camera.recording.enabled:
            found = await hub.recording.index.coverage(
                camera.id, "main", to_ms(midnight), to_ms(now)
            )
            gaps = [
                {
                    "start": datetime.fromtimestamp(g.start_ms / 1000, UTC).isoformat(
                        timespec="seconds"
                    ),
                    "end": datetime.fromtimestamp(g.end_ms / 1000, UTC).isoformat(
                        timespec="seconds"
                    ),
                }
                for g in found.gaps
            ]
        attributes = dict(status.attributes) if status else {}
        cameras.append(
            {
                "id": camera.id,
                "name": camera.name,
                "zone": camera.zone,
                "enabled": camera.enabled,
                "state": status.state.value if status else "disabled",
                "reason": status.reason if status else None,
                "since": status.last_changed.isoformat(timespec="seconds") if status else None,
                "recording": status.recording if status else False,
                "streams": streams,
                "gaps_today": gaps,
                "clock_drift_s": attributes.get("clock_drift_s"),
            }
        )
    uptime = time.monotonic() - hub.started_at if hub.started_at is not None else 0.0
    return {
        "hub": hub.config.hub.name,
        "version": __version__,
        "uptime_s": round(uptime, 1),
        "time_zone": hub.config.hub.time_zone,
        "cameras": cameras,
        "storage": await _storage(hub, now),
        "alarms": await _alarms(hub, zones),
    }


async def _storage(hub: Hub, now: datetime) -> dict[str, Any] | None:
    if hub.storage is None or hub.db is None:
        return None
    usage = await asyncio.to_thread(hub.storage.usage)
    since = to_ms(now - FORECAST_WINDOW)
    row = await hub.db.fetchone(
        "SELECT coalesce(sum(bytes), 0) AS recent FROM segments WHERE start_ms >= ?", (since,)
    )
    stored = await hub.db.fetchone("SELECT coalesce(sum(bytes), 0) AS total FROM segments")
    daily = int(row["recent"]) if row is not None else 0
    footage = int(stored["total"]) if stored is not None else 0
    longest = max((c.retention_days for c in hub.config.cameras if c.enabled), default=0)
    forecast = round((footage + usage.free) / daily, 1) if daily else None
    level = hub.retention.level.value if hub.retention is not None else None
    return {
        "total": usage.total,
        "used": usage.used,
        "free": usage.free,
        "level": level,
        "recorded_last_24h": daily,
        "footage": footage,
        "forecast_days": forecast,
        "longest_retention_days": longest,
        "forecast_short": forecast is not None and forecast < longest,
    }


async def _alarms(hub: Hub, zones: Collection[str] | None) -> dict[str, int]:
    if hub.logbook is None:
        return {"unacknowledged": 0}
    pending = await hub.logbook.entries(zones=zones, unacknowledged=True)
    return {"unacknowledged": len(pending)}
