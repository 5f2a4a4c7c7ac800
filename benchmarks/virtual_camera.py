"""CPU cost of one virtual camera, per mode: process CPU time over wall time while streaming.

Run: ``.venv/bin/python plugins/cityhub-virtual/benchmarks/cpu.py [seconds]`` from the repo
root. Each case reads its streams in real time (one thread per stream, as the hub's ingest
does) and reports CPU as a percentage of one core. The baseline is the same process sleeping
for the same time, so the figures exclude nothing but the interpreter's idle cost.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from cityhub.api import PacketReader
from cityhub.testing import RecordingDriverHost
from cityhub_virtual.driver import VirtualCamera


def _drain(reader: PacketReader, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        reader.read()
    reader.close()


def measure(options: dict[str, object], profiles: Sequence[str], seconds: float) -> float:
    """Percent of one core used while reading ``profiles`` for ``seconds``."""
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


def baseline(seconds: float) -> float:
    """Percent of one core used by this process sleeping."""
    cpu, wall = time.process_time(), time.monotonic()
    time.sleep(seconds)
    return 100 * (time.process_time() - cpu) / (time.monotonic() - wall)


def main(argv: Sequence[str]) -> None:
    """Print the CPU figures of each case."""
    seconds = float(argv[0]) if argv else 10.0
    print(f"baseline (sleep)              {baseline(seconds):6.2f} % of one core")
    for mode in ("live", "loop"):
        for profiles in (["main"], ["main", "sub"]):
            percent = measure({"mode": mode}, profiles, seconds)
            label = f"{mode} 640x360@25 {'+'.join(profiles)}"
            print(f"{label:29} {percent:6.2f} % of one core")


if __name__ == "__main__":
    main(sys.argv[1:])
