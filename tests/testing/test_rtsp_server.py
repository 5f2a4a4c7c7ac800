"""The RTSP test server against real clients: PyAV (FFmpeg) and cityhub's UrlReader."""

from __future__ import annotations

import itertools
import re
import sys
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import attrs
import av
import pytest

from cityhub.api import StreamEndedError, StreamError
from cityhub.media.url_reader import UrlReader
from cityhub.testing.rtsp import ClipCache, GStreamerMissingError, LiveFeed, RtspTestServer

OPTIONS = {"rtsp_transport": "tcp", "timeout": "5000000"}
FPS = 25


@attrs.frozen
class Capture:
    """What a client read: stream parameters and (arrival time, pts) per packet."""

    codec: str
    width: int
    height: int
    packets: list[tuple[float, int]]
    ended: str | None


def capture(url: str, seconds: float) -> Capture:
    """Read ``url`` for ``seconds`` after it opened (or until it ends)."""
    container: Any = av.open(url, options=OPTIONS)
    try:
        stream = container.streams.video[0]
        ctx = stream.codec_context
        opened = time.monotonic()
        packets: list[tuple[float, int]] = []
        ended = None
        try:
            for packet in container.demux(stream):
                now = time.monotonic() - opened
                if packet.pts is not None:
                    packets.append((now, int(packet.pts)))
                elif packet.size == 0:
                    ended = "end of stream"
                    break
                if now >= seconds:
                    break
        except av.FFmpegError as err:
            ended = str(err)
        return Capture(str(ctx.name), int(ctx.width), int(ctx.height), packets, ended)
    finally:
        container.close()


def in_thread(function: Any, *args: Any) -> tuple[threading.Thread, list[Any]]:
    """Run ``function(*args)`` in a thread; its result lands in the returned list."""
    result: list[Any] = []
    thread = threading.Thread(target=lambda: result.append(function(*args)), daemon=True)
    thread.start()
    return thread, result


