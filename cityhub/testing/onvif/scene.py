"""The simulated camera's picture: a wide street scene cropped at the PTZ position.

The scene is drawn once, three times the source size each way, with distinct buildings,
numbered posts and a landmark tower so that a crop shows where the camera points. Each
frame crops it at pan/tilt/zoom (zoom narrows the crop), fills the privacy masks and draws a
*position marker*: a row of black and white cells along the top edge that
:func:`read_marker` turns back into the position, so a test can check from decoded video
where the head pointed.

Needs Pillow (imported when the first picture is drawn).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cityhub.testing.onvif.ptz import PtzPosition

if TYPE_CHECKING:
    from PIL import Image

    from cityhub.testing.onvif.media import Mask

__all__ = ["MARKER_BITS", "Scene", "crop_box", "read_marker"]

SCALE = 3
"""The scene is this many times the source size in each direction."""
MARKER_BITS = 10
"""Bits per value in the position marker (pan, tilt, zoom)."""
_START = (1, 0, 1, 0)
_CELLS = len(_START) + 3 * MARKER_BITS
_SKY_TOP = (60, 100, 165)
_SKY_BOTTOM = (175, 205, 235)
_ROAD = (55, 55, 60)
_PAVEMENT = (140, 135, 125)
_PALETTE = (
    (185, 80, 60),
    (90, 130, 170),
    (200, 170, 90),
    (120, 150, 90),
    (160, 100, 150),
    (210, 120, 40),
    (80, 160, 150),
    (170, 170, 170),
)


def crop_box(
    scene_size: tuple[int, int], out_size: tuple[int, int], position: PtzPosition
) -> tuple[float, float, float, float]:
    """The part of the scene the camera sees at ``position`` (left, top, right, bottom).

    Zoom 0 sees half the scene's width, zoom 1 an eighth; pan -1..1 sweeps the crop from the
    left edge to the right edge, tilt -1..1 from the bottom to the top.
    """
    scene_w, scene_h = scene_size
    out_w, out_h = out_size
    zoom = min(1.0, max(0.0, position.zoom))
    width = scene_w / 2 / (1 + 3 * zoom)
    height = min(scene_h, width * out_h / out_w)
    pan = min(1.0, max(-1.0, position.pan))
    tilt = min(1.0, max(-1.0, position.tilt))
    centre_x = scene_w / 2 + pan * (scene_w - width) / 2
    centre_y = scene_h / 2 - tilt * (scene_h - height) / 2
    return (
        centre_x - width / 2,
        centre_y - height / 2,
        centre_x + width / 2,
        centre_y + height / 2,
    )


class Scene:
    """The wide scene, drawn once, and the frames cropped from it."""

    def __init__(self, width: int, height: int, seed: int = 7) -> None:
        try:
            from PIL import Image, ImageDraw
        except ImportError as err:
            raise ImportError(
                "the ONVIF simulator draws its picture with Pillow, which is not installed: "
                "pip install pillow (or use video=False and no snapshots)"
            ) from err

        self.size = (width * SCALE, height * SCALE)
        w, h = self.size
        image = Image.new("RGB", self.size, _PAVEMENT)
        draw = ImageDraw.Draw(image)
        horizon = round(h * 0.55)
        for y in range(horizon):
            t = y / max(horizon - 1, 1)
            colour = tuple(
                round(a + (b - a) * t) for a, b in zip(_SKY_TOP, _SKY_BOTTOM, strict=True)
            )
            draw.line((0, y, w, y), fill=colour)
        rng = random.Random(seed)
        x = 0.0
        index = 0
        while x < w:
            span = rng.uniform(0.05, 0.11) * w
            top = horizon - rng.uniform(0.12, 0.45) * h
            colour = _PALETTE[index % len(_PALETTE)]
            box = (round(x), round(top), round(x + span), horizon)
            draw.rectangle(box, fill=colour, outline=(30, 30, 30), width=max(1, w // 600))
            rows = max(2, round((horizon - top) / (h * 0.06)))
            cols = max(2, round(span / (w * 0.02)))
            for row in range(rows):
                for col in range(cols):
                    lit = rng.random() < 0.6
                    wx = x + (col + 0.3) * span / cols
                    wy = top + (row + 0.3) * (horizon - top) / (rows + 0.3)
                    size_x, size_y = span / cols * 0.4, (horizon - top) / rows * 0.4
                    draw.rectangle(
                        (round(wx), round(wy), round(wx + size_x), round(wy + size_y)),
                        fill=(240, 225, 140) if lit else (40, 50, 70),
                    )
            x += span + rng.uniform(0.005, 0.03) * w
            index += 1
        # A landmark tower left of centre, so a wide view has one obvious feature.
        tower_x = round(w * 0.42)
        draw.rectangle((tower_x, round(h * 0.05), tower_x + w // 40, horizon), fill=(230, 230, 235))
        draw.ellipse(
            (tower_x - w // 80, round(h * 0.03), tower_x + w // 40 + w // 80, round(h * 0.09)),
            fill=(220, 40, 40),
        )
        road_top, road_bottom = round(h * 0.66), round(h * 0.82)
        draw.rectangle((0, road_top, w, road_bottom), fill=_ROAD)
        lane_y = (road_top + road_bottom) // 2
        dash = max(w // 60, 4)
        for lane_x in range(0, w, dash * 2):
            draw.rectangle((lane_x, lane_y - 2, lane_x + dash, lane_y + 2), fill=(230, 230, 210))
        # Numbered posts along the pavement: what a person reads to tell places apart.
        font = _font(max(10, h // 30))
        posts = 24
        for number in range(posts):
            px = round((number + 0.5) * w / posts)
            draw.rectangle((px - 3, round(h * 0.84), px + 3, round(h * 0.95)), fill=(20, 20, 20))
            draw.rectangle(
                (px - h // 40, round(h * 0.84), px + h // 40, round(h * 0.84) + h // 30),
                fill=(250, 250, 250),
            )
            draw.text((px - h // 60, round(h * 0.84)), f"{number:02d}", fill=(0, 0, 0), font=font)
        self.image = image
        self._image_module: Any = Image

    def render(
        self, out_size: tuple[int, int], position: PtzPosition, masks: Sequence[Mask] = ()
    ) -> Image.Image:
        """The frame at ``position``: the crop scaled to ``out_size``, masks, then marker."""
        from PIL import ImageDraw

        box = crop_box(self.size, out_size, position)
        frame = self.image.resize(out_size, self._image_module.Resampling.BILINEAR, box=box)
        draw = ImageDraw.Draw(frame)
        width, height = out_size
        for mask in masks:
            if not mask.enabled:
                continue
            points = [((x + 1) / 2 * width, (1 - y) / 2 * height) for x, y in mask.points]
            colour = tuple(max(0, min(255, round(c))) for c in mask.color)
            draw.polygon(points, fill=colour)
        draw_marker(frame, position)
        return frame


def _font(size: int) -> Any:
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (ImportError, TypeError):
        return ImageFont.load_default()


def _cell(width: int) -> int:
    return max(6, width // 48)


def _bits(position: PtzPosition) -> list[int]:
    top = (1 << MARKER_BITS) - 1
    values = (
        round((min(1.0, max(-1.0, position.pan)) + 1) / 2 * top),
        round((min(1.0, max(-1.0, position.tilt)) + 1) / 2 * top),
        round(min(1.0, max(0.0, position.zoom)) * top),
    )
    bits = list(_START)
    for value in values:
        bits += [(value >> shift) & 1 for shift in range(MARKER_BITS - 1, -1, -1)]
    return bits


def draw_marker(frame: Image.Image, position: PtzPosition) -> None:
    """Draw the position marker along the top edge of ``frame``."""
    from PIL import ImageDraw

    cell = _cell(frame.size[0])
    draw = ImageDraw.Draw(frame)
    for index, bit in enumerate(_bits(position)):
        colour = (255, 255, 255) if bit else (0, 0, 0)
        draw.rectangle((index * cell, 0, (index + 1) * cell - 1, cell - 1), fill=colour)


def read_marker(frame: Image.Image) -> PtzPosition | None:
    """The position drawn into a (decoded) frame by the simulator, or ``None`` if none is."""
    grey = frame.convert("L")
    cell = _cell(grey.size[0])
    if grey.size[0] < cell * _CELLS:
        return None
    bits = []
    for index in range(_CELLS):
        centre = (index * cell + cell // 2, cell // 2)
        value = grey.getpixel(centre)
        level = value if isinstance(value, int | float) else 0
        bits.append(1 if level >= 128 else 0)
    if tuple(bits[: len(_START)]) != _START:
        return None
    top = (1 << MARKER_BITS) - 1
    values = []
    for part in range(3):
        chunk = bits[len(_START) + part * MARKER_BITS : len(_START) + (part + 1) * MARKER_BITS]
        values.append(int("".join(map(str, chunk)), 2))
    return PtzPosition(values[0] / top * 2 - 1, values[1] / top * 2 - 1, values[2] / top)
