"""Types of the C module ``cityhub.media._rtpvideo`` (see ``_rtpvideo.c``)."""

import collections
from collections.abc import Callable

from typing_extensions import Buffer

from cityhub.api import MediaPacket

class VideoTrack:
    """A video RTP track and its depacketiser: ``RtpTrack`` + ``VideoDepacketizer`` in C."""

    payload_type: int
    packets: int
    lost: int
    malformed: int
    frames: int
    frames_dropped: int
    length_prefixed: bool
    parameter_sets: dict[int, bytes]
    new_parameter_sets: collections.deque[tuple[MediaPacket, dict[int, bytes]]]
    origin: int | None
    depacketizer: VideoTrack
    hevc: bool
    fragment_open: bool

    def __init__(
        self,
        payload_type: int,
        clock_rate: int,
        packet_type: Callable[[bytes, int, int, bool, float], MediaPacket],
        length_prefixed: bool = True,
        hevc: bool = False,
    ) -> None: ...
    def push(self, packet: Buffer, now: float, out: list[MediaPacket]) -> None: ...
    def parse(
        self,
        buffer: Buffer,
        pos: int,
        end: int,
        now: float,
        out: list[MediaPacket],
        channel: int = 0,
    ) -> int: ...
    def set_origin(self, rtptime: int, seq: int | None = None) -> None: ...
    def set_clock(self, now: float, slack: float) -> None: ...
