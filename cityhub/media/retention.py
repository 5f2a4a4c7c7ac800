"""Retention: purge footage past its camera's retention, early when the disk fills; register it all.

Every pass, oldest first:

1. **Journal**: destructions decided by an earlier pass that did not finish (a crash, a
   failed delete) are finished first.
2. **Retention**: per camera, every closed segment that ended more than the camera's
   ``retention_days`` ago and that no active hold covers.
3. **Disk pressure**: when free space is under the high-water mark, the oldest closed,
   unheld segments across all cameras, but none younger than the camera's minimum
   retention; when it is under the critical mark (writes are about to fail), the oldest
   closed, unheld segments regardless of age. Held and open segments are never purged.
4. **Orphans**: files that reconciliation set aside under ``orphans/`` (unreadable, so no
   segment row covers them) once the instant in their name is past the camera's retention,
   unless a hold covers it; registered with the reason ``orphan`` and no segment id.

Each destruction goes: decide (a ``purge_intents`` row, committed), delete the file through
the storage backend in a worker thread, then in one transaction write the register row
(``purges``, append-only) and delete the segment row. A crash at any point leaves either a
journal entry the next pass finishes, or a finished destruction with its register row: a
segment row never disappears without its register row.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import logging
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Final

import attrs

from cityhub.api import Context, StorageBackend, StorageUsage
from cityhub.bus import EventBus
from cityhub.db import Database, format_utc
from cityhub.media.holds import SEGMENT_IS_HELD
from cityhub.media.index import to_ms
from cityhub.media.reconcile import ORPHANS_PREFIX, parse_segment_key
from cityhub.model import (
    DEFAULT_RETENTION_DAYS,
    MAX_RETENTION_DAYS,
    MAX_SEGMENT_SECONDS,
    CameraConfig,
)

__all__ = [
    "DEFAULT_CRITICAL_FREE_PERCENT",
    "DEFAULT_INTERVAL_S",
    "DEFAULT_MIN_FREE_PERCENT",
    "DEFAULT_MIN_RETENTION_DAYS",
    "EVENT_PURGED",
    "EVENT_STORAGE_CRITICAL",
    "EVENT_STORAGE_LOW",
    "EVENT_STORAGE_OK",
    "PurgeReason",
    "PurgeReport",
    "RetentionManager",
    "RetentionSettings",
    "StorageLevel",
]

_LOGGER = logging.getLogger(__name__)

EVENT_PURGED: Final = "recording.purged"
"""Segments were destroyed in a pass; one event per reason: reason, count, bytes, cameras."""
EVENT_STORAGE_LOW: Final = "storage.low"
"""Free space fell under the high-water mark (once per episode): footage is purged early."""
EVENT_STORAGE_CRITICAL: Final = "storage.critical"
"""Free space fell under the critical mark: recording is about to fail (once per episode)."""
EVENT_STORAGE_OK: Final = "storage.ok"
"""Free space is back above the high-water mark plus the recovery margin."""

DAY_MS: Final = 86_400_000
"""Milliseconds in a day: retention is counted in days of 24 h on the UTC time line."""
GB: Final = 1_000_000_000
"""Bytes in a gigabyte, decimal like disk makers and the hub's own logs."""

DEFAULT_INTERVAL_S: Final = 60.0
"""Seconds between passes: about one segment length, so nothing outlives its limit by more
than a minute and a filling disk is noticed within a minute."""
DEFAULT_MIN_FREE_PERCENT: Final = 10.0
"""High-water mark (percent of the disk kept free): ext4 and XFS slow down when nearly full,
and 10 % of a recording disk is hours of recording in hand."""
DEFAULT_CRITICAL_FREE_PERCENT: Final = 2.0
"""Critical mark (percent free): below it writes are about to fail with ENOSPC and live
recording would be lost, so the minimum retention gives way (holds never do)."""
DEFAULT_MIN_RETENTION_DAYS: Final = 7
"""Early purge never cuts footage younger than this (days) while the disk is not critical: a
week is the usual time for a complaint to be filed and a requisition to arrive."""

