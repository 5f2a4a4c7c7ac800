"""RTP depacketisation: H.264 (RFC 6184), H.265 (RFC 7798), AAC (RFC 3640 AAC-hbr), G.711.

An :class:`RtpTrack` takes the RTP packets of one track in arrival order, checks their
sequence numbers, unwraps their 32-bit timestamps into a 64-bit count from the track's
origin (the ``rtptime`` of the PLAY response's ``RTP-Info``, so that every track of a session
starts at the same instant) and hands each payload to its depacketiser, which appends
finished :class:`~cityhub.api.MediaPacket` values to a list.

Video access units are the NAL units of one RTP timestamp, up to the packet with the marker
bit (or the first packet of the next timestamp), written Annex-B with four-byte start codes as
FFmpeg's RTSP demuxer gives them, or length-prefixed as in MP4 samples; their dts and pts
are the RTP timestamp (streams with B-frames, whose RTP timestamps are not in decode order,
are not for this reader). A lost RTP
packet (a gap in the sequence numbers) drops the access unit it damaged and every following
one until the next keyframe: a decoder would otherwise show corrupt pictures until then.
Lost packets and the frames dropped for them are counted.

Video, most of the packets a hub receives, has a C twin of ``RtpTrack`` in front of
``VideoDepacketizer``: ``cityhub.media._rtpvideo.VideoTrack`` (built from ``_rtpvideo.c`` at
installation), which takes every video frame of a received batch in one call. The RTSP client
uses it when it is built (:func:`make_video_track`); the classes here remain the reference it
is tested against, packet for packet, and the fallback.
"""

from __future__ import annotations

import collections
import os
import struct
from typing import TYPE_CHECKING, Protocol

from cityhub.api import MediaPacket
from cityhub.media.h26x import H264_IDR, H264_PARAMETER_SETS, HEVC_PARAMETER_SETS

if TYPE_CHECKING:
    from cityhub.media._rtpvideo import VideoTrack

__all__ = [
    "PURE_PYTHON_ENV",
    "AacDepacketizer",
    "Depacketizer",
    "G711Depacketizer",
    "RtpTrack",
    "VideoDepacketizer",
    "make_video_track",
    "native_video_track",
]

PURE_PYTHON_ENV = "CITYHUB_PURE_PYTHON_RTP"
"""Set to 1 to read H.264 with the Python classes here even where the C module is built."""

START_CODE = b"\x00\x00\x00\x01"
_HEADER = struct.Struct(">BBHI")
_FU_A = struct.Struct(">BBHI4xBB")
"""An RTP header without CSRC or extension, then the FU indicator and FU header."""
_SEQ = struct.Struct(">H")
_TIMESTAMP = struct.Struct(">I")
_FU_A_HEADER = 18
"""An interleaved frame's header (4), an RTP header without CSRC or extension (12), FU-A (2)."""
_SEQ_MOD = 1 << 16
_TS_MOD = 1 << 32
_TS_HALF = 1 << 31
_REORDER_WINDOW = 0x8000
"""A sequence number this far behind the expected one is a late or repeated packet."""


class Depacketizer(Protocol):
    """Turns the payloads of one track into packets; told when RTP packets were lost."""

    frames_dropped: int

    def push(
        self, payload: memoryview, timestamp: int, marker: bool, now: float, out: list[MediaPacket]
    ) -> None:
        """Take one payload at ``timestamp`` (64-bit, from the origin); append what completes."""
        ...

    def lost(self) -> None:
        """RTP packets were lost just before the next payload."""
        ...


