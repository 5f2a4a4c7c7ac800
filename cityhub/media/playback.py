"""Playback of recordings: what was recorded when, and remuxing it to fMP4 or MP4.

The recording index (``segments``) says which fragmented-MP4 file holds which instants. A
packet's capture instant is its segment's ``start_ms`` plus its presentation time relative to
the segment's first packet (a keyframe), so the timestamps written inside the files never
matter. Nothing is decoded: packets are demuxed from the segment files and muxed again with
timestamps measured from the first exported frame, so media time ``t`` in the output is the
instant ``start + t``; a gap in the recording shows as the last frame held until the next one.
An audio track recorded with the video is carried along on the same clock (audio before the
first exported keyframe or after the end is left out).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import math
from collections.abc import AsyncGenerator, Callable, Generator, Iterator, Mapping, Sequence
from contextlib import ExitStack
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import attrs
import av
import av.audio.stream
import av.container
import av.packet
import av.video.stream

from cityhub.api import StorageBackend
from cityhub.db import Database
from cityhub.media import fmp4
from cityhub.media.index import Segment, TimeRange, coverage, from_ms, gap_tolerance_ms, to_ms

__all__ = [
    "DEFAULT_STREAM",
    "AudioTrackInfo",
    "NoFootageError",
    "Playback",
    "PlaybackError",
    "RemuxResult",
    "SegmentMissingError",
    "SourceIntegrityError",
    "StreamChangedError",
    "Timeline",
]

DEFAULT_STREAM = "main"
"""The profile played and exported unless another is asked for: the native, full-quality one."""

FMP4_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
"""Fragmented MP4 for streaming: an init segment, then one fragment per GOP, no seeking back."""
FASTSTART_MOVFLAGS = "+faststart"
"""Regular MP4 with the index in front: any player opens it, even while it is still copying."""

OUTPUT_TIME_BASE = Fraction(1, 90000)
"""Time base of the output track (seconds): the MPEG 90 kHz clock, exact for every common fps."""

HASH_CHUNK_BYTES = 1 << 20
"""Read size (bytes) when hashing a segment file: large enough to stream at disk speed."""

Progress = Callable[[int, int], None]
"""Called with (milliseconds of the range done, milliseconds in the range), from a thread."""


class PlaybackError(Exception):
    """Base class of the errors this module raises."""


class NoFootageError(PlaybackError):
    """Nothing was recorded for this camera and stream over the range asked for."""


class SegmentMissingError(PlaybackError):
    """A segment listed in the index has no file in storage (deleted or lost)."""


class SourceIntegrityError(PlaybackError):
    """A segment file no longer has the SHA-256 recorded in the index when it was closed."""


class StreamChangedError(PlaybackError):
    """The codec or picture size changes within the range; one MP4 track cannot hold both."""


@attrs.frozen
class Timeline:
    """A camera stream's recordings over a range: the segments, their runs and the gaps."""

    camera_id: str
    stream: str
    start_ms: int
    end_ms: int
    segments: tuple[Segment, ...]
    recordings: tuple[TimeRange, ...]
    gaps: tuple[TimeRange, ...]


@attrs.frozen
class AudioTrackInfo:
    """The audio track a remux wrote: codec, sample rate, channels and packets muxed."""

    codec: str
    sample_rate: int
    channels: int
    packets: int


@attrs.frozen
class RemuxResult:
    """What a remux wrote: the instants of its first and last frames, frames, codec, gaps.

    ``audio`` describes the audio track, ``None`` when the recording had none.
    """

    first_ms: int
    last_ms: int
    end_ms: int
    frames: int
    codec: str
    width: int
    height: int
    fps: float
    gaps: tuple[TimeRange, ...]
    sources: tuple[Segment, ...]
    audio: AudioTrackInfo | None = None


@attrs.define
class _Frame:
    """A demuxed packet, its capture instants (ms, exact) and its segment's streams.

    ``audio`` says the packet is the audio stream's; ``stream`` is always the segment's video
    stream and ``audio_stream`` its audio stream, if any (templates of the output tracks).
    """

    packet: av.packet.Packet[Any]
    pts_ms: Fraction
    dts_ms: Fraction
    duration_ms: Fraction
    stream: av.video.stream.VideoStream
    audio_stream: av.audio.stream.AudioStream | None = None
    audio: bool = False


