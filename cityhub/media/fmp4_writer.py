"""A small fragmented MP4 writer for H.264/H.265 video and AAC audio, without FFmpeg.

The layout is the one :mod:`cityhub.media.fmp4` reads back: ``ftyp`` and a ``moov`` without
samples (``mvex``/``trex`` per track) written at once, then a ``moof`` + ``mdat`` pair per
fragment, a fragment starting at each video keyframe (``tfhd`` default-base-is-moof, ``tfdt``
decode time, ``trun`` with durations, sizes, flags and, when pts differs from dts,
composition offsets). A crash leaves every complete fragment playable.

Why not FFmpeg's ``mp4`` muxer through PyAV: muxing through it needed an encoder opened per
segment file (PyAV attaches one to every output stream: libx264 with its threads and frame
buffers, several MB per camera for nothing) and a Python ``Packet`` per frame; the boxes are
simple enough to write directly, with one write per fragment.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from cityhub.api import AudioInfo, StreamInfo
from cityhub.media.h26x import BitstreamError, SequenceInfo, h264_sps, hevc_sps, unescape

__all__ = [
    "Fmp4Writer",
    "UnsupportedTrackError",
    "annexb_units",
    "avcc_record",
    "fmp4_supports",
]

_SAMPLE_SYNC = 0x02000000
"""sample_depends_on = 2 (an I picture)."""
_SAMPLE_NON_SYNC = 0x01010000
"""sample_depends_on = 1 and sample_is_non_sync_sample."""
_MATRIX = struct.pack(">9I", 0x10000, 0, 0, 0, 0x10000, 0, 0, 0, 0x40000000)
_VIDEO_TRACK = 1
_AUDIO_TRACK = 2


class UnsupportedTrackError(ValueError):
    """The stream cannot be written by this writer (codec or parameter sets)."""


def fmp4_supports(info: StreamInfo) -> bool:
    """Whether :class:`Fmp4Writer` can write ``info`` (else FFmpeg's muxer must)."""
    if info.codec not in {"h264", "hevc", "h265"} or info.time_base[0] <= 0:
        return False
    if info.length_prefixed and (len(info.extradata) < 5 or info.extradata[4] & 3 != 3):
        return False  # length fields other than 4 bytes: left to FFmpeg
    return info.audio is None or info.audio.codec == "aac"


def box(kind: bytes, *payload: bytes) -> bytes:
    """An ISO BMFF box."""
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), kind) + body


def full_box(kind: bytes, version: int, flags: int, *payload: bytes) -> bytes:
    """An ISO BMFF full box (version and flags first)."""
    return box(kind, struct.pack(">I", (version << 24) | flags), *payload)


def annexb_units(data: bytes) -> list[memoryview]:
    """The NAL units of an Annex-B byte string (start codes and trailing zeros left out)."""
    view = memoryview(data)
    units: list[memoryview] = []
    find = data.find
    pos = find(b"\x00\x00\x01")
    while pos >= 0:
        start = pos + 3
        pos = find(b"\x00\x00\x01", start)
        end = len(data) if pos < 0 else pos
        while end > start and data[end - 1] == 0:
            end -= 1
        if end > start:
            units.append(view[start:end])
    return units


def _length_prefixed(data: bytes) -> list[bytes | memoryview]:
    parts: list[bytes | memoryview] = []
    for unit in annexb_units(data):
        parts.append(len(unit).to_bytes(4, "big"))
        parts.append(unit)
    return parts


def avcc_record(units: list[bytes]) -> bytes:
    """The ``avcC`` record (4-byte lengths) of H.264 parameter sets (SPS and PPS NAL units)."""
    sps = next((u for u in units if u and u[0] & 0x1F == 7), None)
    if sps is None or not any(u and u[0] & 0x1F == 8 for u in units):
        raise UnsupportedTrackError("no H.264 SPS and PPS to describe the track")
    try:
        return _avcc([u for u in units if u], h264_sps(sps))
    except BitstreamError as err:
        raise UnsupportedTrackError(f"unreadable parameter sets: {err}") from err


