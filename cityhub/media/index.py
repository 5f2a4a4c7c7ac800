"""The recording index: one ``segments`` row per segment file (migration 0002).

Instants are integer milliseconds since the POSIX epoch, UTC. The read side answers what
playback, export and retention ask: the segments overlapping a time range, the recorded
ranges (adjacent segments merged) and the gaps between them. The write side is what the
recorder and the start-up reconciliation need; rows are addressed by their storage key, which
is unique, so the recorder never waits for a row id.
"""

from __future__ import annotations

import enum
import sqlite3
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import attrs

from cityhub.api import Context
from cityhub.db import Database, format_utc

__all__ = [
    "GAP_TOLERANCE_FRAMES",
    "GAP_TOLERANCE_MIN_MS",
    "Coverage",
    "NewSegment",
    "Segment",
    "SegmentIndex",
    "SegmentState",
    "SegmentTrigger",
    "TimeRange",
    "coverage",
    "gap_tolerance_ms",
]

GAP_TOLERANCE_MIN_MS = 1000
"""Two segments closer than this (ms) are one recorded range: clock rounding and a reconnect
that loses a frame or two are not gaps worth an alarm."""
GAP_TOLERANCE_FRAMES = 2
"""...nor is a hole shorter than this many frame intervals (for cameras below 2 fps)."""


class SegmentState(enum.StrEnum):
    """Where a segment file stands."""

    OPEN = "open"
    COMPLETE = "complete"
    REPAIRED = "repaired"


class SegmentTrigger(enum.StrEnum):
    """Why a segment was recorded."""

    CONTINUOUS = "continuous"
    EVENT = "event"


@attrs.frozen
class NewSegment:
    """A segment about to be written: what the index row starts with."""

    camera_id: str
    stream: str
    start_ms: int
    storage_key: str
    codec: str
    width: int
    height: int
    fps: float
    trigger: SegmentTrigger = SegmentTrigger.CONTINUOUS


@attrs.frozen
class Segment:
    """One row of the index."""

    id: int
    camera_id: str
    stream: str
    start_ms: int
    end_ms: int
    bytes: int
    codec: str
    width: int
    height: int
    fps: float
    storage_key: str
    sha256: str | None
    state: SegmentState
    trigger: SegmentTrigger

    @property
    def duration_ms(self) -> int:
        """How long the segment lasts (ms)."""
        return self.end_ms - self.start_ms

    @property
    def is_open(self) -> bool:
        """Whether the recorder is still writing it (its ``end_ms`` is not final yet)."""
        return self.state is SegmentState.OPEN

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> Segment:
        """The segment a ``SELECT *`` row describes."""
        return cls(
            id=int(row["id"]),
            camera_id=str(row["camera_id"]),
            stream=str(row["stream"]),
            start_ms=int(row["start_ms"]),
            end_ms=int(row["end_ms"]),
            bytes=int(row["bytes"]),
            codec=str(row["codec"]),
            width=int(row["width"]),
            height=int(row["height"]),
            fps=float(row["fps"]),
            storage_key=str(row["storage_key"]),
            sha256=row["sha256"],
            state=SegmentState(row["state"]),
            trigger=SegmentTrigger(row["trigger"]),
        )


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLISECOND = timedelta(milliseconds=1)
_HALF_MILLISECOND = timedelta(microseconds=500)


def to_ms(moment: datetime) -> int:
    """``moment`` (timezone-aware) as integer UTC milliseconds since the POSIX epoch, rounded."""
    if moment.tzinfo is None:
        raise ValueError(f"naive datetime {moment!r}: footage times are timezone-aware")
    return (moment - _EPOCH + _HALF_MILLISECOND) // _MILLISECOND


def from_ms(ms: int) -> datetime:
    """The UTC datetime of integer milliseconds since the POSIX epoch."""
    return _EPOCH + ms * _MILLISECOND


