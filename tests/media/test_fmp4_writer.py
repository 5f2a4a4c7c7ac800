"""The fragmented MP4 writer, on real encoders' output, read back by ffprobe, PyAV and the
segment scanner the repair uses."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import pytest

from cityhub.api import AudioInfo, StreamInfo
from cityhub.media.fmp4 import scan
from cityhub.media.fmp4_writer import Fmp4Writer, UnsupportedTrackError, fmp4_supports
from cityhub.testing import ffprobe

FPS = 25
FRAMES = 50
GOP = 10
TICKS = 90000 // FPS


def encode_video(codec: str, options: dict[str, str]) -> list[av.Packet]:
    """``FRAMES`` frames of a moving picture at 25 fps, 160x96, as Annex-B packets."""
    context = av.CodecContext.create(codec, "w")
    context.width, context.height, context.pix_fmt = 160, 96, "yuv420p"
    context.time_base = Fraction(1, 90000)
    context.framerate = Fraction(FPS)
    context.gop_size = GOP
    context.options = options
    packets: list[av.Packet] = []
    for index in range(FRAMES):
        frame = av.VideoFrame(160, 96, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes((index * 7 + n) % 256 for n in range(plane.buffer_size)))
        frame.pts = index * TICKS
        packets += context.encode(frame)
    packets += context.encode(None)
    return packets


def encode_aac(seconds: float) -> tuple[bytes, list[bytes]]:
    """AudioSpecificConfig and raw AAC frames of a 16 kHz mono tone lasting ``seconds``."""
    context = av.CodecContext.create("aac", "w")
    context.sample_rate, context.layout, context.format = 16000, "mono", "fltp"
    context.time_base = Fraction(1, 16000)
    context.open()
    frames: list[bytes] = []
    samples = 1024
    for index in range(round(seconds * 16000 / samples)):
        frame = av.AudioFrame(format="fltp", layout="mono", samples=samples)
        frame.planes[0].update(bytes(4 * samples))
        frame.sample_rate = 16000
        frame.pts = index * samples
        frames += [bytes(p) for p in context.encode(frame)]
    frames += [bytes(p) for p in context.encode(None)]
    return bytes(context.extradata or b""), frames


def first_parameter_sets(data: bytes, hevc: bool) -> bytes:
    units = data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
    wanted = {32, 33, 34} if hevc else {7, 8}
    kept = [u for u in units if u and ((u[0] >> 1) & 0x3F if hevc else u[0] & 0x1F) in wanted]
    return b"".join(b"\x00\x00\x00\x01" + u for u in kept)


def write(path: Path, info: StreamInfo, packets: list[av.Packet], audio: list[bytes]) -> None:
    with path.open("wb") as out:
        first = bytes(packets[0])
        origin = int(packets[0].dts)  # files start at dts 0, as the recorder's do
        writer = Fmp4Writer(out.write, info, first)
        audio_at = 0
        for packet in packets:
            # Audio interleaved by time, as a reader hands it out.
            while audio_at < len(audio) and audio_at * 1024 / 16000 < (packet.dts - origin) / 9e4:
                writer.add_audio(audio[audio_at], audio_at * 1024, 1024)
                audio_at += 1
            dts, pts = int(packet.dts) - origin, int(packet.pts) - origin
            writer.add_video(bytes(packet), dts, pts, packet.is_keyframe)
        writer.close(TICKS)


@pytest.mark.parametrize(
    ("codec", "options", "name"),
    [
        ("libx264", {"bf": "0", "preset": "ultrafast"}, "h264"),
        ("libx264", {"bf": "2", "preset": "medium"}, "h264"),  # B-frames: pts after dts
        ("libx265", {"preset": "ultrafast", "x265-params": "log-level=0:bframes=0"}, "hevc"),
    ],
)
def test_segments_play_and_scan_like_ffmpegs(
    tmp_path: Path, codec: str, options: dict[str, str], name: str
) -> None:
    packets = encode_video(codec, options)
    assert len(packets) == FRAMES
    config, aac = encode_aac(FRAMES / FPS)
    info = StreamInfo(
        codec=name,
        width=160,
        height=96,
        fps=FPS,
        time_base=(1, 90000),
        extradata=first_parameter_sets(bytes(packets[0]), name == "hevc"),
        audio=AudioInfo("aac", 16000, 1, (1, 16000), config),
    )
    assert fmp4_supports(info)
    path = tmp_path / "segment.mp4"
    write(path, info, packets, aac)

    probe = ffprobe(path)
    assert probe.errors == ""
    assert (probe.codec, probe.width, probe.height) == (name, 160, 96)
    assert probe.frames == FRAMES
    assert probe.keyframes == FRAMES // GOP
    assert probe.duration == pytest.approx(FRAMES / FPS, abs=0.1)
    assert (probe.audio_codec, probe.audio_sample_rate, probe.audio_channels) == ("aac", 16000, 1)
    assert probe.audio_frames >= len(aac) - 2

    # The same compressed frames come back, with their times, in decode order.
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        back = [p for p in container.demux(stream) if p.size]
    assert len(back) == FRAMES
    origin = int(packets[0].dts)
    for original, read in zip(packets, back, strict=True):
        assert (read.dts, read.pts, read.is_keyframe) == (
            original.dts - origin,
            original.pts - origin,
            original.is_keyframe,
        )

    data = path.read_bytes()
    whole = scan(data)
    assert whole.complete
    assert (whole.fragments, whole.samples) == (FRAMES // GOP, FRAMES)
    assert whole.duration_s == pytest.approx(FRAMES / FPS)
    # A file cut as by a crash keeps its complete fragments, and they play.
    cut = scan(data[: len(data) * 3 // 5])
    assert 0 < cut.fragments < whole.fragments
    truncated = tmp_path / "cut.mp4"
    truncated.write_bytes(data[: cut.valid_bytes])
    assert ffprobe(truncated).frames == cut.samples


def test_streams_it_cannot_write_are_refused() -> None:
    mpeg4 = StreamInfo("mpeg4", 160, 96, 25.0, (1, 90000))
    assert not fmp4_supports(mpeg4)
    g711 = StreamInfo(
        "h264", 160, 96, 25.0, (1, 90000), audio=AudioInfo("pcm_mulaw", 8000, 1, (1, 8000))
    )
    assert not fmp4_supports(g711)
    no_parameter_sets = StreamInfo("h264", 160, 96, 25.0, (1, 90000))
    with pytest.raises(UnsupportedTrackError, match=r"no H\.264 SPS and PPS"):
        Fmp4Writer(lambda data: None, no_parameter_sets, b"\x00\x00\x00\x01\x65\x88\x84")
