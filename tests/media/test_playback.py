"""Playback: timelines and gaps from the index, fMP4 streams and MP4 files remuxed from segments."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from playback_kit import FPS, HEIGHT, T0_MS, WIDTH, at, record

from cityhub.db import Database
from cityhub.media.index import TimeRange, gap_tolerance_ms
from cityhub.media.playback import (
    NoFootageError,
    Playback,
    SegmentMissingError,
    SourceIntegrityError,
    StreamChangedError,
)
from cityhub.storage.local import LocalStorage
from cityhub.testing import ffprobe

FRAME_MS = 1000 // FPS


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = await Database.open(tmp_path / "cityhub.db")
    yield database
    await database.close()


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage({}, tmp_path)


@pytest.fixture
def playback(db: Database, storage: LocalStorage) -> Playback:
    return Playback(db, storage)


def test_gap_tolerance_is_two_frames_or_one_second() -> None:
    assert gap_tolerance_ms(25) == 1000
    assert gap_tolerance_ms(1) == 2000
    assert gap_tolerance_ms(0) == 1000


async def test_timeline_lists_recordings_and_gaps(
    db: Database, storage: LocalStorage, playback: Playback
) -> None:
    await record(db, storage, "cam-1", T0_MS, 8)
    await record(db, storage, "cam-1", T0_MS + 12_000, 8)
    # 500 ms late: below the tolerance, so no gap.
    await record(db, storage, "cam-1", T0_MS + 20_500, 4)

    timeline = await playback.timeline("cam-1", "main", at(-2000), at(30_000))

    assert len(timeline.segments) == 5
    assert timeline.recordings == (
        TimeRange(T0_MS, T0_MS + 8000),
        TimeRange(T0_MS + 12_000, T0_MS + 24_500),
    )
    assert timeline.gaps == (
        TimeRange(T0_MS - 2000, T0_MS),
        TimeRange(T0_MS + 8000, T0_MS + 12_000),
        TimeRange(T0_MS + 24_500, T0_MS + 30_000),
    )
    assert (await playback.timeline("cam-1", "sub", at(0), at(1000))).segments == ()


async def test_stream_starts_on_the_keyframe_before_and_is_playable_fmp4(
    db: Database, storage: LocalStorage, playback: Playback, tmp_path: Path
) -> None:
    await record(db, storage, "cam-1", T0_MS, 16)

    chunks = [c async for c in playback.stream("cam-1", "main", at(5500), at(10_000))]

    assert chunks[0][4:8] == b"ftyp"
    assert b"moov" in chunks[0]
    assert b"moof" not in chunks[0]
    assert chunks[1][4:8] == b"moof"
    path = tmp_path / "stream.mp4"
    path.write_bytes(b"".join(chunks))
    probe = ffprobe(path)
    assert probe.errors == ""
    assert (probe.codec, probe.width, probe.height) == ("h264", WIDTH, HEIGHT)
    # From the keyframe at 5 s (at or before 5.5 s) to the frame at 10 s, across 3 segments.
    assert probe.frames == 5 * FPS + 1
    assert probe.raw["frames"][0]["key_frame"] == 1
    assert probe.duration == pytest.approx(5 + FRAME_MS / 1000, abs=0.05)


async def test_stream_stopped_early_releases_the_files(
    db: Database, storage: LocalStorage, playback: Playback
) -> None:
    await record(db, storage, "cam-1", T0_MS, 8)
    stream = playback.stream("cam-1", "main", at(0), at(8000))
    first = await anext(stream)
    await stream.aclose()
    assert b"moov" in first


async def test_remux_across_a_gap_keeps_real_time_and_reports_it(
    db: Database, storage: LocalStorage, playback: Playback, tmp_path: Path
) -> None:
    await record(db, storage, "cam-1", T0_MS, 8)
    await record(db, storage, "cam-1", T0_MS + 12_000, 8)
    path = tmp_path / "out.mp4"
    seen: list[tuple[int, int]] = []

    result = await playback.remux_to_file(
        "cam-1",
        "main",
        at(2500),
        at(14_200),
        path,
        verify_sources=True,
        progress=lambda done, total: seen.append((done, total)),
    )

    assert result.first_ms == T0_MS + 2000
    assert result.last_ms == T0_MS + 14_200
    assert result.frames == 6 * FPS + 56
    assert result.gaps == (TimeRange(T0_MS + 8000, T0_MS + 12_000),)
    assert [s.start_ms - T0_MS for s in result.sources] == [0, 4000, 12_000]
    assert seen[-1] == (11_700, 11_700)
    probe = ffprobe(path)
    assert probe.errors == ""
    assert probe.frames == result.frames
    assert probe.duration == pytest.approx(12.2 + FRAME_MS / 1000, abs=0.05)
    data = path.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat"), "faststart: the index comes first"


async def test_no_footage_and_empty_range_are_refused(
    db: Database, storage: LocalStorage, playback: Playback, tmp_path: Path
) -> None:
    await record(db, storage, "cam-1", T0_MS, 4)
    with pytest.raises(NoFootageError, match="no footage"):
        await playback.remux_to_file("cam-1", "main", at(60_000), at(70_000), tmp_path / "x.mp4")
    with pytest.raises(NoFootageError, match="empty"):
        await playback.remux_to_file("cam-1", "main", at(3000), at(1000), tmp_path / "x.mp4")
    with pytest.raises(NoFootageError):
        [c async for c in playback.stream("cam-2", "main", at(0), at(1000))]


async def test_missing_altered_or_changed_segments_are_reported(
    db: Database, storage: LocalStorage, playback: Playback, tmp_path: Path
) -> None:
    await record(db, storage, "cam-1", T0_MS, 8)
    rows = await db.fetchall("SELECT id, storage_key FROM segments ORDER BY start_ms")
    out = tmp_path / "x.mp4"

    await db.execute("UPDATE segments SET width = 640 WHERE id = ?", (rows[1]["id"],))
    with pytest.raises(StreamChangedError, match="320x240 to h264 640x240"):
        await playback.remux_to_file("cam-1", "main", at(0), at(8000), out)
    await db.execute("UPDATE segments SET width = ? WHERE id = ?", (WIDTH, rows[1]["id"]))

    path = storage.root / rows[1]["storage_key"]
    data = bytearray(path.read_bytes())
    data[-100] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(SourceIntegrityError, match=rows[1]["storage_key"]):
        await playback.remux_to_file("cam-1", "main", at(0), at(8000), out, verify_sources=True)

    path.unlink()
    with pytest.raises(SegmentMissingError, match=rows[1]["storage_key"]):
        await playback.remux_to_file("cam-1", "main", at(0), at(8000), out)


async def test_a_range_after_the_last_frame_of_an_open_segment_has_no_footage(
    cityhub_config: Any, cityhub_hub: Any
) -> None:
    """Regression: the GOP before such a range came from a closed file and crashed the muxer."""
    from cityhub.api import CameraState
    from cityhub.media.playback import NoFootageError
    from cityhub.testing.hub import wait_for_state

    config = {
        "http": {"port": 0},
        "recording": {"segment_seconds": 60},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": [
            {"id": "cam", "name": "Cam", "driver": "virtual", "zone": "centre",
             "options": {"width": 160, "height": 96, "fps": 25, "gop": 12}},
        ],
    }  # fmt: skip
    hub = await cityhub_hub(cityhub_config(config))
    await wait_for_state(hub, "cam", CameraState.ONLINE)
    await asyncio.sleep(3)  # fragments in the open segment
    assert hub.playback is not None
    later = datetime.now(UTC) + timedelta(minutes=10)
    for _ in range(3):
        with pytest.raises(NoFootageError):
            async for _chunk in hub.playback.stream(
                "cam", "main", later, later + timedelta(hours=1)
            ):
                pass
