"""Reading the box structure of fragmented MP4 segment files, to check and repair them.

A segment file is ``ftyp``, ``moov`` (with ``mvex``: no samples of its own), then one
``moof`` + ``mdat`` pair per fragment, and possibly an index (``mfra``) once closed. A crash
leaves a file cut anywhere; :func:`scan` finds where the last complete fragment ends and how
much media the complete fragments hold, by reading the boxes only (no decoding). Media time
and samples are the video track's; an audio track in the same fragments is skipped.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator

import attrs

__all__ = ["FragmentScan", "NotFragmentedMp4Error", "scan"]

_HEADER = struct.Struct(">I4s")
_LARGE = struct.Struct(">Q")
_CONTAINERS = frozenset({b"moov", b"trak", b"mdia", b"mvex", b"moof", b"traf"})

# trun flags (ISO/IEC 14496-12, 8.8.8)
_TRUN_DATA_OFFSET = 0x001
_TRUN_FIRST_SAMPLE_FLAGS = 0x004
_TRUN_DURATION = 0x100
_TRUN_SIZE = 0x200
_TRUN_FLAGS = 0x400
_TRUN_CTO = 0x800
# tfhd flags (8.8.7)
_TFHD_BASE_OFFSET = 0x01
_TFHD_DESCRIPTION = 0x02
_TFHD_DURATION = 0x08


class NotFragmentedMp4Error(ValueError):
    """The data does not start with ``ftyp`` and ``moov``: not a segment file at all."""


@attrs.frozen
class FragmentScan:
    """What the complete part of a segment file holds.

    ``valid_bytes`` is where the last complete fragment ends (the file may be truncated
    there); ``duration_s`` is the media time the complete fragments cover, from the first
    fragment's decode time to the end of the last sample; ``complete`` says the file needs no
    repair (nothing follows the last complete box).
    """

    valid_bytes: int
    total_bytes: int
    fragments: int
    samples: int
    duration_s: float

    @property
    def complete(self) -> bool:
        """Whether every byte belongs to a complete box."""
        return self.valid_bytes == self.total_bytes


def _boxes(data: bytes | memoryview, start: int, end: int) -> Iterator[tuple[bytes, int, int]]:
    """``(type, payload start, box end)`` of each complete box in ``data[start:end]``."""
    pos = start
    while pos + _HEADER.size <= end:
        size, kind = _HEADER.unpack_from(data, pos)
        payload = pos + _HEADER.size
        if size == 1:
            if payload + _LARGE.size > end:
                return
            (size,) = _LARGE.unpack_from(data, payload)
            payload += _LARGE.size
        elif size == 0:
            size = end - pos
        if size < payload - pos or pos + size > end:
            return
        yield kind, payload, pos + size
        pos += size


def _find(data: bytes | memoryview, start: int, end: int, path: tuple[bytes, ...]) -> list[int]:
    """Payload starts of every box at ``path`` (container types nested) below ``start..end``."""
    found: list[int] = []
    for kind, payload, box_end in _boxes(data, start, end):
        if kind != path[0]:
            continue
        if len(path) == 1:
            found.append(payload)
        elif kind in _CONTAINERS:
            found.extend(_find(data, payload, box_end, path[1:]))
    return found


def _track(data: bytes | memoryview, moov: int, moov_end: int) -> tuple[int, int]:
    """``(track_ID, timescale)`` of the video track, else of the first track with a header."""
    found: list[tuple[int, int, bool]] = []
    for kind, trak, trak_end in _boxes(data, moov, moov_end):
        if kind != b"trak":
            continue
        tkhd = _find(data, trak, trak_end, (b"tkhd",))
        mdhd = _find(data, trak, trak_end, (b"mdia", b"mdhd"))
        hdlr = _find(data, trak, trak_end, (b"mdia", b"hdlr"))
        if not tkhd or not mdhd:
            continue
        offset = tkhd[0] + 4 + (16 if data[tkhd[0]] == 1 else 8)
        (track_id,) = struct.unpack_from(">I", data, offset)
        offset = mdhd[0] + 4 + (16 if data[mdhd[0]] == 1 else 8)
        (timescale,) = struct.unpack_from(">I", data, offset)
        video = bool(hdlr) and bytes(data[hdlr[0] + 8 : hdlr[0] + 12]) == b"vide"
        found.append((int(track_id), int(timescale), video))
    if not found:
        raise NotFragmentedMp4Error("moov has no track with a media header (mdhd)")
    track_id, timescale, _video = next((t for t in found if t[2]), found[0])
    return track_id, timescale


def _default_duration(data: bytes | memoryview, moov: int, moov_end: int, track_id: int) -> int:
    for trex in _find(data, moov, moov_end, (b"mvex", b"trex")):
        (trex_track, _index, duration) = struct.unpack_from(">III", data, trex + 4)
        if trex_track == track_id:
            return int(duration)
    return 0


def _fragment(
    data: bytes | memoryview, moof: int, moof_end: int, track_id: int, trex_duration: int
) -> tuple[int | None, int, int]:
    """``(base decode time or None, samples, summed duration)`` of one ``moof``'s track."""
    base: int | None = None
    samples = 0
    duration = 0
    for traf_kind, traf, traf_end in _boxes(data, moof, moof_end):
        if traf_kind != b"traf":
            continue
        tfhd = _find(data, traf, traf_end, (b"tfhd",))
        if tfhd and struct.unpack_from(">I", data, tfhd[0] + 4)[0] != track_id:
            continue
        default = trex_duration
        for kind, payload, _end in _boxes(data, traf, traf_end):
            flags = int.from_bytes(data[payload + 1 : payload + 4], "big")
            if kind == b"tfhd":
                offset = payload + 8
                offset += 8 if flags & _TFHD_BASE_OFFSET else 0
                offset += 4 if flags & _TFHD_DESCRIPTION else 0
                if flags & _TFHD_DURATION:
                    (default,) = struct.unpack_from(">I", data, offset)
            elif kind == b"tfdt":
                fmt = ">Q" if data[payload] == 1 else ">I"
                (base,) = struct.unpack_from(fmt, data, payload + 4)
            elif kind == b"trun":
                (count,) = struct.unpack_from(">I", data, payload + 4)
                offset = payload + 8
                offset += 4 if flags & _TRUN_DATA_OFFSET else 0
                offset += 4 if flags & _TRUN_FIRST_SAMPLE_FLAGS else 0
                stride = 4 * sum(
                    1 for bit in (_TRUN_DURATION, _TRUN_SIZE, _TRUN_FLAGS, _TRUN_CTO) if flags & bit
                )
                samples += count
                if flags & _TRUN_DURATION:
                    for index in range(count):
                        (step,) = struct.unpack_from(">I", data, offset + index * stride)
                        duration += step
                else:
                    duration += count * default
    return base, samples, duration


