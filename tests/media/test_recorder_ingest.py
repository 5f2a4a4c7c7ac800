"""Ingest timestamps the recorder relies on: runs start at a keyframe, rebased, regular times."""

from __future__ import annotations

import threading

from cityhub.api import CameraState, MediaPacket, StreamEndedError, StreamInfo
from cityhub.media.source import StreamSource
from cityhub.supervisor import Backoff

INFO = StreamInfo(codec="h264", width=64, height=64, fps=25.0, time_base=(1, 90000))
FRAME = 3600


class Scripted:
    """Plays ``(dts, keyframe, wallclock)`` triples, then ends."""

    def __init__(self, script: list[tuple[int, bool, float]]) -> None:
        self._script = list(script)

    @property
    def info(self) -> StreamInfo:
        return INFO

    def read(self) -> MediaPacket:
        if not self._script:
            raise StreamEndedError("end")
        dts, key, wallclock = self._script.pop(0)
        return MediaPacket(b"\x00", dts, dts + FRAME, key, wallclock, FRAME)

    def close(self) -> None:
        """Nothing to release."""


def run(script: list[tuple[int, bool, float]]) -> tuple[list[MediaPacket], StreamSource]:
    got: list[MediaPacket] = []
    ended = threading.Event()
    readers = [Scripted(script)]

    def status(s: CameraState, r: str | None) -> None:
        if s is CameraState.OFFLINE:
            ended.set()

    source = StreamSource(
        "cam/main", lambda: readers.pop(), status, Backoff(first=5, cap=5, jitter=0)
    )
    source.add_consumer(lambda p, i: got.append(p))
    source.start()
    assert ended.wait(5)
    assert source.stop(2)
    return got, source


def test_a_run_starts_at_a_keyframe_rebased_to_zero_with_regular_capture_times() -> None:
    base = 1_000_000
    script = [
        (base, False, 100.0),  # before the first keyframe: skipped
        (base + FRAME, True, 100.3),  # first keyframe: anchors the run
        (base + 2 * FRAME, False, 100.9),  # scheduling jitter in the receive time
        (base + 2 * FRAME, False, 101.0),  # repeated dts: dropped
        (base + 3 * FRAME, False, 100.5),
    ]
    got, source = run(script)
    assert [p.dts for p in got] == [0, FRAME, 2 * FRAME]
    assert [p.pts for p in got] == [FRAME, 2 * FRAME, 3 * FRAME]
    assert [round(p.wallclock, 3) for p in got] == [100.3, 100.34, 100.38]
    stats = source.stats()
    assert (stats.skipped, stats.dropped, stats.discontinuities) == (1, 1, 0)


def test_a_dts_jump_starts_a_new_run_at_the_next_keyframe() -> None:
    jump = 20 * 90000
    script = [
        (0, True, 50.0),
        (FRAME, False, 50.04),
        (FRAME + jump, False, 70.1),  # jump forward: skipped until a keyframe
        (2 * FRAME + jump, True, 70.2),
        (3 * FRAME + jump, False, 70.24),
        (FRAME, True, 71.0),  # backwards by far more than a frame: another run
    ]
    got, source = run(script)
    assert [p.dts for p in got] == [0, FRAME, 0, FRAME, 0]
    assert [round(p.wallclock, 2) for p in got] == [50.0, 50.04, 70.2, 70.24, 71.0]
    stats = source.stats()
    assert (stats.discontinuities, stats.skipped) == (2, 1)
