"""The picture a virtual camera films: a street scene, a caption, a moving car and the clock."""

from __future__ import annotations

import threading
import time
import unicodedata

from PIL import Image, ImageDraw, ImageFont

from cityhub_virtual.clock import encode_clock

__all__ = ["SceneRenderer", "drawable_text", "wallclock_caption"]

SKY_TOP = (70, 110, 170)
SKY_BOTTOM = (170, 200, 230)
GROUND = (90, 95, 90)
ROAD = (55, 55, 60)
LANE = (220, 220, 200)
BUILDINGS = ((150, 120, 100), (120, 130, 150), (170, 160, 130), (110, 100, 95))
WINDOW = (230, 220, 150)
CAR = (200, 40, 40)
TEXT = (255, 255, 255)
TEXT_BOX = (0, 0, 0)

HORIZON = 0.55
"""Fraction of the height where the sky ends."""
ROAD_TOP = 0.66
ROAD_BOTTOM = 0.80
"""The road lies above the clock band (which starts at 0.85 of the height)."""

_Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


def _font(size: int) -> _Font:
    """Pillow's bundled font at ``size`` pixels (its bitmap font without FreeType)."""
    try:
        return ImageFont.load_default(size=max(size, 6))
    except ImportError:
        return ImageFont.load_default()


def drawable_text(text: str) -> str:
    """``text`` in the ASCII the bundled font draws: accents dropped, other signs as ``?``."""
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c if " " <= c <= "~" else "?" for c in bare)


def _background(width: int, height: int, title: str) -> Image.Image:
    """The static part of the picture, drawn once per stream size."""
    image = Image.new("RGB", (width, height), GROUND)
    draw = ImageDraw.Draw(image)
    horizon = round(HORIZON * height)
    for y in range(horizon):
        t = y / max(horizon - 1, 1)
        colour = tuple(round(a + (b - a) * t) for a, b in zip(SKY_TOP, SKY_BOTTOM, strict=True))
        draw.line((0, y, width, y), fill=colour)
    left = 0.0
    for index, (share, rise) in enumerate(((0.22, 0.30), (0.18, 0.42), (0.26, 0.22), (0.2, 0.36))):
        right = left + share * width
        top = (HORIZON - rise) * height
        draw.rectangle((round(left), round(top), round(right), horizon), fill=BUILDINGS[index])
        rows, cols = 4, 3
        for row in range(rows):
            for col in range(cols):
                wx = left + (col + 0.5) * (right - left) / cols
                wy = top + (row + 0.5) * (horizon - top) / (rows + 0.5)
                half = max(1.0, min((right - left) / cols, (horizon - top) / rows) / 5)
                draw.rectangle(
                    (round(wx - half), round(wy - half), round(wx + half), round(wy + half)),
                    fill=WINDOW,
                )
        left = right + 0.04 * width
    road_top, road_bottom = round(ROAD_TOP * height), round(ROAD_BOTTOM * height)
    draw.rectangle((0, road_top, width, road_bottom), fill=ROAD)
    lane_y = (road_top + road_bottom) // 2
    dash = max(width // 20, 2)
    for x in range(0, width, dash * 2):
        draw.line((x, lane_y, x + dash, lane_y), fill=LANE, width=max(height // 120, 1))
    font = _font(height // 16)
    pad = max(height // 90, 1)
    title = drawable_text(title)
    box = draw.textbbox((2 * pad, 2 * pad), title, font=font)
    draw.rectangle((box[0] - pad, box[1] - pad, box[2] + pad, box[3] + pad), fill=TEXT_BOX)
    draw.text((2 * pad, 2 * pad), title, font=font, fill=TEXT)
    return image


def wallclock_caption(ms: int) -> str:
    """The local wall-clock time of ``ms`` (milliseconds since the epoch) as HH:MM:SS.mmm."""
    return time.strftime("%H:%M:%S", time.localtime(ms / 1000)) + f".{ms % 1000:03d}"


class SceneRenderer:
    """Draws the frames of one stream size; the background is rendered once. Thread-safe."""

    def __init__(self, width: int, height: int, title: str) -> None:
        self.width = width
        self.height = height
        self._background = _background(width, height, title)
        self._font = _font(height // 14)
        self._pad = max(height // 90, 1)
        self._lock = threading.Lock()

    def render(self, clock_ms: int, caption: str, phase: float) -> Image.Image:
        """One frame: the caption top right, the car at ``phase`` (0..1) of the road, the clock."""
        with self._lock:  # readers and snapshots may share a renderer and its font
            return self._render(clock_ms, caption, phase)

    def _render(self, clock_ms: int, caption: str, phase: float) -> Image.Image:
        image = self._background.copy()
        draw = ImageDraw.Draw(image)
        width, height, pad = self.width, self.height, self._pad
        car_w, car_h = width * 0.12, (ROAD_BOTTOM - ROAD_TOP) * height * 0.4
        x = (phase % 1.0) * (width + car_w) - car_w
        y = (ROAD_TOP + (ROAD_BOTTOM - ROAD_TOP) * 0.1) * height
        draw.rectangle((round(x), round(y), round(x + car_w), round(y + car_h)), fill=CAR)
        box = draw.textbbox((0, 0), caption, font=self._font)
        text_x = width - (box[2] - box[0]) - 2 * pad - box[0]
        text_y = 2 * pad - box[1]
        draw.rectangle(
            (
                text_x + box[0] - pad,
                text_y + box[1] - pad,
                text_x + box[2] + pad,
                text_y + box[3] + pad,
            ),
            fill=TEXT_BOX,
        )
        draw.text((text_x, text_y), caption, font=self._font, fill=TEXT)
        encode_clock(image, clock_ms)
        return image