class RtpTrack:
    """Sequence and timestamp bookkeeping of one RTP track, in front of its depacketiser.

    A reader that takes packets in batches (several frames per wake-up) tells the track when
    each batch arrived (:meth:`set_clock`); a packet of the next batch is then dated by its
    timestamp from there rather than by that batch's arrival, so the first frames of a batch
    do not look as late as its last.
    """

    def __init__(self, depacketizer: Depacketizer, payload_type: int, clock_rate: int = 0) -> None:
        self.depacketizer = depacketizer
        self.payload_type = payload_type
        self._tick = 1 / clock_rate if clock_rate > 0 else 0.0
        self._wall_offset: float | None = None
        self._wall_slack = 0.0
        self.origin: int | None = None
        self.packets = 0
        self.lost = 0
        self.malformed = 0
        self._expected: int | None = None
        self._last_ts = 0
        self._ts = 0
        self._h264 = (
            depacketizer
            if isinstance(depacketizer, VideoDepacketizer) and not depacketizer.hevc
            else None
        )

    def set_origin(self, rtptime: int, seq: int | None = None) -> None:
        """Count timestamps from ``rtptime``; ``seq`` is the first sequence number due."""
        self.origin = rtptime
        self._last_ts = rtptime
        self._ts = 0
        self._wall_offset = None
        if seq is not None:
            self._expected = seq

    def set_clock(self, now: float, slack: float) -> None:
        """The packets taken so far arrived by ``now`` (POSIX seconds), the last one about then.

        Packets taken next are dated ``now`` plus the media time since that last packet, as
        long as that falls within ``slack`` seconds before their own batch's arrival (a
        stall or a timestamp jump falls back on the arrival time).
        """
        if self.origin is not None and self._tick:
            self._wall_offset = now - self._ts * self._tick
            self._wall_slack = slack

    def continue_fragment(self, buffer: bytearray, start: int, stop: int) -> bool:
        """Take ``buffer[start:stop]`` if it is the next H.264 FU-A fragment of the unit under way.

        The common case, most packets of a high-bitrate stream, on a short path: the same
        timestamp as the previous packet, the next sequence number, no marker, no CSRC,
        extension or padding, neither first nor (with the marker) last fragment. Returns
        False for anything else, which :meth:`push` then takes in full.
        """
        depacketizer = self._h264
        if depacketizer is None or stop - start < 15:
            return False
        first, second, seq, timestamp, indicator, header = _FU_A.unpack_from(buffer, start)
        if (
            first != 0x80
            or second != self.payload_type
            or seq != self._expected
            or timestamp != self._last_ts
            or indicator & 0x1F != 28
            or header & 0x80
            or not depacketizer.continue_fragment(buffer[start + 14 : stop], bool(header & 0x40))
        ):
            return False
        self._expected = (seq + 1) % _SEQ_MOD
        self.packets += 1
        return True

    def fragment_run(
        self, buffer: bytearray, view: memoryview, last: int, pos: int, end: int
    ) -> int:
        """Take the H.264 FU-A fragments that continue the one in ``buffer[last:pos]``.

        ``buffer[last:pos]`` is the interleaved frame (``$``, channel 0, length, RTP packet)
        just taken. The frames that follow it in ``buffer[pos:end]`` and differ from it only
        by the next sequence numbers, same length, timestamp, SSRC and FU indicator, and a FU
        header that neither starts nor ends the unit (what a payloader cutting a large unit
        at its MTU sends), are taken in one loop: one comparison of their 18 header bytes
        against the expected ones each, their bodies joined once. Returns where the run
        stopped; whatever follows goes the usual way.
        """
        depacketizer = self._h264
        step = pos - last
        if (
            depacketizer is None
            or not depacketizer.fragment_open
            or step <= _FU_A_HEADER
            or pos + step > end
            or buffer[last + 4] != 0x80
            or buffer[last + 5] != self.payload_type
            or buffer[last + 16] & 0x1F != 28
        ):
            return pos
        expected = self._expected
        if expected is None or _TIMESTAMP.unpack_from(buffer, last + 8)[0] != self._last_ts:
            return pos  # the frame before was not taken as the unit's
        template = buffer[last : last + _FU_A_HEADER]
        template[17] &= 0x1F  # neither start nor end
        pack_into = _SEQ.pack_into
        startswith = buffer.startswith
        bodies: list[memoryview] = []
        append = bodies.append
        while pos + step <= end:
            pack_into(template, 6, expected)
            if not startswith(template, pos):
                break
            append(view[pos + _FU_A_HEADER : pos + step])
            pos += step
            expected = (expected + 1) & 0xFFFF
        if bodies:
            self._expected = expected
            self.packets += len(bodies)
            depacketizer.continue_fragment(b"".join(bodies), False)
        return pos

    def push(self, packet: memoryview, now: float, out: list[MediaPacket]) -> None:
        """Take one RTP packet received at ``now`` (POSIX seconds)."""
        size = len(packet)
        if size < 12:
            self.malformed += 1
            return
        first, second, seq, timestamp = _HEADER.unpack_from(packet)
        offset = 12 + 4 * (first & 0x0F)
        if first & 0x10:  # header extension
            if size < offset + 4:
                self.malformed += 1
                return
            offset += 4 + 4 * ((packet[offset + 2] << 8) | packet[offset + 3])
        end = size - packet[size - 1] if first & 0x20 else size  # padding
        if first >> 6 != 2 or offset > end or (second & 0x7F) != self.payload_type:
            self.malformed += 1
            return
        self.packets += 1
        expected = self._expected
        if expected is not None and seq != expected:
            gap = (seq - expected) % _SEQ_MOD
            if gap >= _REORDER_WINDOW:
                return  # late or repeated: already counted as lost, its frame dropped
            self.lost += gap
            self.depacketizer.lost()
        self._expected = (seq + 1) % _SEQ_MOD
        if self.origin is None:
            self.set_origin(timestamp)
        step = (timestamp - self._last_ts) % _TS_MOD
        if step >= _TS_HALF:
            step -= _TS_MOD
        ts = self._ts = self._ts + step
        self._last_ts = timestamp
        offset_s = self._wall_offset
        if offset_s is not None:
            estimate = offset_s + ts * self._tick
            if now - self._wall_slack <= estimate <= now:
                now = estimate
        self.depacketizer.push(packet[offset:end], ts, bool(second & 0x80), now, out)


