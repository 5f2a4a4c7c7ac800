"""Ingest: one ``StreamSource`` per camera stream, reading packets in its own thread.

The thread opens a :class:`~cityhub.api.PacketReader`, hands each packet to the consumers (in
the thread: consumers must only enqueue, so a slow one never stalls ingest), keeps counters,
and reconnects with backoff when the reader fails. It reaches the event loop only through the
``on_status`` callback, which the owner wraps with ``loop.call_soon_threadsafe``.

Timestamps. Packets are grouped in *runs*: a run starts at a keyframe after each (re)connect
and after each discontinuity (a dts jump of more than ``DTS_JUMP_MAX_S`` either way); packets
before that keyframe are skipped. Within a run, packets whose dts does not increase are
dropped, dts and pts are rebased so the run's first keyframe is at 0, and ``wallclock`` is the
first keyframe's wallclock plus the dts elapsed since it, so capture times are as regular as
the camera's clock rather than jittering with thread scheduling. A consumer therefore sees a
new run as a keyframe whose dts does not increase on the previous packet (it is 0).

A reader whose ``info`` changes (new parameter sets at a keyframe) starts a new run at that
keyframe, and consumers get the new info with its packets.

Audio (packets with ``audio`` set) rides on the video's runs: it never starts one, audio
before a run's first keyframe is dropped, and audio is rebased to the same origin (converted
to the audio time base) so both tracks share one clock. Its dts is checked on its own: audio
whose dts does not increase, falls before the run's start or strays more than
``DTS_JUMP_MAX_S`` from the video is dropped and counted apart from the video.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from fractions import Fraction
from typing import Any

import attrs

from cityhub.api import CameraState, MediaPacket, PacketReader, StreamError, StreamInfo
from cityhub.redact import redact
from cityhub.supervisor import Backoff, ReconnectBackoff

_LOGGER = logging.getLogger(__name__)

Consumer = Callable[[MediaPacket, StreamInfo], None]

DTS_JUMP_MAX_S = 10.0
"""A dts step larger than this (seconds, forwards or backwards) is a discontinuity.

Cameras restart their clock or skip after a glitch; ten seconds is far above any frame
interval (even 1 fps) and a real outage of that length makes the reader fail anyway.
"""


@attrs.frozen
class StreamStats:
    """Counters of one stream, for health and diagnostics.

    ``packets``, ``dropped``, ``skipped``, ``fps`` and ``bitrate`` are the video's;
    ``dropped`` counts packets whose dts did not increase, ``skipped`` those waiting for a
    run's first keyframe; ``clock_lag`` is how long (seconds) after its capture time, by the
    camera's clock, the last packet was received: steady growth means the camera's clock runs
    slow against ours. ``audio_packets`` counts the audio packets handed out and
    ``audio_dropped`` those refused (no run yet, dts not increasing, or off the video's
    clock); ``bytes`` counts both tracks.
    """

    packets: int
    bytes: int
    dropped: int
    skipped: int
    discontinuities: int
    reconnects: int
    fps: float
    bitrate: float
    last_packet: float | None
    clock_lag: float
    audio_packets: int = 0
    audio_dropped: int = 0

    def as_dict(self) -> dict[str, Any]:
        """A JSON-friendly rendering."""
        return attrs.asdict(self)


class _RateMeter:
    """Frames and bits per second over the last complete one-second bucket."""

    def __init__(self) -> None:
        self._bucket = int(time.monotonic())
        self._frames = 0
        self._bytes = 0
        self.fps = 0.0
        self.bitrate = 0.0

    def add(self, size: int) -> None:
        now = int(time.monotonic())
        if now != self._bucket:
            gap = now - self._bucket
            self.fps = self._frames / gap
            self.bitrate = self._bytes * 8 / gap
            self._bucket, self._frames, self._bytes = now, 0, 0
        self._frames += 1
        self._bytes += size


class _Timeline:
    """The anchor of one run: its first keyframe's dts and wallclock, for both tracks."""

    def __init__(self, first: MediaPacket, info: StreamInfo) -> None:
        self.first_dts = first.dts
        self.first_wallclock = first.wallclock
        self.last_dts = first.dts
        self._seconds_per_tick = float(Fraction(*info.time_base))
        self.last_audio_dts: int | None = None
        self._audio_origin = 0
        self._audio_seconds_per_tick = 0.0
        if info.audio is not None:
            audio_base = Fraction(*info.audio.time_base)
            self._audio_origin = round(first.dts * Fraction(*info.time_base) / audio_base)
            self._audio_seconds_per_tick = float(audio_base)

    def seconds(self, ticks: int) -> float:
        """``ticks`` of the stream's time base, in seconds."""
        return ticks * self._seconds_per_tick

    def rebase(self, packet: MediaPacket) -> MediaPacket:
        """``packet`` with dts/pts counted from the run's start and its capture time."""
        self.last_dts = packet.dts
        elapsed = packet.dts - self.first_dts
        # Built directly rather than with attrs.evolve: this runs for every frame.
        return MediaPacket(
            packet.data,
            elapsed,
            packet.pts - self.first_dts,
            packet.keyframe,
            self.first_wallclock + elapsed * self._seconds_per_tick,
            packet.duration,
            packet.audio,
        )

    def rebase_audio(self, packet: MediaPacket) -> MediaPacket | None:
        """Audio ``packet`` on the run's clock, or ``None`` when it must be dropped."""
        if self.last_audio_dts is not None and packet.dts <= self.last_audio_dts:
            return None
        elapsed = packet.dts - self._audio_origin
        seconds = elapsed * self._audio_seconds_per_tick
        video_seconds = self.seconds(self.last_dts - self.first_dts)
        if seconds < 0 or abs(seconds - video_seconds) > DTS_JUMP_MAX_S:
            return None
        self.last_audio_dts = packet.dts
        return attrs.evolve(
            packet,
            dts=elapsed,
            pts=packet.pts - self._audio_origin,
            wallclock=self.first_wallclock + seconds,
        )


