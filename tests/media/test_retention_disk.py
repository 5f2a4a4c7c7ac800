"""Free space: early purge under the high-water mark, the critical mark, a really full disk."""

from __future__ import annotations

import errno
import logging
import os
import subprocess
from collections.abc import AsyncIterator, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from retention_kit import DAY, NOW, SEGMENT, add_cameras, add_segment, camera, collect, register

from cityhub.api import Context, StorageUsage
from cityhub.bus import EventBus
from cityhub.db import Database
from cityhub.media.holds import Holds
from cityhub.media.index import to_ms
from cityhub.media.retention import (
    EVENT_STORAGE_CRITICAL,
    EVENT_STORAGE_LOW,
    EVENT_STORAGE_OK,
    PurgeReason,
    RetentionManager,
    RetentionSettings,
    StorageLevel,
)
from cityhub.storage import LocalStorage

KB = 1000
MB = 1000 * KB


class QuotaStorage(LocalStorage):
    """Local files, with the disk's size reported as a small quota.

    The boundary is legitimate: ``usage()`` is the backend's own answer to "how much room is
    there", and a quota (an LVM volume, an object-store bucket limit) answers exactly this
    way. Files, deletions and the database stay real; only the disk's size is small.
    """

    def __init__(self, options: Mapping[str, Any], base_dir: Path, quota: int) -> None:
        super().__init__(options, base_dir)
        self.quota = quota

    def usage(self) -> StorageUsage:
        """The files' real total size against the quota."""
        used = super().usage().used
        return StorageUsage(total=self.quota, used=used, free=max(0, self.quota - used))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "hub.db")
    await add_cameras(database, "cam-1", "cam-2")
    yield database
    await database.close()


@pytest.fixture
def storage(tmp_path: Path) -> QuotaStorage:
    return QuotaStorage({"path": "recordings"}, tmp_path, quota=1 * MB)


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def manager(db: Database, storage: QuotaStorage, bus: EventBus) -> RetentionManager:
    return RetentionManager(
        db, storage, bus, [camera("cam-1", 14), camera("cam-2", 14)], clock=lambda: NOW
    )


async def _fill(db: Database, storage: LocalStorage, days_ago: list[float], size: int) -> list[int]:
    """One segment per age, alternating cameras."""
    return [
        await add_segment(db, storage, f"cam-{1 + i % 2}", NOW - age * DAY, size=size)
        for i, age in enumerate(days_ago)
    ]


async def test_high_water_purges_oldest_first_but_not_under_minimum_retention(
    manager: RetentionManager, db: Database, storage: QuotaStorage, bus: EventBus
) -> None:
    events = collect(bus, "storage.*")
    # 95 segments of 10 kB on a 1 MB disk: 950 kB used, 5 % free (under the 10 % mark).
    old = await _fill(db, storage, [13 - i * 0.1 for i in range(60)], 10 * KB)  # 13 .. 7.1 d
    young = await _fill(db, storage, [6 - i * 0.1 for i in range(35)], 10 * KB)  # 6 .. 2.6 d
    held = old[0]
    await Holds(db).create(
        ["cam-1"], NOW - 13 * DAY, NOW - 13 * DAY + SEGMENT, "PV 9", "vol", Context(user="opj")
    )

    report = await manager.purge_once(NOW)

    # The oldest unheld went, until free space reached the mark + 1 % headroom (110 kB).
    assert report.purged == {PurgeReason.DISK_PRESSURE: 6}
    assert [e["segment_id"] for e in await register(db)] == old[1:7]
    assert {e["reason"] for e in await register(db)} == {"disk_pressure"}
    assert report.usage.free == 110 * KB
    assert report.level is StorageLevel.LOW
    assert [e.event_type for e in events] == [EVENT_STORAGE_LOW]
    assert events[0].data["free_bytes"] == 50 * KB
    assert events[0].data["free_percent"] == 5.0
    assert events[0].data["high_water_bytes"] == 100 * KB
    remaining = {int(r["id"]) for r in await db.fetchall("SELECT id FROM segments")}
    assert held in remaining
    assert set(young) <= remaining

    # Filling again under the mark is the same episode: purged, but no second storage.low.
    await _fill(db, storage, [0.2, 0.1, 0.05], 10 * KB)
    report = await manager.purge_once(NOW)
    assert report.purged == {PurgeReason.DISK_PRESSURE: 3}
    assert [e["segment_id"] for e in await register(db)] == old[1:10]
    assert [e.event_type for e in events] == [EVENT_STORAGE_LOW]

    # A bigger disk ends the episode.
    storage.quota = 2 * MB
    report = await manager.purge_once(NOW)
    assert report.total == 0
    assert report.level is StorageLevel.OK
    assert [e.event_type for e in events] == [EVENT_STORAGE_LOW, EVENT_STORAGE_OK]


