"""Live view: one channel per camera stream, shared by every viewer, fed by the ingest thread.

The channel is a consumer of the stream's :class:`~cityhub.media.source.StreamSource`: for
each video packet, in the ingest thread, it keeps the packet in the cache of the current GOP
and, when someone watches, builds the packet's fragment once and hands it to the event loop,
which puts it in each viewer's queue. Nothing is decoded or transcoded.

A viewer who joins gets the init segment and the cached GOP at once (a player can only start
on a keyframe), then every new fragment as it arrives. A viewer whose queue is full (a slow
browser, a congested link) loses its backlog and resumes at the next keyframe: it can never
slow the ingest thread, the recorder or the other viewers. When the stream's parameters
change (a reconnect to a camera with new settings), viewers are told to join again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable
from typing import Final

import attrs

from cityhub.api import MediaPacket, StreamInfo
from cityhub.media.live_fmp4 import LiveFmp4Writer, UnsupportedCodecError
from cityhub.media.snapshot import SnapshotError, keyframe_to_jpeg

__all__ = [
    "MAX_GOP_FRAMES",
    "VIEWER_QUEUE_FRAMES",
    "LiveChannel",
    "LiveUnavailableError",
    "Viewer",
]

_LOGGER = logging.getLogger(__name__)

VIEWER_QUEUE_FRAMES: Final = 50
"""Fragments a viewer may fall behind (2 s at 25 fps) before it skips to the next keyframe."""
MAX_GOP_FRAMES: Final = 600
"""Longest GOP cached (frames): past this a camera sends too few keyframes for live view to
start fast; the cache stops growing and a new viewer waits for the next keyframe."""
DTS_JUMP_TICKS_S: Final = 10
"""A decode-time step over this many seconds (or backwards) restarts the live timeline."""


class LiveUnavailableError(Exception):
    """The stream has no live view now: no video yet, or a codec browsers cannot play."""


@attrs.define(eq=False)
class Viewer:
    """One browser's place on a channel: what to send it, in order."""

    channel: LiveChannel
    mime: str
    queue: asyncio.Queue[bytes | None]
    cached: int
    waiting_for_keyframe: bool = False
    dropped: int = 0

    async def next(self) -> bytes | None:
        """The next chunk to send (init, then fragments); ``None`` when the viewer must rejoin."""
        return await self.queue.get()

    def close(self) -> None:
        """Leave the channel."""
        self.channel.leave(self)


@attrs.frozen
class _Frame:
    packet: MediaPacket
    decode_time: int
    duration: int
    sequence: int


