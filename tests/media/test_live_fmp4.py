"""The live fMP4 writer: what it writes plays in FFmpeg frame for frame, checked with ffprobe."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from cityhub.api import MediaPacket, StreamInfo
from cityhub.media.fmp4 import scan
from cityhub.media.live_fmp4 import LiveFmp4Writer, UnsupportedCodecError, split_nal_units
from cityhub.testing import ffprobe


def encode(frames: int = 50, *, width: int = 320, height: int = 180) -> list[av.Packet]:
    """A real H.264 stream (libx264, no B-frames, a keyframe every 25 frames), Annex-B."""
    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt = width, height, "yuv420p"
    codec.time_base = Fraction(1, 25)
    codec.options = {"bf": "0", "g": "25", "tune": "zerolatency", "preset": "ultrafast"}
    packets = []
    for index in range(frames):
        frame = av.VideoFrame(width, height, "yuv420p")
        luma = bytearray([(index * 5) % 255]) * (width * height)
        luma[index * 4 % width :: width] = b"\xff" * height  # a moving vertical line
        frame.planes[0].update(bytes(luma))
        for plane in frame.planes[1:]:
            plane.update(b"\x80" * plane.buffer_size)
        frame.pts = index
        packets.extend(codec.encode(frame))
    packets.extend(codec.encode(None))
    return packets


def parameter_sets(keyframe: bytes) -> bytes:
    return b"".join(
        b"\x00\x00\x00\x01" + unit for unit in split_nal_units(keyframe) if unit[0] & 0x1F in (7, 8)
    )


def test_init_and_one_fragment_per_frame_play_as_one_file(tmp_path: Path) -> None:
    packets = encode()
    info = StreamInfo("h264", 320, 180, 25.0, (1, 90_000), parameter_sets(bytes(packets[0])))
    writer = LiveFmp4Writer(info)
    assert writer.codec.startswith("avc1.")
    assert writer.mime == f'video/mp4; codecs="{writer.codec}"'
    chunks = [writer.init_segment()]
    for index, packet in enumerate(packets):
        dts = index * 3600  # 25 fps in 90 kHz
        media = MediaPacket(bytes(packet), dts, dts, packet.is_keyframe, 0.0)
        chunks.append(writer.fragment(media, writer.ticks(dts), writer.ticks(3600), index + 1))
    data = b"".join(chunks)
    found = scan(data)
    assert found.complete
    assert (found.fragments, found.samples) == (50, 50)
    assert found.duration_s == pytest.approx(2.0)
    path = tmp_path / "live.mp4"
    path.write_bytes(data)
    probe = ffprobe(path)
    assert (probe.codec, probe.width, probe.height) == ("h264", 320, 180)
    assert probe.frames == 50
    with av.open(str(path)) as container:
        decoded = list(container.decode(video=0))
    assert len(decoded) == 50
    assert [f.key_frame for f in decoded].count(True) == 2


def test_split_nal_units_handles_both_start_codes_and_length_prefixes() -> None:
    annex_b = b"\x00\x00\x00\x01\x67\x01\x02\x00\x00\x01\x68\x03\x00\x00\x00\x01\x65\x04\x00"
    assert list(split_nal_units(annex_b)) == [b"\x67\x01\x02", b"\x68\x03", b"\x65\x04\x00"]
    prefixed = b"\x00\x00\x00\x02\x67\x01\x00\x00\x00\x01\x65"
    assert list(split_nal_units(prefixed, 4)) == [b"\x67\x01", b"\x65"]
    assert list(split_nal_units(b"\x00\x00\x00\x09\x65", 4)) == []  # truncated: nothing


def test_other_codecs_and_missing_parameter_sets_are_refused() -> None:
    with pytest.raises(UnsupportedCodecError, match="sub-stream"):
        LiveFmp4Writer(StreamInfo("hevc", 320, 180, 25.0, (1, 90_000), b""))
    with pytest.raises(UnsupportedCodecError, match="SPS and PPS"):
        LiveFmp4Writer(StreamInfo("h264", 320, 180, 25.0, (1, 90_000), b"\x00\x00\x01\x65"))


async def test_a_channel_says_when_it_is_watched_so_the_reader_can_favour_latency() -> None:
    import asyncio

    from cityhub.media.live import LiveChannel

    packets = encode(frames=3)
    info = StreamInfo("h264", 320, 180, 25.0, (1, 90_000), parameter_sets(bytes(packets[0])))
    watched: list[bool] = []
    channel = LiveChannel("cam/main", asyncio.get_running_loop(), watched.append)
    channel.consume(MediaPacket(bytes(packets[0]), 0, 0, True, 0.0), info)
    first = channel.join()
    second = channel.join()
    assert watched == [True]
    first.close()
    assert watched == [True]
    second.close()
    assert watched == [True, False]