class VideoDepacketizer:
    """H.264 or H.265 payloads to access units (single NAL, STAP-A/AP, FU-A/FU).

    Units are written Annex-B (four-byte start codes), or with ``length_prefixed`` each
    preceded by its four-byte length, as in MP4 samples: the depacketiser knows every unit's
    size, so nobody downstream has to scan the frame for start codes.

    ``parameter_sets`` keeps the last in-band SPS/PPS (and VPS) by NAL unit type, and
    ``new_parameter_sets`` the keyframes after which they changed, so a reader can describe the
    stream anew from the right keyframe on.
    """

    def __init__(self, hevc: bool, *, length_prefixed: bool = False) -> None:
        self.hevc = hevc
        self.length_prefixed = length_prefixed
        self.frames = 0
        self.frames_dropped = 0
        self.parameter_sets: dict[int, bytes] = {}
        self.new_parameter_sets: collections.deque[tuple[MediaPacket, dict[int, bytes]]] = (
            collections.deque()
        )
        """Keyframes that came with other parameter sets than the previous one, and those."""
        self._reported_sets: dict[int, bytes] = {}
        self._parts: list[bytes | bytearray] = []
        self._timestamp: int | None = None
        self._keyframe = False
        self._slices = False
        self._fragment_open = False
        self._fragment_slot = 0
        self._fragment_size = 0
        self._damaged = False
        self._wait_keyframe = False
        self._parameter_types = HEVC_PARAMETER_SETS if hevc else H264_PARAMETER_SETS

    def lost(self) -> None:
        """The access unit under way (or the next, if none is) is damaged."""
        self._damaged = True
        self._fragment_open = False

    def push(
        self, payload: memoryview, timestamp: int, marker: bool, now: float, out: list[MediaPacket]
    ) -> None:
        """Add one payload's NAL units to the access unit of ``timestamp``."""
        if timestamp != self._timestamp:
            if self._parts or self._fragment_open:
                self._finish(now, out)
            self._timestamp = timestamp
        if len(payload) < (3 if self.hevc else 2):
            self._damaged = True
        elif self.hevc:
            self._push_hevc(payload)
        else:
            self._push_h264(payload)
        if marker:
            self._finish(now, out)
            self._timestamp = None

    @property
    def fragment_open(self) -> bool:
        """Whether a fragmented NAL unit is under way (its start taken, not its end)."""
        return self._fragment_open

    def continue_fragment(self, body: bytes | bytearray, end: bool) -> bool:
        """Append the body of the next fragment of the unit under way (False if none is)."""
        if not self._fragment_open:
            return False
        self._parts.append(body)
        self._fragment_size += len(body)
        if end:
            self._end_fragment()
        return True

    def _end_fragment(self) -> None:
        self._fragment_open = False
        if self.length_prefixed:
            self._parts[self._fragment_slot] = self._fragment_size.to_bytes(4, "big")

    def _unit(self, nal: memoryview, kind: int) -> None:
        data = nal.tobytes()
        self._parts.append(len(data).to_bytes(4, "big") if self.length_prefixed else START_CODE)
        self._parts.append(data)
        if kind in self._parameter_types:
            self.parameter_sets[kind] = data
        else:
            self._slice(kind, data[2 if self.hevc else 1 : 3 if self.hevc else 2])

    def _slice(self, kind: int, header: bytes | memoryview) -> None:
        """Note a NAL unit's type; the first slice of a picture must start the access unit.

        ``header`` is the first byte after the NAL unit header: for a slice, its top bit says
        whether the slice is the picture's first (H.264 ``first_mb_in_slice`` 0, H.265
        ``first_slice_segment_in_pic_flag``). An access unit whose first slice is not a
        picture's first was joined (or lost) in the middle: it is damaged.
        """
        if self._is_keyframe(kind):
            self._keyframe = True
        if not self._slices and (kind < 32 if self.hevc else 1 <= kind <= 5):
            self._slices = True
            if not header or not header[0] & 0x80:
                self._damaged = True

    def _is_keyframe(self, kind: int) -> bool:
        """Whether a NAL unit type starts a keyframe: IDR (H.264), IRAP (H.265)."""
        return 16 <= kind <= 23 if self.hevc else kind == H264_IDR

    def _aggregate(self, payload: memoryview, start: int) -> None:
        end = len(payload)
        pos = start
        while pos + 2 <= end:
            size = (payload[pos] << 8) | payload[pos + 1]
            pos += 2
            if size == 0 or pos + size > end:
                self._damaged = True
                return
            nal = payload[pos : pos + size]
            self._unit(nal, (nal[0] >> 1) & 0x3F if self.hevc else nal[0] & 0x1F)
            pos += size

    def _fragment(self, payload: memoryview, header: bytes, kind: int, first: int) -> None:
        flags = payload[first - 1]
        if flags & 0x80:  # start
            if self._fragment_open:
                self._damaged = True  # the previous fragmented unit never ended
            self._fragment_open = True
            self._fragment_slot = len(self._parts)
            self._fragment_size = len(header)
            self._parts.append(START_CODE)  # the unit's length, once known, if length-prefixed
            self._parts.append(header)
            self._slice(kind, payload[first : first + 1])
        elif not self._fragment_open:
            self._damaged = True  # its start was lost
            return
        body = payload[first:].tobytes()
        self._parts.append(body)
        self._fragment_size += len(body)
        if flags & 0x40:  # end
            self._end_fragment()

    def _push_h264(self, payload: memoryview) -> None:
        indicator = payload[0]
        kind = indicator & 0x1F
        if 1 <= kind <= 23:
            self._unit(payload, kind)
        elif kind == 24:  # STAP-A
            self._aggregate(payload, 1)
        elif kind == 28:  # FU-A
            inner = payload[1] & 0x1F
            self._fragment(payload, bytes(((indicator & 0xE0) | inner,)), inner, 2)
        else:  # STAP-B, MTAP, FU-B: interleaved mode only, refused at SETUP
            self._damaged = True

    def _push_hevc(self, payload: memoryview) -> None:
        kind = (payload[0] >> 1) & 0x3F
        if kind < 48:
            self._unit(payload, kind)
        elif kind == 48:  # aggregation packet
            self._aggregate(payload, 2)
        elif kind == 49:  # fragmentation unit
            inner = payload[2] & 0x3F
            header = bytes(((payload[0] & 0x81) | (inner << 1), payload[1]))
            self._fragment(payload, header, inner, 3)
        else:  # PACI and reserved types
            self._damaged = True

    def _finish(self, now: float, out: list[MediaPacket]) -> None:
        parts, self._parts = self._parts, []
        keyframe, self._keyframe = self._keyframe, False
        self._slices = False
        if self._fragment_open:  # the access unit ended inside a fragmented unit
            self._fragment_open = False
            self._damaged = True
        if self._damaged:
            self._damaged = False
            self._wait_keyframe = True
            self.frames_dropped += 1
            return
        if not parts or self._timestamp is None:
            return
        if self._wait_keyframe:
            if not keyframe:
                self.frames_dropped += 1
                return
            self._wait_keyframe = False
        self.frames += 1
        timestamp = self._timestamp
        packet = MediaPacket(b"".join(parts), timestamp, timestamp, keyframe, now)
        out.append(packet)
        if keyframe and self.parameter_sets != self._reported_sets:
            self._reported_sets = dict(self.parameter_sets)
            self.new_parameter_sets.append((packet, self._reported_sets))


