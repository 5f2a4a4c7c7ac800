"""Value types of the virtual camera driver."""

from __future__ import annotations

import enum
import math

import attrs


class Mode(enum.StrEnum):
    """How a virtual camera produces its video."""

    LIVE = "live"
    """Render and encode every frame as it is due, with the wall-clock time burnt in."""
    LOOP = "loop"
    """Encode a short clip once, cache it, replay it forever."""


@attrs.frozen
class EncodingProfile:
    """The encoding parameters of one stream (main or sub)."""

    name: str
    width: int
    height: int
    fps: int
    bitrate: int
    gop: int

    @property
    def frame_seconds(self) -> float:
        """Seconds between two frames."""
        return 1.0 / self.fps


@attrs.frozen
class Periodic:
    """Something that happens every ``every`` seconds and lasts ``duration`` seconds."""

    every: float
    duration: float


@attrs.frozen
class VirtualSettings:
    """A virtual camera's validated options."""

    mode: Mode
    main: EncodingProfile
    sub: EncodingProfile | None
    clip_seconds: float
    motion: Periodic | None = None
    dropout: Periodic | None = None

    @property
    def profiles(self) -> tuple[EncodingProfile, ...]:
        """The streams offered, main first."""
        return (self.main,) if self.sub is None else (self.main, self.sub)

    @property
    def clip_frames(self) -> int:
        """Frames in the loop clip: ``clip_seconds`` rounded up to whole GOPs."""
        gops = math.ceil(round(self.clip_seconds * self.main.fps, 6) / self.main.gop)
        return max(1, gops) * self.main.gop
