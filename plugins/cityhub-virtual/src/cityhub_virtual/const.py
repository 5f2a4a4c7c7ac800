"""Constants of the virtual camera driver: option keys and their defaults, with units."""

from __future__ import annotations

from typing import Final

DRIVER_NAME: Final = "virtual"

CONF_MODE: Final = "mode"
CONF_WIDTH: Final = "width"
CONF_HEIGHT: Final = "height"
CONF_FPS: Final = "fps"
CONF_BITRATE: Final = "bitrate"
CONF_GOP: Final = "gop"
CONF_CLIP_SECONDS: Final = "clip_seconds"
CONF_SUB_STREAM: Final = "sub_stream"
CONF_MOTION: Final = "motion"
CONF_DROPOUT: Final = "dropout"
CONF_EVERY: Final = "every"
CONF_DURATION: Final = "duration"

MODE_LIVE: Final = "live"
MODE_LOOP: Final = "loop"

PROFILE_MAIN: Final = "main"
PROFILE_SUB: Final = "sub"

DEFAULT_MODE: Final = MODE_LOOP
"""Loop mode replays a clip encoded once: almost no CPU per camera."""
DEFAULT_WIDTH: Final = 640
DEFAULT_HEIGHT: Final = 360
DEFAULT_FPS: Final = 25
DEFAULT_BITRATE: Final = 1_000_000
"""Bits per second of the main stream."""
DEFAULT_GOP_SECONDS: Final = 2
"""Default keyframe interval in seconds: the GOP is ``DEFAULT_GOP_SECONDS * fps`` frames."""
DEFAULT_CLIP_SECONDS: Final = 4.0
"""Length of the loop clip in seconds, rounded up to whole GOPs."""
DEFAULT_SUB_WIDTH: Final = 320
DEFAULT_SUB_HEIGHT: Final = 180
DEFAULT_SUB_BITRATE: Final = 250_000
"""Bits per second of the sub stream."""
DEFAULT_MOTION_EVERY: Final = 30.0
"""Seconds between the starts of two simulated motion events."""
DEFAULT_MOTION_DURATION: Final = 5.0
"""Seconds a simulated motion event stays active."""
DEFAULT_DROPOUT_EVERY: Final = 60.0
"""Seconds between two simulated drop-outs."""
DEFAULT_DROPOUT_DURATION: Final = 5.0
"""Seconds the camera stays unreachable after a simulated drop-out."""

MIN_WIDTH: Final = 16
MAX_WIDTH: Final = 3840
MIN_HEIGHT: Final = 16
MAX_HEIGHT: Final = 2160
MIN_FPS: Final = 1
MAX_FPS: Final = 60
MIN_BITRATE: Final = 10_000
MAX_BITRATE: Final = 100_000_000
MAX_GOP: Final = 600
"""Frames; ten seconds at 60 fps."""
MAX_CLIP_SECONDS: Final = 300.0
"""The whole loop clip is held in memory."""

TIME_BASE: Final = (1, 90_000)
"""Packet timestamps count 90 kHz ticks, as RTP and MPEG-TS do."""
MAX_LAG: Final = 1.0
"""Seconds a reader may fall behind its schedule before it re-anchors instead of bursting."""
