"""The RTSP client's parsers on hand-built input: SDP, parameter sets, RTP depacketisation.

Streams go through the real client (:class:`RtspReader`) from a scripted RTSP server on
loopback (``rtp_kit``), cut at arbitrary byte boundaries, so the interleaved-frame parser, the
sequence and timestamp bookkeeping and the depacketisers are tested together.
"""

from __future__ import annotations

import random
import threading
import time
from fractions import Fraction

import av
import pytest
from rtp_kit import (
    H264_PPS,
    H264_SPS,
    ScriptedRtspServer,
    fu_a,
    h264_sdp,
    interleaved,
    rtp,
    stap_a,
)

from cityhub.api import CameraState, MediaPacket, StreamEndedError, StreamError, StreamInfo
from cityhub.media import rtsp_client
from cityhub.media.fmp4_writer import avcc_record
from cityhub.media.h26x import h264_sps, hevc_sps
from cityhub.media.rtp import (
    PURE_PYTHON_ENV,
    AacDepacketizer,
    G711Depacketizer,
    VideoDepacketizer,
    native_video_track,
)
from cityhub.media.rtsp_client import (
    RtspReader,
    UnsupportedStreamError,
    open_url_reader,
    uses_ffmpeg,
)
from cityhub.media.sdp import parse_sdp
from cityhub.media.source import StreamSource
from cityhub.supervisor import Backoff

GSTREAMER_SDP = """v=0
o=- 4434548944240360032 1 IN IP4 127.0.0.1
s=Session streamed with GStreamer
t=0 0
a=control:*
a=range:npt=now-
m=video 0 RTP/AVP 96
c=IN IP4 0.0.0.0
a=rtpmap:96 H264/90000
a=framerate:25
a=fmtp:96 packetization-mode=1;sprop-parameter-sets=Z0LAHtoCgL/lhAAAAwAEAAADAMo8WLqA,aM48gA==
a=control:stream=0
m=audio 0 RTP/AVP 97
a=rtpmap:97 MPEG4-GENERIC/16000/1
a=fmtp:97 streamtype=5;mode=AAC-hbr;config=1408;sizelength=13;indexlength=3;indexdeltalength=3
a=control:stream=1
"""
FRAME = 3600
IDR = b"\x65\x88" + bytes(range(256)) * 12
"""An IDR slice NAL unit (header 0x65; first_mb_in_slice 0), large enough for fragments."""


def p_slice(index: int) -> bytes:
    """A small non-IDR slice (a picture's first) NAL unit, its body telling which frame."""
    return b"\x41\x9a" + index.to_bytes(4, "big") * 50


def annexb(*nals: bytes) -> bytes:
    return b"".join(b"\x00\x00\x00\x01" + n for n in nals)


def lengths(*nals: bytes) -> bytes:
    """NAL units each behind its 4-byte length, as the client hands H.264 out."""
    return b"".join(len(n).to_bytes(4, "big") + n for n in nals)


def test_sdp_tracks_formats_and_controls() -> None:
    media = parse_sdp(GSTREAMER_SDP, "rtsp://cam.local/live/")
    video, audio = media
    assert (video.kind, video.encoding, video.clock_rate, video.payload_type) == (
        "video",
        "H264",
        90000,
        96,
    )
    assert video.fmtp["packetization-mode"] == "1"
    assert video.control == "rtsp://cam.local/live/stream=0"
    assert video.attributes["framerate"] == "25"
    assert (audio.encoding, audio.clock_rate, audio.channels) == ("MPEG4-GENERIC", 16000, 1)
    assert audio.fmtp["config"] == "1408"
    assert audio.control == "rtsp://cam.local/live/stream=1"


def test_sdp_static_payload_and_absolute_control() -> None:
    text = (
        "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n"
        "a=control:rtsp://10.0.0.9/track1\r\nm=audio 0 RTP/AVP 0\r\na=control:track2\r\n"
    )
    video, audio = parse_sdp(text, "rtsp://10.0.0.9/main")
    assert video.control == "rtsp://10.0.0.9/track1"
    assert (audio.encoding, audio.clock_rate, audio.control) == (
        "PCMU",
        8000,
        "rtsp://10.0.0.9/main/track2",
    )