PRESSURE_HEADROOM_PERCENT: Final = 1.0
"""A pressure purge frees up to the mark plus this (percent of the disk), so it runs in batches
rather than a few segments every pass."""
RECOVERY_MARGIN_PERCENT: Final = 2.0
"""``storage.ok`` needs free space this far (percent of the disk) above the high-water mark:
more than the headroom, so a disk that bounds retention stays "low" instead of flapping."""
PURGE_BATCH: Final = 200
"""Segments per transaction: bounds how long the recorder waits for the write lock (a few ms)."""
PRESSURE_ROUNDS: Final = 4
"""Times a pass re-reads the free space while relieving pressure; segment sizes estimate what
each round frees, the re-read corrects for file-system blocks and other writers."""


class PurgeReason(enum.StrEnum):
    """Why a segment was destroyed, as written in the register."""

    RETENTION = "retention"
    DISK_PRESSURE = "disk_pressure"
    DISK_CRITICAL = "disk_critical"
    MISSING_FILE = "missing_file"
    ORPHAN = "orphan"


class StorageLevel(enum.StrEnum):
    """Where free space stands against the marks."""

    OK = "ok"
    LOW = "low"
    CRITICAL = "critical"


def _percent(value: float) -> float:
    if not 0 <= value < 100:
        raise ValueError(f"{value} is not a percentage from 0 up to 100")
    return value


@attrs.frozen
class RetentionSettings:
    """The tunables of retention and free-space management (YAML keys under ``storage:``)."""

    interval_s: float = attrs.field(default=DEFAULT_INTERVAL_S, validator=attrs.validators.gt(0.0))
    min_free_percent: float = attrs.field(default=DEFAULT_MIN_FREE_PERCENT, converter=_percent)
    min_free_gb: float | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(0.0))
    )
    critical_free_percent: float = attrs.field(
        default=DEFAULT_CRITICAL_FREE_PERCENT, converter=_percent
    )
    min_retention_days: int = attrs.field(
        default=DEFAULT_MIN_RETENTION_DAYS,
        validator=[attrs.validators.ge(0), attrs.validators.le(MAX_RETENTION_DAYS)],
    )

    @critical_free_percent.validator
    def _critical_under_high_water(self, _attribute: object, value: float) -> None:
        if value > self.min_free_percent:
            raise ValueError(
                f"critical_free_percent ({value}) must not exceed min_free_percent "
                f"({self.min_free_percent}): the critical mark is under the high-water mark"
            )


@attrs.frozen
class PurgeReport:
    """What one pass did: segments and bytes destroyed per reason, and where storage stands."""

    purged: Mapping[PurgeReason, int]
    bytes: Mapping[PurgeReason, int]
    level: StorageLevel
    usage: StorageUsage

    @property
    def total(self) -> int:
        """Segments destroyed in the pass, all reasons together."""
        return sum(self.purged.values())


@attrs.frozen
class _Marks:
    """The free-space marks of one disk, in bytes."""

    high_water: int
    critical: int
    headroom: int
    recovery: int

    def level_of(self, free: int) -> StorageLevel:
        if free < self.critical:
            return StorageLevel.CRITICAL
        if free < self.high_water:
            return StorageLevel.LOW
        return StorageLevel.OK


@attrs.define
class _Tally:
    """Destructions finished during a pass."""

    count: Counter[PurgeReason] = attrs.field(factory=Counter)
    bytes: Counter[PurgeReason] = attrs.field(factory=Counter)
    cameras: dict[PurgeReason, Counter[str]] = attrs.field(factory=dict)

    def add(self, reason: PurgeReason, camera_id: str, size: int) -> None:
        self.count[reason] += 1
        self.bytes[reason] += size
        self.cameras.setdefault(reason, Counter())[camera_id] += 1