class StreamSource:
    """Reads one camera stream in a dedicated thread and fans its packets out."""

    def __init__(
        self,
        name: str,
        open_reader: Callable[[], PacketReader],
        on_status: Callable[[CameraState, str | None], None],
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self._open_reader = open_reader
        self._on_status = on_status
        self._backoff = backoff or ReconnectBackoff()
        self._consumers: list[Consumer] = []
        self._consumers_lock = threading.Lock()
        self._stop = threading.Event()
        self._reader: PacketReader | None = None
        self._low_latency = False
        self._thread: threading.Thread | None = None
        self.info: StreamInfo | None = None
        self._packets = 0
        self._bytes = 0
        self._dropped = 0
        self._skipped = 0
        self._discontinuities = 0
        self._reconnects = 0
        self._audio_packets = 0
        self._audio_dropped = 0
        self._last_packet: float | None = None
        self._clock_lag = 0.0
        self._rate = _RateMeter()

    def add_consumer(self, consumer: Consumer) -> Callable[[], None]:
        """Call ``consumer(packet, info)`` in the ingest thread for each packet; returns remover."""
        with self._consumers_lock:
            self._consumers = [*self._consumers, consumer]

        def remove() -> None:
            with self._consumers_lock:
                self._consumers = [c for c in self._consumers if c is not consumer]

        return remove

    def start(self) -> None:
        """Start the ingest thread."""
        self._thread = threading.Thread(target=self._run, name=f"ingest:{self.name}", daemon=True)
        self._thread.start()

    def stop(self, timeout: float) -> bool:
        """Ask the thread to stop and wait up to ``timeout`` s; returns whether it ended."""
        self._stop.set()
        reader = self._reader
        if reader is not None:
            try:
                reader.close()
            except Exception:
                _LOGGER.debug("Closing reader of %s failed", self.name, exc_info=True)
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def stats(self) -> StreamStats:
        """Current counters (read without locking: each is a single int or float)."""
        return StreamStats(
            packets=self._packets,
            bytes=self._bytes,
            dropped=self._dropped,
            skipped=self._skipped,
            discontinuities=self._discontinuities,
            reconnects=self._reconnects,
            fps=round(self._rate.fps, 2),
            bitrate=round(self._rate.bitrate),
            last_packet=self._last_packet,
            clock_lag=round(self._clock_lag, 3),
            audio_packets=self._audio_packets,
            audio_dropped=self._audio_dropped,
        )

    def _run(self) -> None:
        self._on_status(CameraState.CONNECTING, None)
        first = True
        while not self._stop.is_set():
            if not first:  # while a camera stays down its state stays offline: no flapping
                self._reconnects += 1
            first = False
            self._backoff.started()
            try:
                self._read_until_failure()
            except StreamError as err:
                if not self._stop.is_set():
                    self._on_status(CameraState.OFFLINE, redact(str(err)) or type(err).__name__)
            except Exception as err:
                reason = redact(f"{type(err).__name__}: {err}")
                if self._backoff.failures == 0:  # a driver bug: its traceback the first time
                    _LOGGER.exception("Stream %s failed: %s", self.name, reason)
                self._on_status(CameraState.ERROR, reason)
            finally:
                self._close_reader()
            if self._stop.is_set():
                break
            delay = self._backoff.next_delay()
            _LOGGER.debug("Stream %s: reconnecting in %.1f s", self.name, delay)
            self._stop.wait(delay)

    def _close_reader(self) -> None:
        reader, self._reader = self._reader, None
        if reader is not None:
            try:
                reader.close()
            except Exception:
                _LOGGER.debug("Closing reader of %s failed", self.name, exc_info=True)

    def set_low_latency(self, on: bool) -> None:
        """Ask the reader (now and after reconnects) to favour latency over CPU: live view.

        Readers that batch their reads (our RTSP client) then wake for every packet; others
        have nothing to change. Callable from any thread.
        """
        self._low_latency = on
        reader = self._reader
        setter = getattr(reader, "set_low_latency", None)
        if callable(setter):
            setter(on)

    def _read_until_failure(self) -> None:
        reader = self._open_reader()
        self._reader = reader
        setter = getattr(reader, "set_low_latency", None)
        if callable(setter) and self._low_latency:
            setter(True)
        if self._stop.is_set():
            return
        info = reader.info
        self.info = info
        timeline: _Timeline | None = None
        jump_max = round(DTS_JUMP_MAX_S / float(Fraction(*info.time_base)))
        online = False
        while not self._stop.is_set():
            received = reader.read()
            if received.audio:
                audio = None
                if timeline is not None and info.audio is not None:
                    audio = timeline.rebase_audio(received)
                if audio is None:
                    self._audio_dropped += 1
                    continue
                self._audio_packets += 1
                self._bytes += len(audio.data)
                self._hand_out(audio, info)
                continue
            if received.keyframe and reader.info is not info:
                # The reader describes the stream anew (in-band parameter sets changed): a
                # new run from this keyframe, which consumers see with the new info.
                info = reader.info
                self.info = info
                timeline = None
            if timeline is not None:
                step = received.dts - timeline.last_dts
                if abs(step) > jump_max:
                    self._discontinuities += 1
                    _LOGGER.info(
                        "Stream %s: dts jumped by %.1f s, starting a new run",
                        self.name,
                        timeline.seconds(step),
                    )
                    timeline = None
                elif step <= 0:
                    self._dropped += 1
                    continue
            if timeline is None:
                if not received.keyframe:
                    self._skipped += 1
                    continue
                timeline = _Timeline(received, info)
            packet = timeline.rebase(received)
            if not online:
                online = True
                self._on_status(CameraState.ONLINE, None)
            self._packets += 1
            self._bytes += len(packet.data)
            self._last_packet = packet.wallclock
            self._clock_lag = received.wallclock - packet.wallclock
            self._rate.add(len(packet.data))
            self._hand_out(packet, info)

    def _hand_out(self, packet: MediaPacket, info: StreamInfo) -> None:
        for consumer in self._consumers:
            try:
                consumer(packet, info)
            except Exception:
                _LOGGER.exception("Consumer %r of %s failed", consumer, self.name)
