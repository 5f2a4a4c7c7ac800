"""The audio track of a segment file: AAC muxed as it came, G.711 transcoded to AAC.

FFmpeg's ``mp4`` muxer refuses G.711 (``pcm_mulaw``, ``pcm_alaw``): ISO MP4 has no sample
entry for it, only QuickTime (``mov``) has. Rather than make every segment, stream and export
a QuickTime file, the writer decodes G.711 (a table lookup per sample) and encodes it to AAC
with FFmpeg's own encoder, in the recorder's writer thread; the video is never touched. See
docs/architecture.md (Recording) for the choice and its cost.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import av
import av.container

from cityhub.api import AudioInfo

__all__ = ["AAC_BITRATE_PER_CHANNEL", "TRANSCODED_TO_AAC", "AudioTrack"]

TRANSCODED_TO_AAC = frozenset({"pcm_mulaw", "pcm_alaw"})
"""Audio codecs the MP4 muxer refuses, recorded as AAC (G.711, u-law and A-law)."""
AAC_BITRATE_PER_CHANNEL = 32_000
"""Bits per second of the AAC made from G.711: narrowband speech (8 kHz, 64 kbit/s G.711)
loses nothing audible at 32 kbit/s, half the size of the G.711 it replaces."""


class AudioTrack:
    """One output file's audio track, fed with the camera's packets in ``info.time_base``."""

    def __init__(self, container: av.container.OutputContainer, info: AudioInfo) -> None:
        self.info = info
        self._container = container
        self._time_base = Fraction(*info.time_base)
        self._decoder: Any | None = None
        layout = "mono" if info.channels <= 1 else "stereo"
        stream: Any = container.add_stream("aac", rate=info.sample_rate)
        stream.layout = layout
        if info.codec in TRANSCODED_TO_AAC:
            stream.bit_rate = AAC_BITRATE_PER_CHANNEL * max(info.channels, 1)
            stream.time_base = Fraction(1, info.sample_rate)
            decoder: Any = av.CodecContext.create(info.codec, "r")
            decoder.sample_rate = info.sample_rate
            decoder.layout = layout
            self._decoder = decoder
        else:
            # Only muxed: the encoder PyAV attaches to the stream is opened now so that the
            # header carries the camera's AudioSpecificConfig, not the encoder's own.
            stream.time_base = self._time_base
            stream.codec_context.open()
            stream.codec_context.extradata = info.extradata
        self._stream = stream

    @property
    def transcoded(self) -> bool:
        """Whether the packets are re-encoded to AAC (G.711) rather than muxed as they came."""
        return self._decoder is not None

    def mux(self, data: bytes, pts: int, duration: int) -> None:
        """Write one camera packet whose ``pts`` counts ticks from the file's origin (>= 0)."""
        if self._decoder is None:
            packet = av.Packet(data)
            packet.pts = packet.dts = pts
            packet.duration = duration
            packet.time_base = self._time_base
            packet.stream = self._stream
            self._container.mux(packet)
            return
        packet = av.Packet(data)
        packet.pts = packet.dts = pts
        packet.time_base = self._time_base
        samples = Fraction(1, self.info.sample_rate)
        for frame in self._decoder.decode(packet):
            frame.pts = round(pts * self._time_base / samples)
            frame.time_base = samples
            self._container.mux(self._stream.encode(frame))

    def close(self) -> None:
        """Write what the AAC encoder still holds (G.711 only); call before closing the file."""
        if self._decoder is not None:
            self._container.mux(self._stream.encode(None))
