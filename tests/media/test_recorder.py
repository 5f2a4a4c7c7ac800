"""Recording through a real hub: the virtual camera records fMP4 segments checked by ffprobe.

Each test runs a hub for a few seconds of real time; together they stay well under 90 s.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest

from cityhub.api import CameraState
from cityhub.bus import Event
from cityhub.hub import Hub
from cityhub.media.index import SegmentState, SegmentTrigger
from cityhub.media.recording import EVENT_SEGMENT_CLOSED
from cityhub.testing import ffprobe
from cityhub.testing.hub import HubFactory, wait_for_state

FPS = 25
GOP = 12
"""Frames per GOP: 0.48 s fragments, so cuts and fragments come often in short tests."""
GOP_S = GOP / FPS


def camera(camera_id: str = "cam", **extra: Any) -> dict[str, Any]:
    """A small virtual camera (320x180, 25 fps, a keyframe every 0.48 s)."""
    options = {"width": 320, "height": 180, "fps": FPS, "gop": GOP, "bitrate": 200_000}
    options.update(extra.pop("options", {}))
    return {
        "id": camera_id,
        "name": camera_id,
        "driver": "virtual",
        "zone": "centre",
        "options": options,
        **extra,
    }


def config(*cameras: dict[str, Any], segment_seconds: int = 2, **recording: Any) -> dict[str, Any]:
    return {
        "hub": {"name": "test", "data_dir": "data"},
        "http": {"port": 0},
        "recording": {"segment_seconds": segment_seconds, **recording},
        "zones": [{"id": "centre", "name": "Centre"}],
        "cameras": list(cameras),
    }


class Closed:
    """Collects ``recording.segment_closed`` events and waits for them."""

    def __init__(self, hub: Hub) -> None:
        self.events: list[dict[str, Any]] = []
        hub.bus.subscribe(EVENT_SEGMENT_CLOSED, self._add)

    def _add(self, event: Event) -> None:
        self.events.append(dict(event.data))

    async def wait(self, count: int, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.events) < count:
            assert time.monotonic() < deadline, f"only {len(self.events)} segment(s) closed"
            await asyncio.sleep(0.05)
        return self.events


def storage_root(hub: Hub) -> Path:
    return hub.data_dir / "recordings"


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_file(path: Path, start_ms: int, end_ms: int) -> None:
    """The file plays on its own: H.264, no decode error, duration within one GOP, and its
    header carries the camera's own parameter sets (not those of some encoder)."""
    probe = ffprobe(path)
    assert probe.codec == "h264"
    assert (probe.width, probe.height) == (320, 180)
    assert probe.errors == ""
    assert probe.keyframes >= 1
    assert abs(probe.duration - (end_ms - start_ms) / 1000) <= GOP_S
    assert header_sps(path) == in_band_sps(path)


def header_sps(path: Path) -> bytes:
    """The SPS of the file's avcC record."""
    with av.open(str(path)) as container:
        avcc = bytes(container.streams.video[0].codec_context.extradata or b"")
    assert avcc[:1] == b"\x01", "the header must hold an avcC record"
    length = int.from_bytes(avcc[6:8], "big")
    return avcc[8 : 8 + length]


