"""Ingest threads: fan-out, dts validation, reconnect with backoff, prompt stop."""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path

import av
import pytest

from cityhub.api import (
    AudioInfo,
    CameraState,
    MediaPacket,
    StreamEndedError,
    StreamError,
    StreamInfo,
)
from cityhub.media.source import StreamSource
from cityhub.media.url_reader import UrlReader, audio_passed_through
from cityhub.supervisor import Backoff

INFO = StreamInfo(codec="h264", width=64, height=64, fps=25.0, time_base=(1, 90000))


class ScriptedReader:
    """A PacketReader playing a fixed list of dts values, then raising ``end``.

    A stand-in for a camera in unit tests of the ingest loop itself; real encoders and
    demuxers are exercised by the virtual camera's and the URL reader's tests.
    """

    def __init__(self, dts: list[int], end: Exception) -> None:
        self._dts = list(dts)
        self._end = end
        self.closed = threading.Event()

    @property
    def info(self) -> StreamInfo:
        return INFO

    def read(self) -> MediaPacket:
        if self.closed.is_set():
            raise StreamEndedError("closed")
        if not self._dts:
            raise self._end
        dts = self._dts.pop(0)
        return MediaPacket(b"\x00" * 10, dts, dts, dts == 0, time.time())

    def close(self) -> None:
        self.closed.set()


def fast_backoff() -> Backoff:
    return Backoff(first=0.01, cap=0.05, jitter=0.0)


def test_packets_fan_out_and_non_increasing_dts_are_dropped() -> None:
    statuses: list[tuple[CameraState, str | None]] = []
    readers = [ScriptedReader([0, 3600, 3600, 1800, 7200], StreamError("cable cut"))]
    done = threading.Event()

    def open_reader() -> ScriptedReader:
        if not readers:
            done.set()
            raise StreamError("camera unreachable")
        return readers.pop(0)

    source = StreamSource(
        "cam/main", open_reader, lambda s, r: statuses.append((s, r)), fast_backoff()
    )
    got_a: list[int] = []
    got_b: list[int] = []
    source.add_consumer(lambda p, i: got_a.append(p.dts))
    remove_b = source.add_consumer(lambda p, i: got_b.append(p.dts))
    source.start()
    assert done.wait(5)
    assert source.stop(2)
    remove_b()

    assert got_a == [0, 3600, 7200]
    assert got_b == [0, 3600, 7200]
    stats = source.stats()
    assert (stats.packets, stats.dropped, stats.bytes) == (3, 2, 30)
    assert stats.reconnects >= 1
    kinds = [s for s, _ in statuses]
    assert kinds[:3] == [CameraState.CONNECTING, CameraState.ONLINE, CameraState.OFFLINE]
    assert statuses[2][1] == "cable cut"
    assert (CameraState.OFFLINE, "camera unreachable") in statuses


def test_a_consumer_that_raises_does_not_stop_ingest_or_others() -> None:
    reader = ScriptedReader([0, 1, 2], StreamEndedError("eof"))
    ended = threading.Event()
    got: list[int] = []

    def broken(packet: MediaPacket, info: StreamInfo) -> None:
        raise RuntimeError("consumer bug")

    def status(s: CameraState, r: str | None) -> None:
        if s is CameraState.OFFLINE:
            ended.set()

    source = StreamSource("cam/main", lambda: reader, status, fast_backoff())
    source.add_consumer(broken)
    source.add_consumer(lambda p, i: got.append(p.dts))
    source.start()
    assert ended.wait(5)
    source.stop(2)
    assert got == [0, 1, 2]


def test_a_driver_bug_is_an_error_state_and_is_retried() -> None:
    attempts: list[float] = []
    statuses: list[CameraState] = []

    def open_reader() -> ScriptedReader:
        attempts.append(time.monotonic())
        raise ZeroDivisionError("driver bug")

    source = StreamSource("cam/main", open_reader, lambda s, r: statuses.append(s), fast_backoff())
    source.start()
    deadline = time.monotonic() + 5
    while len(attempts) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert source.stop(2)
    assert len(attempts) >= 3
    assert CameraState.ERROR in statuses


def test_stop_unblocks_a_blocked_reader_promptly() -> None:
    class BlockingReader(ScriptedReader):
        def read(self) -> MediaPacket:
            self.closed.wait()
            raise StreamEndedError("closed")

    reader = BlockingReader([], StreamEndedError("x"))
    source = StreamSource("cam/main", lambda: reader, lambda s, r: None, fast_backoff())
    source.start()
    time.sleep(0.1)
    started = time.monotonic()
    assert source.stop(2)
    assert time.monotonic() - started < 1.0