def encoded_sps(codec: str, width: int, height: int, options: dict[str, str]) -> bytes:
    """The SPS NAL unit a real encoder writes for a ``width`` x ``height`` picture at 25 fps."""
    context = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = width, height, "yuv420p"
    context.time_base = Fraction(1, 25)
    context.framerate = Fraction(25)
    context.options = options
    frame = av.VideoFrame(width, height, "yuv420p")
    frame.pts = 0
    data = b"".join(bytes(p) for p in context.encode(frame)) + b"".join(
        bytes(p) for p in context.encode(None)
    )
    for unit in data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01"):
        if unit and codec == "libx264" and unit[0] & 0x1F == 7:
            return unit
        if unit and codec == "libx265" and (unit[0] >> 1) & 0x3F == 33:
            return unit
    raise AssertionError("the encoder wrote no SPS")


@pytest.mark.parametrize(
    ("width", "height", "profile"),
    [(1920, 1080, "high"), (640, 360, "baseline"), (176, 144, "main")],
)
def test_h264_sps_size_and_rate_from_a_real_encoder(width: int, height: int, profile: str) -> None:
    sps = encoded_sps("libx264", width, height, {"profile": profile, "preset": "ultrafast"})
    info = h264_sps(sps)
    assert (info.width, info.height, info.fps) == (width, height, 25.0)


def test_hevc_sps_size_from_a_real_encoder() -> None:
    sps = encoded_sps("libx265", 1920, 1080, {"preset": "ultrafast", "x265-params": "log-level=0"})
    info = hevc_sps(sps)
    assert (info.width, info.height) == (1920, 1080)


def gop_packets(seq: int, ts: int, frames: int, first_frame: int = 0) -> list[bytes]:
    """RTP packets of one GOP: STAP-A SPS+PPS and a fragmented IDR, then single-NAL P slices."""
    packets = [rtp(seq, ts, stap_a(H264_SPS, H264_PPS))]
    for index, piece in enumerate(fu_a(IDR, 4)):
        packets.append(rtp(seq + 1 + index, ts, piece, marker=index == 3))
    seq += 5
    for frame in range(1, frames):
        packets.append(rtp(seq, ts + frame * FRAME, p_slice(first_frame + frame), marker=True))
        seq += 1
    return packets


def read_all(reader: RtspReader, count: int) -> list[MediaPacket]:
    return [reader.read() for _ in range(count)]