@attrs.frozen
class TimeRange:
    """A half-open interval ``[start_ms, end_ms)`` of UTC milliseconds."""

    start_ms: int
    end_ms: int

    @property
    def duration_ms(self) -> int:
        """How long the range lasts (ms)."""
        return self.end_ms - self.start_ms


def gap_tolerance_ms(fps: float) -> int:
    """The largest hole (ms) between two segments that still counts as continuous recording."""
    frames = GAP_TOLERANCE_FRAMES * 1000 / fps if fps > 0 else 0
    return max(GAP_TOLERANCE_MIN_MS, round(frames))


@attrs.frozen
class Coverage:
    """What a camera stream recorded over a range: the continuous runs and the gaps between."""

    recorded: tuple[TimeRange, ...]
    gaps: tuple[TimeRange, ...]


def coverage(
    segments: Sequence[Segment], start_ms: int, end_ms: int, *, now_ms: int | None = None
) -> Coverage:
    """Runs of footage and gaps over ``[start_ms, end_ms)`` from ``segments`` sorted by start.

    The one rule for recordings and gaps everywhere (index, playback, timeline): neighbouring
    segments separated by no more than the gap tolerance of the later one's frame rate form one
    run, and a hole (between runs, or at either end of the range) is a gap only when it is
    longer than that tolerance. With ``now_ms``, an open segment reaches at least ``now_ms``.
    """
    runs: list[TimeRange] = []
    tolerances: list[int] = []
    for segment in segments:
        end = segment.end_ms
        if segment.is_open and now_ms is not None:
            end = max(end, now_ms)
        tolerance = gap_tolerance_ms(segment.fps)
        if runs and segment.start_ms - runs[-1].end_ms <= tolerance:
            last = runs[-1]
            runs[-1] = TimeRange(last.start_ms, max(last.end_ms, end))
        else:
            runs.append(TimeRange(segment.start_ms, end))
            tolerances.append(tolerance)
    recorded: list[TimeRange] = []
    gaps: list[TimeRange] = []
    cursor = start_ms
    default = gap_tolerance_ms(0)
    for run, tolerance in zip(runs, tolerances, strict=True):
        clipped = TimeRange(max(run.start_ms, start_ms), min(run.end_ms, end_ms))
        if clipped.end_ms <= clipped.start_ms:
            continue
        if clipped.start_ms - cursor > tolerance:
            gaps.append(TimeRange(cursor, clipped.start_ms))
        recorded.append(clipped)
        cursor = max(cursor, clipped.end_ms)
    tail = tolerances[-1] if recorded else default
    if end_ms - cursor > tail:
        gaps.append(TimeRange(cursor, end_ms))
    return Coverage(tuple(recorded), tuple(gaps))


