"""Recordings for playback and export tests: real H.264 in fMP4 segment files, indexed rows.

The recorder is tested on its own; these helpers write segment files the way it does
(fragmented MP4, ``frag_keyframe+empty_moov+default_base_moof``, each starting on a keyframe)
and the ``segments`` rows that index them, so playback and export are tested on real media.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import UTC, datetime
from fractions import Fraction

import attrs
import av

from cityhub.api import StorageBackend
from cityhub.db import Database

SEGMENT_MOVFLAGS = "frag_keyframe+empty_moov+default_base_moof"
WIDTH, HEIGHT, FPS = 320, 240, 25
GOP = FPS  # one keyframe a second
TICKS = 90000 // FPS  # frame interval in the 1/90000 time base cameras use
T0_MS = 1_794_993_600_000  # 2026-11-18T09:20:00Z (10:20 in Paris): a fixed instant


@attrs.frozen
class EncodedFrame:
    """One H.264 access unit (Annex-B, SPS/PPS in-band on keyframes)."""

    data: bytes
    keyframe: bool


@functools.cache
def encoded_frames(count: int, shade: int = 0) -> tuple[EncodedFrame, ...]:
    """``count`` frames of a moving gradient, one keyframe every ``GOP`` frames, no B-frames."""
    encoder = av.CodecContext.create("libx264", "w")
    assert isinstance(encoder, av.VideoCodecContext)
    encoder.width, encoder.height, encoder.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    encoder.time_base = Fraction(1, FPS)
    encoder.framerate = Fraction(FPS)
    encoder.options = {
        "preset": "ultrafast",
        "bf": "0",
        "x264-params": f"keyint={GOP}:min-keyint={GOP}:scenecut=0",
    }
    packets = []
    for index in range(count):
        frame = av.VideoFrame(WIDTH, HEIGHT, "yuv420p")
        for plane_index, plane in enumerate(frame.planes):
            row = bytes(
                (x * 2 + index * 6 + plane_index * 50 + shade) & 255 for x in range(plane.line_size)
            )
            plane.update(row * (plane.buffer_size // plane.line_size))
        frame.pts = index
        frame.time_base = Fraction(1, FPS)
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    return tuple(EncodedFrame(bytes(p), p.is_keyframe) for p in packets)


def write_segment(
    storage: StorageBackend, key: str, frames: tuple[EncodedFrame, ...], first_tick: int
) -> bytes:
    """Mux ``frames`` into a fragmented-MP4 segment at ``key``; return the file's bytes."""
    with (
        storage.open_write(key) as file,
        av.open(file, "w", format="mp4", options={"movflags": SEGMENT_MOVFLAGS}) as output,
    ):
        stream = output.add_stream("h264", rate=FPS)
        stream.width, stream.height = WIDTH, HEIGHT
        stream.time_base = Fraction(1, 90000)
        for index, encoded in enumerate(frames):
            packet = av.Packet(encoded.data)
            packet.stream = stream
            packet.time_base = Fraction(1, 90000)
            packet.pts = packet.dts = first_tick + index * TICKS
            packet.duration = TICKS
            packet.is_keyframe = encoded.keyframe
            output.mux(packet)
    with storage.open_read(key) as file:
        return file.read()


async def record(
    db: Database,
    storage: StorageBackend,
    camera_id: str,
    start_ms: int,
    seconds: int,
    *,
    segment_seconds: int = 4,
    stream: str = "main",
    shade: int = 0,
) -> list[int]:
    """Record ``seconds`` of footage from ``start_ms`` as segments; return their row ids."""
    await db.upsert_camera(camera_id, camera_id.replace("-", " ").title(), datetime.now(UTC))
    frames = encoded_frames(seconds * FPS, shade)
    per_segment = segment_seconds * FPS
    ids = []
    for first in range(0, len(frames), per_segment):
        chunk = frames[first : first + per_segment]
        assert chunk[0].keyframe
        seg_start = start_ms + first * 1000 // FPS
        key = f"{camera_id}/{stream}/{seg_start}.mp4"
        data = write_segment(storage, key, chunk, first_tick=123_456 + first * TICKS)
        row = await db.fetchone(
            "INSERT INTO segments (camera_id, stream, start_ms, end_ms, bytes, codec, width,"
            " height, fps, storage_key, sha256, state) VALUES (?, ?, ?, ?, ?, 'h264', ?, ?, ?,"
            " ?, ?, 'complete') RETURNING id",
            (
                camera_id,
                stream,
                seg_start,
                seg_start + len(chunk) * 1000 // FPS,
                len(data),
                WIDTH,
                HEIGHT,
                FPS,
                key,
                hashlib.sha256(data).hexdigest(),
            ),
        )
        assert row is not None
        ids.append(int(row["id"]))
    return ids


def at(ms: int) -> datetime:
    """The UTC datetime ``ms`` milliseconds after :data:`T0_MS`."""
    return datetime.fromtimestamp((T0_MS + ms) / 1000, UTC)
