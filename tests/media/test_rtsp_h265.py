"""An H.265 camera end to end: GStreamer's RTSP server (rtph265pay), cityhub's RTSP client and
its C video track, the recorder, the index; FFmpeg's reader on the same URL as the reference.

Many cities' cameras record H.265. The test server's H.265 clips are FFmpeg's ``testsrc2``
encoded with libx265, without B-frames and with the parameter sets on every keyframe, as a
camera sends them.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import av
import pytest
from rtp_kit import rtsp_hub_config, video_packets

from cityhub.api import CameraState, MediaPacket
from cityhub.media.index import SegmentState
from cityhub.media.recording import EVENT_SEGMENT_CLOSED
from cityhub.media.rtsp_client import RtspReader
from cityhub.media.url_reader import UrlReader
from cityhub.testing import ffprobe
from cityhub.testing.hub import HubFactory, wait_for_state
from cityhub.testing.rtsp import ClipCache, RtspTestServer

FPS = 25
GOP = 10


def test_h265_frames_and_timestamps_equal_ffmpegs(rtsp_server: RtspTestServer) -> None:
    url = rtsp_server.add_clip("reader", 320, 180, FPS, seconds=2, gop=GOP, codec="h265")
    ours = RtspReader(url)
    theirs = UrlReader(url)
    results: dict[str, list[MediaPacket]] = {}
    threads = [
        threading.Thread(target=lambda: results.update(ours=video_packets(ours, 40))),
        threading.Thread(target=lambda: results.update(theirs=video_packets(theirs, 40))),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        ours.close()
        theirs.close()
    assert ours.native_video  # the C track read it
    assert (ours.info.codec, ours.info.width, ours.info.height) == ("hevc", 320, 180)
    assert (theirs.info.codec, theirs.info.width, theirs.info.height) == ("hevc", 320, 180)
    mine, other = results["ours"], results["theirs"]
    # Both joined the same shared pipeline within a moment: from the first frame both have,
    # every frame is the same (Annex-B on both sides), with the same keyframes and steps.
    where = {p.data: i for i, p in enumerate(other)}
    shift = next(i for i, p in enumerate(mine) if p.data in where)
    pairs = list(zip(mine[shift:], other[where[mine[shift].data] :], strict=False))
    assert len(pairs) >= 20
    assert all(a.data == b.data and a.keyframe == b.keyframe for a, b in pairs)
    assert any(a.keyframe for a, _ in pairs)
    for (a, b), (next_a, next_b) in itertools.pairwise(pairs):
        assert next_a.dts - a.dts == next_b.dts - b.dts == 90_000 // FPS
    assert ours.packets_lost == 0


async def test_an_h265_camera_is_recorded_and_its_segments_play(
    rtsp_server: RtspTestServer,
    cityhub_config: Callable[..., Path],
    cityhub_hub: HubFactory,
) -> None:
    url = rtsp_server.add_clip("cam", 320, 180, FPS, seconds=2, gop=GOP, codec="h265")
    config = rtsp_hub_config({"cam": url})
    hub = await cityhub_hub(cityhub_config(config))
    closed: list[dict[str, Any]] = []
    hub.bus.subscribe(EVENT_SEGMENT_CLOSED, lambda e: closed.append(dict(e.data)))
    await wait_for_state(hub, "cam", CameraState.ONLINE, timeout=15)
    deadline = time.monotonic() + 20
    while len(closed) < 2:
        assert time.monotonic() < deadline, f"only {len(closed)} segment(s) closed"
        await asyncio.sleep(0.1)
    assert hub.recording is not None
    rows = await hub.recording.index.segments("cam", "main", 0, int(time.time() * 1000) + 1)
    complete = [r for r in rows if r.state is SegmentState.COMPLETE]
    assert len(complete) >= 2
    for row in complete:
        path = hub.data_dir / "recordings" / row.storage_key
        assert row.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
        probe = ffprobe(path)
        assert (probe.codec, probe.width, probe.height) == ("hevc", 320, 180)
        assert probe.errors == ""
        assert abs(probe.duration - row.duration_ms / 1000) <= GOP / FPS
        with av.open(str(path)) as container:  # every frame decodes
            decoded = sum(1 for _ in container.decode(video=0))
        assert decoded >= round(row.duration_ms / 1000 * FPS) - 1


def test_unknown_codecs_are_refused(tmp_path: Path) -> None:
    server = RtspTestServer(clips=ClipCache(tmp_path))  # not started: refused before that
    with pytest.raises(ValueError, match="codec must be one of h264, h265"):
        server.add_clip("cam", codec="vp8")
    with pytest.raises(ValueError, match="codec must be one of h264, h265"):
        server.clips.get(
            width=320, height=180, fps=25, seconds=1, gop=25, bitrate=1, title="t", codec="vp8"
        )