class AacDepacketizer:
    """MPEG-4 AAC in RFC 3640 ``AAC-hbr``/``AAC-lbr`` mode: AU headers then access units."""

    def __init__(
        self,
        size_length: int,
        index_length: int,
        index_delta_length: int,
        frame_samples: int = 1024,
    ) -> None:
        if size_length <= 0 or index_length < 0 or index_delta_length < 0:
            raise ValueError("AAC needs sizelength > 0 and non-negative index lengths")
        self._size_length = size_length
        self._index_length = index_length
        self._delta_length = index_delta_length
        self._frame_samples = frame_samples
        self._fragment: list[bytes] = []
        self._fragment_size = 0
        self._fragment_ts = 0
        self.frames = 0
        self.frames_dropped = 0

    def lost(self) -> None:
        """Drop a fragmented access unit under way."""
        if self._fragment:
            self.frames_dropped += 1
        self._fragment = []

    def push(
        self, payload: memoryview, timestamp: int, marker: bool, now: float, out: list[MediaPacket]
    ) -> None:
        """Append the access units of one payload (or collect a fragmented one)."""
        if len(payload) < 2:
            self.frames_dropped += 1
            return
        header_bits = (payload[0] << 8) | payload[1]
        header_bytes = (header_bits + 7) // 8
        data = 2 + header_bytes
        if data > len(payload):
            self.frames_dropped += 1
            return
        if self._fragment:
            self._continue_fragment(payload[data:], timestamp, marker, now, out)
            return
        headers = int.from_bytes(payload[2:data], "big")
        left = header_bytes * 8
        index_length = self._index_length
        count = 0
        while header_bits >= self._size_length + index_length:
            left -= self._size_length
            size = (headers >> left) & ((1 << self._size_length) - 1)
            left -= index_length
            header_bits -= self._size_length + index_length
            index_length = self._delta_length
            frame = payload[data : data + size]
            if len(frame) < size:
                if count == 0 and not marker:  # the first part of a fragmented unit
                    self._fragment = [frame.tobytes()]
                    self._fragment_size = size
                    self._fragment_ts = timestamp
                else:
                    self.frames_dropped += 1
                return
            ts = timestamp + count * self._frame_samples
            out.append(
                MediaPacket(frame.tobytes(), ts, ts, False, now, self._frame_samples, audio=True)
            )
            self.frames += 1
            data += size
            count += 1

    def _continue_fragment(
        self, body: memoryview, timestamp: int, marker: bool, now: float, out: list[MediaPacket]
    ) -> None:
        if timestamp != self._fragment_ts:
            self.lost()
            return
        self._fragment.append(body.tobytes())
        if not marker:
            return
        data = b"".join(self._fragment)
        self._fragment = []
        if len(data) != self._fragment_size:
            self.frames_dropped += 1
            return
        out.append(MediaPacket(data, timestamp, timestamp, False, now, self._frame_samples, True))
        self.frames += 1


