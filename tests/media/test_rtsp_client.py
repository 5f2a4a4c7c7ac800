"""cityhub's RTSP client against GStreamer's RTSP server, beside FFmpeg's reader on the same URL."""

from __future__ import annotations

import itertools
import logging
import socket
import threading
import time

import pytest
from rtp_kit import video_packets

from cityhub.api import AuthenticationError, MediaPacket, StreamError
from cityhub.media.rtsp_client import BATCH_S, RtspReader, open_url_reader
from cityhub.media.url_reader import UrlReader
from cityhub.testing.rtsp import RtspTestServer

FRAMES = 60


def units(data: bytes, length_prefixed: bool) -> list[bytes]:
    """The NAL units of a frame or of parameter sets, Annex-B, length-prefixed or avcC."""
    if length_prefixed and data[:1] == b"\x01":  # avcC: SPS and PPS behind 2-byte lengths
        found, pos = [], 6
        for _ in range(2):
            count = data[pos - 1] & 0x1F if pos == 6 else data[pos - 1]
            for _ in range(count):
                size = int.from_bytes(data[pos : pos + 2], "big")
                found.append(data[pos + 2 : pos + 2 + size])
                pos += 2 + size
            pos += 1
        return found
    if length_prefixed:
        found, pos = [], 0
        while pos < len(data):
            size = int.from_bytes(data[pos : pos + 4], "big")
            found.append(data[pos + 4 : pos + 4 + size])
            pos += 4 + size
        return found
    return [
        u for u in data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01") if u
    ]


def aligned(
    ours: list[MediaPacket], theirs: list[MediaPacket]
) -> list[tuple[MediaPacket, MediaPacket]]:
    """Pairs from the first frame both readers got (the clip loops: the first match counts)."""
    mine = [units(p.data, True) for p in ours]
    other = [units(p.data, False) for p in theirs]
    for shift, found in enumerate(mine):
        if found == other[0]:
            return list(zip(ours[shift:], theirs, strict=False))
    for shift, found in enumerate(other):
        if found == mine[0]:
            return list(zip(ours, theirs[shift:], strict=False))
    return []


def test_frames_and_timestamps_equal_ffmpegs(rtsp_server: RtspTestServer) -> None:
    url = rtsp_server.add_clip("cam", width=640, height=360, fps=25, gop=10)
    ours = RtspReader(url)
    theirs = UrlReader(url)
    results: dict[str, list[MediaPacket]] = {}

    def collect(name: str, reader: RtspReader | UrlReader) -> None:
        results[name] = video_packets(reader, FRAMES)

    threads = [
        threading.Thread(target=collect, args=("ours", ours)),
        threading.Thread(target=collect, args=("theirs", theirs)),
    ]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    finally:
        ours.close()
        theirs.close()
    info, reference = ours.info, theirs.info
    assert (info.codec, info.width, info.height, info.fps, info.time_base) == (
        reference.codec,
        reference.width,
        reference.height,
        reference.fps,
        reference.time_base,
    )
    # The same parameter sets: an avcC record here, Annex-B from FFmpeg.
    assert info.length_prefixed
    assert units(info.extradata, True) == units(reference.extradata, False)
    pairs = aligned(results["ours"], results["theirs"])
    # Both joined the same shared pipeline within a moment: most frames are common, and
    # from the first common one on, every frame is the same in both, in the same order.
    assert len(pairs) >= FRAMES // 2
    assert all(units(a.data, True) == units(b.data, False) for a, b in pairs)
    assert all(a.keyframe == b.keyframe for a, b in pairs)
    assert any(a.keyframe for a, _ in pairs)
    for (a, b), (next_a, next_b) in itertools.pairwise(pairs):
        assert next_a.dts - a.dts == next_b.dts - b.dts
    assert ours.packets_lost == 0


@pytest.mark.parametrize("codec", ["aac", "pcmu"])
def test_audio_passes_through_on_the_videos_clock(rtsp_server: RtspTestServer, codec: str) -> None:
    url = rtsp_server.add_clip("cam", width=320, height=180, fps=25, audio=codec)
    reader = RtspReader(url)
    reference = UrlReader(url)
    try:
        packets = [reader.read() for _ in range(150)]
    finally:
        reader.close()
        reference.close()
    assert reader.info.audio is not None
    assert reference.info.audio is not None
    ours, theirs = reader.info.audio, reference.info.audio
    assert (ours.codec, ours.sample_rate, ours.channels, ours.time_base, ours.extradata) == (
        theirs.codec,
        theirs.sample_rate,
        theirs.channels,
        theirs.time_base,
        theirs.extradata,
    )
    audio = [p for p in packets if p.audio]
    video = [p for p in packets if not p.audio]
    assert len(audio) > 10
    assert all(b.dts > a.dts for a, b in itertools.pairwise(audio))
    # Both tracks count from the instant PLAY started: the last audio and video packets read
    # are within a fraction of a second of each other.
    audio_s = audio[-1].dts / ours.sample_rate
    video_s = video[-1].dts / 90000
    assert abs(audio_s - video_s) < 0.5


