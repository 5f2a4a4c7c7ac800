"""The recorder: one camera stream written as fragmented MP4 segment files, and their index rows.

A :class:`Recorder` is a :class:`~cityhub.media.source.StreamSource` consumer. While storage
keeps up it writes in the ingest thread itself: one thread per camera, no hand-off per frame.
A recorder starts writing from its own writer thread, fed through a bounded queue (a full
queue drops packets until the next keyframe and counts them: ingest never waits), and hands
writing to the ingest thread once its writes have been fast (under ``SLOW_WRITE_S``) for
``TRUST_AFTER_S``; a slow write there (a storage hiccup, an fsync) sends writing back to the
writer thread at once. The writer thread also closes a segment that got no packet for
``IDLE_CLOSE_S``. One lock
keeps one thread writing at a time, and packets are written in order: nothing is written in
the ingest thread while some wait in the queue.

H.264 and H.265, with AAC or no audio, are written by :class:`~cityhub.media.fmp4_writer.
Fmp4Writer`; other codecs (and G.711 audio, transcoded) by FFmpeg's muxer through PyAV. Both
write segment files opened through the storage backend, cutting at the first keyframe once a
segment is ``segment_seconds`` long, at each new run of the source (a reconnect or a
discontinuity) and when no packet came for ``IDLE_CLOSE_S``.

Files are fragmented (a ``moof``/``mdat`` pair per GOP, ``empty_moov``, ``default_base_moof``),
so a crash loses at most the fragment being written. A stream's audio track (AAC as it came,
G.711 transcoded to AAC: see :mod:`cityhub.media.audio`) goes into the same fragments, on the
video's clock; audio that falls before a segment's first keyframe is left out. The index row
is inserted ``open`` when a segment starts, its end and size are updated at every fragment,
and it is finished (``complete``, SHA-256, size, end) once the file is closed and flushed.
Index writes are handed to the event loop in order and never awaited by the writing thread.

In event mode, the writer keeps the last GOPs covering the pre-roll in memory and writes only
while a trigger (a service call, or motion) is active, plus the post-roll.
"""

from __future__ import annotations

import collections
import hashlib
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from fractions import Fraction
from typing import Any, BinaryIO

import attrs
import av

from cityhub.api import AUDIO_CODECS, MediaPacket, StorageBackend, StreamInfo
from cityhub.media.audio import AudioTrack
from cityhub.media.fmp4_writer import Fmp4Writer, fmp4_supports
from cityhub.media.index import NewSegment, SegmentIndex, SegmentState, SegmentTrigger
from cityhub.model import RecordingMode, RecordingSettings

__all__ = [
    "IDLE_CLOSE_S",
    "MOTION_HOLD_MAX_S",
    "MOVFLAGS",
    "QUEUE_MAX_PACKETS",
    "ClosedSegment",
    "IndexOp",
    "Recorder",
    "RecorderStats",
    "segment_key",
]

_LOGGER = logging.getLogger(__name__)

QUEUE_MAX_PACKETS = 1500
"""Packets a recorder may hold before dropping: a minute at 25 fps, to ride out a slow disk or
a long fsync (about 30 MB at 4 Mbit/s) without ever blocking ingest."""
WAKE_EVERY_PACKETS = 25
"""The writer thread is woken once this many packets wait (or at a video keyframe): handing
packets over one by one cost a thread wake-up per frame, which dominated the CPU of recording."""
WAKE_TIMEOUT_S = 0.5
"""The writer thread also takes what waits at least this often (seconds)."""
SLOW_WRITE_S = 0.05
"""A write slower than this (seconds) is slow: writing goes (back) to the recorder's own thread,
as ingest must not wait on storage."""
TRUST_AFTER_S = 5.0
"""Writing moves to the ingest thread once the recorder's thread has written for this long
(seconds) without a slow write; a recorder starts writing from its own thread."""
PROGRESS_EVERY_S = 10.0
"""How often an open segment's row is brought up to date (seconds): a crash is repaired from
the file itself, so the row only needs to be roughly right in between."""
IDLE_CLOSE_S = 3.0
"""A segment that got no packet for this long (seconds) is closed: the camera is gone, and the
index must show a gap rather than an open segment."""
MOTION_HOLD_MAX_S = 600.0
"""How long (seconds) motion that never reports its end keeps an event recording going."""
MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
"""A fragment per GOP, each self-contained: a crash loses at most the last fragment."""
HASH_CHUNK_BYTES = 1 << 20
"""Read size when a file has to be hashed from storage (after a muxer seeked back)."""

