"""What a recorder needs from H.264 and H.265 parameter sets: picture size and frame rate.

Only the sequence parameter set is read, up to the picture size (and, for H.264, the VUI's
timing information); nothing is decoded.
"""

from __future__ import annotations

import attrs

__all__ = [
    "H264_IDR",
    "H264_PARAMETER_SETS",
    "HEVC_PARAMETER_SETS",
    "BitstreamError",
    "SequenceInfo",
    "h264_sps",
    "hevc_is_irap",
    "hevc_sps",
]

H264_IDR = 5
H264_PARAMETER_SETS = frozenset({7, 8})
HEVC_PARAMETER_SETS = frozenset({32, 33, 34})
_HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


class BitstreamError(ValueError):
    """A parameter set is truncated or malformed."""


@attrs.frozen
class SequenceInfo:
    """The picture size of a sequence, its frame rate (0 when the SPS does not say), and the
    chroma format and bit depths a decoder configuration record repeats."""

    width: int
    height: int
    fps: float = 0.0
    chroma_format: int = 1
    bit_depth_luma: int = 8
    bit_depth_chroma: int = 8


def hevc_is_irap(nal_type: int) -> bool:
    """Whether an H.265 NAL unit type is an intra random access point (BLA, IDR, CRA)."""
    return 16 <= nal_type <= 23


def unescape(data: bytes) -> bytes:
    """``data`` without its emulation prevention bytes (``00 00 03`` becomes ``00 00``)."""
    if b"\x00\x00\x03" not in data:
        return data
    out = bytearray()
    zeros = 0
    for byte in data:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


class _Bits:
    """An MSB-first bit reader with Exp-Golomb codes, over an unescaped RBSP."""

    def __init__(self, data: bytes) -> None:
        self._value = int.from_bytes(data, "big")
        self._left = len(data) * 8

    def u(self, count: int) -> int:
        if count > self._left:
            raise BitstreamError("parameter set is truncated")
        self._left -= count
        return (self._value >> self._left) & ((1 << count) - 1)

    def skip(self, count: int) -> None:
        self.u(count)

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise BitstreamError("Exp-Golomb code is too long")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code & 1 else -(code // 2)


def _scaling_list(bits: _Bits, size: int) -> None:
    last = following = 8
    for _ in range(size):
        if following:
            following = (last + bits.se() + 256) % 256
        last = following or last


def _crop_units(chroma_format: int) -> tuple[int, int]:
    """(SubWidthC, SubHeightC) of a chroma format (monochrome and 4:4:4 are 1, 1)."""
    return {1: (2, 2), 2: (2, 1)}.get(chroma_format, (1, 1))


def h264_sps(nal: bytes) -> SequenceInfo:
    """Picture size and frame rate of an H.264 SPS NAL unit (header byte included)."""
    bits = _Bits(unescape(nal[1:]))
    profile = bits.u(8)
    bits.skip(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    chroma_format = 1
    separate_planes = 0
    depth_luma = depth_chroma = 8
    if profile in _HIGH_PROFILES:
        chroma_format = bits.ue()
        if chroma_format == 3:
            separate_planes = bits.u(1)
        depth_luma = bits.ue() + 8
        depth_chroma = bits.ue() + 8
        bits.skip(1)  # qpprime_y_zero_transform_bypass_flag
        if bits.u(1):  # seq_scaling_matrix_present_flag
            for index in range(8 if chroma_format != 3 else 12):
                if bits.u(1):
                    _scaling_list(bits, 16 if index < 6 else 64)
    bits.ue()  # log2_max_frame_num_minus4
    poc_type = bits.ue()
    if poc_type == 0:
        bits.ue()
    elif poc_type == 1:
        bits.skip(1)
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.skip(1)  # gaps_in_frame_num_value_allowed_flag
    width_mbs = bits.ue() + 1
    height_units = bits.ue() + 1
    frame_mbs_only = bits.u(1)
    if not frame_mbs_only:
        bits.skip(1)  # mb_adaptive_frame_field_flag
    bits.skip(1)  # direct_8x8_inference_flag
    crop = (0, 0, 0, 0)
    if bits.u(1):
        crop = (bits.ue(), bits.ue(), bits.ue(), bits.ue())
    unit_x, unit_y = _crop_units(0 if separate_planes else chroma_format)
    unit_y *= 2 - frame_mbs_only
    width = width_mbs * 16 - unit_x * (crop[0] + crop[1])
    height = (2 - frame_mbs_only) * height_units * 16 - unit_y * (crop[2] + crop[3])
    fps = 0.0
    try:
        if bits.u(1):  # vui_parameters_present_flag
            fps = _h264_vui_fps(bits)
    except BitstreamError:
        fps = 0.0  # a cut VUI loses only the frame rate
    return SequenceInfo(width, height, fps, chroma_format, depth_luma, depth_chroma)


def _h264_vui_fps(bits: _Bits) -> float:
    if bits.u(1) and bits.u(8) == 255:  # aspect_ratio_info_present, Extended_SAR
        bits.skip(32)
    if bits.u(1):  # overscan_info_present_flag
        bits.skip(1)
    if bits.u(1):  # video_signal_type_present_flag
        bits.skip(4)
        if bits.u(1):
            bits.skip(24)
    if bits.u(1):  # chroma_loc_info_present_flag
        bits.ue()
        bits.ue()
    if not bits.u(1):  # timing_info_present_flag
        return 0.0
    units, scale = bits.u(32), bits.u(32)
    return scale / (2 * units) if units else 0.0


def hevc_sps(nal: bytes) -> SequenceInfo:
    """Picture size of an H.265 SPS NAL unit (two header bytes included); no frame rate."""
    bits = _Bits(unescape(nal[2:]))
    bits.skip(4)  # sps_video_parameter_set_id
    sub_layers = bits.u(3)
    bits.skip(1)  # sps_temporal_id_nesting_flag
    bits.skip(96)  # general profile, tier and level
    present = [(bits.u(1), bits.u(1)) for _ in range(sub_layers)]
    if sub_layers:
        bits.skip(2 * (8 - sub_layers))
    for profile_present, level_present in present:
        bits.skip(88 * profile_present + 8 * level_present)
    bits.ue()  # sps_seq_parameter_set_id
    chroma_format = declared_chroma = bits.ue()
    if chroma_format == 3 and bits.u(1):  # separate_colour_plane_flag
        chroma_format = 0
    width, height = bits.ue(), bits.ue()
    if bits.u(1):  # conformance_window_flag
        left, right, top, bottom = bits.ue(), bits.ue(), bits.ue(), bits.ue()
        unit_x, unit_y = _crop_units(chroma_format)
        width -= unit_x * (left + right)
        height -= unit_y * (top + bottom)
    depth_luma, depth_chroma = bits.ue() + 8, bits.ue() + 8
    return SequenceInfo(width, height, 0.0, declared_chroma, depth_luma, depth_chroma)