def _avcc(units: list[bytes], sequence: SequenceInfo) -> bytes:
    sps = [u for u in units if u[0] & 0x1F == 7]
    pps = [u for u in units if u[0] & 0x1F == 8]
    first = sps[0]
    record = bytearray((1, first[1], first[2], first[3], 0xFF, 0xE0 | len(sps)))
    for unit in sps:
        record += len(unit).to_bytes(2, "big") + unit
    record.append(len(pps))
    for unit in pps:
        record += len(unit).to_bytes(2, "big") + unit
    if first[1] not in (66, 77, 88):
        record += bytes(
            (
                0xFC | sequence.chroma_format,
                0xF8 | (sequence.bit_depth_luma - 8),
                0xF8 | (sequence.bit_depth_chroma - 8),
                0,
            )
        )
    return bytes(record)


def _hvcc(units: list[bytes], sequence: SequenceInfo) -> bytes:
    sps = next(u for u in units if (u[0] >> 1) & 0x3F == 33)
    rbsp = unescape(sps[2:])
    if len(rbsp) < 13:
        raise UnsupportedTrackError("the H.265 SPS is too short")
    sub_layers = (rbsp[0] >> 1) & 0x07
    nesting = rbsp[0] & 1
    ptl = rbsp[1:13]
    record = bytearray((1,))
    record += ptl[:11]  # profile space, tier, profile, compatibility and constraint flags
    record.append(ptl[11])  # level
    record += bytes(
        (
            0xF0,
            0x00,  # min_spatial_segmentation_idc
            0xFC,  # parallelismType
            0xFC | sequence.chroma_format,
            0xF8 | (sequence.bit_depth_luma - 8),
            0xF8 | (sequence.bit_depth_chroma - 8),
            0,
            0,  # avgFrameRate
            ((sub_layers + 1) << 3) | (nesting << 2) | 3,  # 4-byte NAL lengths
        )
    )
    arrays = [(kind, [u for u in units if (u[0] >> 1) & 0x3F == kind]) for kind in (32, 33, 34)]
    arrays = [(kind, found) for kind, found in arrays if found]
    record.append(len(arrays))
    for kind, found in arrays:
        record.append(0x80 | kind)  # array_completeness
        record += len(found).to_bytes(2, "big")
        for unit in found:
            record += len(unit).to_bytes(2, "big") + unit
    return bytes(record)


def _video_entry(info: StreamInfo, first_sample: bytes) -> bytes:
    """The ``avc1``/``hev1`` sample entry, its configuration record from the parameter sets."""
    hevc = info.codec in {"hevc", "h265"}
    if info.length_prefixed:
        record = info.extradata
    else:
        source = info.extradata or first_sample
        units = [bytes(u) for u in annexb_units(source)]
        try:
            if hevc:
                sps = next((u for u in units if (u[0] >> 1) & 0x3F == 33), None)
                if sps is None or not any((u[0] >> 1) & 0x3F == 32 for u in units):
                    raise UnsupportedTrackError("no H.265 VPS and SPS to describe the track")
                record = _hvcc(units, hevc_sps(sps))
            else:
                record = avcc_record(units)
        except BitstreamError as err:
            raise UnsupportedTrackError(f"unreadable parameter sets: {err}") from err
    visual = (
        bytes(6)
        + struct.pack(">H", 1)  # data_reference_index
        + bytes(16)
        + struct.pack(">HHIIIH", info.width, info.height, 0x480000, 0x480000, 0, 1)
        + bytes(32)  # compressorname
        + struct.pack(">Hh", 0x18, -1)
    )
    if hevc:
        return box(b"hev1", visual, box(b"hvcC", record))
    return box(b"avc1", visual, box(b"avcC", record))


def _descriptor(tag: int, body: bytes) -> bytes:
    size = len(body)
    length = bytes(
        (
            0x80 | (size >> 21) & 0x7F,
            0x80 | (size >> 14) & 0x7F,
            0x80 | (size >> 7) & 0x7F,
            size & 0x7F,
        )
    )
    return bytes((tag,)) + length + body