# Composed from constants only (see cityhub.media.holds): hence the ``noqa: S608``.
_ELIGIBLE = (
    "s.state != 'open' AND NOT "  # noqa: S608
    + SEGMENT_IS_HELD
    + " AND NOT EXISTS (SELECT 1 FROM purge_intents i WHERE i.segment_id = s.id)"
)

_SELECT_EXPIRED = (
    "SELECT s.id, s.storage_key, s.bytes FROM segments s"  # noqa: S608
    " WHERE s.camera_id = ? AND s.start_ms <= ? AND s.end_ms < ? AND "
    + _ELIGIBLE
    + " ORDER BY s.start_ms, s.id LIMIT ?"
)

_SELECT_PRESSURE = (
    "SELECT s.id, s.storage_key, s.bytes FROM segments s"  # noqa: S608
    " JOIN json_each(?) l ON l.key = s.camera_id"
    " WHERE s.end_ms < l.value AND " + _ELIGIBLE + " ORDER BY s.start_ms, s.id LIMIT ?"
)
"""Oldest eligible segments across cameras; the parameter maps camera id -> cutoff (JSON)."""

_INSERT_INTENT = (
    "INSERT INTO purge_intents (segment_id, reason, detail, decided_at, context_id,"  # noqa: S608
    " context_user, context_automation) SELECT s.id, ?, ?, ?, ?, ?, ? FROM segments s"
    " WHERE s.id = ? AND " + _ELIGIBLE
)

_SELECT_UNPURGEABLE = (
    "SELECT sum(CASE WHEN s.state = 'open' THEN 0 ELSE 1 END) AS held,"  # noqa: S608
    " sum(CASE WHEN s.state = 'open' THEN 1 ELSE 0 END) AS open"
    " FROM segments s WHERE s.state = 'open' OR " + SEGMENT_IS_HELD
)

_INSERT_PURGE = (
    "INSERT INTO purges (time_utc, segment_id, camera_id, stream, start_ms, end_ms, bytes,"
    " storage_key, sha256, reason, detail, decided_at, context_id, context_user,"
    " context_automation)"
    " SELECT ?, s.id, s.camera_id, s.stream, s.start_ms, s.end_ms, s.bytes, s.storage_key,"
    " s.sha256, i.reason, i.detail, i.decided_at, i.context_id, i.context_user,"
    " i.context_automation FROM purge_intents i JOIN segments s ON s.id = i.segment_id"
    " WHERE i.segment_id = ? RETURNING camera_id, bytes, reason"
)


_ORPHAN_IS_HELD = (
    "SELECT 1 FROM hold_cameras hc JOIN holds h ON h.id = hc.hold_id"
    " WHERE hc.camera_id = ? AND h.released_at IS NULL AND h.start_ms <= ? AND h.end_ms >= ?"
)
"""An active hold of the camera overlaps [start, start + the longest segment] (an orphan's end
is unknown: its file cannot be read)."""

_INSERT_ORPHAN_PURGE = (
    "INSERT INTO purges (time_utc, segment_id, camera_id, stream, start_ms, end_ms, bytes,"
    " storage_key, sha256, reason, detail, decided_at, context_id, context_user,"
    " context_automation) VALUES (?, NULL, ?, ?, ?, ?, ?, ?, NULL, 'orphan', ?, ?, ?, ?, ?)"
    " ON CONFLICT (storage_key) WHERE reason = 'orphan' DO NOTHING"
)


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _free_percent(usage: StorageUsage) -> float:
    return 100.0 * usage.free / usage.total if usage.total else 0.0


