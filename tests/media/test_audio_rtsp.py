"""Audio passthrough from real RTSP cameras (GStreamer's RTSP server sending a tone).

One hub records three cameras at once: AAC audio (kept as it came), G.711 u-law (recorded
as AAC: the MP4 muxer refuses G.711) and Opus (not recorded: one log line, video only). Each
segment is checked with ffprobe, and cut short as a crash would to check that its complete
fragments still play with both tracks; then an export of the AAC camera must carry its audio.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rtp_kit import rtsp_hub_config

from cityhub.api import CameraState
from cityhub.hub import Hub
from cityhub.media.fmp4 import scan
from cityhub.media.index import Segment, SegmentState
from cityhub.media.recording import EVENT_SEGMENT_CLOSED
from cityhub.testing import ffprobe
from cityhub.testing.hub import HubFactory, wait_for_state
from cityhub.testing.rtsp import RtspTestServer

FPS = 25
GOP = 12
GOP_S = GOP / FPS
CAMERAS = {"cam-aac": "aac", "cam-pcmu": "pcmu", "cam-opus": "opus"}
EXPECTED_AUDIO = {"cam-aac": ("aac", 16000), "cam-pcmu": ("aac", 8000), "cam-opus": None}


async def complete_segments(hub: Hub, camera_id: str) -> list[Segment]:
    assert hub.recording is not None
    rows = await hub.recording.index.segments(camera_id, "main", 0, int(time.time() * 1000) + 1)
    return [r for r in rows if r.state is SegmentState.COMPLETE]


async def wait_closed(closed: list[dict[str, Any]], per_camera: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while any(sum(c["camera_id"] == cam for c in closed) < per_camera for cam in CAMERAS):
        assert time.monotonic() < deadline, f"only {len(closed)} segment(s) closed"
        await asyncio.sleep(0.1)


def check_crash_safe(path: Path, tmp_path: Path, audio: tuple[str, int]) -> None:
    """The video's time is read from the fragments alone, and a cut file's fragments play."""
    data = path.read_bytes()
    whole = scan(data)
    probe = ffprobe(path)
    video = next(s for s in probe.raw["streams"] if s["codec_type"] == "video")
    assert abs(whole.duration_s - float(video["duration"])) < 0.001
    assert whole.samples == probe.frames
    cut = scan(data[: len(data) * 2 // 3])
    assert 0 < cut.fragments < whole.fragments
    repaired = tmp_path / "repaired.mp4"
    repaired.write_bytes(data[: cut.valid_bytes])
    again = ffprobe(repaired)
    assert again.errors == ""
    assert again.frames == cut.samples
    assert (again.audio_codec, again.audio_sample_rate) == audio
    assert abs(again.audio_duration - cut.duration_s) <= GOP_S


async def test_aac_and_g711_are_recorded_and_opus_is_dropped_once(
    rtsp_server: RtspTestServer,
    cityhub_config: Callable[..., Path],
    cityhub_hub: HubFactory,
    caplog: pytest.LogCaptureFixture,
    tmp_path: Path,
) -> None:
    caplog.set_level(logging.INFO, logger="cityhub.media.url_reader")
    urls = {
        camera_id: rtsp_server.add_clip(
            camera_id, 320, 180, FPS, seconds=2, gop=GOP, bitrate=300_000, audio=audio
        )
        for camera_id, audio in CAMERAS.items()
    }
    config = rtsp_hub_config(urls)
    hub = await cityhub_hub(cityhub_config(config))
    closed: list[dict[str, Any]] = []
    hub.bus.subscribe(EVENT_SEGMENT_CLOSED, lambda e: closed.append(dict(e.data)))
    for camera_id in CAMERAS:
        await wait_for_state(hub, camera_id, CameraState.ONLINE, timeout=15)
    await wait_closed(closed, 3, timeout=20)

    for camera_id, expected in EXPECTED_AUDIO.items():
        rows = await complete_segments(hub, camera_id)
        assert len(rows) >= 3, camera_id
        for row in rows:
            probe = ffprobe(hub.data_dir / "recordings" / row.storage_key)
            assert (probe.codec, probe.width, probe.height) == ("h264", 320, 180)
            assert probe.errors == "", (camera_id, probe.errors)
            if expected is None:
                assert probe.audio_codec is None, camera_id
                continue
            video_s = probe.frames / FPS
            print(f"{camera_id}: video {video_s:.3f} s, audio {probe.audio_duration:.3f} s")
            assert (probe.audio_codec, probe.audio_sample_rate) == expected, camera_id
            assert probe.audio_channels == 1
            assert probe.audio_frames > 0
            assert abs(probe.audio_duration - video_s) <= GOP_S, (camera_id, row.storage_key)
            check_crash_safe(hub.data_dir / "recordings" / row.storage_key, tmp_path, expected)

    dropped = [r for r in caplog.records if "is not recorded" in r.getMessage()]
    assert len(dropped) == 1, [r.getMessage() for r in dropped]
    assert dropped[0].levelno == logging.INFO
    assert "audio codec opus is not recorded (only AAC and G.711 are passed through)" in (
        dropped[0].getMessage()
    )

    rows = await complete_segments(hub, "cam-aac")
    start, end = rows[0].start_ms, rows[-1].end_ms
    reply = await hub.services.async_call(
        "recording",
        "export",
        {
            "cameras": ["cam-aac"],
            "start": datetime.fromtimestamp(start / 1000, UTC),
            "end": datetime.fromtimestamp(end / 1000, UTC),
            "reference": "PV-AUDIO-1",
            "legal_basis": "test",
            "reason": "audio is exported",
        },
    )
    package = Path(reply["path"])
    probe = ffprobe(package / "cam-aac.mp4")
    assert probe.errors == ""
    assert (probe.audio_codec, probe.audio_sample_rate) == ("aac", 16000)
    assert abs(probe.audio_duration - probe.frames / FPS) <= GOP_S
    manifest = json.loads((package / "manifest.json").read_text())
    audio = manifest["cameras"][0]["stream"]["audio"]
    assert audio["codec"] == "aac"
    assert audio["sample_rate"] == 16000
    assert audio["channels"] == 1
    assert audio["packets"] > 0
