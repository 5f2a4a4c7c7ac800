"""The machine-readable clock: encode, decode, scale, refuse."""

from __future__ import annotations

import pytest
from PIL import Image, ImageDraw

from cityhub_virtual.clock import decode_clock, encode_clock, unwrap_clock

MS = 1_790_000_123_456


@pytest.mark.parametrize("size", [(640, 360), (1920, 1080), (320, 180), (160, 90)])
def test_round_trip(size: tuple[int, int]) -> None:
    image = Image.new("RGB", size, (90, 120, 60))
    encode_clock(image, MS)
    assert decode_clock(image) == MS % 2**32
    assert decode_clock(image, reference_ms=MS + 5_000) == MS


def test_survives_scaling_and_jpeg() -> None:
    image = Image.new("RGB", (640, 360), (200, 200, 200))
    encode_clock(image, MS)
    small = image.resize((320, 180), Image.Resampling.BILINEAR)
    assert decode_clock(small, reference_ms=MS) == MS


def test_refuses_a_picture_without_clock() -> None:
    assert decode_clock(Image.new("RGB", (320, 180), (128, 128, 128))) is None


def test_parity_catches_a_flipped_bit() -> None:
    image = Image.new("RGB", (350, 100))
    encode_clock(image, MS)
    # Paint one data cell (cell 20) the opposite colour.
    x = round((0.04 + 20.5 * 0.92 / 35) * 350)
    y = round(0.9 * 100)
    was_white = image.getpixel((x, y)) == (255, 255, 255)
    ImageDraw.Draw(image).rectangle(
        (x - 2, 86, x + 2, 95), fill=(0, 0, 0) if was_white else (255,) * 3
    )
    assert decode_clock(image) is None


def test_unwrap_across_the_wrap() -> None:
    wrap = 2**32
    assert unwrap_clock(5, 3 * wrap - 10) == 3 * wrap + 5
    assert unwrap_clock(wrap - 5, 3 * wrap + 10) == 3 * wrap - 5
