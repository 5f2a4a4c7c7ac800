"""The virtual camera driver: streams, snapshots, motion events and a clock, without hardware."""

from __future__ import annotations

import asyncio
import io
import math
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, ClassVar

import voluptuous as vol

from cityhub.api import (
    CameraDriver,
    CameraEvent,
    DriverHost,
    EmitEvent,
    PacketReader,
    StreamError,
    StreamProfile,
)
from cityhub_virtual.clip import ClipStore, loop_caption, loop_clock_ms
from cityhub_virtual.config import CONFIG_SCHEMA, settings_from_options
from cityhub_virtual.const import DRIVER_NAME
from cityhub_virtual.models import EncodingProfile, Mode, VirtualSettings
from cityhub_virtual.reader import CAR_PERIOD_MS, LiveReader, LoopReader
from cityhub_virtual.scene import SceneRenderer, wallclock_caption

__all__ = ["VirtualCamera"]

EVENT_MOTION = "camera.motion"
SNAPSHOT_QUALITY = 85
"""JPEG quality of snapshots (Pillow's scale, 1..95)."""


class VirtualCamera(CameraDriver):
    """A camera made of software: real H.264 in live or loop mode, motion and drop-outs."""

    NAME: ClassVar[str] = DRIVER_NAME
    CONFIG_SCHEMA: ClassVar[vol.Schema] = CONFIG_SCHEMA
    DESCRIPTION: ClassVar[str] = "Virtual camera: a synthetic street scene in real H.264"

    def __init__(self, host: DriverHost, options: Mapping[str, Any]) -> None:
        super().__init__(host, options)
        self.settings: VirtualSettings = settings_from_options(options)
        self.clips = ClipStore(host.cache_dir, host.camera.name, host.logger)
        self._renderers: dict[tuple[int, int], SceneRenderer] = {}
        self._renderers_lock = threading.Lock()
        # Origin of the drop-out schedule and of the loop position shown by snapshots.
        self._epoch = time.monotonic()

    async def async_setup(self) -> None:
        """Publish the mode; nothing to connect to."""
        self.host.set_attribute("virtual_mode", str(self.settings.mode))

    # Streams ---------------------------------------------------------------------------

    def stream_profiles(self) -> Sequence[StreamProfile]:
        """The main stream and, unless disabled, the sub stream."""
        return [
            StreamProfile(
                name=p.name, width=p.width, height=p.height, fps=float(p.fps), bitrate=p.bitrate
            )
            for p in self.settings.profiles
        ]

    def open_stream(self, profile: str) -> PacketReader:
        """Open ``profile``; raises ``StreamError`` while a simulated drop-out lasts."""
        encoding = self._profile(profile)
        now = time.monotonic()
        if self._dropped_out(now):
            raise StreamError("camera unreachable (simulated drop-out)")
        drop_at = self._next_dropout(now)
        renderer = self._renderer(encoding)
        self.host.logger.debug("Opening the %s stream (%s mode)", profile, self.settings.mode)
        if self.settings.mode is Mode.LIVE:
            return LiveReader(encoding, renderer, self.host.logger, drop_at)
        clip = self.clips.get(encoding, self.settings.clip_frames, renderer)
        return LoopReader(clip, self.host.logger, drop_at)

    # Snapshot --------------------------------------------------------------------------

    async def async_snapshot(self) -> bytes:
        """A JPEG of the current picture of the main stream."""
        return await asyncio.to_thread(self._snapshot)

    # Events ----------------------------------------------------------------------------

    async def run_events(self, emit: EmitEvent) -> None:
        """Emit simulated motion (active, then inactive) on schedule; idle forever without."""
        motion = self.settings.motion
        if motion is None:
            await asyncio.Event().wait()
            return
        loop = asyncio.get_running_loop()
        start = loop.time()
        cycle = 1
        while True:
            await asyncio.sleep(max(0.0, start + cycle * motion.every - loop.time()))
            emit(CameraEvent(EVENT_MOTION, {"active": True}, raw="virtual motion start"))
            await asyncio.sleep(
                max(0.0, start + cycle * motion.every + motion.duration - loop.time())
            )
            emit(CameraEvent(EVENT_MOTION, {"active": False}, raw="virtual motion end"))
            cycle += 1

    # Clock -----------------------------------------------------------------------------

    async def async_camera_time(self) -> datetime:
        """The host's current time, in UTC: a virtual camera never drifts."""
        return datetime.now(UTC)

    # Internals -------------------------------------------------------------------------

    def _profile(self, name: str) -> EncodingProfile:
        for encoding in self.settings.profiles:
            if encoding.name == name:
                return encoding
        offered = ", ".join(p.name for p in self.settings.profiles)
        raise StreamError(f"no stream profile {name!r} (offered: {offered})")

    def _renderer(self, encoding: EncodingProfile) -> SceneRenderer:
        """The renderer of this stream size, built once (its background is pre-rendered)."""
        size = (encoding.width, encoding.height)
        with self._renderers_lock:
            renderer = self._renderers.get(size)
            if renderer is None:
                renderer = SceneRenderer(encoding.width, encoding.height, self.host.camera.name)
                self._renderers[size] = renderer
            return renderer

    def _dropped_out(self, now: float) -> bool:
        """Whether a simulated drop-out makes the camera unreachable at ``now`` (monotonic)."""
        dropout = self.settings.dropout
        if dropout is None:
            return False
        elapsed = now - self._epoch
        return elapsed >= dropout.every and elapsed % dropout.every < dropout.duration

    def _next_dropout(self, now: float) -> float | None:
        """When (monotonic) the next simulated drop-out after ``now`` breaks open streams."""
        dropout = self.settings.dropout
        if dropout is None:
            return None
        cycles = math.floor((now - self._epoch) / dropout.every) + 1
        return self._epoch + cycles * dropout.every

    def _snapshot(self) -> bytes:
        main = self.settings.main
        renderer = self._renderer(main)
        if self.settings.mode is Mode.LIVE:
            ms = time.time_ns() // 1_000_000
            image = renderer.render(ms, wallclock_caption(ms), ms % CAR_PERIOD_MS / CAR_PERIOD_MS)
        else:
            frames = self.settings.clip_frames
            index = int((time.monotonic() - self._epoch) * main.fps) % frames
            image = renderer.render(
                loop_clock_ms(index, main.fps), loop_caption(index, main.fps), index / frames
            )
        out = io.BytesIO()
        image.save(out, format="JPEG", quality=SNAPSHOT_QUALITY)
        return out.getvalue()