def in_band_sps(path: Path) -> bytes:
    """The SPS carried in the first keyframe's samples (length-prefixed NAL units)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        data = next(bytes(p) for p in container.demux(stream) if p.is_keyframe)
    offset = 0
    while offset + 4 <= len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        nal = data[offset + 4 : offset + 4 + size]
        if nal[0] & 0x1F == 7:
            return nal
        offset += 4 + size
    raise AssertionError("no SPS in the first keyframe")


async def test_continuous_segments_are_playable_indexed_and_contiguous(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> None:
    hub = await cityhub_hub(cityhub_config(config(camera())))
    closed = Closed(hub)
    await wait_for_state(hub, "cam", CameraState.ONLINE)
    events = await closed.wait(3, timeout=12)
    status = hub.states.get("cam")
    assert status is not None
    assert status.recording
    assert hub.recording is not None
    index = hub.recording.index
    now_ms = int(time.time() * 1000)
    rows = [
        r
        for r in await index.segments("cam", "main", 0, now_ms)
        if r.state is SegmentState.COMPLETE
    ]
    assert len(rows) >= 3
    assert [e["key"] for e in events[:3]] == [r.storage_key for r in rows[:3]]
    for row in rows:
        path = storage_root(hub) / row.storage_key
        assert row.bytes == path.stat().st_size
        assert row.sha256 == sha256(path)
        assert row.trigger is SegmentTrigger.CONTINUOUS
        assert (row.codec, row.width, row.height, row.fps) == ("h264", 320, 180, FPS)
        assert 2000 <= row.duration_ms <= 2000 + GOP_S * 1000 + 1
        check_file(path, row.start_ms, row.end_ms)
    for before, after in itertools.pairwise(rows):
        assert abs(after.start_ms - before.end_ms) <= 1  # no gap within one connection
    first, last = rows[0].start_ms, rows[-1].end_ms
    assert len(await index.ranges("cam", "main", first, last)) == 1
    assert await index.gaps("cam", "main", first, last) == []
    key = rows[0].storage_key
    assert key.startswith("cam/main/")
    assert key.endswith("Z.mp4")


@pytest.mark.realtime
async def test_a_drop_out_is_a_gap_of_the_outage_and_recording_resumes(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> None:
    """With the default reconnect backoff: the gap stays within 2 s of the 3 s outage."""
    cam = camera(options={"dropout": {"every": 4, "duration": 3}})
    hub = await cityhub_hub(cityhub_config(config(cam)))
    closed = Closed(hub)
    deadline = time.monotonic() + 15
    # Wait for a segment of the second connection (after the outage at 4..7 s).
    while True:
        await closed.wait(1, timeout=10)
        pairs = itertools.pairwise(closed.events)
        if any(b["start_ms"] - a["end_ms"] > 1000 for a, b in pairs):
            break
        assert time.monotonic() < deadline, f"no reconnect seen: {closed.events}"
        await asyncio.sleep(0.1)
    assert hub.recording is not None
    index = hub.recording.index
    events = closed.events
    span_start, span_end = events[0]["start_ms"], events[-1]["end_ms"]
    ranges = await index.ranges("cam", "main", span_start, span_end)
    gaps = await index.gaps("cam", "main", span_start, span_end)
    assert len(ranges) >= 2
    assert gaps
    assert abs(ranges[0].duration_ms - 4000) <= 2000
    assert abs(gaps[0].duration_ms - 3000) <= 2000
    source = hub.cameras["cam"].sources["main"]
    assert source.stats().reconnects >= 1


@pytest.mark.realtime
async def test_event_mode_records_pre_roll_and_post_roll(
    cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> None:
    cam = camera(recording={"mode": "event", "pre_roll": 2, "post_roll": 1})
    hub = await cityhub_hub(cityhub_config(config(cam, segment_seconds=30)))
    closed = Closed(hub)
    await wait_for_state(hub, "cam", CameraState.ONLINE)
    await asyncio.sleep(3.0)  # fill the pre-roll
    assert closed.events == []
    status = hub.states.get("cam")
    assert status is not None
    assert not status.recording
    triggered = time.time()
    await hub.services.async_call("recording", "trigger", {"camera_id": "cam", "duration": 0.5})
    events = await closed.wait(1, timeout=6)
    event = events[0]
    assert event["trigger"] == "event"
    pre_roll_ms = (triggered - event["start_ms"] / 1000) * 1000
    assert 2000 - 100 <= pre_roll_ms <= 2000 + GOP_S * 1000 + 100
    post_ms = event["end_ms"] - (triggered + 0.5) * 1000
    assert 1000 - 200 <= post_ms <= 1000 + 300

    # Motion from the camera starts another event; its end adds the post-roll.
    hub.bus.async_fire("camera.motion", {"camera_id": "cam", "active": True})
    await asyncio.sleep(1.0)
    hub.bus.async_fire("camera.motion", {"camera_id": "cam", "active": False})
    motion_end = time.time()
    events = await closed.wait(2, timeout=6)
    second = events[1]
    assert second["start_ms"] >= event["end_ms"] - 1  # never records the same footage twice
    assert abs(second["end_ms"] / 1000 - (motion_end + 1.0)) <= 0.3
    assert hub.recording is not None
    for row in await hub.recording.index.segments("cam", "main", 0, int(time.time() * 1000)):
        assert row.trigger is SegmentTrigger.EVENT
        path = storage_root(hub) / row.storage_key
        assert row.sha256 == sha256(path)
        check_file(path, row.start_ms, row.end_ms)