def test_serves_h264_in_real_time_with_rising_pts_across_loops(
    rtsp_server: RtspTestServer,
) -> None:
    url = rtsp_server.add_clip("cam1", 640, 360, FPS, seconds=1.0)

    got = capture(url, 3.0)

    assert (got.codec, got.width, got.height) == ("h264", 640, 360)
    pts = [p for _, p in got.packets]
    assert len(pts) > 3 * FPS  # several loops of the 1 s clip
    steps = {b - a for a, b in itertools.pairwise(pts)}
    assert steps == {90_000 // FPS}  # rising by one frame, loop after loop
    # Opening buffers what arrived while FFmpeg probed; after that, frames come in real time.
    paced = [t for t, _ in got.packets if 1.0 <= t < 3.0]
    assert 2 * FPS - 5 <= len(paced) <= 2 * FPS + 5


def test_two_clients_share_one_pipeline(rtsp_server: RtspTestServer) -> None:
    url = rtsp_server.add_clip("cam1", 320, 180, FPS)

    readers = [in_thread(capture, url, 2.0) for _ in range(2)]
    time.sleep(1.5)  # both are playing
    status = rtsp_server.status()["/cam1"]
    for thread, _ in readers:
        thread.join(10)

    assert (status.pipelines, status.created, status.clients) == (1, 1, 2)
    for _, result in readers:
        assert result[0].width == 320
        assert len(result[0].packets) >= FPS


def test_stop_path_ends_readers_and_start_path_serves_again(
    rtsp_server: RtspTestServer,
) -> None:
    url = rtsp_server.add_clip("cam1", 320, 180, FPS)
    thread, result = in_thread(capture, url, 30.0)
    time.sleep(2.0)

    stopped = time.monotonic()
    rtsp_server.stop_path("cam1")
    thread.join(6.0)  # the socket timeout (5 s) at worst

    assert not thread.is_alive()
    assert time.monotonic() - stopped < 6.0
    assert result[0].ended is not None
    with pytest.raises(av.error.HTTPNotFoundError):
        capture(url, 0.5)
    assert rtsp_server.status()["/cam1"].pipelines == 0

    rtsp_server.start_path("cam1")
    assert len(capture(url, 0.5).packets) > 0


def test_outage_brings_the_path_back_by_itself(rtsp_server: RtspTestServer) -> None:
    url = rtsp_server.add_clip("cam1", 320, 180, FPS)

    rtsp_server.outage("cam1", 1.0)

    with pytest.raises(av.error.HTTPNotFoundError):
        capture(url, 0.5)
    time.sleep(1.2)
    assert len(capture(url, 0.5).packets) > 0


@pytest.mark.parametrize("method", ["digest", "basic"])
def test_credentials_are_checked(rtsp_clip_cache: ClipCache, method: str) -> None:
    with RtspTestServer(clips=rtsp_clip_cache, auth=method) as server:
        server.add_clip("locked", 320, 180, FPS, user="alice", password="s3cret-pass")
        server.add_clip("open", 320, 180, FPS)

        for user, password in ((None, None), ("alice", "wrong-pass"), ("bob", "s3cret-pass")):
            with pytest.raises(av.error.HTTPUnauthorizedError):
                capture(server.url("locked", user, password), 0.5)
        assert len(capture(server.url("locked", "alice", "s3cret-pass"), 0.5).packets) > 0
        assert len(capture(server.url("open"), 0.5).packets) > 0


def test_url_reader_keeps_a_wrong_password_out_of_its_errors(
    rtsp_server: RtspTestServer,
) -> None:
    rtsp_server.add_clip("locked", 320, 180, FPS, user="alice", password="s3cret-pass")

    with pytest.raises(StreamError) as refused:
        UrlReader(rtsp_server.url("locked", "alice", "wrong-pass"))

    assert "401" in str(refused.value)
    assert "wrong-pass" not in str(refused.value)


def test_url_reader_reads_the_stream(rtsp_server: RtspTestServer) -> None:
    url = rtsp_server.add_clip("cam1", 640, 360, FPS, seconds=1.0, gop=FPS)

    reader = UrlReader(url)
    try:
        packets = [reader.read() for _ in range(2 * FPS)]
    finally:
        reader.close()

    assert (reader.info.codec, reader.info.width, reader.info.height) == ("h264", 640, 360)
    assert reader.info.fps == pytest.approx(FPS)
    assert all(b.dts > a.dts for a, b in itertools.pairwise(packets))
    assert all(p.pts == p.dts for p in packets)  # no B-frames
    assert sum(p.keyframe for p in packets) >= 1


def test_kill_drops_clients_and_restart_serves_on_the_same_port(
    rtsp_server: RtspTestServer,
) -> None:
    url = rtsp_server.add_clip("cam1", 320, 180, FPS)
    reader = UrlReader(url)
    reader.read()
    port = rtsp_server.port

    rtsp_server.kill()

    def read_until_cut() -> None:
        for _ in range(10 * FPS):  # what was already buffered, then the cut
            reader.read()

    with pytest.raises((StreamError, StreamEndedError)):
        read_until_cut()
    reader.close()
    assert not rtsp_server.running

    rtsp_server.restart()

    assert rtsp_server.port == port
    assert len(capture(url, 0.5).packets) > 0


def encode_live(feed: LiveFeed, stop: threading.Event, fps: int = FPS) -> int:
    """Encode grey frames of rising brightness into ``feed`` in real time until ``stop``;
    returns the frames encoded (only while a reader is connected)."""
    codec: Any = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = 160, 96, "yuv420p"
    codec.time_base = Fraction(1, fps)
    codec.options = {
        "preset": "ultrafast",
        "tune": "zerolatency",
        "x264-params": "keyint=10:bframes=0:repeat-headers=1",
    }
    codec.open()
    frames = 0
    while not stop.is_set():
        if not feed.wait_for_reader(0.1):
            continue
        frame = av.VideoFrame(160, 96, "yuv420p")
        for index, plane in enumerate(frame.planes):
            plane.update(bytes([frames % 200 + 20 if index == 0 else 128]) * plane.buffer_size)
        frame.pts = frames
        for packet in codec.encode(frame):
            feed.write(bytes(packet), bool(packet.is_keyframe))
        frames += 1
        stop.wait(1 / fps)
    return frames


def test_live_mount_serves_what_the_feed_is_given(rtsp_server: RtspTestServer) -> None:
    feed = LiveFeed()
    stop = threading.Event()
    encoder, frames = in_thread(encode_live, feed, stop)
    try:
        url = rtsp_server.add_live("live", feed, FPS, user="viewer", password="secret")
        readers = [in_thread(capture, url, 1.5) for _ in range(2)]
        for thread, _ in readers:
            thread.join(15)
        with pytest.raises(av.error.HTTPUnauthorizedError):
            capture(rtsp_server.url("live"), 0.5)
        status = rtsp_server.status()["/live"]
    finally:
        stop.set()
        encoder.join(5)
        feed.close()

    for _, result in readers:
        got = result[0]
        assert (got.codec, got.width, got.height) == ("h264", 160, 96)
        assert len(got.packets) >= FPS  # frames kept coming, in real time
        steps = {b - a for a, b in itertools.pairwise(p for _, p in got.packets)}
        assert steps == {90_000 // FPS}
    assert status.created == 1  # one pipeline, one connection to the feed, for both readers
    assert feed.connections == 1
    assert frames[0] > FPS


def test_clips_are_encoded_once_per_parameters(rtsp_clip_cache: ClipCache) -> None:
    server = RtspTestServer(clips=rtsp_clip_cache)
    server.add_clip("a", 160, 96, 10, seconds=0.5)
    encodes = rtsp_clip_cache.encodes

    server.add_clip("a2", 160, 96, 10, seconds=0.5)  # another title: another clip
    server.add_clip("b", 160, 96, 10, seconds=0.5)
    RtspTestServer(clips=rtsp_clip_cache).add_clip("b", 160, 96, 10, seconds=0.5)

    assert rtsp_clip_cache.encodes == encodes + 2


def test_a_python_without_gstreamer_is_reported_with_the_fix(
    rtsp_clip_cache: ClipCache, tmp_path: Path
) -> None:
    for python in (str(tmp_path / "no-python"), sys.executable):  # the venv has no gi
        server = RtspTestServer(clips=rtsp_clip_cache, python=python)
        with pytest.raises(GStreamerMissingError, match=re.escape("bash .ci/bootstrap")):
            server.start()
        assert not server.running
