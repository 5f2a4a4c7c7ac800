"""A hub killed mid-segment, then reconciled; and a recorder behind slow storage."""

from __future__ import annotations

import asyncio
import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from test_recorder import GOP_S, camera, check_file, config

from cityhub.db import Database
from cityhub.media import recorder as recorder_module
from cityhub.media.index import SegmentIndex, SegmentState
from cityhub.media.recorder import ClosedSegment, Recorder, segment_key
from cityhub.media.recording import IndexWriter
from cityhub.media.source import StreamSource
from cityhub.model import RecordingSettings
from cityhub.storage.local import LocalStorage
from cityhub.testing import RecordingDriverHost, ffprobe
from cityhub.testing.hub import HubFactory
from cityhub_virtual.driver import VirtualCamera


def rows_of(db: Path) -> list[dict[str, Any]]:
    """The segment rows, or none while the hub has not created the file or its tables yet."""
    if not db.exists():
        return []
    with sqlite3.connect(db) as connection:
        connection.row_factory = sqlite3.Row
        try:
            rows = connection.execute("SELECT * FROM segments ORDER BY start_ms")
        except sqlite3.OperationalError as err:  # the hub is still migrating the new file
            if "no such table" in str(err):
                return []
            raise
        return [dict(r) for r in rows]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def test_a_killed_hub_is_reconciled_at_the_next_start(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> None:
    config_dir = cityhub_config(config(camera(), segment_seconds=3))
    db = config_dir / "data" / "cityhub.db"
    root = config_dir / "data" / "recordings"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cityhub.cli", "run", "-c", str(config_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        deadline = time.monotonic() + 25
        while True:  # two complete segments and an open one with a few fragments
            await asyncio.sleep(0.2)
            assert time.monotonic() < deadline, "the hub did not record in time"
            rows = rows_of(db)
            done = [r for r in rows if r["state"] == "complete"]
            open_ = [r for r in rows if r["state"] == "open"]
            if len(done) >= 2 and open_ and time.time() * 1000 - open_[0]["start_ms"] >= 1200:
                break
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    await asyncio.sleep(0.2)
    before = {r["storage_key"]: r for r in rows_of(db)}
    partial_key = next(k for k, r in before.items() if r["state"] == "open")
    complete = [k for k, r in before.items() if r["state"] == "complete"]
    for key in complete:
        assert sha256(root / key) == before[key]["sha256"]
    # A file nobody indexed (an hour earlier), and an indexed file that disappeared.
    orphan_key = segment_key("cam", "main", before[complete[0]]["start_ms"] / 1000 - 3600)
    (root / orphan_key).parent.mkdir(parents=True)
    shutil.copyfile(root / complete[0], root / orphan_key)
    missing_key = complete[1]
    (root / missing_key).unlink()
    unreadable = segment_key("cam", "main", before[complete[0]]["start_ms"] / 1000 - 7200)
    (root / unreadable).parent.mkdir(parents=True)
    (root / unreadable).write_bytes(b"not a video at all")
    partial_size = (root / partial_key).stat().st_size

    off = config(camera(enabled=False), segment_seconds=3)
    hub = await cityhub_hub(cityhub_config(off))
    assert hub.recording is not None
    report = hub.recording.last_reconcile
    assert report is not None
    assert report.repaired == [partial_key]
    assert [s.storage_key for s in report.missing] == [missing_key]
    assert report.indexed == [orphan_key]
    assert report.moved_aside == [unreadable]
    assert (root / "orphans" / unreadable).exists()
    assert not (root / unreadable).exists()

    index = hub.recording.index
    after = {s.storage_key: s for s in await index.all_segments()}
    assert missing_key not in after
    assert hub.db is not None
    register = await hub.db.fetchall(
        "SELECT storage_key, reason, sha256 FROM purges WHERE storage_key = ?", (missing_key,)
    )
    assert [tuple(r) for r in register] == [
        (missing_key, "missing_file", before[missing_key]["sha256"])
    ]
    for key in complete:
        if key != missing_key:
            assert after[key].sha256 == before[key]["sha256"] == sha256(root / key)
            assert after[key].state is SegmentState.COMPLETE
    repaired = after[partial_key]
    path = root / partial_key
    assert repaired.state is SegmentState.REPAIRED
    assert repaired.bytes == path.stat().st_size <= partial_size
    assert repaired.sha256 == sha256(path)
    assert repaired.end_ms - repaired.start_ms >= 1000 - GOP_S * 1000
    check_file(path, repaired.start_ms, repaired.end_ms)
    adopted = after[orphan_key]
    assert adopted.state is SegmentState.REPAIRED
    assert (adopted.codec, adopted.width, adopted.height) == ("h264", 320, 180)
    assert adopted.sha256 == before[complete[0]]["sha256"]
    source = before[complete[0]]
    assert abs(adopted.duration_ms - (source["end_ms"] - source["start_ms"])) <= 50


class SlowStorage(LocalStorage):
    """Local storage whose writes take 0.3 s each: a disk far too slow for the stream."""

    def open_write(self, key: str) -> BinaryIO:
        target = super().open_write(key)
        write = target.write

        def slow(data: Any) -> int:
            time.sleep(0.3)
            return write(data)

        target.write = slow  # type: ignore[method-assign]
        return target


async def test_slow_storage_never_stalls_ingest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "QUEUE_MAX_PACKETS", 10)
    db = await Database.open(tmp_path / "db.sqlite")
    try:
        await db.upsert_camera("cam", "cam", datetime.now(UTC))
        index = SegmentIndex(db)
        writer = IndexWriter(asyncio.get_running_loop(), index)
        storage = SlowStorage({"path": "rec"}, tmp_path)
        closed: list[ClosedSegment] = []
        recorder = Recorder(
            "cam",
            "main",
            RecordingSettings(segment_seconds=2),
            storage,
            writer.submit,
            lambda recording: None,
            closed.append,
        )
        host = RecordingDriverHost(cache_dir=tmp_path / "cache")
        driver = VirtualCamera(host, {"width": 320, "height": 180, "gop": 12})
        received: list[float] = []
        source = StreamSource("cam/main", lambda: driver.open_stream("main"), lambda s, r: None)
        source.add_consumer(recorder.consume)
        source.add_consumer(lambda packet, info: received.append(time.monotonic()))
        recorder.start()
        source.start()
        await asyncio.sleep(4.0)
        assert await asyncio.to_thread(source.stop, 2)
        assert await asyncio.to_thread(recorder.stop, 5)
        await writer.async_stop()
        # Ingest kept its pace (25 fps) whatever the recorder did.
        span = received[-1] - received[0]
        assert len(received) / span == pytest.approx(25, rel=0.1)
        stats = recorder.stats()
        assert stats.dropped > 0
        assert stats.segments >= 1
        for row in await index.all_segments():
            path = tmp_path / "rec" / row.storage_key
            assert row.sha256 == sha256(path)
            probe = ffprobe(path)
            assert probe.errors == ""
    finally:
        await db.close()
