"""A machine-readable clock burnt into the picture, to measure glass-to-glass latency.

The clock is a row of black and white blocks that a reader (this module, or the panel's
latency benchmark in JavaScript) decodes back from a decoded video frame, whatever its size.
Every position is a fraction of the picture's width ``W`` and height ``H``:

* The band spans ``x`` from ``0.04 W`` to ``0.96 W`` and ``y`` from ``0.85 H`` to ``0.96 H``.
  It is split into 35 cells of equal width ``0.92 W / 35``; cell ``i`` starts at
  ``x = (0.04 + i * 0.92 / 35) W``.
* Cell 0 is white and cell 1 is black (guards: they give the reader its white and black
  levels). Cells 2 to 33 carry the 32 bits of ``ms mod 2**32``, most significant bit first
  (white is 1, black is 0), where ``ms`` is the capture time in milliseconds since the POSIX
  epoch (UTC). Cell 34 is an even-parity bit: the number of white cells among 2..34 is even.
* A mid-grey margin of ``0.01 W`` and ``0.01 H`` surrounds the band; readers ignore it.

To read a cell, average the luma (``0.299 R + 0.587 G + 0.114 B``) of its central half (the
middle 50 % of its width and of its height). The threshold is the mean of the two guards; a
reading is refused when the guards differ by less than 64 levels, when a cell lies within a
quarter of that contrast from the threshold, or when the parity does not hold.

The 32-bit value wraps every 49.7 days; give ``reference_ms`` (the reader's own time) to get
the full millisecond time back.
"""

from __future__ import annotations

from PIL import Image, ImageDraw, ImageStat

__all__ = ["CLOCK_BITS", "CLOCK_CELLS", "decode_clock", "encode_clock", "unwrap_clock"]

BAND_LEFT = 0.04
BAND_RIGHT = 0.96
BAND_TOP = 0.85
BAND_BOTTOM = 0.96
MARGIN_X = 0.01
MARGIN_Y = 0.01
CLOCK_BITS = 32
CLOCK_CELLS = 2 + CLOCK_BITS + 1
"""Two guards, the data bits, one parity bit."""

WHITE = (255, 255, 255)
BLACK = (0, 0, 0)
GREY = (128, 128, 128)
MIN_CONTRAST = 64.0
"""Luma levels between the guards below which the band is not considered present."""
AMBIGUITY = 0.25
"""Fraction of the guard contrast around the threshold in which a cell is unreadable."""

_MODULO = 1 << CLOCK_BITS


def _cells(ms: int) -> list[bool]:
    """The colour of each cell (True for white) for the time ``ms``."""
    value = ms % _MODULO
    bits = [bool((value >> (CLOCK_BITS - 1 - i)) & 1) for i in range(CLOCK_BITS)]
    parity = sum(bits) % 2 == 1
    return [True, False, *bits, parity]


def _cell_box(index: int, width: int, height: int) -> tuple[float, float, float, float]:
    """The cell's rectangle in pixels (left, top, right, bottom), unrounded."""
    step = (BAND_RIGHT - BAND_LEFT) / CLOCK_CELLS
    left = (BAND_LEFT + index * step) * width
    right = (BAND_LEFT + (index + 1) * step) * width
    return left, BAND_TOP * height, right, BAND_BOTTOM * height


def encode_clock(image: Image.Image, ms: int) -> None:
    """Draw the clock for the time ``ms`` (milliseconds since the epoch) onto ``image``."""
    width, height = image.size
    draw = ImageDraw.Draw(image)
    draw.rectangle(
        (
            round((BAND_LEFT - MARGIN_X) * width),
            round((BAND_TOP - MARGIN_Y) * height),
            round((BAND_RIGHT + MARGIN_X) * width) - 1,
            round((BAND_BOTTOM + MARGIN_Y) * height) - 1,
        ),
        fill=GREY,
    )
    for index, white in enumerate(_cells(ms)):
        left, top, right, bottom = _cell_box(index, width, height)
        draw.rectangle(
            (round(left), round(top), round(right) - 1, round(bottom) - 1),
            fill=WHITE if white else BLACK,
        )


def _cell_luma(luma: Image.Image, index: int) -> float:
    """The mean luma of the central half of cell ``index``."""
    left, top, right, bottom = _cell_box(index, *luma.size)
    quarter_w = (right - left) / 4
    quarter_h = (bottom - top) / 4
    box = (
        round(left + quarter_w),
        round(top + quarter_h),
        max(round(right - quarter_w), round(left + quarter_w) + 1),
        max(round(bottom - quarter_h), round(top + quarter_h) + 1),
    )
    return float(ImageStat.Stat(luma.crop(box)).mean[0])


def decode_clock(image: Image.Image, reference_ms: int | None = None) -> int | None:
    """Read the clock back from ``image``: ``ms mod 2**32``, or ``None`` when unreadable.

    With ``reference_ms`` the result is the full time in milliseconds nearest to it.
    """
    luma = image.convert("L")
    levels = [_cell_luma(luma, i) for i in range(CLOCK_CELLS)]
    white, black = levels[0], levels[1]
    contrast = white - black
    if contrast < MIN_CONTRAST:
        return None
    threshold = (white + black) / 2
    margin = contrast * AMBIGUITY
    if any(abs(level - threshold) < margin for level in levels[2:]):
        return None
    bits = [level > threshold for level in levels[2:]]
    if sum(bits) % 2 != 0:
        return None
    value = 0
    for bit in bits[:CLOCK_BITS]:
        value = (value << 1) | int(bit)
    if reference_ms is None:
        return value
    return unwrap_clock(value, reference_ms)


def unwrap_clock(value: int, reference_ms: int) -> int:
    """The time in milliseconds whose low 32 bits are ``value`` and nearest ``reference_ms``."""
    base = reference_ms - reference_ms % _MODULO
    candidates = (base - _MODULO + value, base + value, base + _MODULO + value)
    return min(candidates, key=lambda candidate: abs(candidate - reference_ms))