async def test_minimum_retention_holds_until_the_critical_mark(
    manager: RetentionManager, db: Database, storage: QuotaStorage, bus: EventBus
) -> None:
    events = collect(bus, "storage.*")
    # Only young footage: under the high-water mark nothing may go early.
    young = await _fill(db, storage, [6 - i * 0.25 for i in range(19)], 50 * KB)

    report = await manager.purge_once(NOW)

    assert report.total == 0
    assert report.level is StorageLevel.LOW
    assert [e.event_type for e in events] == [EVENT_STORAGE_LOW]

    # At 1 % free, recording is about to fail: the oldest go, whatever their age.
    await _fill(db, storage, [0.1], 40 * KB)
    report = await manager.purge_once(NOW)

    assert report.purged == {PurgeReason.DISK_CRITICAL: 1}
    assert [e["segment_id"] for e in await register(db)] == young[:1]
    assert "recording was about to fail" in (await register(db))[0]["detail"]
    assert [e.event_type for e in events] == [EVENT_STORAGE_LOW, EVENT_STORAGE_CRITICAL]
    assert events[1].data["free_bytes"] == 10 * KB
    assert report.level is StorageLevel.LOW  # out of the critical zone, still under the mark


async def test_held_footage_is_kept_even_when_critical_and_said_loudly(
    manager: RetentionManager,
    db: Database,
    storage: QuotaStorage,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = await _fill(db, storage, [12, 11, 10, 9, 8], 198 * KB)  # 990 kB: 1 % free
    await add_segment(db, storage, "cam-1", NOW - SEGMENT, state="open", size=1)
    await Holds(db).create(
        ["cam-1", "cam-2"], NOW - 13 * DAY, NOW, "Réquisition 12", "enquête", Context(user="opj")
    )

    with caplog.at_level(logging.ERROR):
        report = await manager.purge_once(NOW)

    assert report.total == 0
    assert report.level is StorageLevel.CRITICAL
    assert await register(db) == []
    assert len(await db.fetchall("SELECT id FROM segments")) == len(ids) + 1
    assert "Storage critical: " in caplog.text
    assert "nothing left to purge" in caplog.text
    assert "5 segment(s) are under legal holds and are never purged, 1 are still" in caplog.text


async def test_min_free_gb_raises_the_mark(
    db: Database, storage: QuotaStorage, bus: EventBus
) -> None:
    events = collect(bus, "storage.*")
    await _fill(db, storage, [9, 8], 100 * KB)  # 80 % free, but under 0.9 MB
    manager = RetentionManager(
        db,
        storage,
        bus,
        [camera("cam-1"), camera("cam-2")],
        RetentionSettings(min_free_gb=0.0009),
    )

    report = await manager.purge_once(NOW)

    assert report.purged == {PurgeReason.DISK_PRESSURE: 2}
    assert [e.event_type for e in events] == [EVENT_STORAGE_LOW, EVENT_STORAGE_OK]


# --- a real, really full file system ----------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs mounted for the test; skipped where mounting is not permitted."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    try:
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
            check=True,
            capture_output=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError) as err:
        pytest.skip(f"cannot mount a small tmpfs here ({err})")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", str(mount_point)], check=False, timeout=10)


def _write_until_full(storage: LocalStorage, keys: list[str], size: int) -> list[str]:
    """Write files until the disk refuses (ENOSPC); return the keys written whole."""
    written: list[str] = []
    for key in keys:
        try:
            with storage.open_write(key) as file:
                file.write(os.urandom(size))
        except OSError as err:
            if err.errno != errno.ENOSPC:
                raise
            storage.delete(key)
            return written
        written.append(key)
    raise AssertionError("the disk never filled up")


async def test_a_full_disk_is_relieved_and_recording_can_go_on(
    small_disk: Path, tmp_path: Path, bus: EventBus
) -> None:
    db = await Database.open(tmp_path / "hub.db")
    try:
        await add_cameras(db, "cam-1")
        storage = LocalStorage({"path": str(small_disk)}, tmp_path)
        size = 256 * 1024
        starts = [NOW - 12 * DAY + i * DAY / 2 for i in range(40)]
        keys = _write_until_full(storage, [f"cam-1/{i:03d}.mp4" for i in range(40)], size)
        assert 10 <= len(keys) <= 16
        ids = []
        for key, start in zip(keys, starts, strict=False):
            row = await db.fetchone(
                "INSERT INTO segments (camera_id, stream, start_ms, end_ms, bytes, codec, width,"
                " height, fps, storage_key, state) VALUES ('cam-1', 'main', ?, ?, ?, 'h264',"
                " 1920, 1080, 25, ?, 'complete') RETURNING id",
                (
                    to_ms(start),
                    to_ms(start + SEGMENT),
                    size,
                    key,
                ),
            )
            assert row is not None
            ids.append(int(row["id"]))
        events = collect(bus, "storage.*")
        manager = RetentionManager(db, storage, bus, [camera("cam-1")])

        report = await manager.purge_once(NOW)

        usage = storage.usage()
        assert usage.free >= usage.total * 0.11  # the high-water mark and its headroom
        assert report.purged.get(PurgeReason.DISK_PRESSURE, 0) >= 1
        entries = await register(db)
        assert [e["segment_id"] for e in entries] == ids[: len(entries)]  # oldest first
        assert [e.event_type for e in events][:2] == [EVENT_STORAGE_LOW, EVENT_STORAGE_CRITICAL]
        with storage.open_write("cam-1/next.mp4") as file:
            file.write(os.urandom(size))  # the recorder can write again
    finally:
        await db.close()
