"""Tests of cityhub.db on real SQLite files."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from cityhub.api import Context
from cityhub.db import (
    LATEST_SCHEMA_VERSION,
    MIGRATIONS,
    Database,
    DatabaseError,
    Migration,
    MigrationError,
    MigrationNumberingError,
    SchemaTooNewError,
    check_migrations,
    format_utc,
    parse_utc,
)

SECOND = Migration(version=2, name="add_notes", sql="CREATE TABLE notes (id INTEGER PRIMARY KEY);")


def _tables(path: Path) -> set[str]:
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {name for (name,) in rows}


def _user_version(path: Path) -> int:
    with sqlite3.connect(path) as raw:
        (version,) = raw.execute("PRAGMA user_version").fetchone()
    return int(version)


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "hub.db")
    yield database
    await database.close()


def test_packaged_migrations_are_numbered_without_gaps() -> None:
    assert [m.version for m in MIGRATIONS] == list(range(1, LATEST_SCHEMA_VERSION + 1))
    assert MIGRATIONS[0].label == "0001_initial"


@pytest.mark.parametrize("versions", [[1, 3], [1, 2, 2], [2, 3], [0, 1]])
def test_gap_or_duplicate_in_numbering_is_refused(versions: list[int]) -> None:
    steps = [Migration(version=v, name=f"step{v}", sql="SELECT 1;") for v in versions]
    with pytest.raises(MigrationNumberingError, match="without gaps or duplicates"):
        check_migrations(steps)


async def test_fresh_database_is_at_latest_version_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "data" / "hub.db"
    db = await Database.open(path)
    try:
        assert path.is_file()
        assert db.schema_version == LATEST_SCHEMA_VERSION
        mode = await db.fetchone("PRAGMA journal_mode")
        assert mode is not None
        assert mode[0] == "wal"
        foreign_keys = await db.fetchone("PRAGMA foreign_keys")
        assert foreign_keys is not None
        assert foreign_keys[0] == 1
        synchronous = await db.fetchone("PRAGMA synchronous")
        assert synchronous is not None
        assert synchronous[0] == 1  # NORMAL
    finally:
        await db.close()
    assert _user_version(path) == LATEST_SCHEMA_VERSION
    assert {"installation", "cameras", "event_log"} <= _tables(path)


async def test_older_database_is_migrated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "hub.db"
    first = await Database.open(path, migrations=MIGRATIONS[:1])
    installation = await first.installation_id()
    await first.close()
    assert _user_version(path) == 1

    with caplog.at_level(logging.INFO, logger="cityhub.db"):
        db = await Database.open(path, migrations=[MIGRATIONS[0], SECOND])
    try:
        assert db.schema_version == 2
        assert await db.installation_id() == installation
    finally:
        await db.close()
    assert _user_version(path) == 2
    assert "notes" in _tables(path)
    applied = [r.getMessage() for r in caplog.records if "applied migration" in r.getMessage()]
    assert applied == [f"{path}: applied migration 0002_add_notes (schema version 2)"]


async def test_newer_database_is_refused_and_left_untouched(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    db = await Database.open(path)
    await db.close()
    newer = LATEST_SCHEMA_VERSION + 5
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {newer}")
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    files_before = sorted(p.name for p in tmp_path.iterdir())

    with pytest.raises(SchemaTooNewError) as caught:
        await Database.open(path)

    assert str(caught.value) == (
        f"{path}: the database is at schema version {newer}, but this cityhub knows schema "
        f"versions up to {LATEST_SCHEMA_VERSION} only. It was written by a newer cityhub. "
        "Fix: upgrade cityhub to the version that wrote it, or restore a backup of the "
        "database made by this version. The file was not modified."
    )
    assert (caught.value.version, caught.value.latest) == (newer, LATEST_SCHEMA_VERSION)
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files_before


async def test_failing_migration_rolls_back_its_step(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    broken = Migration(
        version=3,
        name="broken",
        sql="CREATE TABLE half_done (id INTEGER);\nINSERT INTO no_such_table VALUES (1);",
    )
    with pytest.raises(MigrationError) as caught:
        await Database.open(path, migrations=[MIGRATIONS[0], SECOND, broken])

    message = str(caught.value)
    assert message.startswith(f"{path}: migration 0003_broken failed (no such table")
    assert message.endswith("it was rolled back and the database left at schema version 2")
    assert _user_version(path) == 2
    tables = _tables(path)
    assert "notes" in tables
    assert "half_done" not in tables

    db = await Database.open(path, migrations=[MIGRATIONS[0], SECOND])
    assert db.schema_version == 2
    await db.close()


async def test_installation_id_is_created_once(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    db = await Database.open(path)
    first = await db.installation_id()
    await db.close()
    db = await Database.open(path)
    try:
        assert await db.installation_id() == first
        assert len(first) == 32
        with pytest.raises(sqlite3.IntegrityError):
            await db.execute(
                "INSERT INTO installation (id, created_at) VALUES ('other', '2026-01-01')"
            )
    finally:
        await db.close()


async def test_record_event_round_trips(db: Database) -> None:
    paris = timezone(timedelta(hours=1))
    when = datetime(2026, 11, 22, 13, 0, 0, 123456, tzinfo=paris)
    await db.upsert_camera("cam-1", "Place de la Mairie", when)
    context = Context(user="dupont")

    event_id = await db.record_event(
        when, "camera.motion", "cam-1", {"active": True, "zone": "centre"}, context
    )

    row = await db.fetchone("SELECT * FROM event_log WHERE id = ?", (event_id,))
    assert row is not None
    assert row["time_utc"] == "2026-11-22T12:00:00.123Z"
    assert parse_utc(row["time_utc"]) == when.replace(microsecond=123000)
    assert row["event_type"] == "camera.motion"
    assert row["camera_id"] == "cam-1"
    assert row["data"] == '{"active":true,"zone":"centre"}'
    assert (row["context_id"], row["context_user"], row["context_automation"]) == (
        context.id,
        "dupont",
        None,
    )


async def test_record_event_without_camera_and_unknown_camera(db: Database) -> None:
    when = datetime(2026, 11, 22, 12, tzinfo=UTC)
    await db.record_event(when, "hub.started", None, {}, Context(automation="boot"))
    with pytest.raises(sqlite3.IntegrityError):
        await db.record_event(when, "camera.motion", "nowhere", {}, Context())
    rows = await db.fetchall("SELECT event_type, context_automation FROM event_log")
    assert [tuple(r) for r in rows] == [("hub.started", "boot")]


async def test_upsert_camera_keeps_first_seen(db: Database) -> None:
    first = datetime(2026, 11, 1, tzinfo=UTC)
    later = first + timedelta(days=3)
    await db.upsert_camera("cam-1", "Old name", first)
    await db.upsert_camera("cam-1", "New name", later)
    await db.upsert_camera("cam-1", "New name", first + timedelta(days=1))
    rows = await db.fetchall("SELECT * FROM cameras")
    assert [tuple(r) for r in rows] == [
        ("cam-1", "New name", format_utc(first), format_utc(later)),
    ]


def test_format_utc_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        format_utc(datetime(2026, 11, 22, 12))


async def test_transaction_commits_or_rolls_back(db: Database) -> None:
    when = datetime(2026, 11, 22, tzinfo=UTC)
    async with db.transaction():
        await db.upsert_camera("cam-1", "One", when)
        await db.upsert_camera("cam-2", "Two", when)

    async def fail_halfway() -> None:
        async with db.transaction():
            await db.upsert_camera("cam-3", "Three", when)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_halfway()
    rows = await db.fetchall("SELECT id FROM cameras ORDER BY id")
    assert [r["id"] for r in rows] == ["cam-1", "cam-2"]


async def test_transactions_do_not_nest(db: Database) -> None:
    async with db.transaction():
        with pytest.raises(DatabaseError, match="do not nest"):
            async with db.transaction():
                pass


async def test_other_tasks_wait_for_an_open_transaction(db: Database) -> None:
    when = datetime(2026, 11, 22, tzinfo=UTC)
    seen: list[int] = []

    async def count() -> None:
        row = await db.fetchone("SELECT count(*) FROM cameras")
        assert row is not None
        seen.append(row[0])

    async with db.transaction():
        await db.upsert_camera("cam-1", "One", when)
        reader = asyncio.create_task(count())
        await asyncio.sleep(0.05)
        assert seen == []  # it must not see the uncommitted row
        await db.upsert_camera("cam-2", "Two", when)
    await reader
    assert seen == [2]


async def test_readers_are_not_blocked_by_a_writer(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    writer = await Database.open(path)
    other = await Database.open(path)
    reader = sqlite3.connect(path, isolation_level=None)
    when = datetime(2026, 11, 22, tzinfo=UTC)

    def count() -> int:
        (n,) = reader.execute("SELECT count(*) FROM cameras").fetchone()
        return int(n)

    try:
        await writer.upsert_camera("cam-1", "One", when)
        reader.execute("BEGIN")
        before = count()
        # A writer commits while a read transaction is open: WAL lets it through at once.
        async with asyncio.timeout(1):
            async with writer.transaction():
                await writer.upsert_camera("cam-2", "Two", when)
                during = count()
            await writer.record_event(when, "camera.motion", "cam-2", {}, Context())
        still = count()
        reader.execute("COMMIT")
        assert [before, during, still, count()] == [1, 1, 1, 2]

        async def read_many() -> int:
            total = 0
            for _ in range(20):
                total += len(await other.fetchall("SELECT id FROM event_log"))
            return total

        async def write_many() -> None:
            for i in range(20):
                await writer.record_event(when, "camera.motion", "cam-1", {"i": i}, Context())

        await asyncio.gather(write_many(), read_many(), read_many())
        final = await other.fetchone("SELECT count(*) FROM event_log")
        assert final is not None
        assert final[0] == 21
    finally:
        reader.close()
        await other.close()
        await writer.close()
