"""Ingest: one ``StreamSource`` per camera stream, reading packets in its own thread.

The thread opens a :class:`~cityhub.api.PacketReader`, drops packets whose dts does not
increase, hands each packet to the consumers (in the thread: consumers must only enqueue, so a
slow one never stalls ingest), keeps counters, and reconnects with backoff when the reader
fails. It reaches the event loop only through the ``on_status`` callback, which the owner
wraps with ``loop.call_soon_threadsafe``.
"""

from __future__ import annotations

import enum
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import attrs

from cityhub.api import MediaPacket, PacketReader, StreamError, StreamInfo
from cityhub.redact import redact
from cityhub.supervisor import Backoff

_LOGGER = logging.getLogger(__name__)

Consumer = Callable[[MediaPacket, StreamInfo], None]


class SourceStatus(enum.Enum):
    """What the ingest thread reports to its owner."""

    CONNECTING = "connecting"
    ONLINE = "online"
    OFFLINE = "offline"
    ERROR = "error"


@attrs.frozen
class StreamStats:
    """Counters of one stream, for health and diagnostics."""

    packets: int
    bytes: int
    dropped: int
    reconnects: int
    fps: float
    bitrate: float
    last_packet: float | None

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


class StreamSource:
    """Reads one camera stream in a dedicated thread and fans its packets out."""

    def __init__(
        self,
        name: str,
        open_reader: Callable[[], PacketReader],
        on_status: Callable[[SourceStatus, str | None], None],
        backoff: Backoff | None = None,
    ) -> None:
        self.name = name
        self._open_reader = open_reader
        self._on_status = on_status
        self._backoff = backoff or Backoff()
        self._consumers: list[Consumer] = []
        self._consumers_lock = threading.Lock()
        self._stop = threading.Event()
        self._reader: PacketReader | None = None
        self._thread: threading.Thread | None = None
        self.info: StreamInfo | None = None
        self._packets = 0
        self._bytes = 0
        self._dropped = 0
        self._reconnects = 0
        self._last_packet: float | None = None
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
            reconnects=self._reconnects,
            fps=round(self._rate.fps, 2),
            bitrate=round(self._rate.bitrate),
            last_packet=self._last_packet,
        )

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            if not first:
                self._reconnects += 1
            first = False
            self._backoff.started()
            self._on_status(SourceStatus.CONNECTING, None)
            try:
                self._read_until_failure()
            except StreamError as err:
                if not self._stop.is_set():
                    self._on_status(SourceStatus.OFFLINE, redact(str(err)) or type(err).__name__)
            except Exception as err:
                reason = redact(f"{type(err).__name__}: {err}")
                if self._backoff.failures == 0:  # a driver bug: its traceback once per series
                    _LOGGER.exception("Stream %s failed: %s", self.name, reason)
                self._on_status(SourceStatus.ERROR, reason)
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

    def _read_until_failure(self) -> None:
        reader = self._open_reader()
        self._reader = reader
        if self._stop.is_set():
            return
        info = reader.info
        self.info = info
        last_dts: int | None = None
        online = False
        while not self._stop.is_set():
            packet = reader.read()
            if last_dts is not None and packet.dts <= last_dts:
                self._dropped += 1
                continue
            last_dts = packet.dts
            if not online:
                online = True
                self._on_status(SourceStatus.ONLINE, None)
            self._packets += 1
            self._bytes += len(packet.data)
            self._last_packet = packet.wallclock
            self._rate.add(len(packet.data))
            for consumer in self._consumers:
                try:
                    consumer(packet, info)
                except Exception:
                    _LOGGER.exception("Consumer %r of %s failed", consumer, self.name)
