"""The C H.264 track (``cityhub.media._rtph264``) against the Python one it replaces.

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

import os
import random
import struct
import subprocess
import sys

import pytest
from rtp_kit import H264_PPS, H264_SPS, ScriptedRtspServer, h264_sdp, interleaved, rtp

from cityhub.api import MediaPacket
from cityhub.media.rtp import (
    PURE_PYTHON_ENV,
    RtpTrack,
    VideoDepacketizer,
    h264_track,
    native_h264_track,
)
from cityhub.media.rtsp_client import RtspReader

PT = 96
CLOCK = 90_000
FRAME = 3600

try:
    from cityhub.media._rtph264 import H264Track
except ImportError:  # reported by test_the_c_module_is_built
    H264Track = None  # type: ignore[assignment,misc]

needs_c = pytest.mark.skipif(H264Track is None, reason="cityhub.media._rtph264 is not built")


def test_the_c_module_is_built() -> None:
    """A checkout made ready by .ci/bootstrap has the C module: without it this fails."""
    assert H264Track is not None, (
        "cityhub.media._rtph264 is not built: install gcc and python3-dev (bash .ci/bootstrap "
        "does) and reinstall cityhub with pip install -e ."
    )
    assert native_h264_track() is H264Track


def test_the_environment_variable_chooses_the_python_track(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PURE_PYTHON_ENV, "1")
    assert native_h264_track() is None
    assert isinstance(h264_track(PT, CLOCK), RtpTrack)


# --- a camera's payloader, then the network's damage -------------------------------------


def nal(rng: random.Random, kind: int, first_slice: bool, size: int) -> bytes:
    """A NAL unit of ``kind``; a slice's second byte says whether it starts its picture."""
    second = (0x80 if first_slice else 0x00) | rng.randrange(0x80)
    body = rng.randbytes(max(size - 2, 0))
    return bytes((0x60 | kind, second)) + body


def frames(rng: random.Random, count: int) -> list[list[bytes]]:
    """Access units: GOPs of a keyframe (SPS, PPS, IDR slices) and P frames, 1-3 slices each."""
    sps, pps = H264_SPS, H264_PPS
    out: list[list[bytes]] = []
    for index in range(count):
        if index % rng.choice([3, 5, 8]) == 0:
            if rng.random() < 0.3:  # the camera's settings changed: other parameter sets
                sps = H264_SPS[:-1] + bytes((rng.randrange(256),))
            if rng.random() < 0.2:
                pps = H264_PPS[:-1] + bytes((rng.randrange(256),))
            units = [sps, pps]
            kind = 5
        else:
            units = []
            kind = 1
        for slice_index in range(rng.choice([1, 1, 2, 3])):
            size = rng.choice([2, 3, 40, 900, 1399, 1400, 1401, 3000, 20_000])
            units.append(nal(rng, kind, slice_index == 0, size))
        if rng.random() < 0.05:
            units.append(bytes((0x06, 0x05)) + rng.randbytes(20))  # SEI after the slices
        out.append(units)
    return out


def payloads(rng: random.Random, units: list[bytes]) -> list[bytes]:
    """The RTP payloads of one access unit: single units, STAP-A, FU-A cut at random sizes."""
    out: list[bytes] = []
    pending: list[bytes] = []

    def flush() -> None:
        if len(pending) == 1:
            out.append(pending[0])
        elif pending:
            out.append(b"\x18" + b"".join(struct.pack(">H", len(n)) + n for n in pending))
        pending.clear()

    for unit in units:
        if len(unit) < 200 and rng.random() < 0.7:
            pending.append(unit)
            continue
        flush()
        if len(unit) <= 1400 and rng.random() < 0.8:
            out.append(unit)
            continue
        body = unit[1:]
        indicator = (unit[0] & 0xE0) | 28
        start = 0
        while True:
            step = rng.choice([1, 7, 500, 1398, 1398, 1398])
            piece = body[start : start + step]
            flags = (0x80 if start == 0 else 0) | unit[0] & 0x1F
            start += step
            if start >= len(body):
                flags |= 0x40
            out.append(bytes((indicator, flags)) + piece)
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
            odd = rng.choice([b"", b"\x00", b"\x19\x00\x05", b"\x1d\x85ab", b"\x00\x01", b"\x1c"])
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


def stream(rng: random.Random, count: int, rate: float) -> tuple[list[bytes], int, int]:
    """The damaged RTP packets of ``count`` access units, the first timestamp and sequence."""
    timestamp = rng.choice([0, (1 << 32) - 5 * FRAME, rng.randrange(1 << 32)])
    seq = rng.choice([0, 65530, rng.randrange(65536)])
    first_ts, first_seq = timestamp, seq
    packets: list[bytes] = []
    for units in frames(rng, count):
        parts = payloads(rng, units)
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


def state(track: RtpTrack | H264Track) -> dict[str, object]:
    depacketizer = track.depacketizer
    assert isinstance(depacketizer, VideoDepacketizer | H264Track)
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