class SegmentIndex:
    """Reads and writes the ``segments`` table; every method runs in the event loop."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # --- read side ------------------------------------------------------------------------

    async def segments(
        self, camera_id: str, stream: str, start_ms: int, end_ms: int
    ) -> list[Segment]:
        """Segments of a camera stream overlapping ``[start_ms, end_ms)``, by start time."""
        rows = await self.db.fetchall(
            "SELECT * FROM segments WHERE camera_id = ? AND stream = ?"
            " AND start_ms < ? AND (end_ms > ? OR state = 'open') ORDER BY start_ms, id",
            (camera_id, stream, end_ms, start_ms),
        )
        return [Segment.from_row(row) for row in rows]

    async def coverage(self, camera_id: str, stream: str, start_ms: int, end_ms: int) -> Coverage:
        """Recorded runs and gaps of a camera stream over ``[start_ms, end_ms)``: see
        :func:`coverage`; a segment still being written reaches the present."""
        segments = await self.segments(camera_id, stream, start_ms, end_ms)
        return coverage(segments, start_ms, end_ms, now_ms=to_ms(datetime.now(UTC)))

    async def ranges(
        self, camera_id: str, stream: str, start_ms: int, end_ms: int
    ) -> list[TimeRange]:
        """Recorded runs within ``[start_ms, end_ms)`` (clipped), close neighbours merged."""
        return list((await self.coverage(camera_id, stream, start_ms, end_ms)).recorded)

    async def gaps(
        self, camera_id: str, stream: str, start_ms: int, end_ms: int
    ) -> list[TimeRange]:
        """Parts of ``[start_ms, end_ms)`` longer than the gap tolerance with no footage."""
        return list((await self.coverage(camera_id, stream, start_ms, end_ms)).gaps)

    async def by_key(self, storage_key: str) -> Segment | None:
        """The segment stored under ``storage_key``, if indexed."""
        row = await self.db.fetchone("SELECT * FROM segments WHERE storage_key = ?", (storage_key,))
        return Segment.from_row(row) if row is not None else None

    async def all_segments(self) -> list[Segment]:
        """Every segment of every camera, by camera, stream and start time."""
        rows = await self.db.fetchall(
            "SELECT * FROM segments ORDER BY camera_id, stream, start_ms, id"
        )
        return [Segment.from_row(row) for row in rows]

    # --- write side -----------------------------------------------------------------------

    async def insert(
        self,
        segment: NewSegment,
        *,
        end_ms: int | None = None,
        size: int = 0,
        sha256: str | None = None,
        state: SegmentState = SegmentState.OPEN,
    ) -> int:
        """Add a segment's row (``open`` unless told otherwise); return its id."""
        row = await self.db.fetchone(
            "INSERT INTO segments (camera_id, stream, start_ms, end_ms, bytes, codec, width,"
            " height, fps, storage_key, sha256, state, trigger)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                segment.camera_id,
                segment.stream,
                segment.start_ms,
                segment.start_ms if end_ms is None else end_ms,
                size,
                segment.codec,
                segment.width,
                segment.height,
                segment.fps,
                segment.storage_key,
                sha256,
                state.value,
                segment.trigger.value,
            ),
        )
        assert row is not None
        return int(row["id"])

    async def update_progress(self, storage_key: str, end_ms: int, size: int) -> None:
        """Record how far an open segment has reached (its complete fragments)."""
        await self.db.execute(
            "UPDATE segments SET end_ms = max(start_ms, ?), bytes = ?"
            " WHERE storage_key = ? AND state = 'open'",
            (end_ms, size, storage_key),
        )

    async def finish(
        self, storage_key: str, end_ms: int, size: int, sha256: str, state: SegmentState
    ) -> None:
        """Close a segment's row: its final end, size, checksum and state."""
        await self.db.execute(
            "UPDATE segments SET end_ms = max(start_ms, ?), bytes = ?, sha256 = ?, state = ?"
            " WHERE storage_key = ?",
            (end_ms, size, sha256, state.value, storage_key),
        )

    async def delete(self, storage_key: str) -> None:
        """Remove a segment's row."""
        await self.db.execute("DELETE FROM segments WHERE storage_key = ?", (storage_key,))

    async def register_missing(self, segment: Segment, detail: str, context: Context) -> None:
        """Drop the row of a segment whose file is gone, writing it in the register of
        destruction (reason ``missing_file``) in the same transaction."""
        now = format_utc(datetime.now(UTC))
        async with self.db.transaction():
            await self.db.execute(
                "INSERT INTO purges (time_utc, segment_id, camera_id, stream, start_ms, end_ms,"
                " bytes, storage_key, sha256, reason, detail, decided_at, context_id,"
                " context_user, context_automation)"
                " SELECT ?, id, camera_id, stream, start_ms, end_ms, bytes, storage_key, sha256,"
                " 'missing_file', ?, ?, ?, ?, ? FROM segments WHERE storage_key = ?",
                (
                    now,
                    detail,
                    now,
                    context.id,
                    context.user,
                    context.automation,
                    segment.storage_key,
                ),
            )
            await self.db.execute(
                "DELETE FROM segments WHERE storage_key = ?", (segment.storage_key,)
            )
