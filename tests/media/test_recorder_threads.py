"""Which thread writes: the recorder's own until storage proves fast, then the ingest thread,
and back to its own at the first slow write, without losing or reordering a frame."""

from __future__ import annotations

import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Any, BinaryIO

import av
import pytest

from cityhub.api import MediaPacket, StreamInfo
from cityhub.media import recorder as recorder_module
from cityhub.media.recorder import Recorder
from cityhub.model import RecordingSettings
from cityhub.storage.local import LocalStorage
from cityhub.testing import ffprobe

FPS = 25
GOP = 5
TICKS = 90000 // FPS


def encoded(frames: int) -> tuple[StreamInfo, list[tuple[bytes, bool]]]:
    """``frames`` H.264 frames from libx264 (GOP 5, no B-frames) and their stream info."""
    context = av.CodecContext.create("libx264", "w")
    context.width, context.height, context.pix_fmt = 160, 96, "yuv420p"
    context.time_base = Fraction(1, FPS)
    context.gop_size = GOP
    context.options = {"bf": "0", "preset": "ultrafast", "repeat-headers": "1"}
    out: list[tuple[bytes, bool]] = []
    for index in range(frames):
        frame = av.VideoFrame(160, 96, "yuv420p")
        for plane in frame.planes:
            plane.update(bytes((index * 3 + n) % 256 for n in range(plane.buffer_size)))
        frame.pts = index
        out += [(bytes(p), p.is_keyframe) for p in context.encode(frame)]
    out += [(bytes(p), p.is_keyframe) for p in context.encode(None)]
    first = out[0][0].replace(b"\x00\x00\x00\x01", b"\x00\x00\x01").split(b"\x00\x00\x01")
    sets = b"".join(b"\x00\x00\x00\x01" + u for u in first if u and u[0] & 0x1F in (7, 8))
    return StreamInfo("h264", 160, 96, float(FPS), (1, 90000), extradata=sets), out


class WatchedStorage(LocalStorage):
    """Local storage noting which thread writes, and slow (0.2 s a write) when asked.

    The delay stands in for a disk hiccup, which cannot be made to happen on demand here.
    """

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.writers: list[str] = []
        self.slow = threading.Event()

    def open_write(self, key: str) -> BinaryIO:
        target = super().open_write(key)
        write = target.write

        def watched(data: Any) -> int:
            self.writers.append(threading.current_thread().name)
            if self.slow.is_set():
                time.sleep(0.2)
            return write(data)

        target.write = watched  # type: ignore[method-assign]
        return target


@pytest.mark.realtime
def test_writing_moves_to_ingest_when_fast_and_back_when_slow(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "TRUST_AFTER_S", 0.5)
    info, frames = encoded(100)
    storage = WatchedStorage({"path": "rec"}, tmp_path)
    recorder = Recorder(
        "cam",
        "main",
        RecordingSettings(segment_seconds=60),
        storage,
        lambda op: None,  # the index is not under test here
        lambda recording: None,
        lambda closed: None,
    )
    recorder.start()
    consume_s: list[float] = []
    ingest = threading.current_thread()
    name, ingest.name = ingest.name, "ingest:cam/main"
    try:
        start = time.time()
        for index, (data, keyframe) in enumerate(frames):
            if index == 60:
                storage.slow.set()
                slow_from = len(storage.writers)
            packet = MediaPacket(data, index * TICKS, index * TICKS, keyframe, start + index / FPS)
            began = time.monotonic()
            recorder.consume(packet, info)
            consume_s.append(time.monotonic() - began)
            time.sleep(1 / FPS)
    finally:
        ingest.name = name
    assert recorder.stop(10)

    writers = storage.writers
    assert writers[0] == "recorder:cam/main"  # untrusted storage: the recorder's thread
    assert "ingest:cam/main" in writers[:slow_from]  # trusted once fast: the ingest thread
    # At most one slow write in the ingest thread, then back to the recorder's thread.
    assert writers[slow_from:].count("ingest:cam/main") <= 1
    assert writers[-1] == "recorder:cam/main"
    assert sum(s >= 0.15 for s in consume_s) <= 1
    assert recorder.stats().dropped == 0
    (path,) = (tmp_path / "rec").rglob("*.mp4")
    probe = ffprobe(path)
    assert probe.errors == ""
    assert probe.frames == len(frames)
