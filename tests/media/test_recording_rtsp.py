"""Recording a real RTSP camera (GStreamer's RTSP server) across a 10 s outage of the server.

The acceptance test of the recording pipeline: segments are checked with ffprobe and against
the index; the server is killed for 10 s mid-recording and restarted; the camera goes offline
and back online, the index shows a gap matching the outage within 2 s, recording resumes, and
the segments written before the outage are byte-for-byte what the index says.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rtp_kit import rtsp_hub_config

from cityhub.api import CameraState
from cityhub.hub import Hub
from cityhub.media.index import Segment, SegmentState
from cityhub.media.recording import EVENT_SEGMENT_CLOSED
from cityhub.testing import ffprobe
from cityhub.testing.hub import HubFactory, wait_for_state
from cityhub.testing.rtsp import RtspTestServer

FPS = 25
GOP = 12
GOP_S = GOP / FPS
OUTAGE_S = 10.0


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


async def complete_segments(hub: Hub) -> list[Segment]:
    assert hub.recording is not None
    rows = await hub.recording.index.segments("cam", "main", 0, int(time.time() * 1000) + 1)
    return [r for r in rows if r.state is SegmentState.COMPLETE]


async def wait_closed(closed: list[dict[str, Any]], count: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while len(closed) < count:
        assert time.monotonic() < deadline, f"only {len(closed)} segment(s) closed"
        await asyncio.sleep(0.1)


def check_against_index(hub: Hub, row: Segment) -> None:
    path = hub.data_dir / "recordings" / row.storage_key
    assert row.bytes == path.stat().st_size
    assert row.sha256 == sha256(path)
    probe = ffprobe(path)
    assert (probe.codec, probe.width, probe.height) == ("h264", 320, 180)
    assert probe.errors == ""
    assert abs(probe.duration - row.duration_ms / 1000) <= GOP_S


async def test_rtsp_recording_survives_a_server_outage(
    rtsp_server: RtspTestServer, cityhub_config: Callable[..., Path], cityhub_hub: HubFactory
) -> None:
    url = rtsp_server.add_clip("cam", 320, 180, FPS, seconds=2, gop=GOP, bitrate=300_000)
    config = rtsp_hub_config({"cam": url})
    hub = await cityhub_hub(cityhub_config(config))
    closed: list[dict[str, Any]] = []
    hub.bus.subscribe(EVENT_SEGMENT_CLOSED, lambda e: closed.append(dict(e.data)))
    states: list[str] = []
    hub.bus.subscribe(
        "camera.*",
        lambda e: states.append(e.event_type) if e.event_type != "camera.state_changed" else None,
    )

    await wait_for_state(hub, "cam", CameraState.ONLINE, timeout=15)
    await wait_closed(closed, 3, timeout=15)
    before = await complete_segments(hub)
    assert len(before) >= 3
    for row in before:
        check_against_index(hub, row)
    hashes_before = {r.storage_key: r.sha256 for r in before}

    rtsp_server.kill()
    killed_at = time.time()
    await wait_for_state(hub, "cam", CameraState.OFFLINE, timeout=10)
    await asyncio.sleep(OUTAGE_S - (time.time() - killed_at))
    rtsp_server.restart()
    restarted_at = time.time()
    outage_ms = (restarted_at - killed_at) * 1000

    await wait_for_state(hub, "cam", CameraState.ONLINE, timeout=15)
    count = len(closed)
    await wait_closed(closed, count + 2, timeout=15)

    after = await complete_segments(hub)
    for key, digest in hashes_before.items():
        row = next(r for r in after if r.storage_key == key)
        assert row.sha256 == digest
        assert sha256(hub.data_dir / "recordings" / key) == digest
    for row in after:
        check_against_index(hub, row)
    assert hub.recording is not None
    span = (after[0].start_ms, after[-1].end_ms)
    gaps = await hub.recording.index.gaps("cam", "main", *span)
    assert len(gaps) == 1, gaps
    print(f"outage {outage_ms:.0f} ms, gap in the index {gaps[0].duration_ms} ms")
    assert abs(gaps[0].duration_ms - outage_ms) <= 2000, (gaps[0].duration_ms, outage_ms)
    assert states.count("camera.offline") == 1
    assert states.count("camera.online") == 2
