"""Shared helpers for the retention and hold tests: a real database, real files, events."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from cityhub.api import CameraKind, StorageBackend
from cityhub.bus import Event, EventBus
from cityhub.db import Database
from cityhub.media.index import to_ms
from cityhub.model import CameraConfig

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
"""The instant the tests' purge passes run at."""

DAY = timedelta(days=1)
SEGMENT = timedelta(minutes=1)


def camera(camera_id: str, retention_days: int = 14) -> CameraConfig:
    """A configured camera with the given (already resolved) retention."""
    return CameraConfig(
        id=camera_id,
        name=camera_id.upper(),
        kind=CameraKind.FIXED,
        driver="virtual",
        zone="centre",
        retention_days=retention_days,
    )


async def add_cameras(db: Database, *camera_ids: str) -> None:
    """Put cameras in the inventory, as the hub does at start-up."""
    for camera_id in camera_ids:
        await db.upsert_camera(camera_id, camera_id.upper(), NOW)


async def add_segment(
    db: Database,
    storage: StorageBackend,
    camera_id: str,
    start: datetime,
    *,
    length: timedelta = SEGMENT,
    size: int = 1000,
    state: str = "complete",
    write: bool = True,
    stream: str = "main",
) -> int:
    """Write a segment file of ``size`` bytes (unless ``write`` is false) and index it."""
    start_ms = to_ms(start)
    end_ms = start_ms if state == "open" else to_ms(start + length)
    key = f"{camera_id}/{stream}/{start:%Y/%m/%d/%H%M%S}.mp4"
    payload = bytes(size)
    if write:
        with storage.open_write(key) as file:
            file.write(payload)
    row = await db.fetchone(
        "INSERT INTO segments (camera_id, stream, start_ms, end_ms, bytes, codec, width,"
        " height, fps, storage_key, sha256, state) VALUES (?, ?, ?, ?, ?, 'h264', 1920, 1080,"
        " 25, ?, ?, ?) RETURNING id",
        (
            camera_id,
            stream,
            start_ms,
            end_ms,
            size,
            key,
            None if state == "open" else hashlib.sha256(payload).hexdigest(),
            state,
        ),
    )
    assert row is not None
    return int(row["id"])


async def segment_ids(db: Database) -> set[int]:
    """Ids of the segments still indexed."""
    return {int(r["id"]) for r in await db.fetchall("SELECT id FROM segments")}


async def register(db: Database) -> list[dict[str, Any]]:
    """The register of destruction, oldest entry first."""
    return [dict(r) for r in await db.fetchall("SELECT * FROM purges ORDER BY id")]


async def intents(db: Database) -> set[int]:
    """Segment ids with a destruction decided but not finished."""
    return {int(r["segment_id"]) for r in await db.fetchall("SELECT * FROM purge_intents")}


def collect(bus: EventBus, pattern: str = "*") -> list[Event]:
    """Subscribe to ``pattern`` and return the list the events land in."""
    events: list[Event] = []
    bus.subscribe(pattern, events.append)
    return events
