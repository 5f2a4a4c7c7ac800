"""Retention on a real database and real files: what is purged, what is kept, the register."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from retention_kit import (
    DAY,
    NOW,
    SEGMENT,
    add_cameras,
    add_segment,
    camera,
    collect,
    intents,
    register,
    segment_ids,
)

from cityhub.api import Context
from cityhub.bus import EventBus
from cityhub.db import Database
from cityhub.media.holds import Holds
from cityhub.media.index import to_ms
from cityhub.media.retention import (
    EVENT_PURGED,
    PurgeReason,
    RetentionManager,
    RetentionSettings,
)
from cityhub.storage import LocalStorage


class SimulatedCrashError(Exception):
    """Stands for the process dying between two steps of a purge."""


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "hub.db")
    await add_cameras(database, "cam-1", "cam-2")
    yield database
    await database.close()


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage({"path": "recordings"}, tmp_path)


@pytest.fixture
def bus() -> EventBus:
    return EventBus()


@pytest.fixture
def manager(db: Database, storage: LocalStorage, bus: EventBus) -> RetentionManager:
    return RetentionManager(
        db, storage, bus, [camera("cam-1", 14), camera("cam-2", 7)], clock=lambda: NOW
    )


def _exists(storage: LocalStorage, rows: Sequence[dict[str, Any]]) -> list[bool]:
    return [(storage.root / row["storage_key"]).exists() for row in rows]


async def test_segments_past_retention_are_purged_and_registered(
    manager: RetentionManager, db: Database, storage: LocalStorage, bus: EventBus
) -> None:
    events = collect(bus, EVENT_PURGED)
    old_1 = await add_segment(db, storage, "cam-1", NOW - 15 * DAY, size=1500)
    edge_1 = await add_segment(db, storage, "cam-1", NOW - 14 * DAY - 2 * SEGMENT)
    young_1 = await add_segment(db, storage, "cam-1", NOW - 14 * DAY + SEGMENT)
    old_2 = await add_segment(db, storage, "cam-2", NOW - 8 * DAY, size=700)
    young_2 = await add_segment(db, storage, "cam-2", NOW - 6 * DAY)
    kept = await db.fetchall(
        "SELECT storage_key FROM segments WHERE id IN (?, ?)", (young_1, young_2)
    )

    report = await manager.purge_once(NOW)

    assert await segment_ids(db) == {young_1, young_2}
    assert report.purged == {PurgeReason.RETENTION: 3}
    assert report.bytes == {PurgeReason.RETENTION: 1500 + 1000 + 700}
    entries = await register(db)
    assert [e["segment_id"] for e in entries] == [old_1, edge_1, old_2]
    assert {e["reason"] for e in entries} == {"retention"}
    assert entries[0]["camera_id"] == "cam-1"
    assert entries[0]["bytes"] == 1500
    assert entries[0]["start_ms"] == to_ms(NOW - 15 * DAY)
    assert entries[0]["end_ms"] == to_ms(NOW - 15 * DAY + SEGMENT)
    assert entries[0]["sha256"] is not None
    assert entries[0]["context_user"] is None  # the system purged it
    assert "retention of 14 day(s)" in entries[0]["detail"]
    assert "retention of 7 day(s)" in entries[2]["detail"]
    assert _exists(storage, entries) == [False, False, False]
    assert _exists(storage, [dict(r) for r in kept]) == [True, True]
    assert await intents(db) == set()
    assert [e.data for e in events] == [
        {"reason": "retention", "count": 3, "bytes": 3200, "cameras": {"cam-1": 2, "cam-2": 1}}
    ]
    # Every segment in the pass shares one context: the register and the event agree.
    assert {e["context_id"] for e in entries} == {events[0].context.id}

    assert (await manager.purge_once(NOW)).total == 0
    assert len(await register(db)) == 3


async def test_open_segments_are_never_purged(
    manager: RetentionManager, db: Database, storage: LocalStorage, caplog: pytest.LogCaptureFixture
) -> None:
    stale = await add_segment(db, storage, "cam-1", NOW - 20 * DAY, state="open")

    with caplog.at_level(logging.WARNING):
        await manager.purge_once(NOW)

    assert await segment_ids(db) == {stale}
    assert await register(db) == []
    assert "1 segment(s) still marked open and older than its 14-day retention" in caplog.text


async def test_held_segments_survive_passes_and_go_after_release(
    manager: RetentionManager, db: Database, storage: LocalStorage
) -> None:
    holds = Holds(db)
    held = await add_segment(db, storage, "cam-1", NOW - 20 * DAY)
    free = await add_segment(db, storage, "cam-1", NOW - 20 * DAY + 5 * SEGMENT)
    other_camera = await add_segment(db, storage, "cam-2", NOW - 20 * DAY)
    hold = await holds.create(
        ["cam-1"],
        NOW - 20 * DAY + SEGMENT // 2,
        NOW - 20 * DAY + 2 * SEGMENT,
        "PV 77",
        "agression",
        Context(user="opj.leroy"),
    )

    for _ in range(3):
        await manager.purge_once(NOW)
        assert await segment_ids(db) == {held}
    assert [e["segment_id"] for e in await register(db)] == [free, other_camera]

    await holds.release(hold.id, "scellés transmis au tribunal", Context(user="opj.leroy"))
    report = await manager.purge_once(NOW)

    assert report.purged == {PurgeReason.RETENTION: 1}
    assert await segment_ids(db) == set()
    entries = await register(db)
    assert [e["segment_id"] for e in entries] == [free, other_camera, held]
    assert _exists(storage, entries) == [False, False, False]


async def test_a_missing_file_is_registered_as_such(
    manager: RetentionManager, db: Database, storage: LocalStorage
) -> None:
    lost = await add_segment(db, storage, "cam-2", NOW - 9 * DAY, write=False, size=4000)

    report = await manager.purge_once(NOW)

    assert report.purged == {PurgeReason.MISSING_FILE: 1}
    assert report.bytes == {PurgeReason.MISSING_FILE: 0}  # nothing was freed
    [entry] = await register(db)
    assert entry["segment_id"] == lost
    assert entry["reason"] == "missing_file"
    assert entry["bytes"] == 4000  # what the index said the file held
    assert entry["detail"].startswith("the file was already absent; due for retention")
    assert await segment_ids(db) == set()


async def test_the_register_refuses_update_and_delete(
    manager: RetentionManager, db: Database, storage: LocalStorage, tmp_path: Path
) -> None:
    await add_segment(db, storage, "cam-1", NOW - 15 * DAY)
    await manager.purge_once(NOW)
    assert len(await register(db)) == 1

    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await db.execute("UPDATE purges SET reason = 'disk_pressure'")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        await db.execute("DELETE FROM purges")
    # Not only through the hub: any connection to the file meets the same triggers.
    with sqlite3.connect(tmp_path / "hub.db") as raw, pytest.raises(sqlite3.IntegrityError):
        raw.execute("DELETE FROM purges")
    assert len(await register(db)) == 1


async def test_footage_of_a_camera_no_longer_configured_follows_the_default(
    db: Database, storage: LocalStorage, bus: EventBus
) -> None:
    await add_cameras(db, "cam-removed")
    old = await add_segment(db, storage, "cam-removed", NOW - 15 * DAY)
    young = await add_segment(db, storage, "cam-removed", NOW - 13 * DAY)
    manager = RetentionManager(db, storage, bus, [camera("cam-1")])

    await manager.purge_once(NOW)

    assert manager.retention_days("cam-removed") == 14
    assert await segment_ids(db) == {young}
    assert [e["segment_id"] for e in await register(db)] == [old]


async def test_many_segments_are_purged_in_batches_oldest_first(
    manager: RetentionManager, db: Database, storage: LocalStorage
) -> None:
    ids = [
        await add_segment(db, storage, "cam-2", NOW - 10 * DAY + i * SEGMENT, size=10)
        for i in range(450)
    ]

    report = await manager.purge_once(NOW)

    assert report.purged == {PurgeReason.RETENTION: 450}
    assert [e["segment_id"] for e in await register(db)] == ids
    assert storage.list("cam-2/") == []


# --- crash safety ----------------------------------------------------------------------------


async def _three_old_segments(db: Database, storage: LocalStorage) -> list[int]:
    return [
        await add_segment(db, storage, "cam-1", NOW - (20 - i) * DAY, size=100 + i)
        for i in range(3)
    ]


async def test_crash_after_the_decision_leaves_a_journal_the_next_pass_finishes(
    manager: RetentionManager,
    db: Database,
    storage: LocalStorage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await _three_old_segments(db, storage)

    def crash(keys: Sequence[str]) -> set[str]:
        raise SimulatedCrashError

    with monkeypatch.context() as patch:
        patch.setattr(manager, "_delete", crash)
        with pytest.raises(SimulatedCrashError):
            await manager.purge_once(NOW)

    # Decided, nothing destroyed yet: no register entry, rows and files intact.
    assert await intents(db) == set(ids)
    assert await segment_ids(db) == set(ids)
    assert await register(db) == []
    assert len(storage.list("cam-1/")) == 3

    report = await manager.purge_once(NOW)

    assert report.purged == {PurgeReason.RETENTION: 3}
    entries = await register(db)
    assert [e["segment_id"] for e in entries] == ids
    assert {e["reason"] for e in entries} == {"retention"}
    assert await segment_ids(db) == set()
    assert await intents(db) == set()
    assert storage.list("cam-1/") == []


async def test_crash_after_the_files_went_registers_them_with_the_decided_reason(
    manager: RetentionManager,
    db: Database,
    storage: LocalStorage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await _three_old_segments(db, storage)
    delete = manager._delete

    def delete_then_crash(keys: Sequence[str]) -> set[str]:
        delete(keys)
        raise SimulatedCrashError

    with monkeypatch.context() as patch:
        patch.setattr(manager, "_delete", delete_then_crash)
        with pytest.raises(SimulatedCrashError):
            await manager.purge_once(NOW)

    # The files are gone; the journal still holds the decision, so nothing is lost.
    assert storage.list("cam-1/") == []
    assert await intents(db) == set(ids)
    assert await segment_ids(db) == set(ids)
    assert await register(db) == []

    await manager.purge_once(NOW)

    entries = await register(db)
    assert [e["segment_id"] for e in entries] == ids  # once each
    assert {e["reason"] for e in entries} == {"retention"}  # not "missing_file"
    assert await segment_ids(db) == set()
    assert await intents(db) == set()


async def test_crash_inside_the_register_transaction_rolls_it_back_whole(
    manager: RetentionManager,
    db: Database,
    storage: LocalStorage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ids = await _three_old_segments(db, storage)
    execute = db.execute
    deletes = 0

    async def crash_on_second_row_delete(sql: str, params: Any = ()) -> int:
        nonlocal deletes
        if sql.startswith("DELETE FROM segments"):
            deletes += 1
            if deletes == 2:
                raise SimulatedCrashError
        return await execute(sql, params)

    with monkeypatch.context() as patch:
        patch.setattr(db, "execute", crash_on_second_row_delete)
        with pytest.raises(SimulatedCrashError):
            await manager.purge_once(NOW)

    # The first segment's register row and row deletion were rolled back with the rest.
    assert await register(db) == []
    assert await segment_ids(db) == set(ids)
    assert await intents(db) == set(ids)

    await manager.purge_once(NOW)

    assert [e["segment_id"] for e in await register(db)] == ids
    assert await segment_ids(db) == set()


async def test_a_failed_delete_is_retried_and_registered_once(
    manager: RetentionManager,
    db: Database,
    storage: LocalStorage,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    ids = await _three_old_segments(db, storage)
    row = await db.fetchone("SELECT storage_key FROM segments WHERE id = ?", (ids[1],))
    assert row is not None
    stuck = str(row["storage_key"])
    delete = storage.delete

    def refuse_one(key: str) -> None:
        if key == stuck:
            raise PermissionError(13, "Permission denied", key)
        delete(key)

    with monkeypatch.context() as patch:
        patch.setattr(storage, "delete", refuse_one)
        report = await manager.purge_once(NOW)

    assert report.purged == {PurgeReason.RETENTION: 2}
    assert f"Could not delete {stuck}" in caplog.text
    assert await segment_ids(db) == {ids[1]}
    assert await intents(db) == {ids[1]}
    assert storage.list("cam-1/") == [stuck]

    report = await manager.purge_once(NOW)

    assert report.purged == {PurgeReason.RETENTION: 1}
    assert sorted(e["segment_id"] for e in await register(db)) == sorted(ids)
    assert storage.list("cam-1/") == []


# --- the loop ----------------------------------------------------------------------------------


async def test_the_loop_purges_at_start_and_stops_promptly(
    db: Database, storage: LocalStorage, bus: EventBus
) -> None:
    purged = asyncio.Event()
    bus.subscribe(EVENT_PURGED, lambda _event: purged.set())
    await add_segment(db, storage, "cam-1", NOW - 30 * DAY)
    manager = RetentionManager(
        db, storage, bus, [camera("cam-1")], RetentionSettings(interval_s=3600), clock=lambda: NOW
    )

    await manager.async_start()
    with pytest.raises(RuntimeError, match="already running"):
        await manager.async_start()
    await asyncio.wait_for(purged.wait(), timeout=5)
    await asyncio.wait_for(manager.async_stop(), timeout=1)

    assert len(await register(db)) == 1
    await manager.async_stop()  # stopping twice is harmless


async def test_a_failing_pass_is_logged_and_the_loop_goes_on(
    manager: RetentionManager, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    passes = 0
    second = asyncio.Event()

    async def flaky(now: object = None) -> None:
        nonlocal passes
        passes += 1
        if passes == 1:
            raise SimulatedCrashError("disk unplugged")
        second.set()

    monkeypatch.setattr(manager, "purge_once", flaky)
    monkeypatch.setattr(manager, "settings", RetentionSettings(interval_s=0.01))
    await manager.async_start()
    await asyncio.wait_for(second.wait(), timeout=5)
    await manager.async_stop()

    assert "Purge pass failed" in caplog.text


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"interval_s": 0}, "interval_s"),
        ({"min_free_percent": 100}, "percentage"),
        ({"critical_free_percent": -1}, "percentage"),
        ({"critical_free_percent": 20}, "must not exceed min_free_percent"),
        ({"min_retention_days": 31}, "min_retention_days"),
        ({"min_free_gb": -5}, "min_free_gb"),
    ],
)
def test_settings_refuse_nonsense(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RetentionSettings(**kwargs)


def test_minimum_retention_never_exceeds_the_camera_retention(
    db: Database, storage: LocalStorage, bus: EventBus
) -> None:
    manager = RetentionManager(
        db, storage, bus, [camera("cam-1", 14), camera("cam-2", 3)], RetentionSettings()
    )
    assert manager.min_retention_days("cam-1") == 7
    assert manager.min_retention_days("cam-2") == 3


def _orphan(storage: LocalStorage, camera_id: str, start: Any, size: int = 900) -> str:
    """Put an unreadable file under orphans/, named as reconciliation names what it sets aside."""
    key = f"orphans/{camera_id}/main/{start:%Y/%m/%d/%H}/{start:%Y%m%dT%H%M%S}.000Z.mp4"
    with storage.open_write(key) as file:
        file.write(b"\x00" * size)
    return key


async def test_orphan_files_past_retention_are_destroyed_and_registered(
    manager: RetentionManager, db: Database, storage: LocalStorage, bus: EventBus
) -> None:
    events = collect(bus, EVENT_PURGED)
    old = _orphan(storage, "cam-2", NOW - 8 * DAY, size=900)  # cam-2 keeps 7 days
    young = _orphan(storage, "cam-1", NOW - 8 * DAY)  # cam-1 keeps 14 days
    unknown = _orphan(storage, "cam-gone", NOW - 31 * DAY, size=10)  # default retention
    stray = "orphans/notes.txt"  # not named like a segment: not footage reconciliation set aside
    with storage.open_write(stray) as file:
        file.write(b"x")

    report = await manager.purge_once(NOW)

    assert report.purged == {PurgeReason.ORPHAN: 2}
    assert report.bytes == {PurgeReason.ORPHAN: 910}
    assert not (storage.root / old).exists()
    assert not (storage.root / unknown).exists()
    assert (storage.root / young).exists()
    assert (storage.root / stray).exists()
    entries = await register(db)
    assert [(e["storage_key"], e["segment_id"], e["reason"]) for e in entries] == [
        (old, None, "orphan"),
        (unknown, None, "orphan"),
    ]
    assert entries[0]["start_ms"] == to_ms(NOW - 8 * DAY) == entries[0]["end_ms"]
    assert entries[0]["bytes"] == 900
    assert entries[0]["camera_id"] == "cam-2"
    assert "retention of 7 day(s)" in entries[0]["detail"]
    assert [e.data["reason"] for e in events] == ["orphan"]
    # a second pass finds nothing more to do and writes nothing twice
    assert (await manager.purge_once(NOW)).purged == {}
    assert len(await register(db)) == 2


async def test_an_orphan_under_a_hold_is_kept_and_a_failed_delete_is_retried_once_registered(
    manager: RetentionManager, db: Database, storage: LocalStorage, monkeypatch: Any
) -> None:
    holds = Holds(db)
    held = _orphan(storage, "cam-1", NOW - 20 * DAY)
    failing = _orphan(storage, "cam-2", NOW - 20 * DAY)
    hold = await holds.create(
        ["cam-1"], NOW - 20 * DAY, NOW - 20 * DAY + SEGMENT, "PV 78", "vol", Context(user="opj")
    )
    real_delete = storage.delete

    def refuse(key: str) -> None:
        if key == failing:
            raise PermissionError(f"cannot delete {key}")
        real_delete(key)

    monkeypatch.setattr(storage, "delete", refuse)
    report = await manager.purge_once(NOW)
    assert report.purged == {}
    assert (storage.root / held).exists()
    assert (storage.root / failing).exists()
    # The decision is on record before the file goes; the retry does not write it again.
    assert [e["storage_key"] for e in await register(db)] == [failing]

    monkeypatch.setattr(storage, "delete", real_delete)
    await holds.release(hold.id, "affaire classée", Context(user="opj"))
    report = await manager.purge_once(NOW)
    assert report.purged == {PurgeReason.ORPHAN: 2}
    assert not (storage.root / held).exists()
    assert not (storage.root / failing).exists()
    assert [e["storage_key"] for e in await register(db)] == [failing, held]
