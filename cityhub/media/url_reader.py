"""A PacketReader for streams FFmpeg opens by URL (RTSP cameras, files): demux only."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import av

from cityhub.api import (
    AUDIO_CODECS,
    AudioInfo,
    MediaPacket,
    StreamEndedError,
    StreamError,
    StreamInfo,
)
from cityhub.redact import redact

_LOGGER = logging.getLogger(__name__)

SOCKET_TIMEOUT_US = 5_000_000
"""FFmpeg's own socket timeout (microseconds). Never the ``timeout`` argument of ``av.open``:
it installs a Python callback that retakes the GIL on every I/O check (4x the CPU at 32
streams)."""


def audio_passed_through(codec: str) -> bool:
    """Whether an audio track in ``codec`` (FFmpeg's name) is recorded: AAC and G.711 are."""
    return codec in AUDIO_CODECS


def log_audio_not_recorded(url: str, codec: str) -> None:
    """The one INFO line per opening that says a stream's audio track is left out."""
    _LOGGER.info(
        "%s: audio codec %s is not recorded (only AAC and G.711 are passed through)",
        redact(url),
        codec,
    )


class UrlReader:
    """Demuxes the first video stream of ``url`` and its first audio stream, without decoding.

    The audio stream is passed on when :func:`audio_passed_through` accepts its codec;
    otherwise it is left out and one INFO line per opening says so.
    """

    def __init__(self, url: str, socket_timeout_us: int = SOCKET_TIMEOUT_US) -> None:
        options: dict[str, str] = {}
        if url.startswith(("rtsp://", "rtsps://")):
            options = {"rtsp_transport": "tcp", "timeout": str(socket_timeout_us)}
        self._closed = threading.Event()
        self._reading = threading.Lock()
        try:
            container: Any = av.open(url, options=options)
        except (av.FFmpegError, OSError) as err:
            detail = getattr(err, "strerror", None) or str(err)
            raise StreamError(redact(f"cannot open {url}: {detail}")) from err
        if not container.streams.video:
            container.close()
            raise StreamError(redact(f"{url} has no video stream"))
        self._container: Any | None = container
        stream = container.streams.video[0]
        ctx = stream.codec_context
        rate = stream.average_rate or stream.guessed_rate
        audio = self._audio_stream(container, url)
        self._info = StreamInfo(
            codec=str(ctx.name),
            width=int(ctx.width or 0),
            height=int(ctx.height or 0),
            fps=float(rate) if rate else 0.0,
            time_base=(stream.time_base.numerator, stream.time_base.denominator),
            extradata=bytes(ctx.extradata or b""),
            audio=None if audio is None else _audio_info(audio),
        )
        self._audio_index = None if audio is None else audio.index
        self._packets: Iterator[Any] = container.demux(stream if audio is None else [stream, audio])

    @staticmethod
    def _audio_stream(container: Any, url: str) -> Any | None:
        """The first audio stream when its codec is recorded; logs why when it is not."""
        if not container.streams.audio:
            return None
        audio = container.streams.audio[0]
        codec = str(audio.codec_context.name)
        if audio_passed_through(codec):
            return audio
        log_audio_not_recorded(url, codec)
        return None

    @property
    def info(self) -> StreamInfo:
        """Codec parameters of the video stream."""
        return self._info

    def read(self) -> MediaPacket:
        """The next video or audio packet that carries a dts."""
        while not self._closed.is_set():
            with self._reading:
                if self._container is None:
                    break
                try:
                    packet = next(self._packets)
                except StopIteration:
                    raise StreamEndedError("end of stream") from None
                except (av.FFmpegError, OSError) as err:
                    raise StreamError(redact(str(err))) from err
                if self._closed.is_set():
                    self._release()
                    break
            if packet.dts is None or packet.size == 0:
                continue
            audio = packet.stream_index == self._audio_index
            return MediaPacket(
                data=bytes(packet),
                dts=int(packet.dts),
                pts=int(packet.pts if packet.pts is not None else packet.dts),
                keyframe=bool(packet.is_keyframe) and not audio,
                wallclock=time.time(),
                duration=int(packet.duration or 0),
                audio=audio,
            )
        raise StreamEndedError("closed")

    def close(self) -> None:
        """Stop reading; safe from any thread (a blocked read releases the container itself).

        FFmpeg must not be closed under a thread that is inside it, so the container is closed
        here only when no read is under way; otherwise the read closes it when it returns,
        within the socket timeout at worst.
        """
        self._closed.set()
        if self._reading.acquire(blocking=False):
            try:
                self._release()
            finally:
                self._reading.release()

    def _release(self) -> None:
        if self._container is not None:
            container, self._container = self._container, None
            container.close()


def _audio_info(stream: Any) -> AudioInfo:
    ctx = stream.codec_context
    return AudioInfo(
        codec=str(ctx.name),
        sample_rate=int(ctx.sample_rate or 0),
        channels=int(ctx.channels or 0),
        time_base=(stream.time_base.numerator, stream.time_base.denominator),
        extradata=bytes(ctx.extradata or b""),
    )