def compare(seed: int, *, length_prefixed: bool, rate: float, count: int = 60) -> int:
    """Run one random stream through both; returns how many packets came out."""
    assert H264Track is not None
    rng = random.Random(seed)
    packets, first_ts, first_seq = stream(rng, count, rate)
    reference = RtpTrack(VideoDepacketizer(hevc=False, length_prefixed=length_prefixed), PT, CLOCK)
    native = H264Track(PT, CLOCK, MediaPacket, length_prefixed)
    single = H264Track(PT, CLOCK, MediaPacket, length_prefixed)  # push, packet by packet
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


@needs_c
@pytest.mark.parametrize("length_prefixed", [True, False], ids=["length-prefixed", "annex-b"])
def test_clean_streams_give_the_same_packets(length_prefixed: bool) -> None:
    out = sum(compare(seed, length_prefixed=length_prefixed, rate=0.0) for seed in range(12))
    assert out > 600  # nearly every frame of 12 x 60: only timestamp jumps may cost one


@needs_c
@pytest.mark.parametrize("rate", [0.002, 0.01, 0.04])
def test_damaged_streams_give_the_same_packets_and_counts(rate: float) -> None:
    total = sum(compare(1000 + seed, length_prefixed=True, rate=rate) for seed in range(40))
    assert total > 0


@needs_c
def test_many_damaged_annex_b_streams() -> None:
    for seed in range(30):
        compare(5000 + seed, length_prefixed=False, rate=0.02, count=30)


# --- the C track on its own ---------------------------------------------------------------


@needs_c
def test_an_access_unit_past_64_mb_is_dropped_and_the_next_keyframe_plays() -> None:
    assert H264Track is not None
    track = H264Track(PT, CLOCK, MediaPacket)
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
    idr = nal(random.Random(1), 5, True, 100)
    track.push(rtp(seq, FRAME, idr, marker=True), 2.0, out)
    assert [(p.dts, p.keyframe, p.data) for p in out] == [
        (FRAME, True, len(idr).to_bytes(4, "big") + idr)
    ]


@needs_c
def test_bad_arguments_are_refused_with_a_clear_error() -> None:
    assert H264Track is not None
    track = H264Track(PT, CLOCK, MediaPacket)
    with pytest.raises(ValueError, match="pos and end"):
        track.parse(bytearray(10), 4, 20, 0.0, [])
    with pytest.raises(ValueError, match="pos and end"):
        track.parse(bytearray(10), -1, 5, 0.0, [])
    with pytest.raises(TypeError):
        track.push("text", 0.0, [])  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="callable"):
        H264Track(PT, CLOCK, 3)  # type: ignore[arg-type]
    unready = H264Track.__new__(H264Track)
    with pytest.raises(RuntimeError, match="__init__"):
        unready.push(b"", 0.0, [])


@needs_c
def test_a_failing_packet_type_raises_and_the_track_goes_on() -> None:
    """An exception from the packet constructor reaches the caller; nothing leaks or breaks."""
    assert H264Track is not None
    calls = 0

    def flaky(*args: object) -> MediaPacket:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("refused")
        return MediaPacket(*args)  # type: ignore[arg-type]

    track = H264Track(PT, CLOCK, flaky)
    idr = nal(random.Random(2), 5, True, 50)
    out: list[MediaPacket] = []
    with pytest.raises(RuntimeError, match="refused"):
        track.push(rtp(0, 0, idr, marker=True), 1.0, out)
    track.push(rtp(1, FRAME, idr, marker=True), 1.0, out)
    assert [p.dts for p in out] == [FRAME]


# --- the RTSP client picks the C track -------------------------------------------------------


def read_one_gop(url: str) -> tuple[bool, list[MediaPacket]]:
    reader = RtspReader(url)
    try:
        return reader.native_h264, [reader.read() for _ in range(3)]
    finally:
        reader.close()


@needs_c
def test_the_rtsp_client_reads_h264_with_the_c_track_and_gives_what_python_gives(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = random.Random(7)
    packets: list[bytes] = []
    seq = 0
    for index, units in enumerate(frames(rng, 3)):
        if index == 0:
            units = [H264_SPS, H264_PPS, *units[2:]] if units[0] == H264_SPS else units
        for number, payload in enumerate(parts := payloads(rng, units)):
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


def test_a_hub_without_the_c_module_still_reads_h264() -> None:
    """The fallback when the module was not built: a child process that cannot import it."""
    code = (
        "import sys\n"
        "sys.modules['cityhub.media._rtph264'] = None\n"
        "from cityhub.media.rtp import RtpTrack, h264_track, native_h264_track\n"
        "assert native_h264_track() is None\n"
        "assert isinstance(h264_track(96, 90000), RtpTrack)\n"
    )
    environment = {k: v for k, v in os.environ.items() if k != PURE_PYTHON_ENV}
    subprocess.run([sys.executable, "-c", code], check=True, env=environment, timeout=60)
