"""The segment index: overlap queries, recorded ranges with their tolerance, gaps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cityhub.db import Database
from cityhub.media.index import (
    NewSegment,
    SegmentIndex,
    SegmentState,
    TimeRange,
    gap_tolerance_ms,
)


async def test_ranges_merge_neighbours_within_tolerance_and_gaps_are_the_rest(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "db.sqlite")
    try:
        await db.upsert_camera("cam", "cam", datetime.now(UTC))
        index = SegmentIndex(db)
        spans = [(0, 2000), (2000, 4000), (4900, 6000), (9000, 10000)]
        for number, (start, end) in enumerate(spans):
            segment = NewSegment("cam", "main", start, f"k{number}", "h264", 64, 64, 25.0)
            await index.insert(segment)
            await index.update_progress(f"k{number}", end - 500, 100)
            await index.finish(f"k{number}", end, 200, "00", SegmentState.COMPLETE)
        other = NewSegment("cam", "sub", 0, "sub", "h264", 32, 32, 25.0)
        await index.insert(other, end_ms=10000)

        found = await index.segments("cam", "main", 1999, 4901)
        assert [s.storage_key for s in found] == ["k0", "k1", "k2"]
        assert found[0].bytes == 200
        assert await index.ranges("cam", "main", 0, 10000) == [
            TimeRange(0, 6000),  # 4000 -> 4900 is within the 1 s tolerance
            TimeRange(9000, 10000),
        ]
        assert await index.ranges("cam", "main", 1000, 9500) == [
            TimeRange(1000, 6000),
            TimeRange(9000, 9500),
        ]
        assert await index.gaps("cam", "main", -1000, 11000) == [
            TimeRange(-1000, 0),
            TimeRange(6000, 9000),
            TimeRange(10000, 11000),
        ]
        await index.delete("k3")
        assert await index.by_key("k3") is None
    finally:
        await db.close()


def test_gap_tolerance_is_two_frames_or_one_second() -> None:
    assert gap_tolerance_ms(25) == 1000
    assert gap_tolerance_ms(1) == 2000
    assert gap_tolerance_ms(0) == 1000
