"""Streams: real H.264, paced in real time, readable clock, prompt close."""

from __future__ import annotations

import statistics
import threading
import time
from pathlib import Path

import pytest
from PIL import Image
from virtual_media import Capture, capture, decode_images, remux_mp4

from cityhub.api import StreamEndedError, StreamError, Streams
from cityhub.testing import RecordingDriverHost, ffprobe
from cityhub_virtual.clock import decode_clock
from cityhub_virtual.driver import VirtualCamera

FPS = 25
GOP = 25
SECONDS = 3.0
OPTIONS = {"fps": FPS, "gop": GOP, "clip_seconds": 2}
"""A two-second loop read for three seconds crosses a loop boundary."""

pytestmark = pytest.mark.realtime  # the captures are checked for drift against the clock


def _capture(mode: str, cache_dir: Path) -> Capture:
    camera = VirtualCamera(RecordingDriverHost(cache_dir=cache_dir), {**OPTIONS, "mode": mode})
    return capture(camera.open_stream("main"), SECONDS)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    """Three seconds of the live main stream."""
    return _capture("live", tmp_path_factory.mktemp("live"))


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Capture:
    """Three seconds of the loop main stream."""
    return _capture("loop", tmp_path_factory.mktemp("loop"))


@pytest.fixture(params=["live", "loop"])
def cap(request: pytest.FixtureRequest) -> Capture:
    """Each mode's capture in turn."""
    return request.getfixturevalue(request.param)  # type: ignore[no-any-return]


def test_profiles(make_camera) -> None:
    camera = make_camera()
    assert isinstance(camera, Streams)
    profiles = camera.stream_profiles()
    assert [(p.name, p.width, p.height, p.url) for p in profiles] == [
        ("main", 640, 360, None),
        ("sub", 320, 180, None),
    ]
    with pytest.raises(StreamError, match="no stream profile"):
        camera.open_stream("third")


def test_is_valid_h264(cap: Capture, tmp_path: Path) -> None:
    result = ffprobe(remux_mp4(cap, tmp_path / "out.mp4"))
    assert result.errors == ""
    assert (result.codec, result.width, result.height) == ("h264", 640, 360)
    assert abs(result.duration - SECONDS) <= GOP / FPS
    assert result.frames == len(cap.packets)
    keys = [i for i, frame in enumerate(result.raw["frames"]) if frame["key_frame"] == 1]
    assert keys == list(range(0, len(cap.packets), GOP))


def test_packets_and_timestamps(cap: Capture) -> None:
    assert cap.info.codec == "h264"
    assert cap.info.time_base == (1, 90_000)
    assert cap.info.extradata.startswith(b"\x00\x00\x00\x01\x67")
    assert [p.pts for p in cap.packets] == [i * 90_000 // FPS for i in range(len(cap.packets))]
    assert all(p.dts == p.pts and p.duration == 90_000 // FPS for p in cap.packets)
    for packet in cap.packets:
        assert packet.data.startswith(b"\x00\x00\x00\x01")
        # SPS and PPS ride in-band on every keyframe, so a consumer can start at any of them.
        assert packet.keyframe == (b"\x00\x00\x00\x01\x67" in packet.data)
        assert packet.keyframe == (b"\x00\x00\x00\x01\x68" in packet.data)


def drift(instants: list[float]) -> float:
    """How far the last third of frames lags the first third, against 1/FPS per frame.

    Medians of thirds: a busy machine delays single frames (scheduling jitter, which the
    reader cannot help), but a reader that drifts moves every late frame.
    """
    offsets = [t - instants[0] - i / FPS for i, t in enumerate(instants)]
    third = len(offsets) // 3
    return statistics.median(offsets[-third:]) - statistics.median(offsets[:third])


def test_paced_in_real_time_without_drift(cap: Capture) -> None:
    assert len(cap.arrivals) >= 2 * FPS
    assert abs(drift(cap.arrivals)) < 0.01
    start = cap.arrivals[0]
    # Jitter only: no frame stalls or bursts by more than a few frames.
    assert max(abs(t - start - i / FPS) for i, t in enumerate(cap.arrivals)) < 0.25
    walls = [p.wallclock for p in cap.packets]
    assert walls == sorted(walls)
    assert abs(drift(walls)) < 0.01


def test_live_clock_reads_back_within_a_frame(live: Capture) -> None:
    checked = 0
    for packet, image in decode_images(live):
        emitted_ms = round(packet.wallclock * 1000)
        for picture in (image, image.resize((320, 180), Image.Resampling.BILINEAR)):
            captured = decode_clock(picture, reference_ms=emitted_ms)
            # The packet's wall clock is the capture instant burnt into its picture.
            assert captured == emitted_ms
        checked += 1
    assert checked == len(live.packets)


def test_loop_clock_shows_the_clip_offset(loop: Capture) -> None:
    values = [decode_clock(image) for _, image in decode_images(loop)]
    clip_frames = 2 * FPS
    assert values == [(i % clip_frames) * 1000 // FPS for i in range(len(loop.packets))]


@pytest.mark.parametrize("mode", ["live", "loop"])
def test_sub_stream(make_camera, mode: str) -> None:
    camera = make_camera({**OPTIONS, "mode": mode})
    cap = capture(camera.open_stream("sub"), 0.4)
    assert (cap.info.width, cap.info.height) == (320, 180)
    images = [image for _, image in decode_images(cap)]
    assert len(images) == len(cap.packets)
    assert images[-1].size == (320, 180)
    assert all(decode_clock(image) is not None for image in images)


@pytest.mark.parametrize("mode", ["live", "loop"])
def test_close_from_another_thread_unblocks_read(make_camera, mode: str) -> None:
    camera = make_camera({"mode": mode, "fps": 1, "gop": 2, "clip_seconds": 2})
    reader = camera.open_stream("main")
    reader.read()
    outcome: list[BaseException | None] = []

    def _read() -> None:
        try:
            reader.read()
        except BaseException as err:
            outcome.append(err)
        else:
            outcome.append(None)

    thread = threading.Thread(target=_read)
    thread.start()
    time.sleep(0.1)
    closed_at = time.monotonic()
    reader.close()
    thread.join(timeout=1.0)
    assert not thread.is_alive()
    assert time.monotonic() - closed_at < 1.0
    assert isinstance(outcome[0], StreamEndedError)
    with pytest.raises(StreamEndedError):
        reader.read()