IndexOp = Callable[[SegmentIndex], Awaitable[None]]
_CODECS = {"h265": "hevc"}
_H264_PARAMETER_SETS = frozenset({7, 8})
_HEVC_PARAMETER_SETS = frozenset({32, 33, 34})


class RecorderError(Exception):
    """A segment could not be written (storage or muxer failure)."""


def segment_key(camera_id: str, stream: str, start: float) -> str:
    """Storage key of a segment starting at ``start`` (UTC POSIX seconds)."""
    moment = datetime.fromtimestamp(start, UTC)
    stamp = f"{moment:%Y%m%dT%H%M%S}.{moment.microsecond // 1000:03d}Z"
    return f"{camera_id}/{stream}/{moment:%Y/%m/%d/%H}/{stamp}.mp4"


def to_ms(seconds: float) -> int:
    """POSIX seconds as integer milliseconds, as the index stores instants."""
    return round(seconds * 1000)


def annexb_parameter_sets(data: bytes, codec: str) -> bytes:
    """The parameter-set NAL units (SPS/PPS, VPS for HEVC) of an Annex-B packet, Annex-B."""
    hevc = codec == "hevc"
    wanted = _HEVC_PARAMETER_SETS if hevc else _H264_PARAMETER_SETS
    units = [u for u in data.replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")]
    kept = []
    for unit in units:
        if not unit:
            continue
        kind = (unit[0] >> 1) & 0x3F if hevc else unit[0] & 0x1F
        if kind in wanted:
            kept.append(b"\x00\x00\x00\x01" + unit.rstrip(b"\x00"))
    return b"".join(kept)


@attrs.frozen
class ClosedSegment:
    """A segment file the recorder finished."""

    camera_id: str
    stream: str
    storage_key: str
    start_ms: int
    end_ms: int
    bytes: int
    sha256: str
    trigger: SegmentTrigger


@attrs.frozen
class RecorderStats:
    """Counters of one recorder, for health and diagnostics."""

    segments: int
    bytes: int
    queued: int
    dropped: int
    errors: int
    recording: bool

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly rendering."""
        return attrs.asdict(self)


class _CountingWriter:
    """The file object PyAV writes to: counts and hashes bytes on their way to storage."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.size = 0
        self.position = 0
        self.sequential = True
        self.sha256 = hashlib.sha256()

    def write(self, data: bytes) -> int:
        if self.position != self.size:
            self.sequential = False
        written = self.raw.write(data)
        if self.sequential:
            self.sha256.update(data)
        self.position += len(data)
        self.size = max(self.size, self.position)
        return written

    def seek(self, offset: int, whence: int = 0) -> int:
        self.position = self.raw.seek(offset, whence)
        return self.position

    def tell(self) -> int:
        return self.position

    def flush(self) -> None:
        self.raw.flush()


class _Segment:
    """What every segment file being written keeps: its key, times, counts and byte count."""

    def __init__(
        self,
        storage: StorageBackend,
        key: str,
        info: StreamInfo,
        first: MediaPacket,
        trigger: SegmentTrigger,
    ) -> None:
        self.key = key
        self.trigger = trigger
        self.start = first.wallclock
        self.end = first.wallclock
        self.first_dts = first.dts
        self.last_dts: int | None = None
        self.packets = 0
        self.audio_packets = 0
        self._time_base = Fraction(*info.time_base)
        self._seconds_per_tick = float(self._time_base)
        self._frame_ticks = round(1 / (info.fps * self._seconds_per_tick)) if info.fps > 0 else 1
        self._audio_origin = 0
        self._last_audio_pts: int | None = None
        if info.audio is not None:
            origin = first.dts * self._time_base / Fraction(*info.audio.time_base)
            self._audio_origin = round(origin)
        self._out = _CountingWriter(storage.open_write(key))

    @property
    def size(self) -> int:
        """Bytes written so far (complete fragments once a keyframe was written)."""
        return self._out.size

    def _ticks(self, packet: MediaPacket) -> int:
        """A video packet's duration in ticks: its own, else since the last, else one frame."""
        if packet.duration > 0:
            return packet.duration
        return packet.dts - self.last_dts if self.last_dts is not None else self._frame_ticks

    def _advance(self, packet: MediaPacket) -> None:
        """Count a video packet once written: last dts, packets, end time."""
        ticks = self._ticks(packet)
        self.last_dts = packet.dts
        self.packets += 1
        self.end = packet.wallclock + ticks * self._seconds_per_tick

    def _audio_pts(self, packet: MediaPacket) -> int | None:
        """The audio packet's pts in the file, or None when it precedes the file or repeats."""
        pts = packet.pts - self._audio_origin
        if pts < 0 or (self._last_audio_pts is not None and pts <= self._last_audio_pts):
            return None
        return pts

    def _audio_written(self, pts: int) -> None:
        self._last_audio_pts = pts
        self.audio_packets += 1


class _SegmentFile(_Segment):
    """One segment file muxed by FFmpeg through PyAV (codecs the own writer does not take)."""

    def __init__(
        self,
        storage: StorageBackend,
        key: str,
        info: StreamInfo,
        first: MediaPacket,
        trigger: SegmentTrigger,
    ) -> None:
        super().__init__(storage, key, info, first, trigger)
        try:
            self._container = av.open(self._out, "w", format="mp4", options={"movflags": MOVFLAGS})
            codec = _CODECS.get(info.codec, info.codec)
            stream = self._container.add_stream(codec, rate=round(info.fps) or None)
            if not isinstance(stream, av.VideoStream):
                raise RecorderError(f"codec {info.codec!r} is not a video codec")
            stream.width = info.width
            stream.height = info.height
            stream.time_base = self._time_base
            extradata = info.extradata
            if not extradata and not info.length_prefixed:
                extradata = annexb_parameter_sets(first.data, codec)
            # Only muxed, never encoded: PyAV opens the encoder it attached to the stream when
            # the header is written, and that encoder's own parameter sets would replace the
            # camera's. Open it now, then put the camera's back.
            stream.codec_context.open()
            if extradata:
                stream.codec_context.extradata = extradata
            self._stream = stream
            self._audio: AudioTrack | None = None
            if info.audio is not None and info.audio.codec in AUDIO_CODECS:
                self._audio = AudioTrack(self._container, info.audio)
        except BaseException:
            self._out.raw.close()
            raise

    def write(self, packet: MediaPacket) -> bool:
        """Mux ``packet``; True when that flushed a fragment (a keyframe after the first)."""
        out = av.Packet(packet.data)
        out.dts = packet.dts - self.first_dts
        out.pts = packet.pts - self.first_dts
        out.time_base = self._time_base
        out.is_keyframe = packet.keyframe
        out.stream = self._stream
        out.duration = self._ticks(packet)
        self._container.mux(out)
        self._advance(packet)
        flushed = packet.keyframe and self.packets > 1
        if flushed:
            self._out.flush()
        return flushed

    def write_audio(self, packet: MediaPacket) -> None:
        """Mux an audio packet, unless the file has no audio track or it precedes the file."""
        pts = self._audio_pts(packet)
        if self._audio is None or pts is None:
            return
        self._audio.mux(packet.data, pts, packet.duration)
        self._audio_written(pts)

    def close(self, storage: StorageBackend) -> tuple[int, str]:
        """Finish the file (last fragment, flush, fsync); return its size and SHA-256."""
        try:
            if self._audio is not None:
                self._audio.close()
            self._container.close()
        finally:
            self._out.raw.close()
        if self._out.sequential:
            return self._out.size, self._out.sha256.hexdigest()
        digest = hashlib.sha256()
        with storage.open_read(self.key) as source:
            while chunk := source.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
        return self._out.size, digest.hexdigest()

    def abandon(self) -> None:
        """Release the file after a failure; its row stays open for the next reconciliation."""
        try:
            self._container.close()
        except Exception:
            _LOGGER.debug("Closing the muxer of %s failed", self.key, exc_info=True)
        try:
            self._out.raw.close()
        except Exception:
            _LOGGER.debug("Closing %s failed", self.key, exc_info=True)


class _Fmp4SegmentFile(_Segment):
    """One segment file written by :class:`Fmp4Writer` (H.264/H.265, AAC or no audio)."""

    def __init__(
        self,
        storage: StorageBackend,
        key: str,
        info: StreamInfo,
        first: MediaPacket,
        trigger: SegmentTrigger,
    ) -> None:
        super().__init__(storage, key, info, first, trigger)
        try:
            self._writer = Fmp4Writer(self._out.write, info, first.data)
        except BaseException:
            self._out.raw.close()
            raise

    def write(self, packet: MediaPacket) -> bool:
        """Add ``packet``; True when that wrote a fragment (a keyframe after the first)."""
        flushed = self._writer.add_video(
            packet.data, packet.dts - self.first_dts, packet.pts - self.first_dts, packet.keyframe
        )
        self._advance(packet)
        if flushed:
            self._out.flush()
        return flushed

    def write_audio(self, packet: MediaPacket) -> None:
        """Add an audio packet, unless it precedes the file."""
        pts = self._audio_pts(packet)
        if pts is None:
            return
        self._writer.add_audio(packet.data, pts, packet.duration or 1024)
        self._audio_written(pts)

    def close(self, storage: StorageBackend) -> tuple[int, str]:
        """Write the last fragment, flush and fsync; return the size and SHA-256."""
        try:
            self._writer.close()
        finally:
            self._out.raw.close()
        return self._out.size, self._out.sha256.hexdigest()

    def abandon(self) -> None:
        """Release the file after a failure; its row stays open for the next reconciliation."""
        try:
            self._out.raw.close()
        except Exception:
            _LOGGER.debug("Closing %s failed", self.key, exc_info=True)


_Item = tuple[MediaPacket, StreamInfo, bool]


class _Mailbox:
    """Hands packets from the ingest thread to the writer thread in batches, never blocking."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: list[_Item | None] = []
        self._lock = threading.Lock()
        self._ready = threading.Event()

    def put(self, item: _Item | None, *, wake: bool, force: bool = False) -> bool:
        """Add ``item`` (False when full, unless ``force``); wake the writer if asked or due."""
        with self._lock:
            if not force and len(self._items) >= self._capacity:
                return False
            self._items.append(item)
            if wake or len(self._items) >= WAKE_EVERY_PACKETS:
                self._ready.set()
        return True

    def wait(self, timeout: float) -> None:
        """Return after a wake-up or ``timeout`` seconds."""
        self._ready.wait(timeout)

    def take(self) -> list[_Item | None]:
        """Everything waiting (maybe nothing), at once."""
        with self._lock:
            items, self._items = self._items, []
            self._ready.clear()
        return items

    def qsize(self) -> int:
        """Items waiting."""
        return len(self._items)


class Recorder:
    """Records one camera stream into segment files; ``consume`` is its StreamSource consumer.

    ``submit`` hands an index operation to the event loop (in order, without waiting);
    ``on_recording`` is called from the writer thread (it must only post to the loop) and
    ``on_closed`` in the event loop, once the segment's row is finished.
    """

    def __init__(
        self,
        camera_id: str,
        stream: str,
        settings: RecordingSettings,
        storage: StorageBackend,
        submit: Callable[[IndexOp], None],
        on_recording: Callable[[bool], None],
        on_closed: Callable[[ClosedSegment], None],
    ) -> None:
        self.camera_id = camera_id
        self.stream = stream
        self.settings = settings
        self._storage = storage
        self._submit = submit
        self._on_recording = on_recording
        self._on_closed = on_closed
        self._queue = _Mailbox(QUEUE_MAX_PACKETS)
        self._writing = threading.Lock()
        """Held by whichever thread writes: the ingest thread, or the writer thread."""
        self._inline = False
        """Whether the ingest thread writes (storage proved fast) or the writer thread does."""
        self._fast_since = time.monotonic()
        self._last_item = time.monotonic()
        self._ended = False
        self._last_progress = 0.0
        self._need_keyframe = True
        self._warned_full = False
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._trigger_until = 0.0
        self._motion_until = 0.0
        # Writer-thread state.
        self._segment: _SegmentFile | _Fmp4SegmentFile | None = None
        self._info: StreamInfo | None = None
        self._last_dts: int | None = None
        self._last_key: str | None = None
        self._recording = False
        self._ring: collections.deque[list[MediaPacket]] = collections.deque()
        self._event_end = 0.0
        self._segments = 0
        self._bytes = 0
        self._dropped = 0
        self._errors = 0

    @property
    def event_mode(self) -> bool:
        """Whether this recorder writes only around events."""
        return self.settings.mode is RecordingMode.EVENT

    # --- ingest thread --------------------------------------------------------------------

    def consume(self, packet: MediaPacket, info: StreamInfo) -> None:
        """Write ``packet`` now, or queue it for the writer thread; never waits on storage.

        Written here, in the ingest thread, while storage keeps up (nothing queued, no slow
        write since); otherwise queued, and a full queue drops to the next GOP.
        """
        resync = self._need_keyframe
        if resync and (packet.audio or not packet.keyframe):
            self._dropped += 1
            return
        if self._inline and not self._queue.qsize() and self._writing.acquire(blocking=False):
            try:
                if self._ended:
                    return
                started = time.monotonic()
                self._handle_safely(packet, info, resync)
                self._last_item = started
            finally:
                self._writing.release()
            self._need_keyframe = False
            elapsed = time.monotonic() - started
            if elapsed >= SLOW_WRITE_S:
                self._inline = False
                self._fast_since = started + elapsed
                _LOGGER.debug(
                    "Recorder %s/%s: a write took %.3f s: writing from its own thread again",
                    self.camera_id,
                    self.stream,
                    elapsed,
                )
            return
        wake = packet.keyframe and not packet.audio
        if not self._queue.put((packet, info, resync), wake=wake):
            self._dropped += 1
            self._need_keyframe = True
            if not self._warned_full:
                self._warned_full = True
                _LOGGER.warning(
                    "Recorder %s/%s cannot keep up: dropping packets until it catches up "
                    "(%d queued; further drops are only counted)",
                    self.camera_id,
                    self.stream,
                    QUEUE_MAX_PACKETS,
                )
            return
        self._need_keyframe = False

    # --- event loop -----------------------------------------------------------------------

    def trigger(self, until: float) -> None:
        """Record (event mode) until ``until`` (POSIX seconds), or longer if already asked."""
        with self._lock:
            self._trigger_until = max(self._trigger_until, until)

    def motion(self, active: bool, now: float) -> None:
        """Motion started (record while it lasts) or ended (record the post-roll more)."""
        with self._lock:
            hold = MOTION_HOLD_MAX_S if active else self.settings.post_roll
            self._motion_until = now + hold

    def stats(self) -> RecorderStats:
        """Current counters (read without locking: each is a single value)."""
        return RecorderStats(
            segments=self._segments,
            bytes=self._bytes,
            queued=self._queue.qsize(),
            dropped=self._dropped,
            errors=self._errors,
            recording=self._recording,
        )

    # --- lifetime -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the writer thread."""
        name = f"recorder:{self.camera_id}/{self.stream}"
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Write what is queued, close the segment and end the thread; blocking."""
        if self._thread is None:
            return True
        self._queue.put(None, wake=True, force=True)
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # --- writer thread --------------------------------------------------------------------

    def _run(self) -> None:
        running = True
        while running:
            self._queue.wait(WAKE_TIMEOUT_S)
            with self._writing:
                items = self._queue.take()
                if not items:
                    idle = time.monotonic() - self._last_item >= IDLE_CLOSE_S
                    if self._segment is not None and idle:
                        _LOGGER.debug("Recorder %s/%s idle: closing", self.camera_id, self.stream)
                        self._finish_segment()
                        self._set_recording(False)
                    continue
                self._last_item = time.monotonic()
                for item in items:
                    if item is None:
                        running = False
                        break
                    started = time.monotonic()
                    self._handle_safely(*item)
                    done = time.monotonic()
                    if done - started >= SLOW_WRITE_S:
                        self._fast_since = done
                if time.monotonic() - self._fast_since >= TRUST_AFTER_S:
                    self._inline = True
        with self._writing:
            self._ended = True
            self._finish_segment()
            self._set_recording(False)

    def _handle_safely(self, packet: MediaPacket, info: StreamInfo, resync: bool) -> None:
        try:
            self._handle(packet, info, resync)
        except Exception:
            self._errors += 1
            _LOGGER.exception(
                "Recorder %s/%s failed to write; the segment is left for repair",
                self.camera_id,
                self.stream,
            )
            self._abandon()

    def _handle(self, packet: MediaPacket, info: StreamInfo, resync: bool) -> None:
        if packet.audio:
            if info is not self._info:  # audio of a run whose video never reached the writer
                return
            if self.event_mode:
                self._handle_event_mode(packet, info)
            else:
                self._write(packet, info, SegmentTrigger.CONTINUOUS)
            return
        new_run = (
            resync
            or info is not self._info
            or (self._last_dts is not None and packet.dts <= self._last_dts)
        )
        self._last_dts = packet.dts
        self._info = info
        if new_run:
            self._finish_segment()
            self._ring.clear()
        if self.event_mode:
            self._handle_event_mode(packet, info)
            return
        self._write(packet, info, SegmentTrigger.CONTINUOUS)

    def _write(self, packet: MediaPacket, info: StreamInfo, trigger: SegmentTrigger) -> None:
        segment = self._segment
        if packet.audio:
            if segment is not None:
                segment.write_audio(packet)
            return
        if (
            segment is not None
            and packet.keyframe
            and packet.wallclock - segment.start >= self.settings.segment_seconds
        ):
            self._finish_segment()
            segment = None
        if segment is None:
            if not packet.keyframe:
                self._dropped += 1
                return
            segment = self._open_segment(packet, info, trigger)
        if segment.write(packet) and time.monotonic() - self._last_progress >= PROGRESS_EVERY_S:
            self._last_progress = time.monotonic()
            key, end_ms, size = segment.key, to_ms(packet.wallclock), segment.size
            self._submit(lambda index: index.update_progress(key, end_ms, size))

    def _handle_event_mode(self, packet: MediaPacket, info: StreamInfo) -> None:
        if packet.keyframe and not packet.audio:
            self._ring.append([packet])
        elif self._ring:
            self._ring[-1].append(packet)
        horizon = packet.wallclock - self.settings.pre_roll
        while len(self._ring) > 1 and self._ring[1][0].wallclock <= horizon:
            self._ring.popleft()
        with self._lock:
            until = max(self._trigger_until, self._motion_until)
        wanted = packet.wallclock < until
        if self._segment is not None:
            if wanted:
                self._write(packet, info, SegmentTrigger.EVENT)
            else:
                self._event_end = self._segment.end
                self._finish_segment()
                self._set_recording(False)
            return
        if not wanted:
            return
        # Start from the oldest buffered GOP the previous event did not already write.
        fresh = [gop for gop in self._ring if gop[0].wallclock >= self._event_end - 1e-3]
        for gop in fresh:
            for buffered in gop:
                self._write(buffered, info, SegmentTrigger.EVENT)

    def _open_segment(
        self, packet: MediaPacket, info: StreamInfo, trigger: SegmentTrigger
    ) -> _SegmentFile | _Fmp4SegmentFile:
        start = packet.wallclock
        key = segment_key(self.camera_id, self.stream, start)
        while key == self._last_key:  # two starts in one millisecond: keep both files
            start += 0.001
            key = segment_key(self.camera_id, self.stream, start)
        self._last_key = key
        segment: _SegmentFile | _Fmp4SegmentFile
        if fmp4_supports(info):
            segment = _Fmp4SegmentFile(self._storage, key, info, packet, trigger)
        else:
            segment = _SegmentFile(self._storage, key, info, packet, trigger)
        self._segment = segment
        row = NewSegment(
            camera_id=self.camera_id,
            stream=self.stream,
            start_ms=to_ms(packet.wallclock),
            storage_key=key,
            codec=info.codec,
            width=info.width,
            height=info.height,
            fps=info.fps,
            trigger=trigger,
        )

        async def insert(index: SegmentIndex) -> None:
            await index.insert(row)

        self._submit(insert)
        self._set_recording(True)
        return segment

    def _finish_segment(self) -> None:
        segment, self._segment = self._segment, None
        if segment is None:
            return
        try:
            size, sha256 = segment.close(self._storage)
        except Exception:
            self._errors += 1
            _LOGGER.exception(
                "Recorder %s/%s could not close %s; it is left for repair",
                self.camera_id,
                self.stream,
                segment.key,
            )
            return
        closed = ClosedSegment(
            camera_id=self.camera_id,
            stream=self.stream,
            storage_key=segment.key,
            start_ms=to_ms(segment.start),
            end_ms=to_ms(segment.end),
            bytes=size,
            sha256=sha256,
            trigger=segment.trigger,
        )
        self._segments += 1
        self._bytes += size
        on_closed = self._on_closed

        async def finish(index: SegmentIndex) -> None:
            await index.finish(
                closed.storage_key,
                closed.end_ms,
                closed.bytes,
                closed.sha256,
                SegmentState.COMPLETE,
            )
            on_closed(closed)

        self._submit(finish)

    def _abandon(self) -> None:
        segment, self._segment = self._segment, None
        if segment is not None:
            segment.abandon()
        self._ring.clear()
        self._last_dts = None
        self._set_recording(False)

    def _set_recording(self, recording: bool) -> None:
        if recording != self._recording:
            self._recording = recording
            self._on_recording(recording)
