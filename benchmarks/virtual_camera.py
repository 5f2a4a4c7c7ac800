"""CPU cost of one virtual camera per mode, beside FFmpeg doing the same job.

Run from the repository root (after ``bash .ci/test`` or ``bash .ci/demo`` set up .venv):

    .venv/bin/python benchmarks/virtual_camera.py [seconds]

Each cityhub case reads a virtual camera's streams in real time, one thread per stream as the
hub's ingest does, and reports this process's CPU time over wall time (percent of one core).
The baselines run the ``ffmpeg`` command line on the same job in the same run, measured from
its CPU time as a child process:

- live: ``ffmpeg -re`` encoding a test pattern (``testsrc2``) with the same x264 settings
  (ultrafast, zerolatency, no B-frames, same size, rate, bitrate and GOP) to nowhere;
- loop: ``ffmpeg -re -stream_loop -1 ... -c copy`` replaying an H.264 clip of the same size.
"""

from __future__ import annotations

import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from cityhub.api import PacketReader
from cityhub.testing import RecordingDriverHost
from cityhub_virtual.driver import VirtualCamera

WIDTH, HEIGHT, FPS, BITRATE, GOP = 640, 360, 25, 1_000_000, 50


def _drain(reader: PacketReader, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reader.read()
    reader.close()


def cityhub_percent(mode: str, profiles: Sequence[str], seconds: float) -> float:
    """Percent of one core used while reading ``profiles`` of a virtual camera."""
    options = {"mode": mode, "width": WIDTH, "height": HEIGHT, "fps": FPS, "bitrate": BITRATE}
    with tempfile.TemporaryDirectory() as cache:
        camera = VirtualCamera(RecordingDriverHost(cache_dir=Path(cache)), options)
        for profile in profiles:  # warm the loop cache: encoding it is a one-off cost
            camera.open_stream(profile).close()
        readers = [camera.open_stream(profile) for profile in profiles]
        threads = [threading.Thread(target=_drain, args=(r, seconds)) for r in readers]
        cpu, wall = time.process_time(), time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return 100 * (time.process_time() - cpu) / (time.monotonic() - wall)


def ffmpeg_percent(args: Sequence[str], seconds: float) -> float:
    """Percent of one core used by ``ffmpeg ARGS`` running for ``seconds``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = time.monotonic()
    subprocess.run(
        [
            "ffmpeg",
            "-hide_banner",
            "-loglevel",
            "error",
            *args,
            "-t",
            str(seconds),
            "-f",
            "null",
            "-",
        ],
        check=True,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return 100 * cpu / (time.monotonic() - wall)


X264 = [
    "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-bf", "0",
    "-g", str(GOP), "-b:v", str(BITRATE), "-threads", "1",
]  # fmt: skip


def main(argv: Sequence[str]) -> None:
    """Print each case beside its FFmpeg baseline."""
    seconds = float(argv[0]) if argv else 20.0
    if shutil.which("ffmpeg") is None:
        sys.exit("ffmpeg is needed for the baselines (Debian package ffmpeg)")
    pattern = f"testsrc2=size={WIDTH}x{HEIGHT}:rate={FPS}"
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        subprocess.run(
            ["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", pattern,
             "-t", "4", *X264, str(clip)],
            check=True,
        )  # fmt: skip
        live_ffmpeg = ffmpeg_percent(["-re", "-f", "lavfi", "-i", pattern, *X264], seconds)
        loop_ffmpeg = ffmpeg_percent(
            ["-re", "-stream_loop", "-1", "-i", str(clip), "-c", "copy"], seconds
        )
    print(f"{WIDTH}x{HEIGHT} {FPS} fps, {BITRATE // 1000} kbit/s, {seconds:.0f} s per case")
    print(f"{'case':34} {'cityhub':>9} {'ffmpeg':>9}   (% of one core)")
    live = cityhub_percent("live", ["main"], seconds)
    print(f"{'live, main (draw + encode)':34} {live:9.1f} {live_ffmpeg:9.1f}")
    loop = cityhub_percent("loop", ["main"], seconds)
    print(f"{'loop, main (replay)':34} {loop:9.1f} {loop_ffmpeg:9.1f}")
    both = cityhub_percent("live", ["main", "sub"], seconds)
    print(f"{'live, main + 320x180 sub':34} {both:9.1f} {'':>9}")
    both = cityhub_percent("loop", ["main", "sub"], seconds)
    print(f"{'loop, main + 320x180 sub':34} {both:9.1f} {'':>9}")


if __name__ == "__main__":
    main(sys.argv[1:])
