"""The health of the installation as the supervisor's screen shows it, computed on request.

Every open Health screen asks every few seconds, so what costs a walk through the index (the
day's gaps of each camera, the sums over every segment) is kept for a short while
(:data:`GAPS_TTL_S`, :data:`STORAGE_TTL_S`) and computed once for all the screens asking at
the same time; the live figures (states, stream counters, free space) are always fresh.

Per camera: connection state and since when, stream counters (fps, bitrate, last frame),
recording, today's gaps in the recording (local day of the hub), clock drift. For storage:
use, the storage level of the retention manager, what was recorded over the last 24 hours and
the **retention forecast**: how many days of footage the medium holds at that rate, against the
longest retention configured (when it is shorter, the disk, not the law, decides what is kept,
and early purges will come). Alarm badges: unacknowledged logbook events.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Collection
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar
from zoneinfo import ZoneInfo

from cityhub import __version__
from cityhub.media.index import to_ms

if TYPE_CHECKING:
    from cityhub.hub import Hub

__all__ = ["FORECAST_WINDOW", "GAPS_TTL_S", "STORAGE_TTL_S", "HealthReporter"]

FORECAST_WINDOW: Final = timedelta(hours=24)
"""The recording rate of the forecast is that of the last 24 hours (a whole day and night)."""

GAPS_TTL_S: Final = 30.0
"""How long a camera's gaps of the day are reused before the index is read again."""

STORAGE_TTL_S: Final = 60.0
"""How long the sums over the segments (footage kept, recorded in 24 h) are reused."""

_T = TypeVar("_T")


class _Cached(Generic[_T]):
    """One value computed at most once per ``ttl`` seconds, whoever asks meanwhile."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._value: _T | None = None
        self._at = -math.inf
        self._lock = asyncio.Lock()

    async def get(self, compute: Callable[[], Awaitable[_T]]) -> _T:
        """The value, computed by ``compute()`` when older than the ttl (once for all waiters)."""
        async with self._lock:
            if self._value is None or time.monotonic() - self._at >= self.ttl:
                self._value = await compute()
                self._at = time.monotonic()
            return self._value


class HealthReporter:
    """The health report of one hub, with the index walks shared between screens."""

    def __init__(self, hub: Hub) -> None:
        self._hub = hub
        self._gaps: dict[str, tuple[int, _Cached[list[dict[str, str]]]]] = {}
        self._sums: _Cached[tuple[int, int]] = _Cached(STORAGE_TTL_S)

    async def report(self, zones: Collection[str] | None = None) -> dict[str, Any]:
        """The health of the hub's cameras in ``zones`` (None: every zone) and of its storage."""
        return await _report(self._hub, zones, self)

    async def gaps_today(
        self, camera_id: str, start: datetime, now: datetime
    ) -> list[dict[str, str]]:
        """A camera's gaps in its main stream since ``start`` (local midnight), kept briefly."""
        day = to_ms(start)
        known = self._gaps.get(camera_id)
        if known is None or known[0] != day:  # a new day: a new list
            known = self._gaps[camera_id] = (day, _Cached(GAPS_TTL_S))
        cached = known[1]
        return await cached.get(lambda: _gaps(self._hub, camera_id, start, now))

    async def segment_sums(self, now: datetime) -> tuple[int, int]:
        """Bytes recorded over the last 24 h and bytes of footage kept, kept briefly."""
        return await self._sums.get(lambda: _segment_sums(self._hub, now))


async def _gaps(hub: Hub, camera_id: str, start: datetime, now: datetime) -> list[dict[str, str]]:
    assert hub.recording is not None
    found = await hub.recording.index.coverage(camera_id, "main", to_ms(start), to_ms(now))
    return [
        {
            "start": datetime.fromtimestamp(g.start_ms / 1000, UTC).isoformat(timespec="seconds"),
            "end": datetime.fromtimestamp(g.end_ms / 1000, UTC).isoformat(timespec="seconds"),
        }
        for g in found.gaps
    ]


async def _report(
    hub: Hub, zones: Collection[str] | None, reporter: HealthReporter
) -> dict[str, Any]:
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
            gaps = await reporter.gaps_today(camera.id, midnight, now)
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
        "storage": await _storage(hub, now, reporter),
        "alarms": await _alarms(hub, zones),
    }


async def _segment_sums(hub: Hub, now: datetime) -> tuple[int, int]:
    assert hub.db is not None
    since = to_ms(now - FORECAST_WINDOW)
    row = await hub.db.fetchone(
        "SELECT coalesce(sum(bytes), 0) AS recent FROM segments WHERE start_ms >= ?", (since,)
    )
    stored = await hub.db.fetchone("SELECT coalesce(sum(bytes), 0) AS total FROM segments")
    daily = int(row["recent"]) if row is not None else 0
    footage = int(stored["total"]) if stored is not None else 0
    return daily, footage


async def _storage(hub: Hub, now: datetime, reporter: HealthReporter) -> dict[str, Any] | None:
    if hub.storage is None or hub.db is None:
        return None
    usage = await asyncio.to_thread(hub.storage.usage)
    daily, footage = await reporter.segment_sums(now)
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
