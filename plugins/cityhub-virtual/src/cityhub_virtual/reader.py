"""Packet readers paced in real time: live (render and encode each frame) and loop (replay)."""

from __future__ import annotations

import collections
import logging
import threading
import time

from cityhub.api import MediaPacket, StreamEndedError, StreamError, StreamInfo
from cityhub_virtual.clip import Clip
from cityhub_virtual.const import MAX_LAG, TIME_BASE
from cityhub_virtual.encoder import EncodedFrame, H264Encoder, parameter_sets
from cityhub_virtual.models import EncodingProfile
from cityhub_virtual.scene import SceneRenderer, wallclock_caption

__all__ = ["LiveReader", "LoopReader", "PacedReader"]

CAR_PERIOD_MS = 6000
"""Milliseconds the car takes to cross the picture in live mode."""
_TICKS_PER_SECOND = TIME_BASE[1] // TIME_BASE[0]


class PacedReader:
    """A :class:`cityhub.api.PacketReader` that hands out frame ``n`` at ``start + n / fps``.

    The schedule is anchored once on the monotonic clock, so it never drifts; a consumer that
    falls more than ``MAX_LAG`` behind gets the schedule re-anchored rather than a burst.
    Packets are Annex-B with SPS/PPS in-band on every keyframe; ``info.extradata`` holds the
    SPS/PPS as Annex-B too. Timestamps count 1/90000 s from 0; dts equals pts (no B-frames).
    With ``drop_at`` (a ``time.monotonic()`` value), ``read`` raises ``StreamError`` then.
    """

    def __init__(
        self,
        profile: EncodingProfile,
        extradata: bytes,
        logger: logging.Logger,
        drop_at: float | None = None,
    ) -> None:
        self.profile = profile
        self._info = StreamInfo(
            codec="h264",
            width=profile.width,
            height=profile.height,
            fps=float(profile.fps),
            time_base=TIME_BASE,
            extradata=extradata,
        )
        self._logger = logger
        self._drop_at = drop_at
        self._closed = threading.Event()
        self._lock = threading.Lock()
        self._index = 0
        self._start = time.monotonic()

    @property
    def info(self) -> StreamInfo:
        """Codec parameters of this stream."""
        return self._info

    def read(self) -> MediaPacket:
        """Return the next packet when it is due; raises ``StreamEndedError`` once closed."""
        while True:
            fps = self.profile.fps
            due = self._start + self._index / fps
            late = time.monotonic() - due
            if late > MAX_LAG:
                self._logger.warning("Reader %.1f s behind schedule, re-anchoring", late)
                self._start += late
                due += late
            if self._drop_at is not None and self._drop_at <= due:
                self._wait_until(self._drop_at)
                raise StreamError("simulated drop-out")
            self._wait_until(due)
            with self._lock:
                if self._closed.is_set():
                    raise StreamEndedError("stream closed")
                produced = self._produce(self._index)
            index = self._index
            self._index += 1
            if produced is None:
                continue
            frame, captured = produced
            pts = index * _TICKS_PER_SECOND // fps
            return MediaPacket(
                data=frame.data,
                dts=pts,
                pts=pts,
                keyframe=frame.keyframe,
                wallclock=captured if captured is not None else time.time(),
                duration=(index + 1) * _TICKS_PER_SECOND // fps - pts,
            )

    def close(self) -> None:
        """Stop the reader; a blocked ``read`` raises ``StreamEndedError`` at once."""
        self._closed.set()
        with self._lock:
            self._release()

    def _wait_until(self, deadline: float) -> None:
        """Sleep until ``deadline`` (monotonic); raise ``StreamEndedError`` if closed first."""
        while True:
            if self._closed.is_set():
                raise StreamEndedError("stream closed")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._closed.wait(remaining)

    def _produce(self, index: int) -> tuple[EncodedFrame, float | None] | None:
        """Frame ``index`` and when it was captured, if known (called under the lock, while
        open); ``None`` while the encoder holds it back."""
        raise NotImplementedError

    def _release(self) -> None:
        """Free what the reader holds (called under the lock, once closed)."""


class LiveReader(PacedReader):
    """Renders each frame with the wall-clock time burnt in and encodes it as it is due."""

    def __init__(
        self,
        profile: EncodingProfile,
        renderer: SceneRenderer,
        logger: logging.Logger,
        drop_at: float | None = None,
    ) -> None:
        self._renderer = renderer
        self._encoder: H264Encoder | None = H264Encoder(profile)
        self._pending: list[EncodedFrame] = []
        self._captured: collections.deque[float] = collections.deque()
        first = self._capture(0)
        if first is None or not first[0].keyframe:
            raise StreamError("the encoder did not start with a keyframe")
        self._first: tuple[EncodedFrame, float | None] | None = first
        super().__init__(profile, parameter_sets(first[0].data), logger, drop_at)

    def _capture(self, index: int) -> tuple[EncodedFrame, float] | None:
        """Render and encode frame ``index`` at the current wall-clock time.

        A packet's wall clock is the instant burnt into its picture (its capture), as a
        camera stamps it, not when encoding ended: frames leave the encoder in the order they
        went in (no B-frames), so the instants queue beside them.
        """
        if self._encoder is None:
            raise StreamEndedError("stream closed")
        ms = time.time_ns() // 1_000_000
        image = self._renderer.render(ms, wallclock_caption(ms), ms % CAR_PERIOD_MS / CAR_PERIOD_MS)
        self._captured.append(ms / 1000)
        self._pending.extend(self._encoder.encode(image, index))
        if not self._pending:
            return None
        return self._pending.pop(0), self._captured.popleft()

    def _produce(self, index: int) -> tuple[EncodedFrame, float | None] | None:
        if index == 0 and self._first is not None:
            first, self._first = self._first, None
            return first
        return self._capture(index)

    def _release(self) -> None:
        self._encoder = None
        self._first = None
        self._pending.clear()
        self._captured.clear()


class LoopReader(PacedReader):
    """Replays an encoded clip forever; timestamps keep increasing across loops."""

    def __init__(
        self,
        clip: Clip,
        logger: logging.Logger,
        drop_at: float | None = None,
    ) -> None:
        super().__init__(clip.profile, clip.extradata, logger, drop_at)
        self._frames = clip.frames

    def _produce(self, index: int) -> tuple[EncodedFrame, float | None] | None:
        return self._frames[index % len(self._frames)], None
