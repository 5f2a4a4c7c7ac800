"""The hub's SQLite database: WAL mode, numbered migrations, small typed helpers.

Migrations are the SQL files ``cityhub/migrations/NNNN_name.sql``, numbered from 1 without
gaps; the database's schema version is ``PRAGMA user_version``. Opening a database on an
older schema migrates it, one transaction per migration; opening one on a newer schema than
this cityhub knows is refused without touching the file.

One connection serves the whole hub. Statements from different tasks are serialised, and a
task inside :meth:`Database.transaction` has the connection to itself until it leaves.
"""

from __future__ import annotations

import asyncio
import importlib.resources
import json
import logging
import re
import sqlite3
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosqlite
import attrs

from cityhub.api import Context

__all__ = [
    "LATEST_SCHEMA_VERSION",
    "MIGRATIONS",
    "Database",
    "DatabaseError",
    "Migration",
    "MigrationError",
    "MigrationNumberingError",
    "SchemaTooNewError",
    "check_migrations",
    "format_utc",
    "load_migrations",
    "parse_utc",
]

_LOGGER = logging.getLogger(__name__)

BUSY_TIMEOUT_MS = 5000
"""How long (milliseconds) a statement waits for another process's write lock before failing.

Only other processes (``cityhub user``, ``cityhub export``) contend with the hub; their writes
are short, so 5 s is ample and still surfaces a stuck writer quickly.
"""

_MIGRATION_FILE = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

Params = Sequence[Any] | Mapping[str, Any]


class DatabaseError(Exception):
    """Base class of the errors this module raises."""


class MigrationNumberingError(DatabaseError):
    """The migrations are not numbered 1, 2, 3... without gaps or duplicates (a bug)."""


class MigrationError(DatabaseError):
    """A migration failed; its step was rolled back and the schema left at the previous version."""


class SchemaTooNewError(DatabaseError):
    """The database was written by a newer cityhub; it is refused and left untouched."""

    def __init__(self, path: Path, version: int, latest: int) -> None:
        super().__init__(
            f"{path}: the database is at schema version {version}, but this cityhub knows "
            f"schema versions up to {latest} only. It was written by a newer cityhub. "
            f"Fix: upgrade cityhub to the version that wrote it, or restore a backup of the "
            f"database made by this version. The file was not modified."
        )
        self.path = path
        self.version = version
        self.latest = latest


@attrs.frozen
class Migration:
    """One schema step: the SQL that takes the schema from ``version - 1`` to ``version``.

    The SQL must not open or close transactions itself; each step runs in its own.
    """

    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        """The migration's file stem, as in logs: ``0001_initial``."""
        return f"{self.version:04d}_{self.name}"


def check_migrations(migrations: Iterable[Migration]) -> tuple[Migration, ...]:
    """Return ``migrations`` sorted by version; raise unless they are numbered 1..N exactly."""
    ordered = tuple(sorted(migrations, key=lambda m: m.version))
    for expected, migration in enumerate(ordered, start=1):
        if migration.version != expected:
            versions = ", ".join(str(m.version) for m in ordered)
            raise MigrationNumberingError(
                f"migrations must be numbered 1..{len(ordered)} without gaps or duplicates; "
                f"found {versions} ({migration.label} where {expected} was expected)"
            )
    return ordered