def _audio_entry(audio: AudioInfo) -> bytes:
    config = _descriptor(
        0x04,
        bytes((0x40, 0x15))
        + bytes(3)
        + struct.pack(">II", 0, 0)
        + _descriptor(0x05, audio.extradata),
    )
    es = _descriptor(
        0x03, struct.pack(">HB", _AUDIO_TRACK, 0) + config + _descriptor(0x06, b"\x02")
    )
    rate = audio.sample_rate if audio.sample_rate < 0x10000 else 0
    sound = (
        bytes(6)
        + struct.pack(">H", 1)
        + bytes(8)
        + struct.pack(">HHHHI", max(audio.channels, 1), 16, 0, 0, rate << 16)
    )
    return box(b"mp4a", sound, full_box(b"esds", 0, 0, es))


def _trak(
    track_id: int, timescale: int, handler: bytes, entry: bytes, info: StreamInfo | None
) -> bytes:
    width = (info.width << 16) if info is not None else 0
    height = (info.height << 16) if info is not None else 0
    volume = 0 if info is not None else 0x0100
    tkhd = full_box(
        b"tkhd",
        0,
        3,
        struct.pack(">IIIII", 0, 0, track_id, 0, 0),
        bytes(8),
        struct.pack(">hhhH", 0, 0, volume, 0),
        _MATRIX,
        struct.pack(">II", width, height),
    )
    mdhd = full_box(b"mdhd", 0, 0, struct.pack(">IIIIHH", 0, 0, timescale, 0, 0x55C4, 0))
    name = b"VideoHandler\0" if handler == b"vide" else b"SoundHandler\0"
    hdlr = full_box(b"hdlr", 0, 0, struct.pack(">I4s", 0, handler), bytes(12), name)
    header = (
        full_box(b"vmhd", 0, 1, bytes(8))
        if handler == b"vide"
        else full_box(b"smhd", 0, 0, bytes(4))
    )
    dinf = box(b"dinf", full_box(b"dref", 0, 0, struct.pack(">I", 1), full_box(b"url ", 0, 1)))
    stbl = box(
        b"stbl",
        full_box(b"stsd", 0, 0, struct.pack(">I", 1), entry),
        full_box(b"stts", 0, 0, bytes(4)),
        full_box(b"stsc", 0, 0, bytes(4)),
        full_box(b"stsz", 0, 0, bytes(8)),
        full_box(b"stco", 0, 0, bytes(4)),
    )
    return box(b"trak", tkhd, box(b"mdia", mdhd, hdlr, box(b"minf", header, dinf, stbl)))