def test_digest_and_basic_authentication(rtsp_clip_cache: object) -> None:
    for method in ("digest", "basic"):
        with RtspTestServer(auth=method, clips=rtsp_clip_cache) as server:  # type: ignore[arg-type]
            url = server.add_clip("cam", width=320, height=180, user="op", password="s3cret!@")
            reader = RtspReader(url)
            try:
                assert len(video_packets(reader, 5)) == 5
            finally:
                reader.close()
            with pytest.raises(AuthenticationError) as caught:
                RtspReader(server.url("cam", "op", "wrong-pass"))
            message = str(caught.value)
            assert "check the user and password" in message
            assert "wrong-pass" not in message
            assert "op@" not in message


def test_outage_and_kill_raise_promptly_and_reconnect_works(rtsp_server: RtspTestServer) -> None:
    url = rtsp_server.add_clip("cam", width=320, height=180)
    reader = RtspReader(url)
    video_packets(reader, 3)
    rtsp_server.stop_path("cam")
    started = time.monotonic()
    with pytest.raises(StreamError):
        video_packets(reader, 1000)
    assert time.monotonic() - started < 6
    reader.close()
    rtsp_server.start_path("cam")
    reader = RtspReader(url)
    assert len(video_packets(reader, 3)) == 3
    rtsp_server.kill()
    started = time.monotonic()
    with pytest.raises(StreamError):
        video_packets(reader, 1000)
    assert time.monotonic() - started < 6
    reader.close()


def test_open_url_reader_chooses_the_client_and_says_so(
    rtsp_server: RtspTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    url = rtsp_server.add_clip("cam", width=320, height=180, user="op", password="hunter22")
    with caplog.at_level(logging.INFO, logger="cityhub.media.rtsp_client"):
        reader = open_url_reader(url)
    try:
        assert isinstance(reader, RtspReader)
    finally:
        reader.close()
    assert "read by cityhub's RTSP client" in caplog.text
    assert "hunter22" not in caplog.text


def test_low_latency_wakes_for_every_packet_and_batches_otherwise(
    rtsp_server: RtspTestServer,
) -> None:
    """Live view asks for every packet at once; recording alone reads in batches (CPU)."""
    reader = RtspReader(rtsp_server.add_clip("lowat", width=320, height=180, fps=25))
    try:
        video_packets(reader, 60)  # more than a second: the batch size follows the bitrate
        sock = reader._sock
        assert sock is not None
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) > 1
        reader.set_low_latency(True)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) == 1
        video_packets(reader, 40)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) == 1
        reader.set_low_latency(False)
        video_packets(reader, 60)
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) > 1
    finally:
        reader.close()


@pytest.mark.realtime
def test_batched_frames_are_dated_by_their_timestamps(rtsp_server: RtspTestServer) -> None:
    """Read in batches, frames still carry their own arrival time, not their batch's."""
    reader = RtspReader(rtsp_server.add_clip("dated", width=320, height=180, fps=25))
    try:
        video_packets(reader, 60)  # more than a second: the batch size follows the bitrate
        sock = reader._sock
        assert sock is not None
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVLOWAT) > 1
        dated: list[tuple[MediaPacket, float]] = []
        while len(dated) < 50:
            packet = reader.read()
            if not packet.audio:
                dated.append((packet, time.time()))
    finally:
        reader.close()
    returned = [at for _packet, at in dated]
    batches = 1 + sum(1 for a, b in itertools.pairwise(returned) if b - a > 0.1)
    assert batches < 25, "frames were not read in batches"
    for packet, at in dated:
        assert at - 2 * BATCH_S - 0.1 <= packet.wallclock <= at + 1e-6
    steps = sorted(b.wallclock - a.wallclock for (a, _), (b, _) in itertools.pairwise(dated))
    # 25 fps: frames 40 ms apart, as they were sent, rather than a batch of equal times.
    assert 0.03 <= steps[len(steps) // 2] <= 0.05, steps
