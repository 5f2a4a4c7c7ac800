"""The C H.264 track (``cityhub.media._rtpvideo``) against the Python one it replaces.

The Python classes (``RtpTrack`` in front of ``VideoDepacketizer``) are the reference: random
streams of RTP packets, built as a camera's payloader builds them (single NAL units, STAP-A,
FU-A cut anywhere, parameter sets that change, sequence numbers and timestamps that wrap),
then damaged as a network and a broken camera damage them (losses, duplicates, reordering,
CSRC, header extensions, padding, truncated and foreign packets, units of unknown types,
markers missing), go through both, cut into batches at random byte boundaries and mixed with
frames of other interleaved channels, as the RTSP client receives them. Every packet handed
out, every counter and the parameter sets must be the same.
"""

from __future__ import annotations

import base64
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import sysconfig
from fractions import Fraction
from pathlib import Path

import av
import pytest
from rtp_kit import H264_PPS, H264_SPS, ScriptedRtspServer, h264_sdp, interleaved, rtp

import cityhub.media
from cityhub.api import MediaPacket
from cityhub.media.rtp import (
    PURE_PYTHON_ENV,
    RtpTrack,
    VideoDepacketizer,
    make_video_track,
    native_video_track,
)
from cityhub.media.rtsp_client import RtspReader

PT = 96
CLOCK = 90_000
FRAME = 3600

try:
    from cityhub.media._rtpvideo import VideoTrack
except ImportError:  # reported by test_the_c_module_is_built
    VideoTrack = None  # type: ignore[assignment,misc]

needs_c = pytest.mark.skipif(VideoTrack is None, reason="cityhub.media._rtpvideo is not built")


def test_the_c_module_is_built() -> None:
    """A checkout made ready by .ci/bootstrap has the C module: without it this fails."""
    assert VideoTrack is not None, (
        "cityhub.media._rtpvideo is not built: install gcc and python3-dev (bash .ci/bootstrap "
        "does) and reinstall cityhub with pip install -e ."
    )
    assert native_video_track() is VideoTrack