class G711Depacketizer:
    """G.711 (PCMU, PCMA): each payload is a packet of 8-bit samples."""

    def __init__(self, channels: int = 1) -> None:
        self._channels = max(channels, 1)
        self.frames = 0
        self.frames_dropped = 0

    def lost(self) -> None:
        """Nothing to repair: the next payload stands alone."""

    def push(
        self, payload: memoryview, timestamp: int, marker: bool, now: float, out: list[MediaPacket]
    ) -> None:
        """Append the payload as one packet."""
        if not payload:
            return
        samples = len(payload) // self._channels
        out.append(MediaPacket(payload.tobytes(), timestamp, timestamp, False, now, samples, True))
        self.frames += 1


def native_video_track() -> type[VideoTrack] | None:
    """The C video track (``cityhub.media._rtpvideo``), or None when it was not built.

    It is built at installation when a C compiler and Python's headers are there (``setup.py``;
    ``.ci/bootstrap`` installs both). ``CITYHUB_PURE_PYTHON_RTP=1`` turns it off, to compare.
    """
    if os.environ.get(PURE_PYTHON_ENV, "") not in {"", "0"}:
        return None
    try:
        from cityhub.media._rtpvideo import VideoTrack
    except ImportError:
        return None
    return VideoTrack


def make_video_track(payload_type: int, clock_rate: int, *, hevc: bool) -> RtpTrack | VideoTrack:
    """A video track, in C when built, else in Python: the same packets for the same input.

    H.264 access units are handed out length-prefixed (as MP4 stores them), H.265 Annex-B.
    ``tests/media/test_rtp_fast.py`` holds the two implementations to the same results.
    """
    native = native_video_track()
    if native is not None:
        return native(payload_type, clock_rate, MediaPacket, not hevc, hevc)
    depacketizer = VideoDepacketizer(hevc=hevc, length_prefixed=not hevc)
    return RtpTrack(depacketizer, payload_type, clock_rate)