class Fmp4Writer:
    """Writes one fragmented MP4 file through ``write``: a fragment per video keyframe.

    Video dts/pts and audio dts count the tracks' time bases from the file's start (>= 0).
    ``info`` must pass :func:`fmp4_supports`; ``first_sample`` (the first keyframe) supplies
    the parameter sets when ``info`` carries none.
    """

    def __init__(
        self, write: Callable[[bytes], object], info: StreamInfo, first_sample: bytes
    ) -> None:
        if not fmp4_supports(info):
            raise UnsupportedTrackError(f"codec {info.codec!r} is not written by Fmp4Writer")
        self._write = write
        self._split = not info.length_prefixed
        self._scale = info.time_base[0]
        timescale = info.time_base[1]
        self._audio = info.audio
        self._audio_scale = 1
        tracks = [_trak(_VIDEO_TRACK, timescale, b"vide", _video_entry(info, first_sample), info)]
        trex = [full_box(b"trex", 0, 0, struct.pack(">IIIII", _VIDEO_TRACK, 1, 0, 0, 0))]
        if info.audio is not None:
            self._audio_scale = info.audio.time_base[0]
            tracks.append(
                _trak(
                    _AUDIO_TRACK, info.audio.time_base[1], b"soun", _audio_entry(info.audio), None
                )
            )
            trex.append(full_box(b"trex", 0, 0, struct.pack(">IIIII", _AUDIO_TRACK, 1, 0, 0, 0)))
        mvhd = full_box(
            b"mvhd",
            0,
            0,
            struct.pack(">IIIIIH", 0, 0, 1000, 0, 0x10000, 0x0100),
            bytes(10),
            _MATRIX,
            bytes(24),
            struct.pack(">I", len(tracks) + 1),
        )
        ftyp = box(b"ftyp", b"iso5", struct.pack(">I", 512), b"iso5iso6mp41")
        write(ftyp + box(b"moov", mvhd, *tracks, box(b"mvex", *trex)))
        self._sequence = 0
        self._video: list[tuple[int, int, int, bool]] = []  # dts, pts, size, keyframe
        self._video_data: list[bytes | memoryview] = []
        self._audio_samples: list[tuple[int, int, int]] = []  # dts, duration, size
        self._audio_data: list[bytes] = []
        self._last_step = 0

    def add_video(self, data: bytes, dts: int, pts: int, keyframe: bool) -> bool:
        """Add a video sample; True when a fragment was written before it (a new keyframe)."""
        flushed = False
        if keyframe and self._video:
            self._flush(dts)
            flushed = True
        elif self._video:
            self._last_step = dts - self._video[-1][0]
        if self._split:
            parts = _length_prefixed(data)
            size = sum(len(p) for p in parts)
            self._video_data.extend(parts)
        else:
            size = len(data)
            self._video_data.append(data)
        self._video.append((dts, pts, size, keyframe))
        return flushed

    def add_audio(self, data: bytes, dts: int, duration: int) -> None:
        """Add an audio sample (an AAC access unit) to the fragment under way."""
        if self._audio is None:
            return
        self._audio_samples.append((dts, duration, len(data)))
        self._audio_data.append(data)

    def close(self, last_duration: int = 0) -> None:
        """Write the last fragment; ``last_duration`` of its last video sample (0: as before)."""
        if self._video:
            step = last_duration or self._last_step or 1
            self._flush(self._video[-1][0] + step)

    def _flush(self, next_dts: int) -> None:
        video, self._video = self._video, []
        audio, self._audio_samples = self._audio_samples, []
        self._sequence += 1
        scale = self._scale
        reordered = any(pts != dts for dts, pts, _size, _key in video)
        flat: list[int] = []
        for index, (dts, pts, size, keyframe) in enumerate(video):
            following = video[index + 1][0] if index + 1 < len(video) else next_dts
            flat += [
                (following - dts) * scale,
                size,
                _SAMPLE_SYNC if keyframe else _SAMPLE_NON_SYNC,
            ]
            if reordered:
                flat.append((pts - dts) * scale)
        video_bytes = sum(size for _dts, _pts, size, _key in video)
        row = "IIIi" if reordered else "III"
        video_flags = 0x000701 | (0x000800 if reordered else 0)
        audio_flat: list[int] = []
        for _dts, duration, size in audio:
            audio_flat += [duration * self._audio_scale, size]

        def moof(video_offset: int, audio_offset: int) -> bytes:
            trafs = [
                box(
                    b"traf",
                    full_box(b"tfhd", 0, 0x020000, struct.pack(">I", _VIDEO_TRACK)),
                    full_box(b"tfdt", 1, 0, struct.pack(">Q", video[0][0] * scale)),
                    full_box(
                        b"trun",
                        1 if reordered else 0,
                        video_flags,
                        struct.pack(">Ii", len(video), video_offset),
                        struct.pack(">" + row * len(video), *flat),
                    ),
                )
            ]
            if audio:
                trafs.append(
                    box(
                        b"traf",
                        full_box(b"tfhd", 0, 0x020000, struct.pack(">I", _AUDIO_TRACK)),
                        full_box(b"tfdt", 1, 0, struct.pack(">Q", audio[0][0] * self._audio_scale)),
                        full_box(
                            b"trun",
                            0,
                            0x000301,
                            struct.pack(">Ii", len(audio), audio_offset),
                            struct.pack(">" + "II" * len(audio), *audio_flat),
                        ),
                    )
                )
            return box(b"moof", full_box(b"mfhd", 0, 0, struct.pack(">I", self._sequence)), *trafs)

        size = len(moof(0, 0))
        header = moof(size + 8, size + 8 + video_bytes)
        audio_bytes = sum(size for _dts, _duration, size in audio)
        mdat = struct.pack(">I4s", 8 + video_bytes + audio_bytes, b"mdat")
        data, self._video_data = self._video_data, []
        audio_data, self._audio_data = self._audio_data, []
        self._write(b"".join([header, mdat, *data, *audio_data]))