class RetentionManager:
    """Purges footage by retention and disk pressure, every ``interval_s``, and registers it."""

    def __init__(
        self,
        db: Database,
        storage: StorageBackend,
        bus: EventBus,
        cameras: Iterable[CameraConfig],
        settings: RetentionSettings | None = None,
        *,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self._db = db
        self._storage = storage
        self._bus = bus
        self._retention_days = {camera.id: camera.retention_days for camera in cameras}
        self.settings = settings or RetentionSettings()
        self._clock = clock
        self.level = StorageLevel.OK
        self._stale_open: dict[str, int] = {}  # open segments past retention, last warned
        self._task: asyncio.Task[None] | None = None

    # --- running ---------------------------------------------------------------------------

    async def async_start(self) -> None:
        """Start the purge loop (its first pass runs at once, finishing any crashed purge)."""
        if self._task is not None and not self._task.done():
            raise RuntimeError("the retention manager is already running")
        self._task = asyncio.create_task(self._run(), name="cityhub:retention")

    async def async_stop(self) -> None:
        """Stop the purge loop; a pass cut short is finished by the next start."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    async def _run(self) -> None:
        while True:
            try:
                await self.purge_once()
            except Exception:
                _LOGGER.exception(
                    "Purge pass failed; the next pass in %.0f s finishes what it started",
                    self.settings.interval_s,
                )
            await asyncio.sleep(self.settings.interval_s)

    async def purge_once(self, now: datetime | None = None) -> PurgeReport:
        """Run one pass as if it were ``now`` (default: the clock); return what it did."""
        now_ms = to_ms(now or self._clock())
        context = Context()
        tally = _Tally()
        try:
            await self._finish_intents(tally)
            await self._purge_expired(now_ms, context, tally)
            await self._purge_orphans(now_ms, context, tally)
            usage = await self._relieve_pressure(now_ms, context, tally)
        finally:
            self._announce(tally, context)
        return PurgeReport(
            purged=dict(tally.count), bytes=dict(tally.bytes), level=self.level, usage=usage
        )

    def _announce(self, tally: _Tally, context: Context) -> None:
        """Fire ``recording.purged`` for each reason, even for a pass cut short by an error."""
        for reason, count in tally.count.items():
            self._bus.async_fire(
                EVENT_PURGED,
                {
                    "reason": reason.value,
                    "count": count,
                    "bytes": tally.bytes[reason],
                    "cameras": dict(sorted(tally.cameras[reason].items())),
                },
                context,
            )
            _LOGGER.info(
                "Purged %d segment(s), %.3f GB (%s)", count, tally.bytes[reason] / GB, reason
            )

    # --- retention -------------------------------------------------------------------------

    async def _inventory(self) -> list[str]:
        """Every camera the hub has known: configured or not, its footage obeys retention."""
        rows = await self._db.fetchall("SELECT id FROM cameras ORDER BY id")
        return [str(row["id"]) for row in rows]

    def retention_days(self, camera_id: str) -> int:
        """The camera's retention; the default one for a camera no longer configured."""
        return self._retention_days.get(camera_id, DEFAULT_RETENTION_DAYS)

    def min_retention_days(self, camera_id: str) -> int:
        """How young early purge may go for the camera: the minimum, capped by its retention."""
        return min(self.settings.min_retention_days, self.retention_days(camera_id))

    async def _purge_expired(self, now_ms: int, context: Context, tally: _Tally) -> None:
        for camera_id in await self._inventory():
            days = self.retention_days(camera_id)
            cutoff = now_ms - days * DAY_MS
            detail = f"ended more than the camera's retention of {days} day(s) ago"
            while True:
                rows = await self._db.fetchall(
                    _SELECT_EXPIRED, (camera_id, cutoff, cutoff, PURGE_BATCH)
                )
                if not rows or not await self._purge(
                    rows, PurgeReason.RETENTION, detail, context, tally
                ):
                    break
            stale = await self._db.fetchone(
                "SELECT count(*) AS n FROM segments"
                " WHERE camera_id = ? AND state = 'open' AND start_ms < ?",
                (camera_id, cutoff),
            )
            count = int(stale["n"]) if stale is not None else 0
            if count != self._stale_open.get(camera_id, 0) and count:
                _LOGGER.warning(
                    "Camera %s has %d segment(s) still marked open and older than its %d-day "
                    "retention; open segments are never purged until the recorder closes or "
                    "repairs them",
                    camera_id,
                    count,
                    days,
                )
            self._stale_open[camera_id] = count

    async def _purge_orphans(self, now_ms: int, context: Context, tally: _Tally) -> None:
        """Destroy set-aside files (``orphans/``) past their camera's retention, and register it.

        Reconciliation moves a segment file it cannot read under ``orphans/``; no segment row
        covers it, so the instant in its name is all there is. Its register row is written
        first (one per file, whatever happens next), then the file is deleted: a failed or
        interrupted delete is retried by the next pass without a second row.
        """
        keys = await asyncio.to_thread(self._storage.list, ORPHANS_PREFIX)
        span_ms = MAX_SEGMENT_SECONDS * 1000
        for key in keys:
            named = parse_segment_key(key[len(ORPHANS_PREFIX) :])
            if named is None:
                continue
            days = self.retention_days(named.camera_id)
            if named.start_ms >= now_ms - days * DAY_MS:
                continue
            held = await self._db.fetchone(
                _ORPHAN_IS_HELD, (named.camera_id, named.start_ms + span_ms, named.start_ms)
            )
            if held is not None:
                continue
            size = await asyncio.to_thread(self._size, key)
            stamp = format_utc(self._clock())
            # The register names a known camera; an orphan of one never seen (a folder copied
            # in by hand) enters the inventory under its id, without renaming a known one.
            await self._db.execute(
                "INSERT OR IGNORE INTO cameras (id, name, first_seen_utc, last_seen_utc)"
                " VALUES (?, ?, ?, ?)",
                (named.camera_id, named.camera_id, stamp, stamp),
            )
            await self._db.execute(
                _INSERT_ORPHAN_PURGE,
                (
                    stamp,
                    named.camera_id,
                    named.stream,
                    named.start_ms,
                    named.start_ms,
                    size,
                    key,
                    f"unreadable file set aside at start-up; its name dates it more than the "
                    f"camera's retention of {days} day(s) ago",
                    stamp,
                    context.id,
                    context.user,
                    context.automation,
                ),
            )
            if key in await asyncio.to_thread(self._delete, [key]):
                tally.add(PurgeReason.ORPHAN, named.camera_id, size)

    def _size(self, key: str) -> int:
        """The size of the file under ``key`` in bytes (worker thread); 0 when unreadable."""
        try:
            with self._storage.open_read(key) as file:
                return file.seek(0, 2)
        except Exception:
            _LOGGER.debug("Could not read the size of %s", key, exc_info=True)
            return 0

    # --- disk pressure ---------------------------------------------------------------------

    def _marks(self, total: int) -> _Marks:
        settings = self.settings
        high_water = total * settings.min_free_percent / 100
        if settings.min_free_gb is not None:
            high_water = max(high_water, settings.min_free_gb * GB)
        return _Marks(
            high_water=int(high_water),
            critical=int(total * settings.critical_free_percent / 100),
            headroom=int(total * PRESSURE_HEADROOM_PERCENT / 100),
            recovery=int(total * RECOVERY_MARGIN_PERCENT / 100),
        )

    async def _usage(self) -> StorageUsage:
        return await asyncio.to_thread(self._storage.usage)

    async def _relieve_pressure(self, now_ms: int, context: Context, tally: _Tally) -> StorageUsage:
        usage = await self._usage()
        marks = self._marks(usage.total)
        self._enter(marks.level_of(usage.free), usage, marks, context)
        inventory = await self._inventory()
        if usage.free < marks.high_water:
            cutoffs = {c: now_ms - self.min_retention_days(c) * DAY_MS for c in inventory}
            detail = (
                f"free space {_free_percent(usage):.1f} % under the high-water mark; purged "
                f"early, oldest first, never younger than the camera's minimum retention"
            )
            usage = await self._purge_until(
                marks.high_water + marks.headroom,
                cutoffs,
                PurgeReason.DISK_PRESSURE,
                detail,
                usage,
                context,
                tally,
            )
        if usage.free < marks.critical:
            _LOGGER.error(
                "Storage critical: %.3f GB free (%.1f %%); recording is about to fail. "
                "Purging the oldest unheld footage regardless of minimum retention",
                usage.free / GB,
                _free_percent(usage),
            )
            detail = (
                f"free space {_free_percent(usage):.1f} % under the critical mark; recording "
                f"was about to fail, oldest unheld footage purged regardless of age"
            )
            usage = await self._purge_until(
                marks.critical + marks.headroom,
                dict.fromkeys(inventory, now_ms),
                PurgeReason.DISK_CRITICAL,
                detail,
                usage,
                context,
                tally,
            )
            if usage.free < marks.critical:
                await self._report_unpurgeable(usage)
        self._settle(usage, marks, context)
        return usage

    async def _purge_until(
        self,
        target_free: int,
        cutoffs: Mapping[str, int],
        reason: PurgeReason,
        detail: str,
        usage: StorageUsage,
        context: Context,
        tally: _Tally,
    ) -> StorageUsage:
        """Purge the oldest eligible segments until ``target_free`` bytes are free; new usage.

        A segment is eligible once it ended before its camera's entry in ``cutoffs``.
        """
        cutoffs_json = json.dumps(cutoffs)
        for _round in range(PRESSURE_ROUNDS):
            needed = target_free - usage.free
            if needed <= 0:
                break
            progress = False
            while needed > 0:
                rows = await self._db.fetchall(_SELECT_PRESSURE, (cutoffs_json, PURGE_BATCH))
                chosen: list[sqlite3.Row] = []
                for row in rows:
                    chosen.append(row)
                    needed -= int(row["bytes"])
                    if needed <= 0:
                        break
                if not chosen or not await self._purge(chosen, reason, detail, context, tally):
                    break
                progress = True
            usage = await self._usage()
            if not progress:
                break
        return usage

    async def _report_unpurgeable(self, usage: StorageUsage) -> None:
        row = await self._db.fetchone(_SELECT_UNPURGEABLE)
        held = int(row["held"] or 0) if row is not None else 0
        still_open = int(row["open"] or 0) if row is not None else 0
        _LOGGER.error(
            "Storage critical and nothing left to purge: %.3f GB free (%.1f %%). "
            "%d segment(s) are under legal holds and are never purged, %d are still being "
            "recorded. Release holds that are no longer needed, or add storage",
            usage.free / GB,
            _free_percent(usage),
            held,
            still_open,
        )

    def _enter(
        self, level: StorageLevel, usage: StorageUsage, marks: _Marks, context: Context
    ) -> None:
        """Fire ``storage.low`` / ``storage.critical`` when an episode begins."""
        data = {
            "free_bytes": usage.free,
            "free_percent": round(_free_percent(usage), 2),
            "total_bytes": usage.total,
            "high_water_bytes": marks.high_water,
            "critical_bytes": marks.critical,
        }
        if level is not StorageLevel.OK and self.level is StorageLevel.OK:
            _LOGGER.warning(
                "Storage low: %.3f GB free (%.1f %%), under the high-water mark of %.3f GB; "
                "purging early, oldest first, never younger than %d day(s)",
                usage.free / GB,
                _free_percent(usage),
                marks.high_water / GB,
                self.settings.min_retention_days,
            )
            self._bus.async_fire(EVENT_STORAGE_LOW, data, context)
            self.level = StorageLevel.LOW
        if level is StorageLevel.CRITICAL and self.level is not StorageLevel.CRITICAL:
            self._bus.async_fire(EVENT_STORAGE_CRITICAL, data, context)
            self.level = StorageLevel.CRITICAL

    def _settle(self, usage: StorageUsage, marks: _Marks, context: Context) -> None:
        """After the pass: ``storage.ok`` once well above the mark; critical eases to low."""
        if self.level is StorageLevel.OK:
            return
        if usage.free >= marks.high_water + marks.recovery:
            _LOGGER.info(
                "Storage ok again: %.3f GB free (%.1f %%)", usage.free / GB, _free_percent(usage)
            )
            self._bus.async_fire(
                EVENT_STORAGE_OK,
                {
                    "free_bytes": usage.free,
                    "free_percent": round(_free_percent(usage), 2),
                    "total_bytes": usage.total,
                },
                context,
            )
            self.level = StorageLevel.OK
        elif self.level is StorageLevel.CRITICAL and usage.free >= marks.critical:
            self.level = StorageLevel.LOW

    # --- destruction -----------------------------------------------------------------------

    async def _purge(
        self,
        rows: Sequence[sqlite3.Row],
        reason: PurgeReason,
        detail: str,
        context: Context,
        tally: _Tally,
    ) -> int:
        """Decide, then carry out, the destruction of ``rows``; return how many were decided."""
        present = await asyncio.to_thread(self._present, [str(r["storage_key"]) for r in rows])
        decided_at = format_utc(self._clock())
        decided: list[int] = []
        async with self._db.transaction() as db:
            for row in rows:
                why, text = reason, detail
                if row["storage_key"] not in present:
                    why = PurgeReason.MISSING_FILE
                    text = f"the file was already absent; due for {reason.value}: {detail}"
                changed = await db.execute(
                    _INSERT_INTENT,
                    (
                        why.value,
                        text,
                        decided_at,
                        context.id,
                        context.user,
                        context.automation,
                        row["id"],
                    ),
                )
                if changed:
                    decided.append(int(row["id"]))
        if decided:
            await self._finish_intents(tally, decided)
        return len(decided)

    async def _finish_intents(
        self, tally: _Tally, segment_ids: Sequence[int] | None = None
    ) -> None:
        """Delete the files of decided destructions, then register them and drop their rows.

        ``segment_ids`` limits the work to those segments; by default every journal entry
        is finished (those a crashed or failed pass left behind).
        """
        rows = await self._db.fetchall(
            "SELECT i.segment_id, s.storage_key FROM purge_intents i"
            " JOIN segments s ON s.id = i.segment_id"
            " WHERE :ids IS NULL OR i.segment_id IN (SELECT value FROM json_each(:ids))"
            " ORDER BY s.start_ms",
            {"ids": None if segment_ids is None else json.dumps(list(segment_ids))},
        )
        if not rows:
            return
        deleted = await asyncio.to_thread(self._delete, [str(r["storage_key"]) for r in rows])
        async with self._db.transaction() as db:
            for row in rows:
                if row["storage_key"] not in deleted:
                    continue
                registered = await db.fetchone(
                    _INSERT_PURGE, (format_utc(self._clock()), row["segment_id"])
                )
                assert registered is not None
                await db.execute("DELETE FROM segments WHERE id = ?", (row["segment_id"],))
                reason = PurgeReason(registered["reason"])
                size = 0 if reason is PurgeReason.MISSING_FILE else int(registered["bytes"])
                tally.add(reason, str(registered["camera_id"]), size)

    def _present(self, keys: Sequence[str]) -> set[str]:
        """The keys whose files exist (worker thread); an unreadable file counts as present."""
        present = set()
        for key in keys:
            try:
                self._storage.open_read(key).close()
            except FileNotFoundError:
                continue
            except Exception:
                _LOGGER.debug("Could not open %s to check it exists", key, exc_info=True)
            present.add(key)
        return present

    def _delete(self, keys: Sequence[str]) -> set[str]:
        """Delete the files of ``keys`` (worker thread); return those deleted or already gone."""
        deleted = set()
        for key in keys:
            try:
                self._storage.delete(key)
            except Exception:
                # A backend is plugin code: one failure must not stop the others. The journal
                # keeps the decision and the next pass tries again.
                _LOGGER.exception("Could not delete %s; the next pass tries again", key)
                continue
            deleted.add(key)
        return deleted
