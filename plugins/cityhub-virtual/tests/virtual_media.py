"""Helpers for the virtual camera tests: read packets for a while, remux them, decode them."""

from __future__ import annotations

import time
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import attrs
import av
from PIL import Image

from cityhub.api import MediaPacket, PacketReader, StreamInfo


@attrs.frozen
class Capture:
    """Packets read from a stream, with the monotonic time each one came out of ``read``."""

    info: StreamInfo
    packets: list[MediaPacket]
    arrivals: list[float]


def capture(reader: PacketReader, seconds: float) -> Capture:
    """Read packets for ``seconds`` of stream time, then close the reader."""
    packets: list[MediaPacket] = []
    arrivals: list[float] = []
    try:
        frames = round(seconds * reader.info.fps)
        for _ in range(frames):
            packets.append(reader.read())
            arrivals.append(time.monotonic())
    finally:
        reader.close()
    return Capture(info=reader.info, packets=packets, arrivals=arrivals)


def remux_mp4(cap: Capture, path: Path) -> Path:
    """Write the captured packets to an MP4 file without re-encoding."""
    time_base = Fraction(*cap.info.time_base)
    with av.open(str(path), "w", format="mp4") as out:
        stream = out.add_stream("h264", rate=round(cap.info.fps))
        stream.codec_context.width = cap.info.width
        stream.codec_context.height = cap.info.height
        stream.codec_context.extradata = cap.info.extradata
        stream.time_base = time_base
        for media in cap.packets:
            packet = av.Packet(media.data)
            packet.pts = media.pts
            packet.dts = media.dts
            packet.time_base = time_base
            packet.is_keyframe = media.keyframe
            packet.stream = stream
            out.mux(packet)
    return path


def decode_images(cap: Capture) -> Iterator[tuple[MediaPacket, Image.Image]]:
    """Decode the captured packets in order, pairing each picture with its packet."""
    decoder = av.CodecContext.create("h264", "r")
    decoder.extradata = cap.info.extradata
    for media in cap.packets:
        packet = av.Packet(media.data)
        packet.pts = media.pts
        for frame in decoder.decode(packet):
            assert frame.pts == media.pts, "the decoder must not reorder or delay frames"
            yield media, frame.to_image()
