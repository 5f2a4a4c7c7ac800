"""Fragmented MP4 for live view: an init segment from SPS/PPS, then one fragment per frame.

Browsers play live video through Media Source Extensions, which take fragmented MP4. FFmpeg's
muxer holds each fragment until the next packet arrives (one frame of latency, ~40 ms at
25 fps); this writer emits each frame's ``moof`` + ``mdat`` the moment the frame is read, so a
frame leaves the hub a few milliseconds after it arrived. H.264 only: the browsers of the
control room decode H.264 in MSE (an H.265 camera shows its H.264 sub-stream).

Box layout (ISO/IEC 14496-12 and 14496-15): ``ftyp`` + ``moov`` (``mvhd``, one video
``trak`` whose ``avc1`` sample entry carries the ``avcC`` record, ``mvex``/``trex``), then per
frame ``moof`` (``mfhd``, ``traf``: ``tfhd`` with default-base-is-moof, ``tfdt`` with the
frame's decode time, ``trun`` with one sample) and ``mdat`` (the frame as 4-byte
length-prefixed NAL units, without parameter sets or access unit delimiters).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

from cityhub.api import MediaPacket, StreamInfo
from cityhub.media.fmp4_writer import box, full_box

__all__ = ["LiveFmp4Writer", "UnsupportedCodecError", "split_nal_units"]

_NAL_SPS = 7
_NAL_PPS = 8
_NAL_AUD = 9
_NAL_IDR = 5

_KEY_FLAGS = 0x02000000  # sample_depends_on = 2: depends on no other sample
_DELTA_FLAGS = 0x01010000  # sample_depends_on = 1, sample_is_non_sync_sample = 1

_TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400 | 0x000800
"""data offset, sample duration, sample size, sample flags, composition time offset."""

_MATRIX = struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)


class UnsupportedCodecError(ValueError):
    """The stream is not H.264 (or its parameter sets are missing): live view cannot mux it."""


def split_nal_units(data: bytes, length_size: int = 0) -> Iterator[bytes]:
    """The NAL units of an access unit: Annex-B (``length_size`` 0) or length-prefixed."""
    if length_size:
        offset, end = 0, len(data)
        while offset + length_size <= end:
            size = int.from_bytes(data[offset : offset + length_size], "big")
            offset += length_size
            if size == 0 or offset + size > end:
                return
            yield data[offset : offset + size]
            offset += size
        return
    start = data.find(b"\x00\x00\x01")
    while start >= 0:
        begin = start + 3
        following = data.find(b"\x00\x00\x01", begin)
        end = len(data) if following < 0 else following
        # a 4-byte start code leaves its leading zero at the end of the previous unit
        unit = data[begin:end].rstrip(b"\x00") if following >= 0 else data[begin:end]
        if unit:
            yield unit
        start = following


class LiveFmp4Writer:
    """Turns one H.264 stream's packets into an init segment and per-frame fragments."""

    def __init__(self, info: StreamInfo) -> None:
        if info.codec != "h264":
            raise UnsupportedCodecError(
                f"live view plays H.264; this stream is {info.codec} (use an H.264 sub-stream)"
            )
        self._length_size = 0
        sps: list[bytes] = []
        pps: list[bytes] = []
        if info.length_prefixed:
            self._length_size = (info.extradata[4] & 0x03) + 1
            sps, pps = _parameter_sets_of_avcc(info.extradata)
        else:
            for unit in split_nal_units(info.extradata):
                kind = unit[0] & 0x1F
                if kind == _NAL_SPS:
                    sps.append(unit)
                elif kind == _NAL_PPS:
                    pps.append(unit)
        if not sps or not pps or len(sps[0]) < 4:
            raise UnsupportedCodecError("the stream gives no H.264 SPS and PPS to start from")
        self.info = info
        self._sps, self._pps = sps, pps
        num, den = info.time_base
        self.timescale = den if num == 1 else 90_000
        self._scale = (num * self.timescale, den)
        self.codec = f"avc1.{sps[0][1]:02X}{sps[0][2]:02X}{sps[0][3]:02X}"
        self.mime = f'video/mp4; codecs="{self.codec}"'
        fps = info.fps if info.fps > 0 else 25.0
        self.default_duration = max(1, round(self.timescale / fps))

    def ticks(self, value: int) -> int:
        """``value`` in the stream's time base, as ticks of this writer's timescale."""
        multiplier, divisor = self._scale
        return value * multiplier // divisor

    def init_segment(self) -> bytes:
        """``ftyp`` + ``moov``: what a browser's SourceBuffer needs before any fragment."""
        width, height = self.info.width, self.info.height
        ftyp = box(b"ftyp", b"iso5", struct.pack(">I", 512), b"iso5iso6avc1mp41")
        mvhd = full_box(
            b"mvhd", 0, 0,
            struct.pack(">IIII", 0, 0, self.timescale, 0),
            struct.pack(">IH", 0x00010000, 0x0100), bytes(10), _MATRIX, bytes(24),
            struct.pack(">I", 2),
        )  # fmt: skip
        tkhd = full_box(
            b"tkhd", 0, 0x000003,
            struct.pack(">IIIII", 0, 0, 1, 0, 0), bytes(8),
            struct.pack(">hhhH", 0, 0, 0, 0), _MATRIX,
            struct.pack(">II", width << 16, height << 16),
        )  # fmt: skip
        mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, self.timescale, 0, 0x55C4, 0))
        hdlr = full_box(b"hdlr", 0, 0, bytes(4), b"vide", bytes(12), b"cityhub live\x00")
        avcc = box(
            b"avcC",
            bytes([1, self._sps[0][1], self._sps[0][2], self._sps[0][3], 0xFF]),
            bytes([0xE0 | len(self._sps)]),
            b"".join(struct.pack(">H", len(s)) + s for s in self._sps),
            bytes([len(self._pps)]),
            b"".join(struct.pack(">H", len(p)) + p for p in self._pps),
        )
        avc1 = box(
            b"avc1",
            bytes(6), struct.pack(">H", 1), bytes(16),
            struct.pack(">HHIIIH", width, height, 0x00480000, 0x00480000, 0, 1),
            bytes(32), struct.pack(">Hh", 0x0018, -1), avcc,
        )  # fmt: skip
        stbl = box(
            b"stbl",
            full_box(b"stsd", 0, 0, struct.pack(">I", 1), avc1),
            full_box(b"stts", 0, 0, struct.pack(">I", 0)),
            full_box(b"stsc", 0, 0, struct.pack(">I", 0)),
            full_box(b"stsz", 0, 0, struct.pack(">II", 0, 0)),
            full_box(b"stco", 0, 0, struct.pack(">I", 0)),
        )
        dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
        minf = box(b"minf", full_box(b"vmhd", 0, 1, bytes(8)), dinf, stbl)
        trak = box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, minf))
        mvex = box(b"mvex", full_box(b"trex", 0, 0, struct.pack(">IIIII", 1, 1, 0, 0, 0)))
        return ftyp + box(b"moov", mvhd, trak, mvex)

    def fragment(
        self, packet: MediaPacket, decode_time: int, duration: int, sequence: int
    ) -> bytes:
        """One frame as ``moof`` + ``mdat``; ``decode_time`` and ``duration`` in ticks.

        ``sequence`` is the fragment's number (``mfhd``), increasing along the stream. The
        writer keeps no state between calls: the ingest thread and the event loop may both
        build fragments of the same stream.
        """
        units = [
            unit
            for unit in split_nal_units(packet.data, self._length_size)
            if (unit[0] & 0x1F) not in (_NAL_SPS, _NAL_PPS, _NAL_AUD)
        ]
        sample = b"".join(struct.pack(">I", len(unit)) + unit for unit in units)
        keyframe = packet.keyframe or any((u[0] & 0x1F) == _NAL_IDR for u in units)
        offset = self.ticks(packet.pts - packet.dts)
        trun_size = 8 + 4 + 4 + 4 + 16
        traf_size = 8 + 16 + 20 + trun_size
        moof_size = 8 + 16 + traf_size
        moof = box(
            b"moof",
            full_box(b"mfhd", 0, 0, struct.pack(">I", sequence)),
            box(
                b"traf",
                full_box(b"tfhd", 0, 0x020000, struct.pack(">I", 1)),
                full_box(b"tfdt", 1, 0, struct.pack(">Q", max(0, decode_time))),
                full_box(
                    b"trun", 1, _TRUN_FLAGS,
                    struct.pack(">Ii", 1, moof_size + 8),
                    struct.pack(
                        ">IIIi", max(1, duration), len(sample),
                        _KEY_FLAGS if keyframe else _DELTA_FLAGS, offset,
                    ),
                ),
            ),
        )  # fmt: skip
        assert len(moof) == moof_size
        return moof + box(b"mdat", sample)


def _parameter_sets_of_avcc(record: bytes) -> tuple[list[bytes], list[bytes]]:
    sps: list[bytes] = []
    pps: list[bytes] = []
    try:
        offset = 5
        count = record[offset] & 0x1F
        offset += 1
        for _ in range(count):
            size = int.from_bytes(record[offset : offset + 2], "big")
            sps.append(record[offset + 2 : offset + 2 + size])
            offset += 2 + size
        count = record[offset]
        offset += 1
        for _ in range(count):
            size = int.from_bytes(record[offset : offset + 2], "big")
            pps.append(record[offset + 2 : offset + 2 + size])
            offset += 2 + size
    except IndexError:
        return [], []
    return sps, pps