class LiveChannel:
    """One camera stream's live fan-out: ``consume`` in the ingest thread, ``join`` in the loop."""

    def __init__(
        self,
        name: str,
        loop: asyncio.AbstractEventLoop,
        on_watched: Callable[[bool], None] | None = None,
    ) -> None:
        self.name = name
        self._loop = loop
        self._on_watched = on_watched
        self._lock = threading.Lock()
        self._info: StreamInfo | None = None
        self._writer: LiveFmp4Writer | None = None
        self._error: str | None = None
        self._gop: list[_Frame] = []
        self._viewers: set[Viewer] = set()
        self._watching = False  # read in the ingest thread without the lock: a hint only
        self._sequence = 0
        self._next_time = 0
        self._offset = 0
        self._last_dts: int | None = None
        self._keyframe: tuple[StreamInfo, MediaPacket] | None = None
        self._ready = asyncio.Event()
        self._jpeg: tuple[MediaPacket, bytes] | None = None
        self.fragments_sent = 0

    @property
    def viewers(self) -> int:
        """How many viewers watch now."""
        return len(self._viewers)

    # --- ingest thread ---------------------------------------------------------------------

    def consume(self, packet: MediaPacket, info: StreamInfo) -> None:
        """Take one packet (ingest thread): cache it and, if watched, send its fragment."""
        if packet.audio:
            return
        with self._lock:
            if info is not self._info:
                self._restart(info)
            if packet.keyframe:
                self._keyframe = (info, packet)  # for snapshots, whatever the codec
            writer = self._writer
            if writer is None:
                return
            frame = self._place(packet, writer)
            if packet.keyframe:
                self._gop = [frame]
            elif not self._gop or len(self._gop) >= MAX_GOP_FRAMES:
                self._gop = []
                return
            else:
                self._gop.append(frame)
        if self._watching:
            chunk = writer.fragment(packet, frame.decode_time, frame.duration, frame.sequence)
            self._loop.call_soon_threadsafe(self._deliver, writer, chunk, packet.keyframe)

    def _restart(self, info: StreamInfo) -> None:
        """New stream parameters: a new writer, an empty cache, viewers told to rejoin."""
        old = self._info
        self._info = info
        self._gop = []
        if old is not None and info.extradata == old.extradata and self._writer is not None:
            return  # the same stream reopened: the timeline goes on
        try:
            self._writer = LiveFmp4Writer(info)
            self._error = None
            self._loop.call_soon_threadsafe(self._ready.set)
        except UnsupportedCodecError as err:
            self._writer = None
            self._error = str(err)
            _LOGGER.warning("No live view of %s: %s", self.name, err)
        if old is not None:
            self._loop.call_soon_threadsafe(self._reset_viewers)

    def _place(self, packet: MediaPacket, writer: LiveFmp4Writer) -> _Frame:
        """The frame's place on the live timeline: decode times only ever go forward."""
        ticks = writer.ticks(packet.dts)
        last = self._last_dts
        if last is not None and (
            packet.dts <= last or ticks - writer.ticks(last) > DTS_JUMP_TICKS_S * writer.timescale
        ):
            self._offset = self._next_time - ticks
        self._last_dts = packet.dts
        decode_time = ticks + self._offset
        duration = writer.ticks(packet.duration) if packet.duration > 0 else 0
        duration = duration or writer.default_duration
        self._next_time = decode_time + duration
        self._sequence += 1
        return _Frame(packet, decode_time, duration, self._sequence)

    # --- event loop ------------------------------------------------------------------------

    async def snapshot(self) -> tuple[bytes, float]:
        """A JPEG of the last keyframe (decoded once per keyframe) and its capture time.

        Raises :class:`LiveUnavailableError` before the first keyframe; after the camera goes
        offline it still gives the last picture seen.
        """
        with self._lock:
            last = self._keyframe
        if last is None:
            raise LiveUnavailableError(f"{self.name} has sent no picture yet")
        info, packet = last
        cached = self._jpeg
        if cached is None or cached[0] is not packet:
            try:
                jpeg = await asyncio.to_thread(keyframe_to_jpeg, info, packet)
            except SnapshotError as err:
                raise LiveUnavailableError(f"{self.name}: {err}") from err
            cached = self._jpeg = (packet, jpeg)
        return cached[1], packet.wallclock

    async def async_wait_ready(self, timeout: float) -> None:
        """Wait (at most ``timeout`` s) until the stream has given its parameters: a stream just
        started (a sub-stream asked for by a tile) can be joined a moment later."""
        if self._writer is not None or self._error is not None:
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout):
                await self._ready.wait()

    def join(self) -> Viewer:
        """Start watching: the viewer's queue holds the init segment and the cached GOP."""
        with self._lock:
            writer, gop, error = self._writer, list(self._gop), self._error
        if writer is None:
            raise LiveUnavailableError(error or f"{self.name} has sent no video yet")
        queue: asyncio.Queue[bytes | None] = asyncio.Queue(VIEWER_QUEUE_FRAMES + len(gop) + 1)
        queue.put_nowait(writer.init_segment())
        for frame in gop:
            queue.put_nowait(
                writer.fragment(frame.packet, frame.decode_time, frame.duration, frame.sequence)
            )
        viewer = Viewer(self, writer.mime, queue, cached=len(gop))
        viewer.waiting_for_keyframe = not gop
        self._viewers.add(viewer)
        self._set_watching(True)
        return viewer

    def leave(self, viewer: Viewer) -> None:
        """Stop sending to ``viewer``."""
        self._viewers.discard(viewer)
        self._set_watching(bool(self._viewers))

    def _set_watching(self, watching: bool) -> None:
        if watching == self._watching:
            return
        self._watching = watching
        if self._on_watched is not None:
            self._on_watched(watching)

    def close(self) -> None:
        """The stream stops: every viewer is told to rejoin later."""
        self._reset_viewers()

    def _deliver(self, writer: LiveFmp4Writer, chunk: bytes, keyframe: bool) -> None:
        if writer is not self._writer:
            return  # a fragment of the previous stream, overtaken by a restart
        self.fragments_sent += 1
        for viewer in self._viewers:
            if viewer.waiting_for_keyframe:
                if not keyframe:
                    continue
                viewer.waiting_for_keyframe = False
            try:
                viewer.queue.put_nowait(chunk)
            except asyncio.QueueFull:
                _drain(viewer.queue)
                viewer.dropped += 1
                viewer.waiting_for_keyframe = True

    def _reset_viewers(self) -> None:
        for viewer in list(self._viewers):
            _drain(viewer.queue)
            viewer.queue.put_nowait(None)
        self._viewers.clear()
        self._set_watching(False)


def _drain(queue: asyncio.Queue[bytes | None]) -> None:
    while not queue.empty():
        queue.get_nowait()
