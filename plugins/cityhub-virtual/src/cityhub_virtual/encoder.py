"""H.264 encoding with libx264 through PyAV, tuned for a camera-like stream."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction

import attrs
import av
from PIL import Image

from cityhub_virtual.models import EncodingProfile

__all__ = ["EncodedFrame", "H264Encoder", "iter_nal_units", "parameter_sets"]

NAL_SPS = 7
NAL_PPS = 8
_START_CODE = b"\x00\x00\x00\x01"


@attrs.frozen
class EncodedFrame:
    """One encoded frame: its Annex-B access unit and whether it is a keyframe (IDR)."""

    data: bytes
    keyframe: bool


def iter_nal_units(data: bytes) -> Iterator[bytes]:
    """The NAL units of an Annex-B byte string, without their start codes."""
    positions = []
    index = data.find(b"\x00\x00\x01")
    while index != -1:
        positions.append(index + 3)
        index = data.find(b"\x00\x00\x01", index + 3)
    for number, start in enumerate(positions):
        end = positions[number + 1] - 3 if number + 1 < len(positions) else len(data)
        unit = data[start:end].rstrip(b"\x00")
        if unit:
            yield unit


def parameter_sets(access_unit: bytes) -> bytes:
    """The SPS and PPS of a keyframe's access unit, as Annex-B (what the extradata holds)."""
    units = [u for u in iter_nal_units(access_unit) if u[0] & 0x1F in (NAL_SPS, NAL_PPS)]
    return b"".join(_START_CODE + unit for unit in units)


class H264Encoder:
    """libx264 with no B-frames, zero latency, a fixed GOP and SPS/PPS on every keyframe.

    Each frame given to :meth:`encode` comes back at once as one access unit; keyframes fall
    exactly every ``profile.gop`` frames.
    """

    def __init__(self, profile: EncodingProfile) -> None:
        self.profile = profile
        context = av.CodecContext.create("libx264", "w")
        assert isinstance(context, av.VideoCodecContext)
        context.width = profile.width
        context.height = profile.height
        context.pix_fmt = "yuv420p"
        context.time_base = Fraction(1, profile.fps)
        context.framerate = Fraction(profile.fps, 1)
        context.bit_rate = profile.bitrate
        context.gop_size = profile.gop
        context.max_b_frames = 0
        context.thread_count = 1
        context.options = {
            "preset": "ultrafast",
            "tune": "zerolatency",
            "x264-params": (
                f"repeat-headers=1:bframes=0:keyint={profile.gop}:min-keyint={profile.gop}"
                f":scenecut=0:vbv-maxrate={profile.bitrate // 1000}"
                f":vbv-bufsize={profile.bitrate // 1000}"
            ),
        }
        context.open()
        self._context: av.VideoCodecContext = context

    def encode(self, image: Image.Image, index: int) -> list[EncodedFrame]:
        """Encode ``image`` as frame number ``index``; returns the access units produced."""
        rgb: av.VideoFrame = av.VideoFrame.from_image(image)  # type: ignore[no-untyped-call]
        frame = rgb.reformat(format="yuv420p")
        frame.pts = index
        return [
            EncodedFrame(data=bytes(packet), keyframe=packet.is_keyframe)
            for packet in self._context.encode(frame)
        ]
