"""The segment index: overlap queries, recorded ranges with their tolerance, gaps."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cityhub.db import Database
from cityhub.media.index import (
    NewSegment,
    Segment,
    SegmentIndex,
    SegmentState,
    SegmentTrigger,
    TimeRange,
    coverage,
    gap_tolerance_ms,
)


def _segment(start_ms: int, end_ms: int, fps: float = 25.0, *, open_: bool = False) -> Segment:
    state = SegmentState.OPEN if open_ else SegmentState.COMPLETE
    return Segment(
        id=start_ms, camera_id="cam", stream="main", start_ms=start_ms, end_ms=end_ms, bytes=1,
        codec="h264", width=64, height=64, fps=fps, storage_key=f"k{start_ms}", sha256=None,
        state=state, trigger=SegmentTrigger.CONTINUOUS,
    )  # fmt: skip


def test_coverage_uses_the_tolerance_of_each_segment_between_runs_and_at_the_ends() -> None:
    slow = [_segment(0, 10_000, fps=0.5), _segment(13_500, 20_000, fps=0.5)]
    # 0.5 fps: two frame intervals are 4 s, so the 3.5 s hole is not a gap
    assert coverage(slow, 0, 20_000).gaps == ()
    assert coverage(slow, 0, 20_000).recorded == (TimeRange(0, 20_000),)
    fast = [_segment(0, 10_000), _segment(13_500, 20_000)]
    found = coverage(fast, -500, 25_000)
    assert found.recorded == (TimeRange(0, 10_000), TimeRange(13_500, 20_000))
    assert found.gaps == (TimeRange(10_000, 13_500), TimeRange(20_000, 25_000))
    assert coverage(fast, 5_000, 8_000).recorded == (TimeRange(5_000, 8_000),)
    assert coverage([], 0, 500).gaps == ()
    assert coverage([], 0, 5_000).gaps == (TimeRange(0, 5_000),)


def test_coverage_extends_a_segment_being_written_to_the_present() -> None:
    writing = [_segment(0, 10_000, open_=True)]
    assert coverage(writing, 0, 60_000).gaps == (TimeRange(10_000, 60_000),)
    found = coverage(writing, 0, 60_000, now_ms=59_500)
    assert found.recorded == (TimeRange(0, 59_500),)
    assert found.gaps == ()


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
        assert await index.gaps("cam", "main", -2000, 12000) == [
            TimeRange(-2000, 0),
            TimeRange(6000, 9000),
            TimeRange(10000, 12000),
        ]
        # holes at the ends no longer than the tolerance are not gaps either
        assert await index.gaps("cam", "main", -1000, 11000) == [TimeRange(6000, 9000)]
        await index.delete("k3")
        assert await index.by_key("k3") is None
    finally:
        await db.close()


def test_gap_tolerance_is_two_frames_or_one_second() -> None:
    assert gap_tolerance_ms(25) == 1000
    assert gap_tolerance_ms(1) == 2000
    assert gap_tolerance_ms(0) == 1000