def scan(data: bytes | memoryview) -> FragmentScan:
    """Find the complete fragments of a segment file's bytes; raise if it is no fMP4 at all."""
    boxes = list(_boxes(data, 0, len(data)))
    if len(boxes) < 2 or boxes[0][0] != b"ftyp" or boxes[1][0] != b"moov":
        raise NotFragmentedMp4Error("the file does not start with complete ftyp and moov boxes")
    _, moov, moov_end = boxes[1]
    track_id, timescale = _track(data, moov, moov_end)
    trex_duration = _default_duration(data, moov, moov_end, track_id)
    valid = moov_end
    fragments = samples = 0
    first_time: int | None = None
    end_time = 0
    pending: tuple[int | None, int, int] | None = None
    for kind, payload, box_end in boxes[2:]:
        if kind == b"moof":
            pending = _fragment(data, payload, box_end, track_id, trex_duration)
            continue
        if kind == b"mdat" and pending is not None:
            base, count, duration = pending
            start = base if base is not None else end_time
            first_time = start if first_time is None else first_time
            end_time = start + duration
            fragments += 1
            samples += count
        pending = None
        valid = box_end
    seconds = (end_time - first_time) / timescale if first_time is not None and timescale else 0.0
    return FragmentScan(
        valid_bytes=valid,
        total_bytes=len(data),
        fragments=fragments,
        samples=samples,
        duration_s=seconds,
    )