class _ChunkSink:
    """A write-only file for PyAV that keeps what the muxer wrote until it is taken."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def write(self, data: bytes) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        """Everything written since the last call."""
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


class Playback:
    """Reads the recording index and the segment files: timelines, fMP4 streams, MP4 files."""

    def __init__(self, db: Database, storage: StorageBackend) -> None:
        self.db = db
        self.storage = storage

    async def segments(
        self, camera_id: str, stream: str, start: datetime, end: datetime
    ) -> list[Segment]:
        """The segments of ``camera_id``/``stream`` holding instants in [start, end], in order."""
        rows = await self.db.fetchall(
            "SELECT * FROM segments"
            " WHERE camera_id = ? AND stream = ? AND start_ms <= ?"
            " AND (end_ms >= ? OR state = 'open') ORDER BY start_ms, id",
            (camera_id, stream, to_ms(end), to_ms(start)),
        )
        return [Segment.from_row(row) for row in rows]

    async def timeline(
        self, camera_id: str, stream: str, start: datetime, end: datetime
    ) -> Timeline:
        """Recordings and gaps of a camera stream over [start, end], from the index."""
        start_ms, end_ms = to_ms(start), to_ms(end)
        segments = await self.segments(camera_id, stream, start, end)
        found = coverage(segments, start_ms, end_ms, now_ms=to_ms(datetime.now(UTC)))
        return Timeline(
            camera_id, stream, start_ms, end_ms, tuple(segments), found.recorded, found.gaps
        )

    async def stream(
        self,
        camera_id: str,
        stream: str,
        start: datetime,
        end: datetime,
        *,
        on_first: Callable[[Fraction], None] | None = None,
    ) -> AsyncGenerator[bytes, None]:
        """Fragmented MP4 of [start, end]: the init segment, then one fragment per GOP.

        It starts at the keyframe at or before ``start`` and raises :class:`NoFootageError`
        before yielding anything when there is no footage in the range. ``on_first`` is called
        (from a worker thread) with the UTC instant in ms of the first frame, media time 0,
        before the init segment is yielded.
        """
        segments = await self.segments(camera_id, stream, start, end)
        chunks = self._fmp4_chunks(segments, to_ms(start), to_ms(end), on_first)
        try:
            while True:
                chunk = await asyncio.to_thread(next, chunks, None)
                if chunk is None:
                    return
                yield chunk
        finally:
            await asyncio.to_thread(chunks.close)

    async def remux_to_file(
        self,
        camera_id: str,
        stream: str,
        start: datetime,
        end: datetime,
        path: Path,
        *,
        verify_sources: bool = False,
        metadata: Mapping[str, str] | None = None,
        progress: Progress | None = None,
    ) -> RemuxResult:
        """Write [start, end] to ``path`` as a regular MP4 with the index in front (faststart).

        It starts at the keyframe at or before ``start`` and ends with the last frame at or
        before ``end``. With ``verify_sources``, each segment file is first checked against
        the SHA-256 in the index (:class:`SourceIntegrityError` on a mismatch). ``metadata``
        goes into the file's tags (``title``, ``location``...); ``creation_time`` is always
        the UTC instant of the first frame.
        """
        segments = await self.segments(camera_id, stream, start, end)
        return await asyncio.to_thread(
            self._remux_file,
            segments,
            to_ms(start),
            to_ms(end),
            path,
            verify_sources,
            metadata or {},
            progress,
        )

    # --- blocking work, in worker threads ---------------------------------------------------

    def _fmp4_chunks(
        self,
        segments: Sequence[Segment],
        start_ms: int,
        end_ms: int,
        on_first: Callable[[Fraction], None] | None = None,
    ) -> Generator[bytes, None, None]:
        """The fMP4 bytes of the range, one chunk per muxer flush."""
        sink = _ChunkSink()
        frames = self._frames(segments, start_ms, end_ms, verify_sources=False, used=[])
        with ExitStack() as stack:
            first = next(frames, None)
            if first is None:
                raise NoFootageError(_no_footage(segments, start_ms, end_ms))
            if on_first is not None:
                on_first(first.pts_ms)
            output = stack.enter_context(
                av.open(sink, "w", format="mp4", options={"movflags": FMP4_MOVFLAGS})
            )
            muxer = _Muxer(output, first)
            output.start_encoding()
            yield sink.take()
            muxer.mux(first)
            for frame in frames:
                muxer.mux(frame)
                chunk = sink.take()
                if chunk:
                    yield chunk
        tail = sink.take()
        if tail:
            yield tail

    def _remux_file(
        self,
        segments: Sequence[Segment],
        start_ms: int,
        end_ms: int,
        path: Path,
        verify_sources: bool,
        metadata: Mapping[str, str],
        progress: Progress | None,
    ) -> RemuxResult:
        """Remux the range into a faststart MP4 at ``path``; return what was written."""
        used: list[Segment] = []
        frames = self._frames(segments, start_ms, end_ms, verify_sources=verify_sources, used=used)
        first = next(frames, None)
        if first is None:
            raise NoFootageError(_no_footage(segments, start_ms, end_ms))
        total = max(end_ms - start_ms, 1)
        with av.open(str(path), "w", format="mp4", options={"movflags": FASTSTART_MOVFLAGS}) as out:
            creation = from_ms(math.floor(first.pts_ms))
            out.metadata.update({**metadata, "creation_time": f"{creation:%Y-%m-%dT%H:%M:%S.%fZ}"})
            muxer = _Muxer(out, first)
            muxer.mux(first)
            for frame in frames:
                muxer.mux(frame)
                if progress is not None and muxer.frames % 25 == 0:
                    progress(min(int(frame.pts_ms) - start_ms, total), total)
        if progress is not None:
            progress(total, total)
        return muxer.result(used)

    def _frames(
        self,
        segments: Sequence[Segment],
        start_ms: int,
        end_ms: int,
        *,
        verify_sources: bool,
        used: list[Segment],
    ) -> Iterator[_Frame]:
        """The frames to remux, from the keyframe at or before ``start_ms`` to ``end_ms``.

        Each segment read is appended to ``used``.
        """
        if end_ms < start_ms:
            return
        first_index = _first_segment(segments, start_ms)
        if first_index is None:
            return
        template: Segment | None = None
        pending: list[_Frame] = []
        started = False
        for segment in segments[first_index:]:
            if segment.start_ms > end_ms:
                break
            if template is not None and (segment.codec, segment.width, segment.height) != (
                template.codec,
                template.width,
                template.height,
            ):
                raise StreamChangedError(
                    f"camera {segment.camera_id} changes from {template.codec} "
                    f"{template.width}x{template.height} to {segment.codec} "
                    f"{segment.width}x{segment.height} at "
                    f"{from_ms(segment.start_ms):%Y-%m-%d %H:%M:%S} UTC; export the ranges "
                    f"before and after separately"
                )
            template = segment
            used.append(segment)
            for frame in self._segment_frames(segment, verify_sources):
                if frame.pts_ms > end_ms:
                    if frame.packet.is_keyframe and not frame.audio:
                        break
                    continue
                if not started:
                    if frame.audio:
                        if pending:
                            pending.append(frame)
                        continue
                    if frame.packet.is_keyframe:
                        pending = [frame]
                    elif pending:
                        pending.append(frame)
                    if frame.pts_ms < start_ms:
                        continue
                    started = True
                    yield from pending
                    pending = []
                    continue
                yield frame
        # Not started: no frame at or after ``start_ms``, so nothing in the range. The pending
        # GOP lies before it, and its segment's container is closed by now: its packets must
        # not reach a muxer (PyAV crashes on a stream of a closed container).

    def _segment_frames(self, segment: Segment, verify: bool) -> Iterator[_Frame]:
        """The video and audio packets of one segment file with their capture instants."""
        if verify and segment.sha256 is not None:
            actual = self._hash(segment)
            if actual != segment.sha256:
                raise SourceIntegrityError(
                    f"segment {segment.storage_key} (camera {segment.camera_id}) has SHA-256 "
                    f"{actual}, but the index recorded {segment.sha256} when it was closed: "
                    f"the file was altered or damaged after recording"
                )
        opened = self._open(segment)
        if opened is None:
            return
        with opened as file, av.open(file, "r", format="mp4") as container:
            if not container.streams.video:
                return
            video = container.streams.video[0]
            audio = container.streams.audio[0] if container.streams.audio else None
            # Both tracks share the file's clock; the first video packet is the segment's start.
            reference: Fraction | None = None
            early: list[av.packet.Packet[Any]] = []
            streams: list[Any] = [video] if audio is None else [video, audio]
            for packet in container.demux(streams):
                if packet.size == 0 or packet.time_base is None:
                    continue
                if packet.pts is None and packet.dts is None:
                    continue
                is_audio = packet.stream_index != video.index
                if reference is None:
                    if is_audio:  # demuxed before the first video packet: place it after
                        early.append(packet)
                        continue
                    reference = _instant_ms(packet)[0]
                for held in [*early, packet]:
                    pts_ms, dts_ms, duration_ms = _instant_ms(held)
                    yield _Frame(
                        packet=held,
                        pts_ms=segment.start_ms + pts_ms - reference,
                        dts_ms=segment.start_ms + dts_ms - reference,
                        duration_ms=duration_ms,
                        stream=video,
                        audio_stream=audio,
                        audio=held.stream_index != video.index,
                    )
                early.clear()

    def _open(self, segment: Segment) -> BinaryIO | None:
        """The segment's file; for one still being written, a copy of its complete fragments.

        The recorder appends to an open segment while it is read: FFmpeg must never meet a
        fragment cut in the middle (it fails, and PyAV's reader has crashed the process on
        the next file after such a failure), so it gets what :func:`fmp4.scan` finds complete.
        """
        try:
            file = self.storage.open_read(segment.storage_key)
        except FileNotFoundError as err:
            raise SegmentMissingError(
                f"segment {segment.storage_key} (camera {segment.camera_id}, from "
                f"{from_ms(segment.start_ms):%Y-%m-%d %H:%M:%S} UTC) is in the index but its "
                f"file is missing from storage"
            ) from err
        if not segment.is_open:
            return file
        with file:
            data = file.read()
        try:
            complete = fmp4.scan(data).valid_bytes
        except fmp4.NotFragmentedMp4Error:
            complete = 0
        if not complete or not fmp4.scan(data[:complete]).fragments:
            return None
        return io.BytesIO(data[:complete])

    def _hash(self, segment: Segment) -> str:
        digest = hashlib.sha256()
        opened = self._open(segment)
        if opened is None:
            return digest.hexdigest()
        with opened as file:
            while chunk := file.read(HASH_CHUNK_BYTES):
                digest.update(chunk)
        return digest.hexdigest()


def _instant_ms(packet: av.packet.Packet[Any]) -> tuple[Fraction, Fraction, Fraction]:
    """A demuxed packet's pts, dts and duration in milliseconds of its file's clock."""
    assert packet.time_base is not None
    ms = Fraction(packet.time_base) * 1000
    pts = packet.pts if packet.pts is not None else packet.dts
    dts = packet.dts if packet.dts is not None else pts
    assert pts is not None
    assert dts is not None
    return pts * ms, dts * ms, (packet.duration or 0) * ms


def _first_segment(segments: Sequence[Segment], start_ms: int) -> int | None:
    """Index of the segment to start from: the one holding ``start_ms``, else the next one."""
    holding = None
    for index, segment in enumerate(segments):
        if segment.start_ms <= start_ms and (segment.is_open or segment.end_ms >= start_ms):
            holding = index
    if holding is not None:
        return holding
    return next((i for i, s in enumerate(segments) if s.start_ms > start_ms), None)


def _no_footage(segments: Sequence[Segment], start_ms: int, end_ms: int) -> str:
    if end_ms < start_ms:
        return "the range is empty: it ends before it starts"
    return (
        f"no footage between {from_ms(start_ms):%Y-%m-%d %H:%M:%S} and "
        f"{from_ms(end_ms):%Y-%m-%d %H:%M:%S} UTC"
        + ("" if segments else " (no segment in the recording index)")
    )


class _Muxer:
    """Muxes frames into the output's video track (and audio track, when the first segment
    has audio), timestamps measured from the first frame."""

    def __init__(self, output: av.container.OutputContainer, first: _Frame) -> None:
        self.output = output
        self.track = output.add_stream_from_template(first.stream)
        self.track.time_base = OUTPUT_TIME_BASE
        self.audio_track: av.audio.stream.AudioStream | None = None
        self._audio_key: tuple[str, int, int] | None = None
        if first.audio_stream is not None:
            self.audio_track = output.add_stream_from_template(first.audio_stream)
            self.audio_track.time_base = first.audio_stream.time_base
            self._audio_key = _audio_key(first.audio_stream)
        self.audio_packets = 0
        self._last_audio_dts: int | None = None
        self.origin_ms = first.pts_ms
        self.frames = 0
        self.codec = first.stream.codec_context.name
        self.width = first.stream.codec_context.width
        self.height = first.stream.codec_context.height
        rate = first.stream.average_rate or first.stream.guessed_rate
        self.fps = float(rate) if rate else 0.0
        self.tolerance_ms = gap_tolerance_ms(self.fps)
        self._last_dts: int | None = None
        self._last_pts_ms = first.pts_ms
        self._end_ms = first.pts_ms
        self._gaps: list[TimeRange] = []

    def mux(self, frame: _Frame) -> None:
        """Mux one frame with output timestamps; record a gap when it follows a hole."""
        if frame.audio:
            self._mux_audio(frame)
            return
        time_base = self.track.time_base
        assert time_base is not None
        ticks = Fraction(1, 1000) / Fraction(time_base)
        dts = round((frame.dts_ms - self.origin_ms) * ticks)
        if self._last_dts is not None and dts <= self._last_dts:
            dts = self._last_dts + 1
        pts = max(round((frame.pts_ms - self.origin_ms) * ticks), dts)
        if self.frames and frame.pts_ms - self._end_ms > self.tolerance_ms:
            self._gaps.append(TimeRange(math.floor(self._end_ms), math.ceil(frame.pts_ms)))
        packet = frame.packet
        packet.stream = self.track
        packet.time_base = time_base
        packet.dts = dts
        packet.pts = pts
        packet.duration = round(frame.duration_ms * ticks)
        self.output.mux(packet)
        self._last_dts = dts
        self._last_pts_ms = max(self._last_pts_ms, frame.pts_ms)
        self._end_ms = max(self._end_ms, frame.pts_ms + frame.duration_ms)
        self.frames += 1

    def _mux_audio(self, frame: _Frame) -> None:
        """Mux an audio packet on the video's clock; drop what the track cannot take.

        That is audio before the first frame, out of order, or from a segment whose audio
        differs from the first segment's (codec, sample rate, channels).
        """
        track = self.audio_track
        if track is None or frame.audio_stream is None:
            return
        if _audio_key(frame.audio_stream) != self._audio_key:
            return
        time_base = track.time_base
        assert time_base is not None
        ticks = Fraction(1, 1000) / Fraction(time_base)
        dts = round((frame.dts_ms - self.origin_ms) * ticks)
        if dts < 0 or (self._last_audio_dts is not None and dts <= self._last_audio_dts):
            return
        packet = frame.packet
        packet.stream = track
        packet.time_base = time_base
        packet.dts = dts
        packet.pts = max(round((frame.pts_ms - self.origin_ms) * ticks), dts)
        packet.duration = round(frame.duration_ms * ticks)
        self.output.mux(packet)
        self._last_audio_dts = dts
        self.audio_packets += 1

    def result(self, sources: Sequence[Segment]) -> RemuxResult:
        """What was muxed so far."""
        return RemuxResult(
            first_ms=math.floor(self.origin_ms),
            last_ms=math.floor(self._last_pts_ms),
            end_ms=math.ceil(self._end_ms),
            frames=self.frames,
            codec=self.codec,
            width=self.width,
            height=self.height,
            fps=self.fps,
            gaps=tuple(self._gaps),
            sources=tuple(sources),
            audio=None
            if self._audio_key is None
            else AudioTrackInfo(*self._audio_key, packets=self.audio_packets),
        )


def _audio_key(stream: av.audio.stream.AudioStream) -> tuple[str, int, int]:
    """What must not change for audio packets to share one output track."""
    ctx = stream.codec_context
    return (str(ctx.name), int(ctx.sample_rate), int(ctx.channels))