def test_the_environment_variable_chooses_the_python_track(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    assert native_video_track() is None
    assert isinstance(make_video_track(PT, CLOCK, hevc=False), RtpTrack)


# --- a camera's payloader, then the network's damage -------------------------------------


# H.265 parameter sets by their NAL unit headers (VPS 32, SPS 33, PPS 34); depacketisers do
# not parse their bodies.
HEVC_VPS = bytes.fromhex("40010c01ffff016000000300b0000003000003005d95")
HEVC_SPS = bytes.fromhex("420101016000000300b0000003000003005da00280802d1659")
HEVC_PPS = bytes.fromhex("4401c172b46240")


def nal(rng: random.Random, kind: int, first_slice: bool, size: int, hevc: bool) -> bytes:
    """A NAL unit of ``kind``; the byte after its header says whether it starts its picture.

    (H.264 first_mb_in_slice 0, H.265 first_slice_segment_in_pic_flag: the top bit.)
    """
    flag = (0x80 if first_slice else 0x00) | rng.randrange(0x80)
    if hevc:  # layer id and temporal id anything, as a layered stream has them
        header = bytes(((kind << 1) | rng.randrange(2), rng.randrange(256) | 1))
    else:  # nal_ref_idc anything
        header = bytes((rng.randrange(4) << 5 | kind,))
    return header + bytes((flag,)) + rng.randbytes(max(size - len(header) - 1, 0))


def frames(rng: random.Random, count: int, hevc: bool) -> list[list[bytes]]:
    """Access units: GOPs of a keyframe (parameter sets, IDR/IRAP slices) and P frames."""
    sets = [HEVC_VPS, HEVC_SPS, HEVC_PPS] if hevc else [H264_SPS, H264_PPS]
    out: list[list[bytes]] = []
    for index in range(count):
        if index % rng.choice([3, 5, 8]) == 0:
            if rng.random() < 0.4:  # the camera's settings changed: other parameter sets
                which = rng.randrange(len(sets))
                sets[which] = sets[which][:-1] + bytes((rng.randrange(256),))
            units = list(sets)
            kind = rng.choice([16, 19, 20, 21]) if hevc else 5
        else:
            units = []
            kind = rng.choice([0, 1, 9]) if hevc else 1
        for slice_index in range(rng.choice([1, 1, 2, 3])):
            size = rng.choice([3, 4, 40, 900, 1399, 1400, 1401, 3000, 20_000])
            units.append(nal(rng, kind, slice_index == 0, size, hevc))
        if rng.random() < 0.05:  # an SEI after the slices
            units.append((b"\x4e\x01" if hevc else b"\x06") + rng.randbytes(20))
        out.append(units)
    return out


def payloads(rng: random.Random, units: list[bytes], hevc: bool) -> list[bytes]:
    """The RTP payloads of one access unit: single units, STAP-A/AP, FU-A/FU cut anywhere."""
    out: list[bytes] = []
    pending: list[bytes] = []

    def flush() -> None:
        if len(pending) == 1:
            out.append(pending[0])
        elif pending:
            header = bytes((48 << 1, 1)) if hevc else b"\x18"
            out.append(header + b"".join(struct.pack(">H", len(n)) + n for n in pending))
        pending.clear()

    for unit in units:
        if len(unit) < 200 and rng.random() < 0.7:
            pending.append(unit)
            continue
        flush()
        if len(unit) <= 1400 and rng.random() < 0.8:
            out.append(unit)
            continue
        if hevc:
            kind = (unit[0] >> 1) & 0x3F
            header = bytes(((unit[0] & 0x81) | (49 << 1), unit[1]))
            body = unit[2:]
        else:
            kind = unit[0] & 0x1F
            header = bytes(((unit[0] & 0xE0) | 28,))
            body = unit[1:]
        start = 0
        while True:
            step = rng.choice([1, 7, 500, 1398, 1398, 1398])
            piece = body[start : start + step]
            flags = (0x80 if start == 0 else 0) | kind
            start += step
            if start >= len(body):
                flags |= 0x40
            out.append(header + bytes((flags,)) + piece)
            if start >= len(body):
                break
    flush()
    return out


def packet(rng: random.Random, seq: int, timestamp: int, payload: bytes, marker: bool) -> bytes:
    """An RTP packet, with a CSRC, a header extension or padding now and then."""
    first = 0x80
    extra = b""
    csrc = rng.random() < 0.05
    if csrc:
        count = rng.randrange(1, 4)
        first |= count
        extra += rng.randbytes(4 * count)
    if rng.random() < 0.05:
        first |= 0x10
        words = rng.randrange(3)
        extra += rng.randbytes(2) + struct.pack(">H", words) + rng.randbytes(4 * words)
    padding = b""
    if rng.random() < 0.05:
        first |= 0x20
        size = rng.randrange(1, 9)
        padding = bytes(size - 1) + bytes((size,))
    second = (0x80 if marker else 0) | PT
    header = struct.pack(">BBHII", first, second, seq & 0xFFFF, timestamp & 0xFFFFFFFF, 7)
    return header + extra + payload + padding


# Payloads of unknown or unhandled types, or cut short: H.264 STAP-B, FU-B, nothing; H.265
# type 47, PACI (50), a fragmentation unit without its FU header.
ODD_PAYLOADS = [b"", b"\x00", b"\x19\x00\x05", b"\x1d\x85ab", b"\x00\x01", b"\x1c"]
ODD_PAYLOADS += [b"\x5e\x01ab", b"\x64\x01\x80ab", b"\x62\x01"]
# Aggregates with one byte left after their units (H.264 STAP-A, H.265 AP).
ODD_PAYLOADS += [b"\x18\x00\x02\x09\x10\x07", b"\x60\x01\x00\x03\x46\x01\x10\x07"]


def damage(rng: random.Random, packets: list[bytes], rate: float) -> list[bytes]:
    """Losses, duplicates, swaps, truncations, foreign and malformed packets, odd payloads."""
    out: list[bytes] = []
    index = 0
    while index < len(packets):
        current = packets[index]
        roll = rng.random()
        if roll < rate:
            pass  # lost
        elif roll < 2 * rate:
            out += [current, current]  # repeated
        elif roll < 3 * rate and index + 1 < len(packets):
            out += [packets[index + 1], current]  # swapped
            index += 1
        elif roll < 4 * rate:
            out.append(current[: rng.randrange(0, 14)])  # truncated
        elif roll < 5 * rate:
            other = bytearray(current)
            other[0] = rng.choice([0x40, 0x00, 0xC0]) | (other[0] & 0x3F)  # not version 2
            out.append(bytes(other))
        elif roll < 6 * rate:
            other = bytearray(current)
            other[1] = (other[1] & 0x80) | 97  # another payload type
            out.append(bytes(other))
        elif roll < 7 * rate:
            # A payload of an unknown or interleaved-mode type, empty, or one byte long.
            odd = rng.choice(ODD_PAYLOADS)
            out.append(current[:12] + odd)
        elif roll < 8 * rate:
            out.append(current[:12] + b"\x18\x00\x09\x65")  # STAP-A with a size past its end
        elif roll < 9 * rate:
            other = bytearray(current)
            other[0] |= 0x20  # padding bigger than the packet
            other[-1] = 0xFF
            out.append(bytes(other))
        else:
            out.append(current)
        index += 1
    return out


def stream(rng: random.Random, count: int, rate: float, hevc: bool) -> tuple[list[bytes], int, int]:
    """The damaged RTP packets of ``count`` access units, the first timestamp and sequence."""
    timestamp = rng.choice([0, (1 << 32) - 5 * FRAME, rng.randrange(1 << 32)])
    seq = rng.choice([0, 65530, rng.randrange(65536)])
    first_ts, first_seq = timestamp, seq
    packets: list[bytes] = []
    for units in frames(rng, count, hevc):
        parts = payloads(rng, units, hevc)
        with_marker = rng.random() > 0.05
        for index, payload in enumerate(parts):
            marker = with_marker and index == len(parts) - 1
            packets.append(packet(rng, seq, timestamp, payload, marker))
            seq += 1
        timestamp += FRAME if rng.random() > 0.02 else rng.choice([-FRAME, 1 << 31, 7])
    return damage(rng, packets, rate), first_ts, first_seq


# --- both tracks, batch by batch ----------------------------------------------------------


def described(packet: MediaPacket) -> tuple[bytes, int, int, bool, float, int, bool]:
    return (
        packet.data,
        packet.dts,
        packet.pts,
        packet.keyframe,
        packet.wallclock,
        packet.duration,
        packet.audio,
    )


def state(track: RtpTrack | VideoTrack) -> dict[str, object]:
    depacketizer = track.depacketizer
    assert isinstance(depacketizer, VideoDepacketizer | VideoTrack)
    return {
        "packets": track.packets,
        "lost": track.lost,
        "malformed": track.malformed,
        "origin": track.origin,
        "frames": depacketizer.frames,
        "frames_dropped": depacketizer.frames_dropped,
        "fragment_open": depacketizer.fragment_open,
        "parameter_sets": dict(depacketizer.parameter_sets),
        "new_parameter_sets": [
            (described(p), dict(sets)) for p, sets in depacketizer.new_parameter_sets
        ],
    }


def compare(
    seed: int, *, length_prefixed: bool, rate: float, count: int = 60, hevc: bool = False
) -> int:
    """Run one random stream through both; returns how many packets came out."""
    assert VideoTrack is not None
    rng = random.Random(seed)
    packets, first_ts, first_seq = stream(rng, count, rate, hevc)
    reference = RtpTrack(VideoDepacketizer(hevc=hevc, length_prefixed=length_prefixed), PT, CLOCK)
    native = VideoTrack(PT, CLOCK, MediaPacket, length_prefixed, hevc)
    single = VideoTrack(PT, CLOCK, MediaPacket, length_prefixed, hevc)  # packet by packet
    if rng.random() < 0.5:  # RTP-Info gave the origin (and, sometimes, the first sequence)
        seq = first_seq if rng.random() < 0.7 else None
        for track in (reference, native, single):
            track.set_origin(first_ts, seq)
    # The wire: video frames on channel 0 among frames of other channels (RTCP, audio).
    wire = bytearray()
    framed: list[tuple[int, bytes]] = []
    for item in packets:
        if rng.random() < 0.03:
            framed.append((rng.choice([1, 2, 3]), rng.randbytes(rng.randrange(60))))
        framed.append((0, item))
    for channel, item in framed:
        wire += interleaved(channel, item)
    expected: list[MediaPacket] = []
    got: list[MediaPacket] = []
    got_single: list[MediaPacket] = []
    now = 1_700_000_000.0 + rng.random()
    buffer = bytearray()
    base = 0  # where buffer[0] is on the wire
    start = 0
    cut = 0
    done = 0  # frames of ``framed`` handed to the reference and to ``single`` so far
    position = 0  # where framed[done] starts on the wire
    while cut < len(wire):
        step = rng.choice([1, 5, 700, 5000, 40_000, 200_000])
        buffer = buffer[start:] + wire[cut : cut + step]
        base += start
        start = 0
        cut = min(len(wire), cut + step)
        now += rng.choice([0.001, 0.04, 0.3, 1.0, 2.5])
        # The C track takes the complete frames of channel 0; those of other channels are
        # read past, as the RTSP client does.
        while True:
            start = native.parse(buffer, start, len(buffer), now, got)
            if len(buffer) - start < 4:
                break
            assert buffer[start] == 0x24
            stop = start + 4 + ((buffer[start + 2] << 8) | buffer[start + 3])
            if stop > len(buffer):
                break
            assert buffer[start + 1] != 0, "parse stopped at a complete frame of its channel"
            start = stop
        # The reference and the packet-by-packet C track take the same complete frames.
        while done < len(framed) and position + 4 + len(framed[done][1]) <= base + start:
            channel, item = framed[done]
            if channel == 0:
                reference.push(memoryview(item), now, expected)
                single.push(item, now, got_single)
            position += 4 + len(item)
            done += 1
        slack = rng.choice([0.2, 2.0])
        for track in (reference, native, single):
            track.set_clock(now, slack)
        assert [described(p) for p in got] == [described(p) for p in expected], seed
        assert [described(p) for p in got_single] == [described(p) for p in expected], seed
        assert state(native) == state(reference), seed
        assert state(single) == state(reference), seed
    assert done == len(framed)
    return len(expected)


CODECS = pytest.mark.parametrize("hevc", [False, True], ids=["h264", "h265"])


@needs_c
@CODECS
@pytest.mark.parametrize("length_prefixed", [True, False], ids=["length-prefixed", "annex-b"])
def test_clean_streams_give_the_same_packets(hevc: bool, length_prefixed: bool) -> None:
    out = sum(
        compare(seed, length_prefixed=length_prefixed, rate=0.0, hevc=hevc) for seed in range(12)
    )
    assert out > 600  # nearly every frame of 12 x 60: only timestamp jumps may cost one


@needs_c
@CODECS
@pytest.mark.parametrize("rate", [0.002, 0.01, 0.04])
def test_damaged_streams_give_the_same_packets_and_counts(hevc: bool, rate: float) -> None:
    total = sum(
        compare(1000 + seed, length_prefixed=not hevc, rate=rate, hevc=hevc) for seed in range(40)
    )
    assert total > 0


@needs_c
@CODECS
def test_many_short_damaged_streams(hevc: bool) -> None:
    for seed in range(30):
        compare(5000 + seed, length_prefixed=hevc, rate=0.02, count=30, hevc=hevc)


# --- the C track on its own ---------------------------------------------------------------


@needs_c
def test_an_access_unit_past_64_mb_is_dropped_and_the_next_keyframe_plays() -> None:
    assert VideoTrack is not None
    track = VideoTrack(PT, CLOCK, MediaPacket)
    out: list[MediaPacket] = []
    body = bytes(1400)
    seq = 0
    fragments = (64 * 1024 * 1024) // len(body) + 2
    for index in range(fragments):
        flags = (0x80 if index == 0 else 0) | (0x40 if index == fragments - 1 else 0) | 5
        track.push(
            rtp(seq, 0, bytes((0x7C, flags)) + b"\x80" + body, marker=index == fragments - 1),
            1.0,
            out,
        )
        seq += 1
    assert out == []
    assert track.frames_dropped == 1
    idr = nal(random.Random(1), 5, True, 100, False)
    track.push(rtp(seq, FRAME, idr, marker=True), 2.0, out)
    assert [(p.dts, p.keyframe, p.data) for p in out] == [
        (FRAME, True, len(idr).to_bytes(4, "big") + idr)
    ]


@needs_c
def test_bad_arguments_are_refused_with_a_clear_error() -> None:
    assert VideoTrack is not None
    track = VideoTrack(PT, CLOCK, MediaPacket)
    with pytest.raises(ValueError, match="pos and end"):
        track.parse(bytearray(10), 4, 20, 0.0, [])
    with pytest.raises(ValueError, match="pos and end"):
        track.parse(bytearray(10), -1, 5, 0.0, [])
    with pytest.raises(TypeError):
        track.push("text", 0.0, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        VideoTrack(PT, CLOCK, 3)  # type: ignore[arg-type]
    unready = VideoTrack.__new__(VideoTrack)
    with pytest.raises(RuntimeError, match="__init__"):
        unready.push(b"", 0.0, [])


@needs_c
def test_a_failing_packet_type_raises_and_the_track_goes_on() -> None:
    """An exception from the packet constructor reaches the caller; nothing leaks or breaks."""
    assert VideoTrack is not None
    calls = 0

    def flaky(*args: object) -> MediaPacket:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("refused")
        return MediaPacket(*args)  # type: ignore[arg-type]

    track = VideoTrack(PT, CLOCK, flaky)
    idr = nal(random.Random(2), 5, True, 50, False)
    out: list[MediaPacket] = []
    with pytest.raises(RuntimeError, match="refused"):
        track.push(rtp(0, 0, idr, marker=True), 1.0, out)
    track.push(rtp(1, FRAME, idr, marker=True), 1.0, out)
    assert [p.dts for p in out] == [FRAME]


# --- the RTSP client picks the C track -------------------------------------------------------


def read_one_gop(url: str) -> tuple[bool, list[MediaPacket]]:
    reader = RtspReader(url)
    try:
        return reader.native_video, [reader.read() for _ in range(3)]
    finally:
        reader.close()


@needs_c
def test_the_rtsp_client_reads_h264_with_the_c_track_and_gives_what_python_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(7)
    packets: list[bytes] = []
    seq = 0
    for index, units in enumerate(frames(rng, 3, False)):
        if index == 0:
            units = [H264_SPS, H264_PPS, *units[2:]] if units[0] == H264_SPS else units
        for number, payload in enumerate(parts := payloads(rng, units, False)):
            packets.append(rtp(seq, index * FRAME, payload, marker=number == len(parts) - 1))
            seq += 1
    wire = b"".join(interleaved(0, p) for p in packets)
    results = {}
    for pure in (False, True):
        if pure:
            monkeypatch.setenv(PURE_PYTHON_ENV, "1")
        server = ScriptedRtspServer(h264_sdp(), wire, [1 << 20])
        try:
            native, got = read_one_gop(server.url)
        finally:
            server.close()
        assert native is not pure
        results[pure] = [(p.data, p.dts, p.keyframe) for p in got]
    assert results[False] == results[True]
    assert [dts for _data, dts, _key in results[False]] == [0, FRAME, 2 * FRAME]


def test_a_hub_without_the_c_module_still_reads_video() -> None:
    """The fallback when the module was not built: a child process that cannot import it."""
    code = (
        "import sys\n"
        "sys.modules['cityhub.media._rtpvideo'] = None\n"
        "from cityhub.media.rtp import RtpTrack, make_video_track, native_video_track\n"
        "assert native_video_track() is None\n"
        "assert isinstance(make_video_track(96, 90000, hevc=True), RtpTrack)\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != PURE_PYTHON_ENV}
    subprocess.run([sys.executable, "-c", code], check=True, env=environment, timeout=60)


def hevc_clip(frames_count: int) -> list[list[bytes]]:
    """The NAL units of each access unit of a real H.265 encoding (x265, 320x180, 25 fps)."""
    context = av.CodecContext.create("libx265", "w")
    context.width, context.height, context.pix_fmt = 320, 180, "yuv420p"
    context.time_base = Fraction(1, 25)
    context.framerate = Fraction(25)
    context.options = {"preset": "ultrafast", "x265-params": "log-level=0:keyint=5:bframes=0"}
    packets = []
    for index in range(frames_count):
        frame = av.VideoFrame(320, 180, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes([index * 40 % 256]) * plane.buffer_size)
        frame.pts = index
        packets += context.encode(frame)
    packets += context.encode(None)
    units = []
    for packet in packets:
        data = bytes(packet).replace(b"\x00\x00\x00\x01", b"\x00\x00\x01")
        units.append([u for u in data.split(b"\x00\x00\x01") if u])
    return units


def hevc_sdp(units: list[bytes]) -> str:
    """An SDP for an H.265 track with the parameter sets among ``units``."""
    sprop = {
        name: base64.b64encode(next(u for u in units if (u[0] >> 1) & 0x3F == kind)).decode()
        for name, kind in (("vps", 32), ("sps", 33), ("pps", 34))
    }
    return (
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=scripted\r\nt=0 0\r\na=control:*\r\n"
        "m=video 0 RTP/AVP 96\r\na=rtpmap:96 H265/90000\r\n"
        f"a=fmtp:96 sprop-vps={sprop['vps']};sprop-sps={sprop['sps']};"
        f"sprop-pps={sprop['pps']}\r\na=control:stream=0\r\n"
    )


def test_h265_from_a_real_encoder_reads_and_decodes_the_same_in_c_and_python(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """x265's access units, packetised, read back by the RTSP client, then decoded."""
    clip = hevc_clip(12)
    rng = random.Random(11)
    wire = bytearray()
    seq = 0
    for index, units in enumerate(clip):
        parts = payloads(rng, units, True)
        for number, payload in enumerate(parts):
            wire += interleaved(
                0, rtp(seq, index * FRAME, payload, marker=number == len(parts) - 1)
            )
            seq += 1
    results: dict[bool, list[MediaPacket]] = {}
    for pure in (False, True):
        if pure:
            monkeypatch.setenv(PURE_PYTHON_ENV, "1")
        elif VideoTrack is None:
            continue
        server = ScriptedRtspServer(hevc_sdp(clip[0]), bytes(wire), [1 << 20])
        reader = RtspReader(server.url)
        try:
            assert reader.native_video is not pure
            assert (reader.info.codec, reader.info.width, reader.info.height) == ("hevc", 320, 180)
            results[pure] = [reader.read() for _ in clip]
        finally:
            reader.close()
            server.close()
    if VideoTrack is not None:
        # (Arrival times differ between the two sessions: the rest must not.)
        native, pure_python = (
            [(p.data, p.dts, p.pts, p.keyframe) for p in results[kind]] for kind in (False, True)
        )
        assert native == pure_python
    got = results[True]
    assert [p.dts for p in got] == [n * FRAME for n in range(len(clip))]
    assert [p.data for p in got] == [b"".join(b"\x00\x00\x00\x01" + u for u in a) for a in clip]
    decoder = av.CodecContext.create("hevc", "r")
    pictures = [f for p in got for f in decoder.decode(av.Packet(p.data))]
    pictures += decoder.decode(None)
    assert len(pictures) == len(clip)
    assert [p.keyframe for p in got][:6] == [True, False, False, False, False, True]


@needs_c
@CODECS
def test_random_bytes_neither_crash_nor_differ(hevc: bool) -> None:
    """Garbage as a broken or hostile camera could send it: RTP-shaped or not at all."""
    assert VideoTrack is not None
    rng = random.Random(99 if hevc else 98)
    for _ in range(300):
        reference = RtpTrack(VideoDepacketizer(hevc=hevc, length_prefixed=not hevc), PT, CLOCK)
        native = VideoTrack(PT, CLOCK, MediaPacket, not hevc, hevc)
        expected: list[MediaPacket] = []
        got: list[MediaPacket] = []
        wire = bytearray()
        items = []
        for _ in range(rng.randrange(1, 40)):
            size = rng.choice([0, 1, 2, 11, 12, 13, 14, 15, 16, 40, 1500])
            body = bytearray(rng.randbytes(size))
            if size >= 2 and rng.random() < 0.8:  # mostly version 2 and our payload type
                body[0] = 0x80 | (body[0] & 0x3F)
                body[1] = (body[1] & 0x80) | PT
            items.append(bytes(body))
            wire += interleaved(0, bytes(body))
        now = 1000.0
        assert native.parse(wire, 0, len(wire), now, got) == len(wire)
        for item in items:
            reference.push(memoryview(item), now, expected)
        assert [described(p) for p in got] == [described(p) for p in expected]
        assert state(native) == state(reference)


SANITIZED_TESTS = "not sanitizer and not real_encoder and not without_the_c_module"
ASAN_CHILD = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("cityhub.media._rtpvideo", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules["cityhub.media._rtpvideo"] = module
spec.loader.exec_module(module)
import pytest
# One process (-n0): the module put in place above is not in xdist workers' sys.modules.
args = ["-q", "-s", "-n0", "-p", "no:cacheprovider", "-k", sys.argv[3], sys.argv[2]]
sys.exit(pytest.main(args))
"""


@needs_c
def test_the_c_track_passes_these_tests_under_address_sanitizer(tmp_path: Path) -> None:
    """The C code reads what the network sends: built with AddressSanitizer and UBSan, the
    tests of this file that feed it run again on it (not the real encoder's, which only
    adds time, nor the fallback's), and any out-of-bounds access or undefined behaviour
    fails it."""
    compiler = shutil.which("gcc")
    assert compiler is not None, "gcc is needed (bash .ci/bootstrap installs it)"
    source = Path(cityhub.media.__file__).parent / "_rtpvideo.c"
    built = tmp_path / "_rtpvideo.so"
    include = sysconfig.get_paths()["include"]
    subprocess.run(
        [compiler, "-O1", "-g", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
         "-fno-omit-frame-pointer", "-fPIC", "-shared", f"-I{include}", str(source),
         "-o", str(built)],
        check=True, timeout=120,
    )  # fmt: skip
    runtimes = [
        subprocess.run(
            [compiler, f"-print-file-name={name}"], check=True, capture_output=True, text=True
        ).stdout.strip()
        for name in ("libasan.so", "libubsan.so")
    ]
    environment = {k: v for k, v in os.environ.items() if k != PURE_PYTHON_ENV}
    environment |= {"LD_PRELOAD": ":".join(runtimes), "ASAN_OPTIONS": "detect_leaks=0"}
    result = subprocess.run(
        [sys.executable, "-c", ASAN_CHILD, str(built), __file__, SANITIZED_TESTS],
        env=environment, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "AddressSanitizer" not in result.stderr, result.stderr[-3000:]
    passed = re.search(r"(\d+) passed", result.stdout)
    assert passed is not None
    assert int(passed[1]) >= 15, result.stdout[-3000:]  # the C tests ran in that process