@pytest.fixture(params=["c", "python"])
def h264_track_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a reader test with the C H.264 track and with the Python one."""
    kind: str = request.param
    if kind == "python":
        monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    else:
        assert native_video_track() is not None, "cityhub.media._rtpvideo is not built"
    return kind


@pytest.mark.usefixtures("h264_track_kind")
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_fragments_split_anywhere_sequence_and_timestamp_wrap(seed: int) -> None:
    # The first GOP starts 2 frames before the 32-bit timestamp wraps and 3 packets before
    # the sequence number does.
    ts0 = (1 << 32) - 2 * FRAME
    packets = gop_packets(65533, ts0, 5) + gop_packets(65533 + 9, ts0 + 5 * FRAME, 3, 5)
    stream = b"".join(interleaved(0, p) for p in packets)
    rng = random.Random(seed)
    chunks = [rng.choice([1, 2, 3, 7, 50, 333, 1400]) for _ in range(200)]
    server = ScriptedRtspServer(
        h264_sdp(), stream, chunks, rtp_info=f"url=stream=0;seq=65533;rtptime={ts0}"
    )
    reader = RtspReader(server.url)
    try:
        assert (reader.info.width, reader.info.height, reader.info.fps) == (640, 360, 25.0)
        assert reader.info.extradata == avcc_record([H264_SPS, H264_PPS])
        assert reader.info.length_prefixed
        got = read_all(reader, 8)
    finally:
        reader.close()
        server.close()
    assert [p.dts for p in got] == [n * FRAME for n in range(8)]
    assert [p.keyframe for p in got] == [True, False, False, False, False, True, False, False]
    assert got[0].data == lengths(H264_SPS, H264_PPS, IDR)
    assert [p.data for p in got[1:5]] == [lengths(p_slice(n)) for n in range(1, 5)]
    assert got[5].data == got[0].data
    assert [p.data for p in got[6:]] == [lengths(p_slice(n)) for n in (6, 7)]
    assert reader.packets_lost == reader.frames_dropped == 0


@pytest.mark.usefixtures("h264_track_kind")
def test_a_lost_packet_drops_the_rest_of_the_gop_and_is_counted() -> None:
    first = gop_packets(100, 9000, 4)
    second = gop_packets(108, 9000 + 4 * FRAME, 2, 4)
    del first[6]  # the P slice of frame 2: frame 3 cannot be decoded either
    third = gop_packets(114, 9000 + 6 * FRAME, 2, 6)
    del third[2]  # the IDR's second fragment: that whole GOP goes
    fourth = gop_packets(120, 9000 + 8 * FRAME, 1, 8)
    stream = b"".join(interleaved(0, p) for p in first + second + third + fourth)
    server = ScriptedRtspServer(h264_sdp(), stream, [999])
    reader = RtspReader(server.url)
    try:
        got = read_all(reader, 5)
    finally:
        reader.close()
        server.close()
    assert [p.dts // FRAME for p in got] == [0, 1, 4, 5, 8]
    assert [p.keyframe for p in got] == [True, False, True, False, True]
    assert reader.packets_lost == 2
    # Frame 3 (first GOP), 6 and 7 (third GOP); frame 2 never arrived at all.
    assert reader.frames_dropped == 3


def long_idr_packets(seq: int, ts: int, pieces: int, ssrc: int = 1) -> list[bytes]:
    """One keyframe: STAP-A SPS+PPS, then an IDR cut into ``pieces`` FU-A fragments."""
    packets = [rtp(seq, ts, stap_a(H264_SPS, H264_PPS))]
    for index, piece in enumerate(fu_a(IDR, pieces)):
        packet = rtp(seq + 1 + index, ts, piece, marker=index == pieces - 1)
        packets.append(packet[:8] + ssrc.to_bytes(4, "big") + packet[12:])
    return packets


@pytest.mark.usefixtures("h264_track_kind")
@pytest.mark.parametrize("chunks", [[1 << 20], [1400, 57, 3000]])
def test_runs_of_fragments_stop_at_a_loss_or_any_other_header(chunks: list[int]) -> None:
    """Middle fragments are taken in runs; a gap, or a header that differs, ends the run."""
    pieces = 32
    keyframes = [long_idr_packets(1 + n * (pieces + 1), n * FRAME, pieces) for n in range(5)]
    del keyframes[1][10]  # a middle fragment lost: that keyframe is dropped
    keyframes[2][20] = keyframes[2][20][:8] + b"\xff" * 4 + keyframes[2][20][12:]  # other SSRC
    # A fragment one byte shorter than the others: it ends a run, yet belongs to the unit.
    short = keyframes[3][15]
    keyframes[3][15] = short[:-1]
    stream = b"".join(interleaved(0, p) for packets in keyframes for p in packets)
    server = ScriptedRtspServer(h264_sdp(), stream, chunks)
    reader = RtspReader(server.url)
    try:
        got = read_all(reader, 4)
    finally:
        reader.close()
        server.close()
    assert [p.dts // FRAME for p in got] == [0, 2, 3, 4]
    assert got[0].data == got[1].data == got[3].data == lengths(H264_SPS, H264_PPS, IDR)
    cut = bytearray(IDR)
    del cut[1 + 15 * (len(IDR) - 1 + pieces - 1) // pieces - 1]
    assert got[2].data == lengths(H264_SPS, H264_PPS, bytes(cut))
    assert reader.packets_lost == 1
    assert reader.frames_dropped == 1


def test_close_returns_a_blocked_read_at_once() -> None:
    stream = b"".join(interleaved(0, p) for p in gop_packets(1, 0, 2))
    server = ScriptedRtspServer(h264_sdp(), stream)  # then silent
    reader = RtspReader(server.url)
    got = read_all(reader, 2)
    assert len(got) == 2
    errors: list[BaseException] = []

    def blocked() -> None:
        try:
            reader.read()
        except BaseException as err:
            errors.append(err)

    thread = threading.Thread(target=blocked)
    thread.start()
    time.sleep(0.3)
    started = time.monotonic()
    reader.close()
    thread.join(5)
    assert time.monotonic() - started < 1.0
    assert len(errors) == 1
    assert isinstance(errors[0], StreamEndedError)
    deadline = time.monotonic() + 5
    while not any(r.startswith("TEARDOWN") for r in server.requests):
        assert time.monotonic() < deadline, "no TEARDOWN"
        time.sleep(0.01)
    server.close()


@pytest.mark.realtime
def test_silence_is_a_stream_error_after_the_timeout() -> None:
    server = ScriptedRtspServer(h264_sdp(), b"")
    reader = RtspReader(server.url, socket_timeout_s=1.0)
    started = time.monotonic()
    with pytest.raises(StreamError, match="no data for"):
        reader.read()
    assert 0.9 <= time.monotonic() - started < 1.6
    reader.close()
    server.close()


@pytest.mark.realtime
@pytest.mark.parametrize(
    ("live", "tcp_info"),
    [(False, True), (True, True), (False, False)],
    ids=["batches", "live", "batches-without-tcp-info"],
)
def test_a_stream_that_stops_is_an_error_the_timeout_after_its_last_byte(
    live: bool, tcp_info: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Batches or not, silence is counted from the last byte, not from the last full batch.

    1.6 s of frames at a steady rate (enough for the reader to wait for batches of a second),
    then nothing on an open connection. Without TCP_INFO (not Linux), a batch's wait may add
    to the timeout.
    """
    if not tcp_info:
        monkeypatch.setattr(rtsp_client, "_silence_s", lambda sock: None)
    frames = [rtp(1, 0, stap_a(H264_SPS, H264_PPS))]
    frames += [rtp(2, 0, IDR, marker=True)]
    frames += [rtp(2 + n, n * FRAME, p_slice(n), marker=True) for n in range(1, 160)]
    stream = b"".join(interleaved(0, p) for p in frames)
    server = ScriptedRtspServer(h264_sdp(), stream, [len(stream) // 160], gap_s=0.01)
    timeout = 2.0
    reader = RtspReader(server.url, socket_timeout_s=timeout)
    reader.set_low_latency(live)

    def read_to_the_end() -> None:
        while True:
            reader.read()

    try:
        with pytest.raises(StreamError, match="no data for"):
            read_to_the_end()
        failed_at = time.monotonic()
    finally:
        reader.close()
        server.close()
    assert server.sent_at is not None
    silence = failed_at - server.sent_at
    late = 0.8 if tcp_info else 0.8 + 1.5  # scheduling; without TCP_INFO, a batch's wait
    assert timeout - 0.1 <= silence <= timeout + late


def test_b_frames_send_the_url_to_ffmpegs_reader() -> None:
    # Presentation order I P B P B: the RTP timestamps step back twice.
    order = [0, 2, 1, 4, 3]
    packets = gop_packets(1, 0, 1)
    packets += [rtp(6 + i, n * FRAME, p_slice(n), marker=True) for i, n in enumerate(order[1:])]
    server = ScriptedRtspServer(h264_sdp(), b"".join(interleaved(0, p) for p in packets))
    reader = open_url_reader(server.url)
    assert not uses_ffmpeg(server.url)
    try:
        with pytest.raises(StreamError, match="B-frames"):
            read_all(reader, 5)
    finally:
        reader.close()
        server.close()
    assert uses_ffmpeg(server.url)


def test_an_unhandled_video_codec_is_refused_at_opening() -> None:
    sdp = "v=0\r\nm=video 0 RTP/AVP 96\r\na=rtpmap:96 MP4V-ES/90000\r\na=control:stream=0\r\n"
    server = ScriptedRtspServer(sdp, b"")
    try:
        with pytest.raises(UnsupportedStreamError, match="MP4V-ES"):
            RtspReader(server.url)
    finally:
        server.close()


def test_aac_access_units_of_one_packet_and_a_fragmented_one() -> None:
    depacketizer = AacDepacketizer(13, 3, 3)
    out: list[MediaPacket] = []
    first, second = b"\x21" * 100, b"\x22" * 80
    headers = ((len(first) << 3).to_bytes(2, "big")) + ((len(second) << 3).to_bytes(2, "big"))
    depacketizer.push(memoryview(b"\x00\x20" + headers + first + second), 5000, True, 1.0, out)
    big = b"\x23" * 3000
    header = b"\x00\x10" + (len(big) << 3).to_bytes(2, "big")
    depacketizer.push(memoryview(header + big[:1400]), 7048, False, 2.0, out)
    depacketizer.push(memoryview(header + big[1400:2800]), 7048, False, 2.0, out)
    depacketizer.push(memoryview(header + big[2800:]), 7048, True, 2.0, out)
    assert [(p.data, p.dts, p.duration, p.audio) for p in out] == [
        (first, 5000, 1024, True),
        (second, 6024, 1024, True),
        (big, 7048, 1024, True),
    ]


def test_g711_payloads_are_packets_of_their_sample_count() -> None:
    out: list[MediaPacket] = []
    G711Depacketizer().push(memoryview(b"\xff" * 160), 320, False, 1.0, out)
    assert [(len(p.data), p.dts, p.duration, p.audio) for p in out] == [(160, 320, 160, True)]


def test_hevc_aggregation_and_fragmentation_units() -> None:
    vps, sps, pps = b"\x40\x01\x0c", b"\x42\x01\x01", b"\x44\x01\xc0"
    idr = b"\x26\x01\xa0" + bytes(range(200))  # IDR_W_RADL (19), a picture's first slice
    trail = b"\x02\x01\xd0" + b"\x99" * 30  # TRAIL_R (1)
    aggregation = b"\x60\x01" + b"".join(len(n).to_bytes(2, "big") + n for n in (vps, sps, pps))
    fragments = [
        b"\x62\x01" + bytes((0x80 | 19,)) + idr[2:100],
        b"\x62\x01" + bytes((0x40 | 19,)) + idr[100:],
    ]
    depacketizer = VideoDepacketizer(hevc=True)
    out: list[MediaPacket] = []
    depacketizer.push(memoryview(aggregation), 0, False, 1.0, out)
    depacketizer.push(memoryview(fragments[0]), 0, False, 1.0, out)
    depacketizer.push(memoryview(fragments[1]), 0, True, 1.0, out)
    depacketizer.push(memoryview(trail), 3000, True, 1.0, out)
    assert [(p.data, p.dts, p.keyframe) for p in out] == [
        (annexb(vps, sps, pps, idr), 0, True),
        (annexb(trail), 3000, False),
    ]
    assert depacketizer.parameter_sets == {32: vps, 33: sps, 34: pps}


def test_an_access_unit_joined_after_its_first_slice_is_dropped() -> None:
    # A two-slice IDR whose first slice went by before the client joined, then a P frame.
    second_slice = b"\x65\x44" + b"\x10" * 40  # first_mb_in_slice is not 0
    depacketizer = VideoDepacketizer(hevc=False)
    out: list[MediaPacket] = []
    depacketizer.push(memoryview(second_slice), 0, True, 1.0, out)
    depacketizer.push(memoryview(p_slice(1)), FRAME, True, 1.0, out)
    depacketizer.push(memoryview(IDR), 2 * FRAME, True, 1.0, out)
    assert [(p.dts, p.keyframe) for p in out] == [(2 * FRAME, True)]
    assert depacketizer.frames_dropped == 2


@pytest.mark.usefixtures("h264_track_kind")
def test_new_parameter_sets_in_band_describe_the_stream_anew() -> None:
    sps = encoded_sps("libx264", 320, 180, {"profile": "baseline", "preset": "ultrafast"})
    pps = H264_PPS
    first = gop_packets(1, 0, 2)
    second = [rtp(7, 2 * FRAME, stap_a(sps, pps))]
    second += [rtp(8 + i, 2 * FRAME, piece, marker=i == 3) for i, piece in enumerate(fu_a(IDR, 4))]
    second += [rtp(12, 3 * FRAME, p_slice(3), marker=True)]
    stream = b"".join(interleaved(0, p) for p in first + second)
    server = ScriptedRtspServer(h264_sdp(), stream)
    reader = RtspReader(server.url)
    got: list[MediaPacket] = []
    infos: list[StreamInfo] = []
    try:
        for _ in range(4):
            got.append(reader.read())
            infos.append(reader.info)
    finally:
        reader.close()
        server.close()
    assert [(i.width, i.height) for i in infos] == [(640, 360), (640, 360), (320, 180), (320, 180)]
    assert infos[2].extradata == avcc_record([sps, pps])
    assert infos[0] is infos[1]
    assert infos[2] is infos[3]
    assert [p.keyframe for p in got] == [True, False, True, False]

    # Ingest starts a new run at that keyframe and hands the new description out with it.
    readers = [ListReader(got, infos)]
    seen: list[tuple[int, int]] = []
    ended = threading.Event()

    def status(state: CameraState, reason: str | None) -> None:
        if state is CameraState.OFFLINE:
            ended.set()

    source = StreamSource("cam/main", readers.pop, status, Backoff(first=5, cap=5, jitter=0))
    source.add_consumer(lambda packet, info: seen.append((packet.dts, info.width)))
    source.start()
    assert ended.wait(5)
    assert source.stop(2)
    assert seen == [(0, 640), (FRAME, 640), (0, 320), (FRAME, 320)]
    assert source.stats().discontinuities == 0


class ListReader:
    """Replays packets read from a reader, with the info the reader gave beside each."""

    def __init__(self, packets: list[MediaPacket], infos: list[StreamInfo]) -> None:
        self._packets = list(packets)
        self._infos = list(infos)
        self.info = self._infos[0]

    def read(self) -> MediaPacket:
        if not self._packets:
            raise StreamError("end of the replay")
        self.info = self._infos.pop(0)
        return self._packets.pop(0)

    def close(self) -> None:
        """Nothing to release."""