@pytest.fixture(scope="module")
def h264_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s, 25 fps H.264 MP4 encoded with libx264 (GOP 25)."""
    path = tmp_path_factory.mktemp("media") / "clip.mp4"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=25, options={"g": "25", "bf": "0"})
        stream.width, stream.height, stream.pix_fmt = 160, 96, "yuv420p"
        for i in range(50):
            frame = av.VideoFrame(160, 96, "yuv420p")
            for plane in frame.planes:
                plane.update(bytes([(i * 5) % 256]) * plane.buffer_size)
            frame.pts = i
            frame.time_base = Fraction(1, 25)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)
    return path


def test_url_reader_demuxes_a_real_file(h264_file: Path) -> None:
    reader = UrlReader(str(h264_file))
    assert (reader.info.codec, reader.info.width, reader.info.height) == ("h264", 160, 96)
    assert reader.info.fps == 25.0
    assert reader.info.extradata  # avcC from the MP4
    packets = []

    def read_all() -> None:
        while True:
            packets.append(reader.read())

    with pytest.raises(StreamEndedError, match="end of stream"):
        read_all()
    reader.close()
    assert len(packets) == 50
    assert [p.keyframe for p in packets].count(True) == 2
    dts = [p.dts for p in packets]
    assert dts == sorted(dts)


def test_url_reader_reports_unreachable_sources_without_credentials(tmp_path: Path) -> None:
    with pytest.raises(StreamError) as caught:
        UrlReader("rtsp://admin:hunter22@127.0.0.1:1/stream", socket_timeout_us=500_000)
    assert "hunter22" not in str(caught.value)
    assert "admin:***@127.0.0.1" in str(caught.value)
    with pytest.raises(StreamError, match="cannot open"):
        UrlReader(str(tmp_path / "missing.mp4"))


AV_INFO = StreamInfo(
    codec="h264",
    width=64,
    height=64,
    fps=25.0,
    time_base=(1, 90000),
    audio=AudioInfo(codec="pcm_mulaw", sample_rate=8000, channels=1, time_base=(1, 8000)),
)


class InterleavedReader:
    """A PacketReader playing ``(audio, dts, keyframe)`` triples, then ending."""

    def __init__(self, info: StreamInfo, script: list[tuple[bool, int, bool]]) -> None:
        self.info = info
        self._script = list(script)

    def read(self) -> MediaPacket:
        if not self._script:
            raise StreamEndedError("eof")
        audio, dts, keyframe = self._script.pop(0)
        return MediaPacket(b"\x00" * 4, dts, dts, keyframe, 1000.0, audio=audio)

    def close(self) -> None:
        pass


def run_source(reader: InterleavedReader) -> tuple[list[MediaPacket], StreamSource]:
    ended = threading.Event()
    got: list[MediaPacket] = []

    def status(s: CameraState, r: str | None) -> None:
        if s is CameraState.OFFLINE:
            ended.set()

    source = StreamSource("cam/main", lambda: reader, status, fast_backoff())
    source.add_consumer(lambda p, i: got.append(p))
    source.start()
    assert ended.wait(5)
    source.stop(2)
    return got, source


def test_audio_rides_on_the_video_runs_and_is_checked_apart() -> None:
    script = [
        (True, 7000, False),  # audio before any keyframe: no run yet
        (False, 81000, False),  # video before the keyframe: skipped
        (True, 7900, False),  # still no run
        (False, 90000, True),  # the run starts at 1 s
        (True, 7960, False),  # 0.995 s: before the run's start
        (True, 8080, False),  # 1.010 s -> 80 ticks, 10 ms after the keyframe
        (True, 8080, False),  # audio dts not increasing: dropped, as audio
        (False, 93600, False),
        (True, 8400, False),
        (True, 8000 + 8000 * 20, False),  # 20 s away from the video: dropped
        (False, 97200, False),
    ]
    got, source = run_source(InterleavedReader(AV_INFO, script))

    assert [(p.audio, p.dts) for p in got] == [
        (False, 0),
        (True, 80),
        (False, 3600),
        (True, 400),
        (False, 7200),
    ]
    assert got[1].wallclock == pytest.approx(1000.0 + 0.010)
    assert got[3].wallclock == pytest.approx(1000.0 + 0.050)
    stats = source.stats()
    assert (stats.packets, stats.skipped, stats.dropped) == (3, 1, 0)
    assert (stats.audio_packets, stats.audio_dropped) == (2, 5)


def test_audio_of_a_stream_that_declares_none_is_dropped() -> None:
    script = [(False, 0, True), (True, 10, False), (False, 3600, False)]
    got, source = run_source(InterleavedReader(INFO, script))
    assert [p.audio for p in got] == [False, False]
    assert source.stats().audio_dropped == 1


@pytest.mark.parametrize(
    ("codec", "passed"),
    [
        ("aac", True),
        ("pcm_mulaw", True),
        ("pcm_alaw", True),
        ("opus", False),
        ("mp3", False),
        ("adpcm_g726", False),
        ("pcm_s16be", False),
    ],
)
def test_only_aac_and_g711_audio_is_passed_through(codec: str, passed: bool) -> None:
    assert audio_passed_through(codec) is passed
