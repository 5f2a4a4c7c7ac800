"""Still pictures of a camera: its last keyframe decoded to JPEG, on request only.

Nothing is decoded while nobody asks: the live channel keeps the last keyframe it saw (the
packet, a reference, no copy), and :func:`keyframe_to_jpeg` decodes that one packet in a
worker thread when the panel wants a placeholder or an operator takes a snapshot. The last
picture survives the camera going offline, so a tile can show what it last saw.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Final, cast

import av
from av.video.codeccontext import VideoCodecContext

from cityhub.api import MediaPacket, StreamInfo

__all__ = ["JPEG_QUALITY", "SnapshotError", "keyframe_to_jpeg"]

JPEG_QUALITY: Final = 4
"""FFmpeg's MJPEG qscale (2 best .. 31 worst): 4 keeps number plates legible at a few tens of KB."""

_DECODERS: Final = {"h264": "h264", "hevc": "hevc"}


class SnapshotError(Exception):
    """The keyframe could not be turned into a picture."""


def keyframe_to_jpeg(info: StreamInfo, packet: MediaPacket) -> bytes:
    """Decode one keyframe (blocking: call from a worker thread) and encode it as JPEG."""
    decoder_name = _DECODERS.get(info.codec)
    if decoder_name is None:
        raise SnapshotError(f"cannot decode {info.codec} for a snapshot")
    decoder = cast(VideoCodecContext, av.CodecContext.create(decoder_name, "r"))
    data = packet.data
    if info.length_prefixed:
        decoder.extradata = info.extradata
    elif info.extradata and not data.startswith(info.extradata):
        data = info.extradata + data
    try:
        frames = [*decoder.decode(av.Packet(data)), *decoder.decode(None)]
    except av.error.FFmpegError as err:
        raise SnapshotError(f"the keyframe does not decode: {err}") from err
    if not frames:
        raise SnapshotError("the keyframe gave no picture")
    frame = frames[0]
    encoder = av.CodecContext.create("mjpeg", "w")
    encoder.width, encoder.height = frame.width, frame.height
    encoder.pix_fmt = "yuvj420p"
    encoder.time_base = Fraction(1, 25)
    # A fixed quantiser: the rate control has no bitrate to aim at for one picture.
    encoder.options = {"qmin": str(JPEG_QUALITY), "qmax": str(JPEG_QUALITY)}
    encoder.bit_rate = 50_000_000
    encoded = [*encoder.encode(frame.reformat(format="yuvj420p")), *encoder.encode(None)]
    if not encoded:
        raise SnapshotError("the JPEG encoder gave nothing")
    return bytes(encoded[0])