def load_migrations() -> tuple[Migration, ...]:
    """The migrations packaged in ``cityhub/migrations``, checked and in order."""
    found = []
    for entry in (importlib.resources.files("cityhub") / "migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _MIGRATION_FILE.match(entry.name)
        if match is None:
            raise MigrationNumberingError(
                f"migration file {entry.name!r} is not named NNNN_lowercase_name.sql"
            )
        found.append(
            Migration(
                version=int(match["version"]),
                name=match["name"],
                sql=entry.read_text(encoding="utf-8"),
            )
        )
    return check_migrations(found)


MIGRATIONS = load_migrations()
"""The migrations this cityhub knows, in order."""

LATEST_SCHEMA_VERSION = MIGRATIONS[-1].version
"""The schema version a database has once this cityhub has opened it."""


def format_utc(moment: datetime) -> str:
    """``moment`` as stored: UTC, ISO-8601, milliseconds, ``Z`` (``2026-11-22T12:00:00.123Z``)."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: the database stores timezone-aware times")
    utc = moment.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond // 1000:03d}Z"


def parse_utc(text: str) -> datetime:
    """The timezone-aware UTC datetime a stored time string stands for."""
    return datetime.fromisoformat(text).astimezone(UTC)


class Database:
    """The hub's database: one aiosqlite connection in WAL mode, migrated to the latest schema."""

    def __init__(self, path: Path, connection: aiosqlite.Connection, schema_version: int) -> None:
        self.path = path
        self._connection = connection
        self._schema_version = schema_version
        self._lock = asyncio.Lock()
        self._transaction_task: asyncio.Task[Any] | None = None

    @classmethod
    async def open(cls, path: Path, *, migrations: Sequence[Migration] | None = None) -> Database:
        """Open (creating it and its folders) and migrate the database at ``path``.

        Raises :class:`SchemaTooNewError` when the file's schema is newer than the last of
        ``migrations`` (default: :data:`MIGRATIONS`), and :class:`MigrationError` when a
        migration fails.
        """
        steps = check_migrations(MIGRATIONS if migrations is None else migrations)
        latest = steps[-1].version if steps else 0
        path.parent.mkdir(parents=True, exist_ok=True)
        connection = await aiosqlite.connect(path, isolation_level=None)
        try:
            connection.row_factory = sqlite3.Row
            # Read the version before any pragma that writes: a newer file stays untouched.
            version = await _user_version(connection)
            if version > latest:
                raise SchemaTooNewError(path, version, latest)
            await connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            await connection.execute("PRAGMA journal_mode = WAL")
            await connection.execute("PRAGMA synchronous = NORMAL")
            await connection.execute("PRAGMA foreign_keys = ON")
            for step in steps[version:]:
                await _apply(connection, path, step)
            version = latest
            if version >= 1:
                await connection.execute(
                    "INSERT OR IGNORE INTO installation (id, created_at) VALUES (?, ?)",
                    (uuid.uuid4().hex, format_utc(datetime.now(UTC))),
                )
        except BaseException:
            await connection.close()
            raise
        return cls(path, connection, version)

    @property
    def schema_version(self) -> int:
        """The schema version of the open database."""
        return self._schema_version

    async def close(self) -> None:
        """Close the connection; SQLite checkpoints the write-ahead log into the file."""
        async with self._lock:
            await self._connection.close()

    async def execute(self, sql: str, params: Params = ()) -> int:
        """Run one statement; return the number of rows it changed."""
        async with self._turn(), self._connection.execute(sql, params) as cursor:
            return cursor.rowcount

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run one query; return all its rows."""
        async with self._turn(), self._connection.execute(sql, params) as cursor:
            return list(await cursor.fetchall())

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Run one query; return its first row, or ``None``."""
        async with self._turn(), self._connection.execute(sql, params) as cursor:
            row: sqlite3.Row | None = await cursor.fetchone()
            return row

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Database]:
        """Group statements: committed together on exit, rolled back if the block raises.

        Inside the block, this task's calls to :meth:`execute`, :meth:`fetchall` and
        :meth:`fetchone` belong to the transaction; other tasks wait until it ends.
        """
        task = asyncio.current_task()
        if task is not None and task is self._transaction_task:
            raise DatabaseError("transactions do not nest: this task is already in one")
        async with self._lock:
            self._transaction_task = task
            try:
                await self._connection.execute("BEGIN IMMEDIATE")
                try:
                    yield self
                except BaseException:
                    await self._connection.rollback()
                    raise
                await self._connection.commit()
            finally:
                self._transaction_task = None

    async def record_event(
        self,
        time_utc: datetime,
        event_type: str,
        camera_id: str | None,
        data: Mapping[str, Any],
        context: Context,
    ) -> int:
        """Append an event to the event log; return its row id (``camera_id`` must be known)."""
        row = await self.fetchone(
            "INSERT INTO event_log (time_utc, event_type, camera_id, data, context_id,"
            " context_user, context_automation) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                format_utc(time_utc),
                event_type,
                camera_id,
                json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
                context.id,
                context.user,
                context.automation,
            ),
        )
        assert row is not None
        return int(row["id"])

    async def upsert_camera(self, camera_id: str, name: str, seen: datetime) -> None:
        """Add the camera to the inventory, or update its name and last-seen time."""
        stamp = format_utc(seen)
        await self.execute(
            "INSERT INTO cameras (id, name, first_seen_utc, last_seen_utc) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
            " first_seen_utc = min(first_seen_utc, excluded.first_seen_utc),"
            " last_seen_utc = max(last_seen_utc, excluded.last_seen_utc)",
            (camera_id, name, stamp, stamp),
        )

    async def installation_id(self) -> str:
        """This installation's identifier, created when the database was first opened."""
        row = await self.fetchone("SELECT id FROM installation")
        if row is None:
            raise DatabaseError(f"{self.path}: the installation row is missing")
        return str(row["id"])

    @asynccontextmanager
    async def _turn(self) -> AsyncIterator[None]:
        """Wait for the connection, unless this task already holds it in a transaction."""
        if self._transaction_task is not None and asyncio.current_task() is self._transaction_task:
            yield
            return
        async with self._lock:
            yield


async def _user_version(connection: aiosqlite.Connection) -> int:
    async with connection.execute("PRAGMA user_version") as cursor:
        row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def _apply(connection: aiosqlite.Connection, path: Path, step: Migration) -> None:
    """Run one migration and set the schema version, all in one transaction."""
    script = f"BEGIN IMMEDIATE;\n{step.sql}\n;\nPRAGMA user_version = {step.version};\nCOMMIT;\n"
    try:
        await connection.executescript(script)
    except sqlite3.Error as err:
        if connection.in_transaction:
            await connection.rollback()
        raise MigrationError(
            f"{path}: migration {step.label} failed ({err}); it was rolled back and the "
            f"database left at schema version {step.version - 1}"
        ) from err
    _LOGGER.info("%s: applied migration %s (schema version %d)", path, step.label, step.version)
